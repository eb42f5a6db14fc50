//! Fork-join workloads, written once over [`ForkJoin`] so that our pool and rayon
//! run the very same code and differ only in `install` and `join`.
//!
//! | workload | what it measures | one element is |
//! |---|---|---|
//! | [`fib_coarse`] | naive recursive `fib(n)`, forking only while `n >= cutoff`: a few hundred joins over milliseconds of work, so it is scaling (stealing the big halves early) | one call of `fib` |
//! | [`fib_fine`] | `fib(n)` with a `join` at every level: the cost of one fork-join when nearly all forks are taken back by their owner | one `join` |
//! | [`sum`] | sum of a slice, halved recursively down to [`SUM_CUTOFF`] elements: memory bandwidth plus a few thousand joins | one element summed |
//! | [`quicksort`] | Lomuto quicksort (median-of-three pivot), both halves joined, `sort_unstable` below [`SORT_CUTOFF`] elements: an unbalanced tree of joins over a sequential partition | one element sorted |
//!
//! The sizes come from [`Sizes`], read from the environment so quick runs can
//! shrink them.

use crate::{env_usize, Ours, Peer, Rayon};

/// A pool that can run a closure on one of its workers (`install`) and fork two
/// closures from a worker (`join`).
pub trait ForkJoin: Peer + Sync {
    /// Runs `op` on a worker of this pool and returns its result.
    fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R;

    /// Runs `a` and `b`, potentially in parallel; called from a worker of this pool.
    fn join<RA: Send, RB: Send>(
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB);
}

/// `ThreadPool::install` and `executor_core::join`.
impl ForkJoin for Ours {
    fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R {
        self.0.install(op)
    }

    #[inline]
    fn join<RA: Send, RB: Send>(
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        executor_core::join(a, b)
    }
}

/// `rayon::ThreadPool::install` and `rayon::join`.
impl ForkJoin for Rayon {
    fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R {
        self.0.install(op)
    }

    #[inline]
    fn join<RA: Send, RB: Send>(
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        rayon::join(a, b)
    }
}

/// Below this many elements [`sum`] adds sequentially.
pub const SUM_CUTOFF: usize = 64 * 1024;

/// Below this many elements [`quicksort`] calls `sort_unstable` (rayon-demo's
/// quicksort uses the same cutoff).
pub const SORT_CUTOFF: usize = 5 * 1024;

/// The problem sizes of the fork-join workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// `n` of [`fib_coarse`] (`EXECUTOR_BENCH_FIB_COARSE`).
    pub fib_coarse: u64,
    /// The sequential cutoff of [`fib_coarse`] (`EXECUTOR_BENCH_FIB_CUTOFF`).
    pub fib_cutoff: u64,
    /// `n` of [`fib_fine`] (`EXECUTOR_BENCH_FIB_FINE`).
    pub fib_fine: u64,
    /// Elements of [`sum`] (`EXECUTOR_BENCH_SUM_N`).
    pub sum: usize,
    /// Elements of [`quicksort`] (`EXECUTOR_BENCH_SORT_N`).
    pub sort: usize,
}

impl Sizes {
    /// The criterion bench's defaults: `fib(32)` cutoff 18, `fib(28)`, 50M `u64`
    /// summed, 10M `u64` sorted.
    pub const CRITERION: Sizes = Sizes {
        fib_coarse: 32,
        fib_cutoff: 18,
        fib_fine: 28,
        sum: 50_000_000,
        sort: 10_000_000,
    };

    /// The interleaved runner's defaults, a few times smaller so that a round of
    /// every workload on both pools takes well under a second.
    pub const INTERLEAVED: Sizes = Sizes {
        fib_coarse: 30,
        fib_cutoff: 18,
        fib_fine: 25,
        sum: 10_000_000,
        sort: 2_000_000,
    };

    /// `defaults`, each overridden by its environment variable when set.
    pub fn from_env(defaults: Sizes) -> Sizes {
        let var = |name, d: u64| env_usize(name, d as usize) as u64;
        Sizes {
            fib_coarse: var("EXECUTOR_BENCH_FIB_COARSE", defaults.fib_coarse),
            fib_cutoff: var("EXECUTOR_BENCH_FIB_CUTOFF", defaults.fib_cutoff),
            fib_fine: var("EXECUTOR_BENCH_FIB_FINE", defaults.fib_fine),
            sum: env_usize("EXECUTOR_BENCH_SUM_N", defaults.sum),
            sort: env_usize("EXECUTOR_BENCH_SORT_N", defaults.sort),
        }
    }
}

/// Naive recursive Fibonacci, no forking: the leaves of [`fib_coarse`].
pub fn fib_seq(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_seq(n - 1) + fib_seq(n - 2)
    }
}

/// Calls `fib_seq(n)` makes (and calls of `fib` in [`fib_coarse`]): `2 fib(n+1) - 1`.
pub fn fib_calls(n: u64) -> u64 {
    2 * fib_iter(n + 1) - 1
}

/// Joins in [`fib_fine`]`(n)`: one per call with `n >= 2`, `fib(n+1) - 1`.
pub fn fib_joins(n: u64) -> u64 {
    fib_iter(n + 1) - 1
}

/// `fib(n)` by iteration, for checking results and counting.
pub fn fib_iter(n: u64) -> u64 {
    (0..n).fold((0u64, 1u64), |(a, b), _| (b, a + b)).0
}

/// `fib(n)`, forking both recursive calls while `n >= cutoff` and computing
/// sequentially below. Call it on a worker of `J` (inside [`ForkJoin::install`]).
pub fn fib_coarse<J: ForkJoin>(n: u64, cutoff: u64) -> u64 {
    if n < cutoff.max(2) {
        return fib_seq(n);
    }
    let (a, b) = J::join(
        || fib_coarse::<J>(n - 1, cutoff),
        || fib_coarse::<J>(n - 2, cutoff),
    );
    a + b
}

/// `fib(n)` with a `join` at every level down to `n < 2`.
pub fn fib_fine<J: ForkJoin>(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = J::join(|| fib_fine::<J>(n - 1), || fib_fine::<J>(n - 2));
    a + b
}

/// The (wrapping) sum of `v`, halved recursively down to [`SUM_CUTOFF`] elements.
pub fn sum<J: ForkJoin>(v: &[u64]) -> u64 {
    if v.len() <= SUM_CUTOFF {
        return v.iter().fold(0u64, |s, &x| s.wrapping_add(x));
    }
    let (left, right) = v.split_at(v.len() / 2);
    let (a, b) = J::join(|| sum::<J>(left), || sum::<J>(right));
    a.wrapping_add(b)
}

/// Sorts `v`: Lomuto partition around a median-of-three pivot, then both sides
/// joined; `sort_unstable` below [`SORT_CUTOFF`] elements.
pub fn quicksort<J: ForkJoin>(v: &mut [u64]) {
    if v.len() <= SORT_CUTOFF {
        v.sort_unstable();
        return;
    }
    let mid = partition(v);
    let (left, right) = v.split_at_mut(mid);
    J::join(|| quicksort::<J>(left), || quicksort::<J>(&mut right[1..]));
}

/// Partitions `v` (at least 3 elements) around the median of its first, middle and
/// last element; returns the pivot's final index: everything before it is smaller,
/// everything after it is not.
fn partition(v: &mut [u64]) -> usize {
    let last = v.len() - 1;
    let mid = v.len() / 2;
    if v[mid] < v[0] {
        v.swap(mid, 0);
    }
    if v[last] < v[0] {
        v.swap(last, 0);
    }
    if v[last] < v[mid] {
        v.swap(last, mid);
    }
    // v[0] <= v[mid] <= v[last]: the median becomes the pivot, parked at the end.
    v.swap(mid, last);
    let pivot = v[last];
    let mut store = 0;
    for i in 0..last {
        if v[i] < pivot {
            v.swap(i, store);
            store += 1;
        }
    }
    v.swap(store, last);
    store
}

/// `n` pseudo-random `u64`s from `seed` (splitmix64): the same input on every run.
pub fn random_u64s(n: usize, seed: u64) -> Vec<u64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

/// The seed of the quicksort input.
pub const SORT_SEED: u64 = 0x5EED;

/// A [`ForkJoin`] pool with the workloads' types erased, so one loop can run both
/// pools. Each method installs the workload on the pool and waits for it.
pub trait ErasedForkJoin {
    /// The pool's name ([`Peer::NAME`]).
    fn name(&self) -> &'static str;
    /// [`fib_coarse`]`(n, cutoff)` on this pool.
    fn fib_coarse(&self, n: u64, cutoff: u64) -> u64;
    /// [`fib_fine`]`(n)` on this pool.
    fn fib_fine(&self, n: u64) -> u64;
    /// [`sum`]`(v)` on this pool.
    fn sum(&self, v: &[u64]) -> u64;
    /// [`quicksort`]`(v)` on this pool.
    fn quicksort(&self, v: &mut [u64]);
}

impl<J: ForkJoin> ErasedForkJoin for J {
    fn name(&self) -> &'static str {
        J::NAME
    }
    fn fib_coarse(&self, n: u64, cutoff: u64) -> u64 {
        self.install(|| fib_coarse::<J>(n, cutoff))
    }
    fn fib_fine(&self, n: u64) -> u64 {
        self.install(|| fib_fine::<J>(n))
    }
    fn sum(&self, v: &[u64]) -> u64 {
        self.install(|| sum::<J>(v))
    }
    fn quicksort(&self, v: &mut [u64]) {
        self.install(|| quicksort::<J>(v));
    }
}

/// Runs `f` once with a freshly built pool of each fork-join peer, ours first,
/// then rayon; each is dropped before the next is built.
pub fn for_each_fork_join(threads: usize, mut f: impl FnMut(&dyn ErasedForkJoin)) {
    f(&Ours::build(threads));
    f(&Rayon::build(threads));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_compute_the_right_results_on_both_pools() {
        let input = random_u64s(100_000, SORT_SEED);
        let mut expected = input.clone();
        expected.sort_unstable();
        let ones = vec![1u64; 300_000];
        for_each_fork_join(2, |p| {
            assert_eq!(p.fib_coarse(22, 10), fib_iter(22));
            assert_eq!(p.fib_fine(15), fib_iter(15));
            assert_eq!(p.sum(&ones), 300_000);
            let mut v = input.clone();
            p.quicksort(&mut v);
            assert_eq!(v, expected);
        });
    }

    #[test]
    fn counts() {
        // fib_seq(3): f3 -> f2, f1; f2 -> f1, f0: 5 calls; fib_fine(3) joins at 3 and 2.
        assert_eq!(fib_calls(3), 5);
        assert_eq!(fib_joins(3), 2);
        assert_eq!(fib_seq(20), fib_iter(20));
    }
}
