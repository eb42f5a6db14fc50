//! The shared test helpers live in the `testkit` crate.
#![allow(unused_imports, unreachable_pub)]

pub use testkit::*;
