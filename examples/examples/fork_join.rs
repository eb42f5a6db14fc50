//! Fork-join on the pool (rayon's model): a parallel merge sort with `join`,
//! a histogram whose tasks borrow the caller's data with `scope`, and one call
//! on every worker with `broadcast`.
//!
//! Run it with `cargo run -p examples --example fork_join` (CI runs it).

use executor::prelude::*;
use std::time::Instant;

/// Below this length a slice is sorted on the current thread.
const SEQUENTIAL: usize = 4_096;

/// Sorts `v` with `buf` (the same length) as scratch space: the two halves in
/// parallel, then a merge.
fn merge_sort(pool: &ThreadPool, v: &mut [u64], buf: &mut [u64]) {
    if v.len() <= SEQUENTIAL {
        v.sort_unstable();
        return;
    }
    let mid = v.len() / 2;
    let (left, right) = v.split_at_mut(mid);
    let (buf_left, buf_right) = buf.split_at_mut(mid);
    // Both halves may run in parallel; join returns when both are done.
    pool.join(
        || merge_sort(pool, left, buf_left),
        || merge_sort(pool, right, buf_right),
    );
    merge(left, right, buf);
    v.copy_from_slice(buf);
}

/// Merges the sorted `left` and `right` into `out`.
fn merge(left: &[u64], right: &[u64], out: &mut [u64]) {
    let (mut i, mut j) = (0, 0);
    for slot in out.iter_mut() {
        if j == right.len() || (i < left.len() && left[i] <= right[j]) {
            *slot = left[i];
            i += 1;
        } else {
            *slot = right[j];
            j += 1;
        }
    }
}

/// A reproducible pseudo-random sequence (xorshift), so no dependency is needed.
fn random(n: usize) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = ThreadPool::new(4)?;

    let mut data = random(200_000);
    let mut buf = vec![0; data.len()];
    let start = Instant::now();
    merge_sort(&pool, &mut data, &mut buf);
    assert!(data.windows(2).all(|w| w[0] <= w[1]));
    println!(
        "merge sort of {} numbers: {:?}",
        data.len(),
        start.elapsed()
    );

    // A scope's tasks may borrow from the caller: `data` and `counts` stay on
    // this stack, and the scope returns only when every task is done.
    let mut counts = [[0usize; 16]; 4];
    let chunk = data.len().div_ceil(counts.len());
    pool.scope(|s| {
        for (part, count) in data.chunks(chunk).zip(counts.iter_mut()) {
            s.spawn(move |_| {
                for x in part {
                    count[(x >> 60) as usize] += 1;
                }
            });
        }
    });
    let histogram: Vec<usize> = (0..16).map(|b| counts.iter().map(|c| c[b]).sum()).collect();
    assert_eq!(histogram.iter().sum::<usize>(), data.len());
    println!("histogram of the top 4 bits: {histogram:?}");

    // Once on every worker, e.g. to warm up or read per-thread state.
    let workers = pool.broadcast(|ctx| ctx.index())?;
    println!("broadcast reached workers {workers:?}");
    Ok(())
}
