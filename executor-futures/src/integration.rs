//! For libraries that take a spawner, not needed to use the pool:
//! [`Spawner`], any executor as a `futures::task::Spawn`. The pool's own
//! integrators' items are in [`executor_core::integration`].
//!
//! This module owns no code: it gathers the integrators' items of this crate in
//! one place, out of the crate's front page.
//!
//! # Examples
//!
//! ```
//! use executor_futures::integration::Spawner;
//! use executor_futures::ExecutorService;
//! let pool = executor_core::ThreadPool::new(1).unwrap();
//! let spawner: Spawner<_> = pool.spawner();
//! # drop(spawner);
//! ```

pub use crate::service::Spawner;
