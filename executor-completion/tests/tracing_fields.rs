//! Issue 16 item 10: the crate's `tracing` events carry distinct field names
//! (no `message` field next to a format string). Its own test binary: the
//! capturing subscriber is global.

mod common;
use common::*;
use executor_completion::CompletionService;
use executor_core::ThreadPool;

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("completion-drop-boom-item-10");
    }
}

/// A completed result whose `Drop` panics, dropped untaken with its service:
/// the caught panic is reported with its text under `panic.message`, once.
#[test]
fn a_caught_result_drop_panic_is_reported_under_panic_message() {
    bounded_for(LONG, || {
        captured_events(|_| false); // install the subscriber before anything logs
        let pool = ThreadPool::new(1).unwrap();
        let service = CompletionService::new(pool.clone());
        service.submit(|| PanicOnDrop).unwrap();
        pool.close(); // the task ran: its result waits in the service
        drop(service);
        let events = captured_events(|e| {
            e.fields
                .iter()
                .any(|(_, v)| v.contains("completion-drop-boom-item-10"))
        });
        assert_eq!(events.len(), 1, "{events:#?}");
        let event = &events[0];
        assert_eq!(event.values("message").len(), 1, "{event:#?}");
        assert_eq!(
            event.values("panic.message"),
            ["completion-drop-boom-item-10"],
            "{event:#?}"
        );
    });
}
