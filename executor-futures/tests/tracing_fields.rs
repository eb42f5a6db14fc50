//! Issue 16 item 10: the crate's `tracing` events carry distinct field names
//! (no `message` field next to a format string). Its own test binary: the
//! capturing subscriber is global.

use executor_core::ThreadPool;
use executor_futures::ExecutorService;
use testkit::*;

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("drop-boom-item-10");
    }
}

/// A result whose `Drop` panics, dropped unread with its handle: the caught
/// panic is reported with its text under `panic.message`, once.
#[test]
fn a_caught_drop_panic_is_reported_under_panic_message() {
    bounded_for(LONG, || {
        captured_events(|_| false); // install the subscriber before anything logs
        let pool = ThreadPool::new(1).unwrap();
        let handle = pool.submit(|| PanicOnDrop).unwrap();
        handle.wait().unwrap();
        drop(handle); // drops the output here, catching its panic
        pool.close();
        let events = captured_events(|e| {
            e.fields
                .iter()
                .any(|(_, v)| v.contains("drop-boom-item-10"))
        });
        assert_eq!(events.len(), 1, "{events:#?}");
        let event = &events[0];
        assert_eq!(event.values("message").len(), 1, "{event:#?}");
        assert_eq!(
            event.values("panic.message"),
            ["drop-boom-item-10"],
            "{event:#?}"
        );
    });
}
