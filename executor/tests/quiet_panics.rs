//! `Builder::quiet_panics`: the panics a quiet pool catches on its workers do not
//! reach the previous panic hook; every other panic still does; the pool still
//! reports each one (handle, panic handler). One test per binary: the panic hook
//! is process-wide, and a second test running beside this one would see its
//! panics counted.

use executor::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The messages the hook installed before any pool saw, in order.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn seen() -> Vec<String> {
    SEEN.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[test]
fn quiet_pool_silences_only_its_own_workers_panics() {
    testkit::bounded(|| {
        // The user's hook, set before the first quiet pool: it records instead of printing.
        std::panic::set_hook(Box::new(|info| {
            let msg = executor::integration::payload_message(info.payload())
                .unwrap_or("<non-string>")
                .to_owned();
            SEEN.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
        }));

        let handled = Arc::new(AtomicUsize::new(0));
        let count = handled.clone();
        let quiet = ThreadPool::builder()
            .num_threads(2)
            .quiet_panics(true)
            .panic_handler(move |p| {
                assert_eq!(p.message(), Some("quiet execute"));
                count.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        // A second quiet pool: the filter is installed once, not stacked.
        let quiet2 = ThreadPool::builder()
            .num_threads(1)
            .quiet_panics(true)
            .on_thread_start(|_| ()) // the user's start hook still runs beside the marking
            .build()
            .unwrap();
        let loud = ThreadPool::new(1).unwrap();

        // Caught on a quiet pool's workers: reported by the pool, not by the hook.
        quiet.execute(|| panic!("quiet execute")).unwrap();
        let err = quiet
            .submit(|| -> u8 { panic!("quiet submit") })
            .unwrap()
            .get()
            .unwrap_err();
        assert_eq!(err.message(), Some("quiet submit"));
        let err = quiet2
            .submit(|| -> u8 { panic!("quiet2 submit") })
            .unwrap()
            .get()
            .unwrap_err();
        assert!(err.is_panic());
        quiet.close();
        assert_eq!(
            handled.load(Ordering::SeqCst),
            1,
            "the panic handler still sees it"
        );

        // A loud pool's worker and a plain thread: the user's hook sees each once.
        let err = loud
            .submit(|| -> u8 { panic!("loud submit") })
            .unwrap()
            .get()
            .unwrap_err();
        assert!(err.is_panic());
        let plain = std::thread::spawn(|| panic!("plain thread")).join();
        assert!(plain.is_err());

        assert_eq!(seen(), ["loud submit", "plain thread"]);
        quiet2.close();
        loud.close();
    });
}
