//! The elastic pool: extra workers beyond the core size while work waits, and
//! (opt-in, Linux) detection of workers stuck in the kernel.
//!
//! Java's `ThreadPoolExecutor` has a core and a maximum size with a keep-alive;
//! .NET's pool and Go's runtime add threads when their workers block. Here a
//! *monitor* thread per pool (started only when the pool can grow: a maximum
//! above the core size, or detection on) looks at the pool every [`TICK`]:
//!
//! ```text
//!  monitor loop (ends at shutdown)
//!    every live worker asleep, no work queued, none blocked ──▶ park
//!        (woken by the first sleeper a publisher wakes: Sleep::wake_one)
//!    else sleep TICK, then look:
//!      work queued now and at the last look, nobody searching or asleep
//!        ├─ load: extras < max - core                  ──▶ start an extra
//!        └─ detection: a worker running a job is in state S or D (asleep in
//!           the kernel) at two looks in a row without finishing a job
//!           (a CPU-bound worker is R and never counts), more of them than
//!           extras started for them, extras < max - core + max_spares
//!                                                      ──▶ start an extra
//!  extra worker: the workers' loop; retires after `keep_alive` without work
//! ```
//!
//! * The monitor costs no CPU while the pool is idle: it parks until a
//!   publisher wakes a sleeping worker (the cold path of `crate::sleep`).
//! * Extras are workers in every way but their index (after the spares'
//!   first slots: they share `crate::compensate`'s slots), and exit with the
//!   pool. A failed thread spawn is reported through `tracing`; the pool
//!   carries on at its size.
//! * Detection reads `/proc/self/task/<tid>/stat` (measured: 6 µs a read on
//!   the reference machine, so about 0.2% of a CPU per worker at one look per
//!   10 ms, only while the pool is busy). It is off by default: the cost is
//!   small, but it changes what a plainly blocked pool does (work queued
//!   behind workers blocked in a lock or a channel starts on extra threads),
//!   which a user may rely on (`shutdown_now` handing back what is queued
//!   behind them), and a job that waits on a contended lock for two ticks
//!   makes the pool grow. Turn it on for pools whose tasks block without
//!   saying so ([`block_in_place`](crate::block_in_place) says so).

use crate::lifecycle::State;
use crate::registry::Registry;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a busy pool's monitor looks at it; work that waited a whole
/// tick with every worker busy or stuck makes the pool grow.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// The default keep-alive of an extra worker (Java's `ThreadPoolExecutor`
/// examples use 60 s).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(60);

/// The elastic part of one pool.
pub(crate) struct Elastic {
    /// Workers the pool may add beyond its core size for load.
    pub(crate) max_extra: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) detect: bool,
    /// Extras started and not retired.
    extras: AtomicUsize,
    /// Each worker's kernel thread id (0: unknown), by index.
    tids: Box<[AtomicU32]>,
    /// Each worker's "blocked by the pool's own waits" flag, by index.
    managed: Box<[AtomicBool]>,
}

impl Elastic {
    pub(crate) fn new(max_extra: usize, keep_alive: Duration, detect: bool, slots: usize) -> Self {
        Elastic {
            max_extra,
            keep_alive,
            detect,
            extras: AtomicUsize::new(0),
            tids: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            managed: (0..slots).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Whether the pool runs a monitor at all.
    pub(crate) fn enabled(&self) -> bool {
        self.max_extra > 0 || self.detect
    }

    pub(crate) fn extras(&self) -> usize {
        self.extras.load(Ordering::Relaxed)
    }

    /// An extra retires (keep-alive or the pool's end).
    pub(crate) fn extra_left(&self) {
        self.extras.fetch_sub(1, Ordering::SeqCst);
    }

    /// Worker `index` starts: remember its kernel thread id (detection).
    pub(crate) fn register_thread(&self, index: usize) {
        if !self.detect {
            return;
        }
        if let Some(tid) = current_tid() {
            if let Some(slot) = self.tids.get(index) {
                slot.store(tid, Ordering::Relaxed);
            }
        }
    }

    /// Worker `index` enters or leaves a wait the pool compensates itself.
    #[inline]
    pub(crate) fn set_managed(&self, index: usize, blocked: bool) {
        if self.detect {
            if let Some(flag) = self.managed.get(index) {
                flag.store(blocked, Ordering::Relaxed);
            }
        }
    }
}

impl std::fmt::Debug for Elastic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elastic")
            .field("max_extra", &self.max_extra)
            .field("extras", &self.extras())
            .field("detect", &self.detect)
            .finish_non_exhaustive()
    }
}

/// This thread's kernel id, from `/proc/thread-self` (Linux); `None` elsewhere.
fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// True if thread `tid` of this process is asleep in the kernel (`S`, `D`).
fn is_stuck_in_kernel(tid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // "tid (comm) S ...": the state follows the last ')' (comm may hold one).
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_some_and(|state| state == 'S' || state == 'D')
}

/// What the monitor saw at its last look.
#[derive(Default)]
struct Look {
    work_waiting: bool,
    /// Per worker: stuck at the last look, and its completed-job count then.
    stuck: Vec<Option<u64>>,
}

/// Starts the monitor thread of `registry` (if the pool can grow).
pub(crate) fn start_monitor(registry: &Arc<Registry>) {
    if !registry.elastic.enabled() {
        return;
    }
    let reg = registry.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("{}-monitor", registry.name))
        .stack_size(256 << 10)
        .spawn(move || monitor(reg));
    if let Err(error) = spawned {
        tracing::error!(pool = %registry.name, %error, "starting the pool's monitor failed; the pool will not grow");
    }
}

fn monitor(reg: Arc<Registry>) {
    let mut look = Look::default();
    loop {
        // Growth ends with the pool's shutdown (its queued work still runs
        // on the workers it has).
        if reg.lifecycle.state() >= State::Shutdown {
            return;
        }
        if reg.sleep.park_monitor(|| reg.is_idle()) {
            look = Look::default();
            continue;
        }
        std::thread::sleep(TICK);
        reg.monitor_look(&mut look);
    }
}

impl Registry {
    /// Every live worker asleep, nothing queued, nobody blocked.
    fn is_idle(&self) -> bool {
        let live = self.num_threads() + self.comp.spares() + self.elastic.extras();
        self.sleep.sleeping() >= live && self.comp.blocked() == 0 && !self.shared_work_visible()
    }

    /// One look of the monitor (module docs).
    fn monitor_look(&self, look: &mut Look) {
        let waiting = self.shared_work_visible() && self.sleep.all_running();
        let waited = waiting && look.work_waiting;
        look.work_waiting = waiting;
        let el = &self.elastic;
        let mut stuck_now = 0;
        if el.detect {
            let n = self.num_threads() + self.comp.slots_made();
            look.stuck.resize(n, None);
            for index in 0..n {
                let tid = el.tids[index].load(Ordering::Relaxed);
                let managed = el.managed[index].load(Ordering::Relaxed);
                let done = self.counters[index].completed();
                let stuck =
                    tid != 0 && !managed && !self.sleep.is_asleep(index) && is_stuck_in_kernel(tid);
                let was = look.stuck[index].replace(done);
                if !stuck {
                    look.stuck[index] = None;
                } else if was == Some(done) {
                    stuck_now += 1;
                }
            }
        }
        if !waited {
            return;
        }
        let extras = el.extras();
        let grow = extras < el.max_extra
            || (stuck_now > 0 && extras < el.max_extra + self.comp.max_spares.min(stuck_now));
        if grow {
            tracing::debug!(pool = %self.name, extras, stuck = stuck_now, "work waits with every worker busy or stuck: adding a worker");
            el.extras.fetch_add(1, Ordering::SeqCst);
            if !self.start_worker(crate::worker::Kind::Extra) {
                el.extras.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}
