//! `PoolRef` (`ThreadPool::downgrade`): submits to the pool like a handle but is
//! not one; dropping the last `ThreadPool` closes the pool while `PoolRef`s
//! live, after which they are refused like the pool. `Executor::pool_ref` gives
//! it to upper layers: `ThreadPool` and its forwarding impls return one, the
//! default (`InlineExecutor`) none.

use executor_core::integration::{Executor, InlineExecutor, Job};
use executor_core::{RejectReason, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use testkit::*;

/// The last `ThreadPool` dropped while `PoolRef`s live: closed (threads joined,
/// termination hooks registered through the `PoolRef` run once), then every
/// submission through the `PoolRef` is refused with the closure handed back.
#[test]
fn pool_ref_does_not_keep_the_pool_open() {
    bounded_for(LONG, || {
        let (pool, census) = pool_with_census(3);
        let weak = pool.downgrade();
        let hooks = Arc::new(AtomicUsize::new(0));
        let h = hooks.clone();
        assert!(weak
            .on_termination(move || {
                h.fetch_add(1, Ordering::SeqCst);
            })
            .is_some());
        let (tx, rx) = channel();
        weak.execute(move || tx.send(1).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(LONG), Ok(1));
        assert!(!weak.is_shutdown());

        drop(pool);

        assert_eq!(census.live(), 0, "the drop joined every worker");
        assert!(weak.is_shutdown() && weak.is_terminated());
        assert!(weak.await_termination(SHORT).is_ok());
        assert_eq!(hooks.load(Ordering::SeqCst), 1);
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let rejected = weak
            .execute(move || {
                r.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap_err();
        // Closed by the drop of its last handle: a graceful shutdown.
        assert_eq!(rejected.reason(), RejectReason::Shutdown);
        rejected.into_inner()(); // handed back unrun
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(weak.execute_job(Job::new(|| ())).is_err());
        assert!(weak.requeue_job(Job::new(|| ())).is_err());
        // Registered after termination: runs at once, here.
        let h = hooks.clone();
        assert!(weak
            .on_termination(move || {
                h.fetch_add(1, Ordering::SeqCst);
            })
            .is_none());
        assert_eq!(hooks.load(Ordering::SeqCst), 2);
    });
}

/// While the pool is shut down but still busy, a `PoolRef` refuses new work and
/// accepts re-queues (work that continues accepted tasks), which then run.
#[test]
fn pool_ref_requeues_during_shutdown() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let weak = pool.downgrade();
        let gate = block_all_workers(&pool);
        pool.shutdown();
        assert!(weak.is_shutdown() && !weak.is_terminated());
        let refused = weak.execute_job(Job::new(|| unreachable!("refused")));
        assert_eq!(refused.unwrap_err().reason(), RejectReason::Shutdown);
        let (tx, rx) = channel();
        weak.requeue_job(Job::new(move || tx.send("requeued").unwrap()))
            .unwrap();
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(rx.try_recv(), Ok("requeued"));
    });
}

/// A job holding only `PoolRef`s drops the last `ThreadPool` on a worker: the
/// pool shuts down without joining itself and terminates; its own `PoolRef`
/// still works inside the job (refusing new work).
#[test]
fn last_handle_dropped_in_a_job_holding_pool_refs() {
    bounded_for(LONG, || {
        let (pool, census) = pool_with_census(2);
        let observer = pool.downgrade();
        let weak = pool.downgrade();
        let (tx, rx) = channel();
        let last = pool.clone();
        drop(pool);
        assert!(!observer.is_shutdown(), "`last` is still a handle");
        observer
            .execute(move || {
                drop(last);
                tx.send(weak.is_shutdown() && weak.execute(|| ()).is_err())
                    .unwrap();
            })
            .unwrap();
        assert_eq!(rx.recv_timeout(LONG), Ok(true));
        assert!(observer.await_termination(LONG).is_ok());
        assert_eq!(census.live(), 0);
    });
}

/// `Executor::pool_ref`: the pool's own for `ThreadPool`, `&ThreadPool`,
/// `Arc<ThreadPool>` and a `PoolRef`; none for `InlineExecutor` (the default).
#[test]
fn executor_pool_ref() {
    let pool = ThreadPool::new(1).unwrap();
    let other = ThreadPool::new(1).unwrap();
    fn of<E: Executor>(e: E) -> Option<executor_core::PoolRef> {
        e.pool_ref()
    }
    assert!(of(pool.clone()).is_some_and(|r| r.is_pool(&pool)));
    assert!(of(&pool).is_some_and(|r| r.is_pool(&pool)));
    assert!(of(Arc::new(pool.clone())).is_some_and(|r| r.is_pool(&pool)));
    assert!(of(pool.downgrade()).is_some_and(|r| r.is_pool(&pool) && !r.is_pool(&other)));
    assert!(of(InlineExecutor).is_none());
    assert!(of::<&InlineExecutor>(&InlineExecutor).is_none());
    // Holding the results keeps neither pool open.
    let refs = [pool.downgrade(), other.downgrade()];
    drop((pool, other));
    assert!(refs.iter().all(|r| r.is_terminated()));
}
