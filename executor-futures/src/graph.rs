//! Task graphs: a DAG of named callables with explicit edges, validated once
//! ([`TaskGraphBuilder::build`]) and run on a pool as a whole, as many times as
//! wanted ([`TaskGraph::run`]), with one [`TaskHandle`] for each run's
//! completion. Taskflow's `tf::Taskflow` and TBB's flow graph, without a
//! thread that waits.
//!
//! ## Layout (built once, shared by every run)
//!
//! Successors in one flat array indexed by a per-node offset (CSR), and each
//! node's number of predecessors; the roots listed. Nothing on the run path
//! allocates per edge.
//!
//! ## One run
//!
//! ```text
//!  run():  counters[i] = predecessors(i)     pending = sinks (nodes without successors)
//!          completion cell (deferred)        roots → queued on the pool
//!
//!  node i runs (or is skipped: poisoned, or the run was cancelled)
//!    for each successor s:  failed or skipped? counters[s] |= POISON
//!                           counters[s] -= 1 ── it was the last? → s is ready
//!    the first ready successor runs next on this thread (a loop, no recursion),
//!    any other is queued on this worker's deque (a two-word job: no allocation)
//!    i is a sink? pending -= 1 ── it was the last sink? → the completion cell is queued
//! ```
//!
//! A sink is accounted only after every node it depends on was (each
//! predecessor decremented its counter after running), and every node leads
//! to a sink: so when the last sink is accounted, every node was, and the
//! failures and skips they recorded are seen through the counters' `AcqRel`
//! chain. Only sinks touch the run's shared counter.
//!
//! * A node that panics or returns `Err` **fails**: the first failure is kept
//!   (with the node's name), and every node that depends on it, directly or
//!   not, is skipped (poisoned); nodes that do not depend on it still run.
//!   The run's handle then reports [`NodeFailed`].
//! * **Cancelling** the run's handle marks the run cancelled: nodes not started
//!   are skipped, running ones finish. The handle is cancelled at once.
//! * Every node is accounted exactly once (ran, failed or skipped), so the
//!   completion fires exactly once and a run never hangs. A node the pool
//!   refuses (shut down mid-run) counts as failed with
//!   [`NodeError::Rejected`].
//! * A cycle, or an edge naming a node of another builder, is an error of
//!   [`TaskGraphBuilder::build`], never of a run.
//!
//! ## Measured
//!
//! compare's `wavefront` (300×300 grid, 2 workers) gave 52 ns per cell with
//! a `pending` counter decremented by every node, against 32 ns for
//! hand-written counters and spawns on the same pool, and 34 ns for the graph
//! on *one* worker: the second worker made it slower. `perf` put 33% of the
//! samples on that shared decrement and most of the rest on loads of the
//! run's read-only fields (the layout, the counters' address), which sat on
//! the same cache line: every node pulled the line the other worker had just
//! written. Counting sinks only, with what a run writes on lines of its own
//! (`Tally`), gave 17-20 against 106-178 ns per cell in alternating pairs
//! of `hdeps_probe graph 300` at load 4-5 (the old figure is that high under
//! load because each bounce waits for the other vCPU); one worker under
//! callgrind: 157 → 135 instructions per cell, 45 of them the benchmark's
//! body. A queued node was an `Arc` allocation of its own; it is now a
//! two-word closure, which the pool keeps in a recycled block. What was not
//! measured here: many cores decrementing the counters of one wide level
//! (the counters are adjacent `u32`s, as in the hand-written scheme).

// The stage accessor of `TaskCell` is `unsafe` (see `task.rs`): used once, by
// the thread that holds the claim of the completion cell.
#![allow(unsafe_code)]

use crate::cell_arc::{upcast, CellArc};
use crate::continuation::{schedule, trampoline, ContShared};
use crate::error::{PanicPayload, TaskError};
use crate::handle::TaskHandle;
use crate::sync::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use crate::task::{Hook, NoHook, TaskCell, Work};
use executor_core::integration::{Executor, Job};
use executor_core::{PoolRef, RejectReason};
use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The error a node body may return.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

type Body = Box<dyn Fn() -> Result<(), BoxError> + Send + Sync + 'static>;

const POISON: u32 = 1 << 31;

/// A node of a [`TaskGraphBuilder`], for [`edge`](TaskGraphBuilder::edge).
///
/// # Examples
///
/// ```
/// let mut g = executor_futures::TaskGraph::builder();
/// let a = g.node("a", || ());
/// assert_eq!(a.index(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId {
    builder: u64,
    index: usize,
}

impl NodeId {
    /// The node's position in the order nodes were added.
    pub fn index(self) -> usize {
        self.index
    }
}

/// Builds a [`TaskGraph`]: add nodes (named callables), then edges between
/// them, then [`build`](TaskGraphBuilder::build).
///
/// # Examples
///
/// ```
/// use executor_futures::TaskGraph;
/// let mut g = TaskGraph::builder();
/// let fetch = g.node("fetch", || println!("fetch"));
/// let build = g.node("build", || println!("build"));
/// g.edge(fetch, build); // build after fetch
/// let graph = g.build().unwrap();
/// assert_eq!(graph.len(), 2);
/// ```
pub struct TaskGraphBuilder {
    id: u64,
    names: Vec<String>,
    bodies: Vec<Body>,
    edges: Vec<(NodeId, NodeId)>,
}

impl fmt::Debug for TaskGraphBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGraphBuilder")
            .field("nodes", &self.names)
            .field("edges", &self.edges.len())
            .finish()
    }
}

impl Default for TaskGraphBuilder {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TaskGraphBuilder {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            names: Vec::new(),
            bodies: Vec::new(),
            edges: Vec::new(),
        }
    }
}

impl TaskGraphBuilder {
    /// Adds a node running `body` (a panic fails the node). It runs once per
    /// run, so it is `Fn`; names need not be unique (they label errors).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut g = executor_futures::TaskGraph::builder();
    /// let id = g.node("compile main.c", || ());
    /// assert_eq!(g.build().unwrap().name(id), "compile main.c");
    /// ```
    pub fn node<F>(&mut self, name: impl Into<String>, body: F) -> NodeId
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.try_node(name, move || {
            body();
            Ok::<(), BoxError>(())
        })
    }

    /// Adds a node whose body can fail by returning `Err` (or by panicking).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::{ExecutorService, TaskGraph};
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let mut g = TaskGraph::builder();
    /// g.try_node("parse", || "x".parse::<u8>().map(|_| ()));
    /// let err = g.build().unwrap().run(&pool).get().unwrap().unwrap_err();
    /// assert_eq!(err.node(), "parse");
    /// ```
    pub fn try_node<F, E>(&mut self, name: impl Into<String>, body: F) -> NodeId
    where
        F: Fn() -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        let index = self.names.len();
        self.names.push(name.into());
        self.bodies
            .push(Box::new(move || body().map_err(Into::into)));
        NodeId {
            builder: self.id,
            index,
        }
    }

    /// Adds the dependency "`to` runs after `from`".
    ///
    /// # Examples
    ///
    /// ```
    /// let mut g = executor_futures::TaskGraph::builder();
    /// let (a, b) = (g.node("a", || ()), g.node("b", || ()));
    /// g.edge(a, b);
    /// assert_eq!(g.build().unwrap().successors(a), [b.index()]);
    /// ```
    pub fn edge(&mut self, from: NodeId, to: NodeId) -> &mut Self {
        self.edges.push((from, to));
        self
    }

    /// Validates the graph and lays it out for running.
    ///
    /// # Errors
    ///
    /// [`GraphError::DanglingEdge`] for an edge naming a node this builder did
    /// not make; [`GraphError::Cycle`] with the names of the nodes on a cycle
    /// (an edge from a node to itself is one).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::{GraphError, TaskGraph};
    /// let mut g = TaskGraph::builder();
    /// let (a, b) = (g.node("a", || ()), g.node("b", || ()));
    /// g.edge(a, b).edge(b, a);
    /// match g.build().unwrap_err() {
    ///     GraphError::Cycle { nodes } => assert_eq!(nodes, ["a", "b"]),
    ///     other => panic!("{other}"),
    /// }
    /// ```
    pub fn build(self) -> Result<TaskGraph, GraphError> {
        let n = self.names.len();
        for &(from, to) in &self.edges {
            if from.builder != self.id || to.builder != self.id || from.index >= n || to.index >= n
            {
                return Err(GraphError::DanglingEdge { from, to });
            }
        }
        let mut preds = vec![0u32; n];
        let mut offsets = vec![0u32; n + 1];
        for &(from, to) in &self.edges {
            offsets[from.index + 1] += 1;
            preds[to.index] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut succ = vec![0u32; self.edges.len()];
        for &(from, to) in &self.edges {
            succ[fill[from.index] as usize] = to.index as u32;
            fill[from.index] += 1;
        }
        // Kahn: every node must come out; those that do not are on or behind a cycle.
        let mut left = preds.clone();
        let mut ready: Vec<u32> = (0..n as u32).filter(|&i| left[i as usize] == 0).collect();
        let roots = ready.clone();
        let mut seen = 0;
        while let Some(i) = ready.pop() {
            seen += 1;
            for &s in &succ[offsets[i as usize] as usize..offsets[i as usize + 1] as usize] {
                left[s as usize] -= 1;
                if left[s as usize] == 0 {
                    ready.push(s);
                }
            }
        }
        if seen < n {
            return Err(GraphError::Cycle {
                nodes: find_cycle(&self.edges, &left, n)
                    .into_iter()
                    .map(|i| self.names[i].clone())
                    .collect(),
            });
        }
        let sinks = (0..n).filter(|&i| offsets[i] == offsets[i + 1]).count();
        Ok(TaskGraph {
            inner: Arc::new(Layout {
                names: self.names,
                bodies: self.bodies,
                offsets,
                succ,
                sinks,
                preds,
                roots,
            }),
        })
    }
}

/// One cycle among the nodes Kahn's algorithm left (`left[i] > 0`): each has a
/// predecessor that is left too, so walking predecessors must repeat a node.
fn find_cycle(edges: &[(NodeId, NodeId)], left: &[u32], n: usize) -> Vec<usize> {
    let mut pred_of = vec![usize::MAX; n];
    for &(from, to) in edges {
        if left[from.index] > 0 && left[to.index] > 0 {
            pred_of[to.index] = from.index;
        }
    }
    let start = (0..n).find(|&i| left[i] > 0).expect("a node is left");
    let mut pos = vec![usize::MAX; n];
    let mut path = Vec::new();
    let mut i = start;
    while pos[i] == usize::MAX {
        pos[i] = path.len();
        path.push(i);
        i = pred_of[i];
    }
    let mut cycle = path.split_off(pos[i]);
    cycle.reverse(); // edge order: each node comes before the next
    let first = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, &v)| v)
        .map_or(0, |(k, _)| k);
    cycle.rotate_left(first);
    cycle
}

/// A validated DAG of tasks, cheap to clone, run with [`run`](TaskGraph::run)
/// as many times as wanted (module docs of `graph.rs` describe a run).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use executor_futures::TaskGraph;
///
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let count = Arc::new(AtomicUsize::new(0));
/// let mut g = TaskGraph::builder();
/// let nodes: Vec<_> = (0..4)
///     .map(|i| {
///         let count = count.clone();
///         g.node(format!("n{i}"), move || { count.fetch_add(1, Ordering::Relaxed); })
///     })
///     .collect();
/// g.edge(nodes[0], nodes[1]).edge(nodes[0], nodes[2]).edge(nodes[1], nodes[3]).edge(nodes[2], nodes[3]);
/// let graph = g.build().unwrap();
/// for _ in 0..3 {
///     graph.run(&pool).get().unwrap().unwrap();
/// }
/// assert_eq!(count.load(Ordering::Relaxed), 12);
/// ```
#[derive(Clone)]
pub struct TaskGraph {
    inner: Arc<Layout>,
}

struct Layout {
    names: Vec<String>,
    bodies: Vec<Body>,
    offsets: Vec<u32>,
    succ: Vec<u32>,
    preds: Vec<u32>,
    roots: Vec<u32>,
    /// The nodes without successors: a run is over once each of them is
    /// accounted (module docs, "One run").
    sinks: usize,
}

impl Layout {
    fn successors(&self, i: usize) -> &[u32] {
        &self.succ[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

impl fmt::Debug for TaskGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGraph")
            .field("nodes", &self.inner.names.len())
            .field("edges", &self.inner.succ.len())
            .finish()
    }
}

impl TaskGraph {
    /// A new, empty builder.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = executor_futures::TaskGraph::builder();
    /// assert!(g.build().unwrap().is_empty());
    /// ```
    pub fn builder() -> TaskGraphBuilder {
        TaskGraphBuilder::default()
    }

    /// The number of nodes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut g = executor_futures::TaskGraph::builder();
    /// g.node("only", || ());
    /// assert_eq!(g.build().unwrap().len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.names.len()
    }

    /// True for a graph without nodes (its runs complete at once).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(executor_futures::TaskGraph::builder().build().unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.names.is_empty()
    }

    /// The name of node `id`.
    ///
    /// # Panics
    ///
    /// If `id` is not a node of this graph.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut g = executor_futures::TaskGraph::builder();
    /// let id = g.node("link", || ());
    /// assert_eq!(g.build().unwrap().name(id), "link");
    /// ```
    pub fn name(&self, id: NodeId) -> &str {
        &self.inner.names[id.index]
    }

    /// The indices of the nodes that run after node `id`.
    ///
    /// # Panics
    ///
    /// If `id` is not a node of this graph.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut g = executor_futures::TaskGraph::builder();
    /// let (a, b, c) = (g.node("a", || ()), g.node("b", || ()), g.node("c", || ()));
    /// g.edge(a, b).edge(a, c);
    /// assert_eq!(g.build().unwrap().successors(a), [b.index(), c.index()]);
    /// ```
    pub fn successors(&self, id: NodeId) -> Vec<usize> {
        self.inner
            .successors(id.index)
            .iter()
            .map(|&s| s as usize)
            .collect()
    }

    /// Runs the whole graph on `exec` and returns the handle of this run: it
    /// completes when every node ran or was skipped, with `Ok(())` or the first
    /// node failure ([`NodeFailed`], naming the node). No thread waits: the
    /// last predecessor of a node to finish starts it.
    ///
    /// Cancelling the handle stops the nodes that have not started (running ones
    /// finish); the handle is cancelled at once. If the pool refuses the first
    /// nodes (it is shut down), they count as failed
    /// ([`NodeError::Rejected`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::TaskGraph;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let mut g = TaskGraph::builder();
    /// let a = g.node("a", || ());
    /// let b = g.node("b", || panic!("disk full"));
    /// let c = g.node("c", || unreachable!("depends on b"));
    /// g.edge(a, b).edge(b, c);
    /// let failed = g.build().unwrap().run(&pool).get().unwrap().unwrap_err();
    /// assert_eq!(failed.node(), "b");
    /// assert_eq!(failed.skipped(), 1); // c
    /// assert_eq!(failed.to_string(), "graph node \"b\" failed: panicked: disk full");
    /// ```
    pub fn run<E>(&self, exec: &E) -> TaskHandle<Result<(), NodeFailed>>
    where
        E: Executor + Clone + 'static,
    {
        let n = self.len();
        let layout = &self.inner;
        let run = Arc::new(Run {
            layout: self.inner.clone(),
            counters: layout.preds.iter().map(|&p| AtomicU32::new(p)).collect(),
            done: OnceLock::new(),
            exec: match exec.pool_ref() {
                Some(pool) => RunExec::Pool(pool),
                None => RunExec::Other(Box::new(exec.clone())),
            },
            tally: Tally {
                pending: AtomicUsize::new(layout.sinks),
                cancelled: AtomicBool::new(false),
                skipped: AtomicUsize::new(0),
                failure: Mutex::new(None),
                refused: Mutex::new(None),
            },
        });
        let cell = TaskCell::new_deferred(
            GraphDone {
                run: Some(run.clone()),
            },
            ContShared::new(()),
            NoHook,
        );
        let _ = run.done.set(cell.clone());
        let handle = TaskHandle::from_raw(upcast!(cell.clone()));
        if n == 0 {
            schedule(cell);
            return handle;
        }
        for &root in &layout.roots {
            run.spawn(root);
        }
        handle
    }
}

/// Where a run queues its nodes: the pool without keeping it open, or any
/// other executor.
enum RunExec {
    Pool(PoolRef),
    Other(Box<dyn Executor>),
}

impl RunExec {
    fn execute_job(&self, job: Job) -> Result<(), executor_core::Rejected<Job>> {
        match self {
            RunExec::Pool(pool) => pool.execute_job(job),
            RunExec::Other(exec) => exec.execute_job(job),
        }
    }
}

type DoneCell = TaskCell<GraphDone, Result<(), NodeFailed>, NoHook>;

/// The state of one run (module docs). What every node reads (the layout,
/// the counters' address) is kept off the cache line of what is written
/// during the run ([`Tally`]).
struct Run {
    layout: Arc<Layout>,
    counters: Box<[AtomicU32]>,
    done: OnceLock<CellArc<DoneCell>>,
    exec: RunExec,
    tally: Tally,
}

/// What a run writes besides the counters, on cache lines of its own
/// (module docs, "Measured").
#[repr(align(128))]
struct Tally {
    /// Sinks not accounted yet.
    pending: AtomicUsize,
    cancelled: AtomicBool,
    skipped: AtomicUsize,
    failure: Mutex<Option<(usize, NodeError)>>,
    /// Why the pool refused a node job, for a [`NodeJob`] dropped unrun.
    refused: Mutex<Option<RejectReason>>,
}

/// The job of one ready node: two words, so the pool queues it in one of
/// its recycled blocks (`executor-core`'s `job.rs`) instead of a fresh
/// allocation. Dropped unrun (refused by the pool, or handed back by
/// `shutdown_now` and dropped), it still accounts for its node, as failed:
/// the run completes, never hangs.
struct NodeJob {
    /// `None` once run.
    run: Option<Arc<Run>>,
    node: u32,
}

impl NodeJob {
    fn run(mut self) {
        if let Some(run) = self.run.take() {
            run.execute(self.node);
        }
    }
}

impl Drop for NodeJob {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        let reason = run
            .tally
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or(RejectReason::Stopped);
        let node = self.node;
        // Trampolined: a refused node's successors are refused too, and a long
        // chain of them must not recurse. No node body runs here: they are
        // all poisoned by this failure.
        trampoline(move || {
            run.fail(node as usize, NodeError::Rejected(reason));
            if let Some(next) = run.account(node, false) {
                run.execute(next);
            }
        });
    }
}

impl Run {
    fn spawn(self: &Arc<Self>, node: u32) {
        let job = NodeJob {
            run: Some(self.clone()),
            node,
        };
        if let Err(rejected) = self.exec.execute_job(Job::new(move || job.run())) {
            *self
                .tally
                .refused
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(rejected.reason());
            // Dropping the job drops the `NodeJob` unrun: its node counts as
            // refused.
            drop(rejected);
        }
    }

    /// Runs (or skips) `node`, then the ready successors it keeps for itself,
    /// in a loop (no recursion).
    fn execute(self: &Arc<Self>, node: u32) {
        let mut node = node;
        loop {
            let ok = self.run_node(node as usize);
            match self.account(node, ok) {
                Some(next) => node = next,
                None => return,
            }
        }
    }

    /// Runs node `i`'s body, or skips it (a predecessor failed, or the run was
    /// cancelled); true if it succeeded.
    #[inline]
    fn run_node(&self, i: usize) -> bool {
        // Acquire: the last predecessor's decrement (AcqRel) is seen, with
        // the poison the others set before theirs.
        let poisoned = self.counters[i].load(Ordering::Acquire) & POISON != 0;
        if poisoned || self.tally.cancelled.load(Ordering::Relaxed) {
            self.tally.skipped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match catch_unwind(AssertUnwindSafe(|| (self.layout.bodies[i])())) {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                self.fail(i, NodeError::Failed(e));
                false
            }
            Err(payload) => {
                self.fail(i, NodeError::Panicked(PanicPayload::new(payload)));
                false
            }
        }
    }

    /// Node `node` is over (`ok`: it succeeded): counts it off its
    /// successors (poisoning them if it did not succeed) and off the run.
    /// Returns the first successor it made ready, for this thread to run
    /// next; queues any other.
    #[inline]
    fn account(self: &Arc<Self>, node: u32, ok: bool) -> Option<u32> {
        let mut next = None;
        let successors = self.layout.successors(node as usize);
        for &s in successors {
            let counter = &self.counters[s as usize];
            if !ok {
                counter.fetch_or(POISON, Ordering::Relaxed);
            }
            if counter.fetch_sub(1, Ordering::AcqRel) & !POISON == 1 {
                if next.is_none() {
                    next = Some(s);
                } else {
                    self.spawn(s);
                }
            }
        }
        // A sink is accounted after every node it depends on (each
        // decremented its counter last); every node leads to a sink, so the
        // last sink accounted is the last node of the run.
        if successors.is_empty() && self.tally.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(done) = self.done.get() {
                schedule(done.clone());
            }
        }
        next
    }

    fn fail(&self, node: usize, error: NodeError) {
        let mut failure = self
            .tally
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            *failure = Some((node, error));
        }
    }

    fn outcome(&self) -> Result<(), NodeFailed> {
        let failure = self
            .tally
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match failure {
            None => Ok(()),
            Some((node, error)) => Err(NodeFailed {
                node: self.layout.names[node].clone(),
                index: node,
                error,
                skipped: self.tally.skipped.load(Ordering::Relaxed),
            }),
        }
    }
}

/// The work of a run's completion cell. Dropped unrun (the handle was
/// cancelled), it cancels the run.
struct GraphDone {
    run: Option<Arc<Run>>,
}

impl Drop for GraphDone {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            run.tally.cancelled.store(true, Ordering::Relaxed);
        }
    }
}

impl Work<Result<(), NodeFailed>> for GraphDone {
    const RUN_INLINE: bool = false;
    type Shared = ContShared<()>;

    fn run<H: Hook<Result<(), NodeFailed>>>(
        cell: CellArc<TaskCell<Self, Result<(), NodeFailed>, H>>,
    ) {
        // SAFETY: `run` is called by the thread that won the claim.
        let work = unsafe { cell.take_work() };
        let Some(mut work) = work else {
            unreachable!("a claimed continuation holds its work")
        };
        let run = work.run.take().expect("set until run or dropped");
        let outcome = run.outcome();
        drop(run);
        crate::continuation::complete(cell, Ok::<_, TaskError>(move || outcome));
    }

    fn cancelled_error(shared: &Self::Shared) -> TaskError {
        shared.cancelled_error()
    }
}

/// Why a graph could not be built.
///
/// # Examples
///
/// ```
/// use executor_futures::{GraphError, TaskGraph};
/// let mut g = TaskGraph::builder();
/// let a = g.node("a", || ());
/// g.edge(a, a);
/// assert!(matches!(g.build(), Err(GraphError::Cycle { .. })));
///
/// let mut other = TaskGraph::builder();
/// let stranger = other.node("x", || ());
/// let mut g = TaskGraph::builder();
/// let b = g.node("b", || ());
/// g.edge(b, stranger);
/// assert!(matches!(g.build(), Err(GraphError::DanglingEdge { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphError {
    /// The edges form a cycle through these nodes (by name, in edge order).
    Cycle {
        /// The names of the nodes on the cycle.
        nodes: Vec<String>,
    },
    /// An edge names a node this builder did not make.
    DanglingEdge {
        /// The edge's source.
        from: NodeId,
        /// The edge's target.
        to: NodeId,
    },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Cycle { nodes } => {
                write!(f, "the graph has a cycle: {}", nodes.join(" -> "))
            }
            GraphError::DanglingEdge { from, to } => write!(
                f,
                "edge {} -> {} names a node of another graph builder",
                from.index, to.index
            ),
        }
    }
}

impl Error for GraphError {}

/// How a node failed.
///
/// # Examples
///
/// ```
/// use executor_futures::{NodeError, TaskGraph};
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let mut g = TaskGraph::builder();
/// g.node("boom", || panic!("boom"));
/// let failed = g.build().unwrap().run(&pool).get().unwrap().unwrap_err();
/// assert!(matches!(failed.error(), NodeError::Panicked(p) if p.message() == Some("boom")));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// The body panicked.
    Panicked(PanicPayload),
    /// The body returned `Err`.
    Failed(BoxError),
    /// The pool refused to run it (it was shut down during the run).
    Rejected(RejectReason),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Panicked(p) => match p.message() {
                Some(m) => write!(f, "panicked: {m}"),
                None => f.write_str("panicked"),
            },
            NodeError::Failed(e) => write!(f, "returned an error: {e}"),
            NodeError::Rejected(r) => write!(f, "the pool refused it ({r:?})"),
        }
    }
}

impl Error for NodeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            NodeError::Failed(e) => Some(&**e),
            _ => None,
        }
    }
}

/// The first node of a graph run that failed, by name, and what its failure
/// cost: the nodes skipped because they depend on a failed node.
///
/// # Examples
///
/// ```
/// use executor_futures::TaskGraph;
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let mut g = TaskGraph::builder();
/// g.try_node("fetch", || Err("404"));
/// let failed = g.build().unwrap().run(&pool).get().unwrap().unwrap_err();
/// assert_eq!((failed.node(), failed.index(), failed.skipped()), ("fetch", 0, 0));
/// assert_eq!(failed.error().to_string(), "returned an error: 404");
/// ```
#[derive(Debug)]
pub struct NodeFailed {
    node: String,
    index: usize,
    error: NodeError,
    skipped: usize,
}

impl NodeFailed {
    /// The failed node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The failed node's index ([`NodeId::index`]).
    pub fn index(&self) -> usize {
        self.index
    }

    /// How it failed.
    pub fn error(&self) -> &NodeError {
        &self.error
    }

    /// How many nodes were skipped because they depend on a failed node.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The failure, by value.
    pub fn into_error(self) -> NodeError {
        self.error
    }
}

impl fmt::Display for NodeFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "graph node {:?} failed: {}", self.node, self.error)
    }
}

impl Error for NodeFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}

/// Model check of a run's accounting (module docs, "One run"): two roots and
/// two sinks, each queued node on a model thread of its own; the run's
/// handle completes once, after every node ran, whichever sink is accounted
/// last. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p executor-futures --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use loom::thread;

    /// Runs each job on a new model thread (joined by the model's end).
    #[derive(Clone)]
    struct Spawner(Arc<Mutex<Vec<thread::JoinHandle<()>>>>);

    impl Executor for Spawner {
        fn execute_job(&self, job: Job) -> Result<(), executor_core::Rejected<Job>> {
            let handle = thread::spawn(move || job.run());
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(handle);
            Ok(())
        }
    }

    #[test]
    fn loom_last_sink_completes_the_run_once_after_every_node() {
        loom::model(|| {
            let marks: Arc<Vec<AtomicUsize>> =
                Arc::new((0..4).map(|_| AtomicUsize::new(0)).collect());
            let mut g = TaskGraph::builder();
            let mut node = |k: usize| {
                let marks = marks.clone();
                g.node(format!("n{k}"), move || {
                    marks[k].fetch_add(1, Ordering::Relaxed);
                })
            };
            let (a, b, c, d) = (node(0), node(1), node(2), node(3));
            // Roots a and b; sinks c (after a) and d (after a and b).
            g.edge(a, c).edge(a, d).edge(b, d);
            let graph = g.build().unwrap();
            let spawner = Spawner(Arc::new(Mutex::new(Vec::new())));
            let run = graph.run(&spawner);
            let fired = Arc::new(AtomicUsize::new(0));
            let (seen, f) = (marks.clone(), fired.clone());
            run.on_complete(move |_| {
                // Relaxed: only the run's own AcqRel chain makes the marks
                // visible here.
                for (k, m) in seen.iter().enumerate() {
                    assert_eq!(
                        m.load(Ordering::Relaxed),
                        1,
                        "node {k} accounted before the end"
                    );
                }
                f.fetch_add(1, Ordering::Relaxed);
            });
            loop {
                let next = spawner
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop();
                match next {
                    Some(h) => h.join().unwrap(),
                    None => break,
                }
            }
            assert!(run.is_done());
            assert_eq!(fired.load(Ordering::Relaxed), 1, "completed once");
            run.get().unwrap().unwrap();
        });
    }
}
