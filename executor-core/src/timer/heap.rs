//! The timer queue's data structure: an indexed binary min-heap of deadlines over
//! a slab of entries (Java's `DelayedWorkQueue`, with the slot map that Java's
//! `heapIndex` field plays).
//!
//! ```text
//!   heap (Vec, min-heap on (due, seq))          slots (slab, Vec)
//!   ┌──────────────────────────┐                ┌─────────────────────────────┐
//!   │0: (t=3ms, #7, slot 2) ───┼──────────────▶ │2: gen 5, pos 0, entry       │
//!   │1: (t=9ms, #4, slot 0) ───┼──────┐         │0: gen 1, pos 1, entry       │
//!   │2: (t=5ms, #9, slot 3)    │      └───────▶ │3: gen 2, pos 2, entry       │
//!   └──────────────────────────┘                │1: gen 8, free ──▶ free list │
//!                                               │4: gen 0, NEVER, entry       │ due never:
//!                                               └─────────────────────────────┘ in no heap
//! ```
//!
//! Invariants:
//!
//! 1. `heap[i].slot` names an occupied slot whose `pos == i` (the slot map), and
//!    every occupied slot with a deadline is in the heap exactly once.
//! 2. An occupied slot due never has `pos == NEVER` and is in no heap node.
//! 3. A [`Key`] matches its slot only while the slot's generation is the key's:
//!    freeing a slot bumps the generation, so a stale key (its entry fired or was
//!    cancelled) never removes a later entry that reuses the slot.
//! 4. Equal deadlines fire in insertion order (`seq`), as Java's sequence number.
//!
//! Costs: insert, remove by key and pop are O(log n); peek is O(1); a removed
//! entry is returned at once (its closure can be dropped at once: no tombstone
//! waits for its deadline). Memory: a heap node (32 bytes) plus a slot (8 bytes
//! plus the entry) per pending timer.

use std::time::Instant;

/// `pos` of a slot that is due never (not in the heap).
const NEVER: u32 = u32::MAX;

/// Names one entry of a [`TimerHeap`] for as long as it is pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    index: u32,
    gen: u32,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    due: Instant,
    seq: u64,
    slot: u32,
}

impl Node {
    #[inline]
    fn before(&self, other: &Node) -> bool {
        (self.due, self.seq) < (other.due, other.seq)
    }
}

#[derive(Debug)]
struct Slot<E> {
    gen: u32,
    pos: u32,
    entry: Option<E>,
}

/// The indexed heap (module docs).
#[derive(Debug)]
pub(crate) struct TimerHeap<E> {
    heap: Vec<Node>,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl<E> Default for TimerHeap<E> {
    fn default() -> Self {
        TimerHeap {
            heap: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<E> TimerHeap<E> {
    /// Pending entries (due never included).
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Adds `entry`, due at `due` (`None`: never). Returns its key and whether
    /// it is now the earliest deadline (the driver must be woken).
    pub(crate) fn insert(&mut self, due: Option<Instant>, entry: E) -> (Key, bool) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 timers");
                self.slots.push(Slot {
                    gen: 0,
                    pos: NEVER,
                    entry: None,
                });
                i
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.entry = Some(entry);
        slot.pos = NEVER;
        let key = Key {
            index,
            gen: slot.gen,
        };
        let Some(due) = due else {
            return (key, false);
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let at = self.heap.len();
        self.heap.push(Node {
            due,
            seq,
            slot: index,
        });
        self.set_pos(at);
        let at = self.sift_up(at);
        (key, at == 0)
    }

    /// The entry of `key` if it is still pending.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut E> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.gen != key.gen {
            return None;
        }
        slot.entry.as_mut()
    }

    /// Removes the entry of `key`; `None` if it fired or was removed already.
    pub(crate) fn remove(&mut self, key: Key) -> Option<E> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.gen != key.gen || slot.entry.is_none() {
            return None;
        }
        let pos = slot.pos;
        if pos != NEVER {
            self.remove_node(pos as usize);
        }
        Some(self.free_slot(key.index))
    }

    /// The earliest deadline.
    pub(crate) fn peek_due(&self) -> Option<Instant> {
        self.heap.first().map(|n| n.due)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<E> {
        let first = *self.heap.first()?;
        if first.due > now {
            return None;
        }
        self.remove_node(0);
        Some(self.free_slot(first.slot))
    }

    /// Removes every entry for which `take` returns true (`due`: `None` for due
    /// never) and returns them, earliest first, those due never last.
    pub(crate) fn take_where(
        &mut self,
        mut take: impl FnMut(&E, Option<Instant>) -> bool,
    ) -> Vec<E> {
        let mut nodes: Vec<Node> = std::mem::take(&mut self.heap);
        nodes.sort_unstable_by_key(|n| (n.due, n.seq));
        let mut out = Vec::new();
        let mut kept = Vec::with_capacity(nodes.len());
        for node in nodes {
            let slot = &self.slots[node.slot as usize];
            if take(
                slot.entry.as_ref().expect("a heap node names a full slot"),
                Some(node.due),
            ) {
                out.push(self.free_slot(node.slot));
            } else {
                kept.push(node);
            }
        }
        // A sorted array is a valid min-heap: rebuild the slot map only.
        self.heap = kept;
        for at in 0..self.heap.len() {
            self.set_pos(at);
        }
        for index in 0..self.slots.len() as u32 {
            let slot = &self.slots[index as usize];
            if slot.pos == NEVER {
                if let Some(entry) = &slot.entry {
                    if take(entry, None) {
                        out.push(self.free_slot(index));
                    }
                }
            }
        }
        out
    }

    fn free_slot(&mut self, index: u32) -> E {
        let slot = &mut self.slots[index as usize];
        slot.gen = slot.gen.wrapping_add(1);
        slot.pos = NEVER;
        self.free.push(index);
        // The slot stays (its generation must outlive stale keys): the slab keeps
        // its high-water mark, 8 bytes plus an empty entry per slot.
        slot.entry.take().expect("freeing a full slot")
    }

    /// Removes heap node `at` (its slot stays as it is).
    fn remove_node(&mut self, at: usize) {
        let last = self.heap.len() - 1;
        self.heap.swap(at, last);
        self.heap.pop();
        if at < self.heap.len() {
            self.set_pos(at);
            let moved = self.sift_up(at);
            if moved == at {
                self.sift_down(at);
            }
        }
    }

    #[inline]
    fn set_pos(&mut self, at: usize) {
        let slot = self.heap[at].slot as usize;
        self.slots[slot].pos = at as u32;
    }

    fn sift_up(&mut self, mut at: usize) -> usize {
        while at > 0 {
            let parent = (at - 1) / 2;
            if !self.heap[at].before(&self.heap[parent]) {
                break;
            }
            self.heap.swap(at, parent);
            self.set_pos(at);
            self.set_pos(parent);
            at = parent;
        }
        at
    }

    fn sift_down(&mut self, mut at: usize) {
        let n = self.heap.len();
        loop {
            let left = 2 * at + 1;
            if left >= n {
                return;
            }
            let right = left + 1;
            let child = if right < n && self.heap[right].before(&self.heap[left]) {
                right
            } else {
                left
            };
            if !self.heap[child].before(&self.heap[at]) {
                return;
            }
            self.heap.swap(at, child);
            self.set_pos(at);
            self.set_pos(child);
            at = child;
        }
    }

    #[cfg(test)]
    fn check(&self) {
        for (i, node) in self.heap.iter().enumerate() {
            assert_eq!(self.slots[node.slot as usize].pos as usize, i);
            if i > 0 {
                assert!(!node.before(&self.heap[(i - 1) / 2]), "heap order at {i}");
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_then_insertion_order() {
        let t0 = Instant::now();
        let mut h = TimerHeap::default();
        let ms = |n| Some(t0 + Duration::from_millis(n));
        for (i, d) in [5u64, 1, 3, 3, 9, 0].into_iter().enumerate() {
            h.insert(ms(d), i);
            h.check();
        }
        h.insert(None, 99);
        assert_eq!(h.len(), 7);
        let mut out = Vec::new();
        while let Some(e) = h.pop_due(t0 + Duration::from_millis(100)) {
            h.check();
            out.push(e);
        }
        assert_eq!(out, [5, 1, 2, 3, 0, 4]);
        assert_eq!(h.len(), 1, "due never stays");
        assert_eq!(h.peek_due(), None);
    }

    #[test]
    fn remove_by_key_and_stale_keys_match_nothing() {
        let t0 = Instant::now();
        let mut h = TimerHeap::default();
        let keys: Vec<Key> = (0..100u64)
            .map(|i| {
                h.insert(Some(t0 + Duration::from_millis((i * 37) % 101)), i)
                    .0
            })
            .collect();
        for k in keys.iter().step_by(3) {
            assert!(h.remove(*k).is_some());
            h.check();
            assert!(h.remove(*k).is_none(), "removed once");
        }
        // A reused slot: the stale key does not reach the new entry.
        let (fresh, _) = h.insert(Some(t0), 1000);
        assert!(h.remove(keys[0]).is_none());
        assert_eq!(h.remove(fresh), Some(1000));
        let mut last = None;
        let mut n = 0;
        while let Some(e) = h.pop_due(t0 + Duration::from_secs(1)) {
            let due = (e * 37) % 101;
            assert!(last.is_none_or(|l| l <= due));
            last = Some(due);
            n += 1;
        }
        assert_eq!(n, 100 - 34);
    }

    #[test]
    fn insert_reports_a_new_earliest_and_pop_respects_now() {
        let t0 = Instant::now();
        let mut h = TimerHeap::default();
        assert!(h.insert(Some(t0 + Duration::from_secs(5)), 'a').1);
        assert!(!h.insert(Some(t0 + Duration::from_secs(6)), 'b').1);
        assert!(h.insert(Some(t0 + Duration::from_secs(1)), 'c').1);
        assert!(!h.insert(None, 'n').1);
        assert_eq!(h.pop_due(t0), None);
        assert_eq!(h.pop_due(t0 + Duration::from_secs(2)), Some('c'));
        let taken = h.take_where(|e, due| *e == 'n' || due > Some(t0 + Duration::from_secs(5)));
        assert_eq!(taken, ['b', 'n']);
        h.check();
        assert_eq!(h.len(), 1);
    }
}
