//! Fork-join (executor-core's join/scope/broadcast) inside tasks submitted through
//! executor-futures.

use executor_core::{join, ThreadPool};
use executor_futures::ExecutorService;

fn fib(n: u64) -> u64 {
    if n < 10 {
        return (0..n).fold((0u64, 1u64), |(a, b), _| (b, a + b)).0;
    }
    let (a, b) = join(|| fib(n - 1), || fib(n - 2));
    a + b
}

#[test]
fn join_and_scope_inside_submitted_tasks() {
    for threads in [1, 2] {
        let pool = ThreadPool::new(threads).unwrap();
        let p = pool.clone();
        let handles: Vec<_> = (15..20u64)
            .map(|n| {
                let p = p.clone();
                pool.submit(move || {
                    let mut parts = [0u64; 2];
                    p.scope(|s| {
                        for (i, slot) in parts.iter_mut().enumerate() {
                            s.spawn(move |_| *slot = fib(n - i as u64));
                        }
                    });
                    parts[0] + parts[1]
                })
                .unwrap()
            })
            .collect();
        for (n, h) in (15..20u64).zip(handles) {
            assert_eq!(
                h.get().unwrap(),
                fib(n + 1),
                "fib({}) on {threads} threads",
                n + 1
            );
        }
        pool.close();
    }
}

#[test]
fn broadcast_from_a_submitted_task() {
    let pool = ThreadPool::new(2).unwrap();
    let p = pool.clone();
    let h = pool
        .submit(move || p.broadcast(|ctx| ctx.index()).unwrap())
        .unwrap();
    assert_eq!(h.get().unwrap(), vec![0, 1]);
}
