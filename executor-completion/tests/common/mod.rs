//! The shared test helpers (the `testkit` crate), plus two that only the
//! completion-service tests need.
#![allow(dead_code, unused_imports, unreachable_pub)]

pub use testkit::*;

/// A completion service's `Debug` mentions how many consumers wait: used to
/// order "X is blocked in take" before the next step of a test, without sleeps.
pub fn until_waiting_consumers<S: std::fmt::Debug>(service: &S, n: usize) {
    let needle = format!("waiting_consumers: {n},");
    until(
        || format!("{service:?}").contains(&needle),
        "consumers to block",
    );
}

/// Same for submitters blocked on a full bounded service.
pub fn until_waiting_submitters<S: std::fmt::Debug>(service: &S, n: usize) {
    let needle = format!("waiting_submitters: {n} ");
    until(
        || {
            let s = format!("{service:?}");
            s.contains(&needle) || s.contains(&format!("waiting_submitters: {n},"))
        },
        "submitters to block",
    );
}
