//! Issue 16 item 10: the pool's `tracing` events carry distinct field names.
//! A field called `message` next to a format string gave a structured
//! subscriber two `message` keys, and the fmt output showed the panic text
//! unlabelled. Its own test binary: the capturing subscriber is global.

use executor_core::ThreadPool;
use testkit::*;

/// The default panic report (no panic handler set): one `message` (the event's
/// text) and the panic's text under `panic.message`.
#[test]
fn the_default_panic_report_names_the_panic_message_field() {
    bounded_for(LONG, || {
        captured_events(|_| false); // install the subscriber before anything logs
        let pool = ThreadPool::builder()
            .name("tracing-fields")
            .num_threads(1)
            .build()
            .unwrap();
        pool.execute(|| panic!("boom-item-10")).unwrap();
        pool.close();
        let events = captured_events(|e| e.fields.iter().any(|(_, v)| v.contains("boom-item-10")));
        assert_eq!(events.len(), 1, "{events:#?}");
        let event = &events[0];
        assert_eq!(event.level, tracing::Level::ERROR);
        assert_eq!(event.values("message"), ["job panicked"], "{event:#?}");
        assert_eq!(
            event.values("panic.message"),
            ["boom-item-10"],
            "{event:#?}"
        );
        assert_eq!(event.values("pool"), ["tracing-fields"], "{event:#?}");
        // No field name appears twice.
        let mut names: Vec<&str> = event.fields.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let len = names.len();
        names.dedup();
        assert_eq!(names.len(), len, "{event:#?}");
    });
}
