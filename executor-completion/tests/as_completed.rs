//! `as_completed`, `as_completed_timeout` and `wait_any` over executor-futures
//! handles: completion order by latches, timeouts, streams, helping on a worker.

mod common;

use common::*;
use executor_completion::{
    as_completed, as_completed_timeout, wait_any, wait_any_timeout, TimedOut, WaitAnyError,
};
use executor_core::ThreadPool;
use executor_futures::{ExecutorService, TaskHandle};
use futures::StreamExt;
use std::collections::HashSet;

fn gated(pool: &ThreadPool, n: usize) -> (Vec<Gate>, Vec<TaskHandle<usize>>) {
    let gates: Vec<Gate> = (0..n).map(|_| Gate::new()).collect();
    let handles = gates
        .iter()
        .enumerate()
        .map(|(i, gate)| {
            let g = gate.clone();
            pool.submit(move || {
                g.wait();
                i
            })
            .unwrap()
        })
        .collect();
    (gates, handles)
}

#[test]
fn as_completed_follows_completion_order() {
    // The order is the order in which the tasks' completions are *reported* (their
    // wakers fire just after they are done), so each step waits for the report.
    bounded(|| {
        let pool = ThreadPool::new(5).unwrap();
        let (gates, handles) = gated(&pool, 5);
        let order = [3usize, 1, 4, 0, 2];
        let mut it = as_completed(handles);
        assert_eq!(it.len(), 5);
        let mut got = Vec::new();
        for &i in &order {
            gates[i].open();
            let f = it.next().unwrap();
            got.push((f.index(), f.get().unwrap()));
            assert_eq!(it.len(), 5 - got.len());
        }
        assert_eq!(got, order.map(|i| (i, i)));
        assert!(it.next().is_none());
    });
}

#[test]
fn as_completed_yields_while_others_still_run() {
    bounded(|| {
        let pool = ThreadPool::new(3).unwrap();
        let (gates, handles) = gated(&pool, 3);
        let ids: Vec<_> = handles.iter().map(TaskHandle::id).collect();
        let mut it = as_completed(handles);
        for i in [1usize, 2, 0] {
            assert!(it.try_next().is_none(), "nothing finished yet");
            gates[i].open();
            let f = it.next().unwrap();
            assert_eq!((f.index(), f.id()), (i, ids[i]));
        }
        assert!(it.next().is_none() && it.next().is_none(), "fused");
    });
}

#[test]
fn done_handles_come_first_and_every_outcome_is_delivered() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let ok = pool.submit(|| 1).unwrap();
        let boom = pool.submit(|| -> i32 { panic!("boom") }).unwrap();
        ok.wait().unwrap();
        boom.wait().unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let cancelled = pool
            .submit(move || {
                g.wait_or_cancelled();
                3
            })
            .unwrap();
        assert!(cancelled.cancel());
        let mut it = as_completed(vec![ok, boom, cancelled]);
        let first = it.next().unwrap();
        assert_eq!((first.index(), first.is_ok()), (0, true));
        let mut rest: Vec<_> = it.collect();
        rest.sort_by_key(|f| f.index());
        assert!(rest[0].is_panic() && rest[1].is_cancelled());
        assert_eq!(
            rest[0].result().as_ref().unwrap_err().message(),
            Some("boom")
        );
    });
}

#[test]
fn as_completed_timeout_yields_timed_out_once_then_gives_the_rest_back() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let stuck = pool
            .submit(move || {
                g.wait();
                0
            })
            .unwrap();
        let quick = pool.submit(|| 1).unwrap();
        let mut it = as_completed_timeout([stuck, quick], TIMEOUT);
        assert_eq!(it.next().unwrap().unwrap().get().unwrap(), 1);
        assert_eq!(it.next().unwrap().unwrap_err(), TimedOut);
        assert!(it.timed_out());
        assert!(it.next().is_none());
        let mut rest = it.into_inner();
        assert_eq!(rest.remaining(), 1);
        assert!(rest.next_timeout(TIMEOUT).is_err(), "still stuck");
        gate.open();
        let f = rest.next_timeout(LONG).unwrap().unwrap();
        assert_eq!((f.index(), f.get().unwrap()), (0, 0));
        assert!(matches!(rest.next_timeout(LONG), Ok(None)));
    });
}

#[test]
fn cancel_remaining_and_into_parts() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let (gates, handles) = gated(&pool, 3);
        let it = as_completed(handles);
        let (finished, handles) = it.into_parts();
        assert!(finished.is_empty());
        assert_eq!(handles.len(), 3);
        let it = as_completed(handles);
        assert_eq!(it.cancel_remaining(), 3);
        let all: Vec<_> = it.collect();
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|f| f.is_cancelled()));
        // Release the task that was running when cancelled, so the pool's drop
        // does not wait for the gate's own timeout.
        for g in &gates {
            g.open();
        }
    });
}

#[test]
fn as_completed_stream_on_block_on_and_tokio() {
    bounded(|| {
        // One worker per gated task: with fewer, the task whose gate opens first
        // may not have started, and the test would wait for it forever.
        let pool = ThreadPool::new(3).unwrap();
        let (gates, handles) = gated(&pool, 3);
        let mut stream = as_completed(handles).into_stream();
        for i in [2usize, 1, 0] {
            gates[i].open();
            let f = futures::executor::block_on(stream.next()).unwrap();
            assert_eq!(f.index(), i);
        }
        assert!(futures::executor::block_on(stream.next()).is_none());

        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let handles: Vec<_> = (0..50).map(|i| pool.submit(move || i).unwrap()).collect();
        let got: HashSet<usize> = rt.block_on(
            as_completed(handles)
                .into_stream()
                .map(|f| f.get().unwrap())
                .collect(),
        );
        assert_eq!(got, (0..50).collect());
    });
}

#[test]
fn wait_any_returns_the_first_done_and_keeps_the_rest() {
    bounded(|| {
        let pool = ThreadPool::new(3).unwrap();
        let (gates, mut handles) = gated(&pool, 3);
        assert_eq!(
            wait_any_timeout(&mut handles, TIMEOUT).unwrap_err(),
            WaitAnyError::TimedOut
        );
        assert_eq!(handles.len(), 3, "a timeout keeps every handle");
        gates[1].open();
        let f = wait_any(&mut handles).unwrap();
        assert_eq!((f.index(), f.get().unwrap()), (1, 1));
        assert_eq!(handles.len(), 2);
        gates[2].open();
        let f = wait_any_timeout(&mut handles, LONG).unwrap();
        assert_eq!(
            (f.index(), f.get().unwrap()),
            (1, 2),
            "index in the vector as passed"
        );
        gates[0].open();
        assert_eq!(wait_any(&mut handles).unwrap().get().unwrap(), 0);
        assert_eq!(wait_any(&mut handles).unwrap_err(), WaitAnyError::Empty);
        assert!(WaitAnyError::TimedOut.is_timed_out());
    });
}

#[test]
fn waiting_on_a_one_thread_worker_helps() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let p = pool.clone();
        let outer = pool
            .submit(move || {
                let handles: Vec<_> = (1..=5).map(|i| p.submit(move || i).unwrap()).collect();
                let sum: i32 = as_completed(handles).map(|f| f.get().unwrap()).sum();
                let mut more = vec![p.submit(|| 10).unwrap()];
                sum + wait_any(&mut more).unwrap().get().unwrap()
            })
            .unwrap();
        assert_eq!(outer.get().unwrap(), 25);
    });
}

#[test]
fn many_handles_accounted_exactly_once() {
    bounded(|| {
        const N: usize = 5_000;
        let pool = ThreadPool::new(2).unwrap();
        let handles: Vec<_> = (0..N).map(|i| pool.submit(move || i).unwrap()).collect();
        let log = RunLog::new(N);
        for f in as_completed(handles) {
            assert_eq!(f.index(), *f.result().as_ref().unwrap());
            log.mark(f.get().unwrap());
        }
        log.assert_all(1);
    });
}

/// Issue 16, item 9: a handle whose result was already taken is yielded (and
/// returned by `wait_any`) with `AlreadyTaken`, not a panic.
#[test]
fn handles_already_read_are_yielded_as_already_taken() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let mut read = pool.submit(|| 1usize).unwrap();
        read.wait().unwrap();
        assert_eq!(read.try_get().unwrap().unwrap(), 1);
        let fresh = pool.submit(|| 2usize).unwrap();
        let mut got: Vec<_> = as_completed(vec![read, fresh])
            .map(|f| (f.index(), f.get().map_err(|e| e.is_already_taken())))
            .collect();
        got.sort_by_key(|(i, _)| *i);
        assert_eq!(got, [(0, Err(true)), (1, Ok(2))]);

        let mut read = pool.submit(|| 3usize).unwrap();
        read.wait().unwrap();
        assert_eq!(read.try_get().unwrap().unwrap(), 3);
        let mut handles = vec![read];
        let first = wait_any_timeout(&mut handles, LONG).unwrap();
        assert!(first.get().unwrap_err().is_already_taken());
        assert!(handles.is_empty());
    });
}
