//! `eventually` and `consistently`: retry an async probe until it succeeds, or check that it keeps
//! succeeding, with a timeout, a polling interval, cancellation and early stop.
//!
//! ```no_run
//! use kube_e2e_runner::expect::{eventually, stop_trying};
//! use std::time::Duration;
//! # async fn phase_of(name: &str) -> anyhow::Result<String> { Ok("Running".into()) }
//! # async fn run(cx: kube_e2e_runner::SpecContext) -> anyhow::Result<()> {
//! let phase = eventually("pod `web` to be Running", || async {
//!     let phase = phase_of("web").await?;
//!     if phase == "Failed" {
//!         return Err(stop_trying("the pod failed"));
//!     }
//!     anyhow::ensure!(phase == "Running", "phase is {phase}");
//!     Ok(phase)
//! })
//! .timeout(Duration::from_secs(60))
//! .within(&cx)
//! .await?;
//! # Ok(()) }
//! ```
//!
//! A probe returns `anyhow::Result<T>`: `Ok` ends the wait with the value, `Err` means "not yet"
//! and is kept as the last failure. On timeout the error reads
//! `Timed out after 30.0s waiting for <description>; last failure: <error>`. Polling starts fast
//! (100 ms, doubling) and settles at the polling interval, so short waits end quickly without
//! hammering the API server in long ones.

use crate::spec::context::SpecContext;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;
// tokio's clock, so that waits follow paused time in tests (and `tokio::time::pause`).
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why a wait failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The timeout passed without a success.
    #[error("Timed out after {:.1}s waiting for {description}; last failure: {last}", elapsed.as_secs_f64())]
    TimedOut {
        /// What was awaited.
        description: String,
        /// Time spent.
        elapsed: Duration,
        /// The last probe error.
        last: String,
    },
    /// The probe asked to stop ([`stop_trying`]).
    #[error("Told to stop trying after {:.1}s waiting for {description}: {reason}", elapsed.as_secs_f64())]
    Stopped {
        /// What was awaited.
        description: String,
        /// Time spent.
        elapsed: Duration,
        /// The probe's reason.
        reason: String,
    },
    /// The spec was cancelled (timeout or interrupt).
    #[error("Cancelled after {:.1}s waiting for {description}; last failure: {last}", elapsed.as_secs_f64())]
    Cancelled {
        /// What was awaited.
        description: String,
        /// Time spent.
        elapsed: Duration,
        /// The last probe error.
        last: String,
    },
    /// `consistently`: the probe failed during the period.
    #[error("Failed after {:.1}s of consistently {description}: {failure}", elapsed.as_secs_f64())]
    NotConsistent {
        /// What should have held.
        description: String,
        /// Time until the failure.
        elapsed: Duration,
        /// The probe error.
        failure: String,
    },
}

/// A probe's request to stop retrying at once; build it with [`stop_trying`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StopTrying(pub String);

/// An error that makes `eventually` give up at once with `reason`.
pub fn stop_trying(reason: impl Into<String>) -> anyhow::Error {
    StopTrying(reason.into()).into()
}

/// Settings shared by [`Eventually`] and [`Consistently`].
#[derive(Clone, Debug)]
struct Wait {
    description: String,
    timeout: Duration,
    poll: Duration,
    token: Option<CancellationToken>,
}

/// Default `eventually` timeout: upstream's pod-start timeout.
pub const DEFAULT_EVENTUALLY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default `consistently` duration: upstream's short pod-start timeout.
pub const DEFAULT_CONSISTENTLY_DURATION: Duration = Duration::from_secs(2 * 60);
/// Default polling interval.
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);

/// The polling interval of waits bound to a spec with `.within(cx)`: a typed context value
/// (`cx.insert(PollInterval(..))`) that a framework sets from its own timeouts. Without one,
/// waits poll every [`DEFAULT_POLL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollInterval(pub Duration);

impl Wait {
    fn new(description: String) -> Self {
        Wait {
            description,
            timeout: DEFAULT_EVENTUALLY_TIMEOUT,
            poll: DEFAULT_POLL,
            token: None,
        }
    }

    fn within(&mut self, cx: &SpecContext) {
        self.token = Some(cx.cancellation_token());
        if let Some(p) = cx.get::<PollInterval>() {
            self.poll = p.0;
        }
    }

    async fn sleep(&self, d: Duration) -> bool {
        match &self.token {
            Some(t) => tokio::select! {
                _ = tokio::time::sleep(d) => true,
                _ = t.cancelled() => false,
            },
            None => {
                tokio::time::sleep(d).await;
                true
            }
        }
    }
}

fn chain(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// A pending `eventually`; configure, then `.await`.
#[must_use = "an eventually does nothing until awaited"]
pub struct Eventually<'a, F> {
    wait: Wait,
    probe: F,
    borrows: std::marker::PhantomData<&'a ()>,
}

/// Retries `probe` until it returns `Ok`, for at most the timeout (default: `pod_start`, 5 min).
pub fn eventually<'a, T, F, Fut>(description: impl Into<String>, probe: F) -> Eventually<'a, F>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    Eventually {
        wait: Wait::new(description.into()),
        probe,
        borrows: std::marker::PhantomData,
    }
}

impl<F> Eventually<'_, F> {
    /// Gives up after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.wait.timeout = timeout;
        self
    }

    /// Probes at most every `poll` (after a fast start).
    pub fn poll(mut self, poll: Duration) -> Self {
        self.wait.poll = poll;
        self
    }

    /// Stops when the spec is cancelled, and polls at the spec's [`PollInterval`].
    pub fn within(mut self, cx: &SpecContext) -> Self {
        self.wait.within(cx);
        self
    }

    /// Stops when `token` is cancelled.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.wait.token = Some(token);
        self
    }
}

impl<'a, T, F, Fut> IntoFuture for Eventually<'a, F>
where
    F: FnMut() -> Fut + Send + 'a,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'a,
    T: Send + 'a,
{
    type Output = Result<T, WaitError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let Eventually {
            wait, mut probe, ..
        } = self;
        Box::pin(async move {
            let started = Instant::now();
            let deadline = started + wait.timeout;
            let mut delay = Duration::from_millis(100).min(wait.poll);
            let mut last = String::from("(no attempt finished)");
            let mut attempts = 0_u32;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let attempt = tokio::time::timeout(left.max(Duration::from_millis(1)), probe());
                let outcome = match &wait.token {
                    Some(t) => tokio::select! {
                        r = attempt => Some(r),
                        _ = t.cancelled() => None,
                    },
                    None => Some(attempt.await),
                };
                match outcome {
                    None => {
                        return Err(WaitError::Cancelled {
                            description: wait.description,
                            elapsed: started.elapsed(),
                            last,
                        });
                    }
                    Some(Ok(Ok(value))) => return Ok(value),
                    Some(Ok(Err(e))) => {
                        attempts += 1;
                        if let Some(stop) = e.downcast_ref::<StopTrying>() {
                            return Err(WaitError::Stopped {
                                description: wait.description,
                                elapsed: started.elapsed(),
                                reason: stop.0.clone(),
                            });
                        }
                        last = chain(&e);
                    }
                    // A probe cut short by the deadline says nothing new: keep the failure
                    // before it, which is what the user needs to see.
                    Some(Err(_)) if attempts > 0 => {}
                    Some(Err(_)) => last = "the probe did not return before the timeout".into(),
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(WaitError::TimedOut {
                        description: wait.description,
                        elapsed: started.elapsed(),
                        last,
                    });
                }
                if !wait.sleep(delay.min(deadline - now)).await {
                    return Err(WaitError::Cancelled {
                        description: wait.description,
                        elapsed: started.elapsed(),
                        last,
                    });
                }
                delay = (delay * 2).min(wait.poll);
            }
        })
    }
}

/// A pending `consistently`; configure, then `.await`.
#[must_use = "a consistently does nothing until awaited"]
pub struct Consistently<'a, F> {
    wait: Wait,
    probe: F,
    borrows: std::marker::PhantomData<&'a ()>,
}

/// Checks that `probe` keeps returning `Ok` for the whole duration (default: `pod_start_short`,
/// 2 min), probing every polling interval.
pub fn consistently<'a, T, F, Fut>(description: impl Into<String>, probe: F) -> Consistently<'a, F>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut wait = Wait::new(description.into());
    wait.timeout = DEFAULT_CONSISTENTLY_DURATION;
    Consistently {
        wait,
        probe,
        borrows: std::marker::PhantomData,
    }
}

impl<F> Consistently<'_, F> {
    /// Keeps checking for `duration`.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.wait.timeout = duration;
        self
    }

    /// Probes every `poll`.
    pub fn poll(mut self, poll: Duration) -> Self {
        self.wait.poll = poll;
        self
    }

    /// Stops (successfully, with what was checked so far) when the spec is cancelled.
    pub fn within(mut self, cx: &SpecContext) -> Self {
        self.wait.within(cx);
        self
    }
}

impl<'a, T, F, Fut> IntoFuture for Consistently<'a, F>
where
    F: FnMut() -> Fut + Send + 'a,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'a,
    T: Send + 'a,
{
    type Output = Result<(), WaitError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let Consistently {
            wait, mut probe, ..
        } = self;
        Box::pin(async move {
            let started = Instant::now();
            let end = started + wait.timeout;
            loop {
                if let Err(e) = probe().await {
                    return Err(WaitError::NotConsistent {
                        description: wait.description,
                        elapsed: started.elapsed(),
                        failure: chain(&e),
                    });
                }
                let now = Instant::now();
                if now >= end {
                    return Ok(());
                }
                if !wait.sleep(wait.poll.min(end - now)).await {
                    return Err(WaitError::Cancelled {
                        description: wait.description,
                        elapsed: started.elapsed(),
                        last: "(none: every check passed)".into(),
                    });
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn succeeds_after_retries() {
        let n = Arc::new(AtomicU32::new(0));
        let c = n.clone();
        let v = eventually("the third try", move || {
            let c = c.clone();
            async move {
                let i = c.fetch_add(1, Ordering::SeqCst);
                anyhow::ensure!(i >= 2, "only try {i}");
                Ok(i)
            }
        })
        .timeout(Duration::from_secs(5))
        .poll(Duration::from_millis(10))
        .await
        .unwrap();
        assert_eq!(v, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_names_condition_and_last_failure() {
        let e = eventually("pod `web` to be Running", || async {
            Err::<(), _>(anyhow::anyhow!("phase is Pending"))
        })
        .timeout(Duration::from_secs(300))
        .poll(Duration::from_secs(2))
        .await
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "Timed out after 300.0s waiting for pod `web` to be Running; last failure: phase is Pending"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stop_trying_ends_at_once() {
        let started = Instant::now();
        let e = eventually("x", || async { Err::<(), _>(stop_trying("pod failed")) })
            .timeout(Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(e, WaitError::Stopped { ref reason, .. } if reason == "pod failed"));
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "no wait after stop_trying"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_ends_the_wait() {
        let token = CancellationToken::new();
        let t = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            t.cancel();
        });
        let e = eventually("never", || async { Err::<(), _>(anyhow::anyhow!("no")) })
            .timeout(Duration::from_secs(60))
            .cancel_on(token)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cancelled after 10.0s waiting for never; last failure: no"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn consistently_fails_on_the_first_error() {
        let n = Arc::new(AtomicU32::new(0));
        let c = n.clone();
        let e = consistently("the count stays low", move || {
            let c = c.clone();
            async move {
                let i = c.fetch_add(1, Ordering::SeqCst);
                anyhow::ensure!(i < 3, "count is {i}");
                Ok(())
            }
        })
        .duration(Duration::from_secs(5))
        .poll(Duration::from_millis(5))
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("consistently the count stays low: count is 3"),
            "{e}"
        );
        assert!(
            consistently("ok", || async { Ok(()) })
                .duration(Duration::from_millis(30))
                .poll(Duration::from_millis(10))
                .await
                .is_ok()
        );
    }
}
