//! The baseline: a fixed set of std threads fed by one `std::sync::mpsc` channel,
//! the pool one writes in twenty lines with nothing but the standard library.

use crate::collect::{collect_channels, collect_slots, Collector, SubmitCollect};
use crate::Peer;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// A boxed job of [`StdMpsc`].
type Job = Box<dyn FnOnce() + Send + 'static>;

/// `threads` std threads taking boxed jobs from one `mpsc` channel whose receiver
/// they share behind a mutex (the textbook pool; the `threadpool` crate is this
/// design plus panic recovery and counters). Every job, from outside or from
/// inside, is a `send` on the channel; an idle worker sleeps in `recv`.
///
/// Dropping it closes the channel and joins the workers.
#[derive(Debug)]
pub struct StdMpsc {
    sender: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl StdMpsc {
    fn send(sender: &Sender<Job>, job: Job) {
        sender
            .send(job)
            .expect("std_mpsc: the workers outlive the senders");
    }
}

/// One worker: takes jobs until every sender is gone.
fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // The guard is dropped at the end of the statement: the job runs unlocked.
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

impl Peer for StdMpsc {
    const NAME: &'static str = "std_mpsc";
    type Spawner = Sender<Job>;

    fn build(threads: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = (0..threads)
            .map(|i| {
                let receiver = Arc::clone(&receiver);
                std::thread::Builder::new()
                    .name(format!("std-mpsc-{i}"))
                    .spawn(move || work(&receiver))
                    .expect("spawn a std_mpsc worker")
            })
            .collect();
        StdMpsc {
            sender: Some(sender),
            workers,
        }
    }

    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        let sender = self.sender.as_ref().expect("only taken by drop");
        StdMpsc::send(sender, Box::new(f));
    }

    fn spawner(&self) -> Self::Spawner {
        self.sender.clone().expect("only taken by drop")
    }

    #[inline]
    fn spawn_inside<F: FnOnce() + Send + 'static>(spawner: &Self::Spawner, f: F) {
        StdMpsc::send(spawner, Box::new(f));
    }
}

impl Drop for StdMpsc {
    fn drop(&mut self) {
        // Workers leave once every sender is gone: ours here, and the clones that
        // jobs hold, which finished jobs have dropped.
        drop(self.sender.take());
        for worker in self.workers.drain(..) {
            // A panicking job already printed its message; nothing to add.
            let _ = worker.join();
        }
    }
}

/// Like `rayon` and `threadpool`, no handle of its own: a [`Slot`] or a channel.
///
/// [`Slot`]: crate::collect::Slot
impl SubmitCollect for StdMpsc {
    fn collectors(&self) -> Vec<(&'static str, Collector<'_>)> {
        vec![
            ("std_mpsc_slot", Box::new(|n| collect_slots(self, n))),
            ("std_mpsc_mpsc", Box::new(|n| collect_channels(self, n))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::expected;
    use crate::Harness;

    #[test]
    fn runs_every_workload() {
        let h = Harness::<StdMpsc>::new(2);
        h.spawn_outside(1000);
        h.spawn_inside(1000);
        h.chained_spawn(100);
        h.ping_pong(50);
        h.round_trip();
        for (name, c) in h.pool.collectors() {
            assert_eq!(c(1000), expected(1000), "{name}");
        }
    }
}
