//! Execution: runs selected units on one tokio runtime with bounded concurrency, serial units
//! alone afterwards, each spec under its timeout, with teardown and cleanups that always run.
//!
//! Timeouts: a spec's setup and body share one deadline (`--spec-timeout` or the spec's own).
//! When it passes, or the run is interrupted, the spec's token is cancelled and the running hook
//! gets the grace period to return before it is dropped. Teardown (`just_after_each`,
//! `after_each`, cleanups LIFO) then runs with a fresh token and its own deadline: the grace
//! period after a timeout or interrupt, otherwise whatever remains of the spec's time but at least
//! the grace period. A second interrupt abandons teardown.

use crate::exec::interrupt::Interrupts;
use crate::exec::queue::Queue;
use crate::report::outcome::{Failure, FailureKind, HookTiming, SpecResult, State, Transcript};
use crate::select::selection::Unit;
use crate::spec::container::{Hook, HookKind};
use crate::spec::context::{BoxFuture, Extensions, SpecContext};
use crate::spec::registry::Spec;
use crate::spec::skip::Skip;
use crate::spec::tag::Labels;
use futures::FutureExt;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Execution settings taken from the flags.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Units running at once in the parallel phase.
    pub concurrency: usize,
    /// Default setup+body deadline.
    pub spec_timeout: Duration,
    /// Grace period for hooks to return after cancellation, and for teardown.
    pub grace: Duration,
    /// Attempts per failing spec.
    pub flake_attempts: u32,
    /// Stop starting specs after a failure.
    pub fail_fast: bool,
    /// Progress threshold.
    pub progress_after: Duration,
    /// Stream steps and logs.
    pub verbose: bool,
    /// Typed values every spec context starts with (the run's parameters and report directory,
    /// and whatever an extension adds).
    pub extensions: Extensions,
    /// When the run began: the spec and hook start times in the report count from it.
    pub origin: std::time::Instant,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            concurrency: 1,
            spec_timeout: Duration::from_secs(900),
            grace: Duration::from_secs(30),
            flake_attempts: 1,
            fail_fast: false,
            progress_after: Duration::from_secs(60),
            verbose: false,
            extensions: Extensions::default(),
            origin: std::time::Instant::now(),
        }
    }
}

/// Results by spec index; the presenter waits on it while the executor fills it. It also
/// collects the timings of ordered containers' `before_all` and `after_all` hooks.
#[derive(Default)]
pub struct Board {
    slots: Mutex<HashMap<usize, SpecResult>>,
    ready: Condvar,
    hooks: Mutex<Vec<HookTiming>>,
}

impl Board {
    pub(crate) fn put(&self, idx: usize, result: SpecResult) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(idx, result);
        self.ready.notify_all();
    }

    /// Blocks until the result of spec `idx` is in, then returns a copy.
    pub fn wait(&self, idx: usize) -> SpecResult {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(r) = slots.get(&idx) {
                return r.clone();
            }
            slots = self.ready.wait(slots).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// All results, by spec index.
    pub fn take(&self) -> HashMap<usize, SpecResult> {
        std::mem::take(&mut *self.slots.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn put_hook(&self, timing: HookTiming) {
        self.hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(timing);
    }

    /// The container hook timings recorded so far, in the order they started.
    pub fn take_hooks(&self) -> Vec<HookTiming> {
        let mut hooks = std::mem::take(&mut *self.hooks.lock().unwrap_or_else(|p| p.into_inner()));
        hooks.sort_by_key(|h| h.start);
        hooks
    }
}

struct Shared {
    specs: Arc<Vec<Spec>>,
    opts: ExecOptions,
    interrupts: Arc<Interrupts>,
    board: Arc<Board>,
    transcript: Arc<Transcript>,
    failed: AtomicBool,
    running: Mutex<HashMap<usize, (SpecContext, Instant)>>,
}

impl Shared {
    fn stop_reason(&self) -> Option<String> {
        if self.interrupts.stop_token().is_cancelled() {
            return Some(format!(
                "not run: {}",
                self.interrupts.reason().unwrap_or_default()
            ));
        }
        (self.opts.fail_fast && self.failed.load(Ordering::SeqCst))
            .then(|| "not run: --fail-fast after an earlier failure".into())
    }

    fn finish(&self, idx: usize, result: SpecResult) {
        if result.state == State::Failed {
            self.failed.store(true, Ordering::SeqCst);
        }
        self.transcript.result(&result);
        self.board.put(idx, result);
    }

    /// One spec of the run's [`Queue`] started or will never start.
    fn leave_queue(&self) {
        if let Some(q) = self.opts.extensions.get::<Queue>() {
            q.take();
        }
    }

    fn skip(&self, idx: usize, reason: String) {
        self.leave_queue();
        let spec = &self.specs[idx];
        self.finish(idx, SpecResult::skipped(&spec.info, reason));
    }
}

/// Runs `units` and puts every spec's result on `board` (skipped ones included).
pub async fn execute(
    specs: Arc<Vec<Spec>>,
    units: Vec<Unit>,
    opts: ExecOptions,
    interrupts: Arc<Interrupts>,
    board: Arc<Board>,
    transcript: Arc<Transcript>,
) {
    let mut opts = opts;
    let queued = units.iter().map(|u| u.specs.len()).sum();
    let workers = opts.concurrency;
    opts.extensions.insert(Queue::new(queued, workers));
    let sh = Arc::new(Shared {
        specs,
        opts,
        interrupts,
        board,
        transcript,
        failed: AtomicBool::new(false),
        running: Mutex::default(),
    });
    let ticker = tokio::spawn(progress(sh.clone()));
    let (parallel, serial): (Vec<Unit>, Vec<Unit>) = units.into_iter().partition(|u| !u.serial);
    run_phase(&sh, parallel, sh.opts.concurrency.max(1)).await;
    run_phase(&sh, serial, 1).await;
    ticker.abort();
}

/// Runs `units`, at most `limit` at once. Each unit runs on a lane, the lowest one free, so
/// the specs of one lane never overlap (the report's timeline draws one row per lane).
async fn run_phase(sh: &Arc<Shared>, units: Vec<Unit>, limit: usize) {
    // More lanes than units would never be used; `--test-threads 99999999999` must not
    // allocate them.
    let limit = limit.min(units.len()).max(1);
    let mut set = JoinSet::new();
    // Free lanes, highest first, so that `pop` takes the lowest.
    let mut free: Vec<usize> = (0..limit).rev().collect();
    let mut spare = limit;
    let release = |free: &mut Vec<usize>, lane: usize| {
        free.push(lane);
        free.sort_unstable_by(|a, b| b.cmp(a));
    };
    for unit in units {
        while set.len() >= limit {
            if let Some(Ok(lane)) = set.join_next().await {
                release(&mut free, lane);
            }
        }
        if let Some(reason) = sh.stop_reason() {
            unit.specs.iter().for_each(|&i| sh.skip(i, reason.clone()));
            continue;
        }
        // A unit whose task panicked never gives its lane back: use a fresh one then.
        let lane = free.pop().unwrap_or_else(|| {
            spare += 1;
            spare - 1
        });
        let sh = sh.clone();
        set.spawn(async move {
            run_unit(sh, unit, lane).await;
            lane
        });
    }
    while set.join_next().await.is_some() {}
}

async fn progress(sh: Arc<Shared>) {
    let every = sh.opts.progress_after.max(Duration::from_millis(100));
    let mut last: HashMap<usize, Instant> = HashMap::new();
    loop {
        tokio::time::sleep(every.min(Duration::from_secs(1))).await;
        let now = Instant::now();
        let running: Vec<(usize, SpecContext, Instant)> = sh
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(i, (c, s))| (*i, c.clone(), *s))
            .collect();
        for (idx, cx, started) in running {
            let since = last.get(&idx).copied().unwrap_or(started);
            if now - started >= every && now - since >= every {
                last.insert(idx, now);
                let step = cx
                    .current_step()
                    .map(|s| format!("; current step: {s}"))
                    .unwrap_or_default();
                let line = format!(
                    "PROGRESS: `{}` has been running for {:.0?}{step}",
                    cx.name(),
                    now - started
                );
                eprintln!("{line}");
                sh.transcript.line(&line);
            }
        }
    }
}

/// Records the timing of an ordered container's hooks (when it had any).
fn record_hooks(
    sh: &Shared,
    kind: HookKind,
    name: &str,
    lane: usize,
    started: std::time::Instant,
    error: Option<&Failure>,
) {
    sh.board.put_hook(HookTiming {
        kind,
        name: name.to_string(),
        start: started.saturating_duration_since(sh.opts.origin),
        duration: started.elapsed(),
        lane: Some(lane),
        error: error.map(Failure::headline),
    });
}

async fn run_unit(sh: Arc<Shared>, unit: Unit, lane: usize) {
    let group = sh.specs[unit.specs[0]].group.clone();
    let Some((_, group)) = group else {
        let idx = unit.specs[0];
        let result = run_spec(&sh, idx, sh.opts.extensions.clone(), lane).await;
        sh.finish(idx, result);
        return;
    };
    let setup_started = std::time::Instant::now();
    let gcx = SpecContext::with_echo(
        group.name.clone(),
        Labels::default(),
        sh.opts.extensions.clone(),
        sh.opts.verbose,
    );
    let deadline = Instant::now() + sh.opts.spec_timeout;
    let mut setup_failure = None;
    for hook in &group.before_all {
        let end = run_hook(
            (hook.body)(gcx.clone()),
            &gcx,
            deadline,
            sh.interrupts.stop_token(),
            sh.opts.grace,
        )
        .await;
        if let Some(f) = failure_of(end, hook.kind, hook.location, &gcx, &sh) {
            setup_failure = Some(f);
            break;
        }
    }
    if !group.before_all.is_empty() {
        let failure = setup_failure.as_ref();
        record_hooks(
            &sh,
            HookKind::BeforeAll,
            &group.name,
            lane,
            setup_started,
            failure,
        );
    }
    let mut last_run = None;
    let mut earlier_failed = false;
    for &idx in &unit.specs {
        let info = &sh.specs[idx].info;
        if let Some(f) = &setup_failure {
            sh.leave_queue();
            let mut r = SpecResult::skipped(info, String::new());
            r.state = State::Failed;
            r.failure = Some(f.clone());
            r.skip_reason = None;
            sh.finish(idx, r);
        } else if let Some(reason) = sh.stop_reason() {
            sh.skip(idx, reason);
        } else if earlier_failed {
            sh.skip(
                idx,
                format!(
                    "not run: an earlier spec in ordered container `{}` failed",
                    group.name
                ),
            );
        } else {
            let r = run_spec(&sh, idx, gcx.extensions(), lane).await;
            earlier_failed = r.state == State::Failed;
            if let Some((prev, prev_r)) = last_run.replace((idx, r)) {
                sh.finish(prev, prev_r);
            }
        }
    }
    gcx.renew_token();
    let mut after_failure = None;
    let deadline = Instant::now() + sh.opts.spec_timeout.max(sh.opts.grace);
    let teardown_started = std::time::Instant::now();
    teardown(&sh, &gcx, &group.after_all, deadline, &mut after_failure).await;
    if !group.after_all.is_empty() || !group.before_all.is_empty() {
        let failure = after_failure.as_ref();
        record_hooks(
            &sh,
            HookKind::AfterAll,
            &group.name,
            lane,
            teardown_started,
            failure,
        );
    }
    if let Some((idx, mut r)) = last_run {
        if let Some(f) = after_failure {
            r.add_failure(f);
        }
        sh.finish(idx, r);
    }
}

async fn run_spec(sh: &Shared, idx: usize, ext: Extensions, lane: usize) -> SpecResult {
    let spec = &sh.specs[idx];
    let started = std::time::Instant::now();
    let mut earlier = Vec::new();
    let max = sh.opts.flake_attempts.max(1);
    sh.leave_queue();
    for attempt in 1..=max {
        let cx = SpecContext::with_echo(
            spec.info.name.clone(),
            spec.info.labels.clone(),
            ext.clone(),
            sh.opts.verbose,
        );
        sh.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(idx, (cx.clone(), Instant::now()));
        let failure = run_attempt(sh, spec, &cx)
            .instrument(cx.span().clone())
            .await;
        sh.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&idx);
        let stopped = failure
            .as_ref()
            .is_some_and(|f| f.kind == FailureKind::Interrupted);
        let mut r = SpecResult::ran(&spec.info, failure, cx.steps(), cx.log_lines(), attempt);
        r.start = Some(started.saturating_duration_since(sh.opts.origin));
        r.attempt_start = cx.started_at().saturating_duration_since(started);
        r.lane = Some(lane);
        r.artifacts = cx.artifacts();
        if r.state == State::Passed
            && let Some(reason) = cx.skip_reason()
        {
            r.state = State::Skipped;
            r.skip_reason = Some(reason);
        }
        if r.state == State::Passed
            || stopped
            || attempt == max
            || sh.interrupts.stop_token().is_cancelled()
        {
            r.duration = started.elapsed();
            r.flaky = r.state == State::Passed && attempt > 1;
            r.earlier_failures = earlier;
            return r;
        }
        sh.transcript.line(&format!(
            "RETRY: `{}` failed attempt {attempt} of {max}",
            spec.info.name
        ));
        earlier.extend(r.failure);
    }
    unreachable!("the last attempt returns")
}

async fn run_attempt(sh: &Shared, spec: &Spec, cx: &SpecContext) -> Option<Failure> {
    let timeout = spec.info.timeout.unwrap_or(sh.opts.spec_timeout);
    let deadline = Instant::now() + timeout;
    let mut failure = None;
    for hook in &spec.setup {
        let end = run_hook(
            (hook.body)(cx.clone()),
            cx,
            deadline,
            sh.interrupts.stop_token(),
            sh.opts.grace,
        )
        .await;
        if let Some(mut f) = failure_of(end, hook.kind, hook.location, cx, sh) {
            if f.kind == FailureKind::Timeout {
                f.message = format!("timed out after {timeout:?}");
            }
            cx.mark_failed();
            failure = Some(f);
            break;
        }
        if cx.skip_reason().is_some() {
            break;
        }
    }
    cx.renew_token();
    let now = Instant::now();
    let abrupt = failure.as_ref().is_some_and(|f: &Failure| {
        matches!(f.kind, FailureKind::Timeout | FailureKind::Interrupted)
    });
    let td_deadline = if abrupt {
        now + sh.opts.grace
    } else {
        deadline.max(now + sh.opts.grace)
    };
    teardown(sh, cx, &spec.teardown, td_deadline, &mut failure).await;
    failure
}

/// Runs teardown hooks, then the context's cleanups LIFO; records failures into `failure`.
async fn teardown(
    sh: &Shared,
    cx: &SpecContext,
    hooks: &[Hook],
    deadline: Instant,
    failure: &mut Option<Failure>,
) {
    let abandon = sh.interrupts.cleanup_token();
    let mut record = |f: Failure| {
        cx.mark_failed();
        match failure {
            Some(first) => first.also.push(f.headline()),
            None => *failure = Some(f),
        }
    };
    // Teardown hooks in order, then the cleanups LIFO; a step that times out or is interrupted
    // abandons the rest, which is reported.
    let mut next_hook = hooks.iter();
    loop {
        let (future, kind, location) = match next_hook.next() {
            Some(hook) => ((hook.body)(cx.clone()), hook.kind, hook.location),
            None => match cx.pop_cleanup() {
                Some((cleanup, location)) => (cleanup(), HookKind::Cleanup, location),
                None => return,
            },
        };
        let end = run_hook(future, cx, deadline, abandon, Duration::ZERO).await;
        let stop = matches!(end, HookEnd::TimedOut | HookEnd::Interrupted);
        if let Some(f) = failure_of(end, kind, location, cx, sh) {
            record(f);
        }
        if stop {
            let left = std::iter::from_fn(|| cx.pop_cleanup()).count();
            if left > 0 {
                let more = if kind == HookKind::Cleanup {
                    "more "
                } else {
                    ""
                };
                record(Failure::new(
                    HookKind::Cleanup,
                    location,
                    FailureKind::Interrupted,
                    format!("{left} {more}cleanup(s) not run"),
                    None,
                ));
            }
            return;
        }
    }
}

enum HookEnd {
    Ok,
    Skip(String),
    Err(String),
    Panic(String),
    TimedOut,
    Interrupted,
}

async fn run_hook(
    fut: BoxFuture,
    cx: &SpecContext,
    deadline: Instant,
    stop: &CancellationToken,
    linger: Duration,
) -> HookEnd {
    let mut fut = AssertUnwindSafe(fut).catch_unwind();
    let end = tokio::select! {
        biased;
        r = &mut fut => return match r {
            Ok(Ok(())) => HookEnd::Ok,
            Ok(Err(e)) => match e.downcast_ref::<Skip>() {
                Some(skip) => HookEnd::Skip(skip.reason().to_string()),
                None => HookEnd::Err(format!("{e:#}")),
            },
            Err(p) => HookEnd::Panic(panic_message(p.as_ref())),
        },
        _ = tokio::time::sleep_until(deadline) => HookEnd::TimedOut,
        _ = stop.cancelled() => HookEnd::Interrupted,
    };
    cx.cancel();
    if !linger.is_zero() {
        let _ = tokio::time::timeout(linger, &mut fut).await;
    }
    end
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

fn failure_of(
    end: HookEnd,
    kind: HookKind,
    loc: &'static Location<'static>,
    cx: &SpecContext,
    sh: &Shared,
) -> Option<Failure> {
    let (fk, msg) = match end {
        HookEnd::Ok => return None,
        HookEnd::Skip(reason) if matches!(kind, HookKind::BeforeEach | HookKind::Body) => {
            cx.mark_skipped(reason);
            return None;
        }
        HookEnd::Skip(reason) => (
            FailureKind::Error,
            format!("skip is only allowed in before_each or the body: {reason}"),
        ),
        HookEnd::Err(m) => (FailureKind::Error, m),
        HookEnd::Panic(m) => (FailureKind::Panic, format!("panicked: {m}")),
        HookEnd::TimedOut
            if matches!(
                kind,
                HookKind::Cleanup
                    | HookKind::AfterEach
                    | HookKind::JustAfterEach
                    | HookKind::AfterAll
            ) =>
        {
            (
                FailureKind::Timeout,
                "did not finish within the cleanup deadline".into(),
            )
        }
        HookEnd::TimedOut => (FailureKind::Timeout, "timed out".into()),
        HookEnd::Interrupted if sh.interrupts.cleanup_token().is_cancelled() => (
            FailureKind::Interrupted,
            "abandoned after a second interrupt".into(),
        ),
        HookEnd::Interrupted => (
            FailureKind::Interrupted,
            sh.interrupts
                .reason()
                .unwrap_or_else(|| "interrupted".into()),
        ),
    };
    Some(Failure::new(kind, loc, fk, msg, cx.current_step()))
}
