//! Continuations, combinators, `submit_after`: issue 20 items 1 and 2, bad input.

use executor_core::ThreadPool;
use executor_futures::{all_of, all_of_or_cancel, any_of, ExecutorService, TaskError, TaskHandle, TaskRef, TaskState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;
use testkit::{bounded, Gate};

#[test]
fn then_maps_and_propagates_errors_as_values() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let h = pool.submit(|| 20).unwrap().then(|x| x + 1).then(|x| x * 2);
        assert_eq!(h.get().unwrap(), 42);
        let p = pool.submit(|| -> u32 { panic!("up") }).unwrap().then(|x| x + 1).then(|x| x + 1);
        assert_eq!(p.get().unwrap_err().message(), Some("up"));
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        let queued = pool.submit(|| 1).unwrap();
        let up = queued.task_ref();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let down = queued.then(move |x| { r.fetch_add(1, Ordering::SeqCst); x });
        assert!(up.cancel());
        assert!(down.get().unwrap_err().is_cancelled());
        gate.open();
        blocker.get().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
}
