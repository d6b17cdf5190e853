//! API calls that must outlast a brief outage of the API server (a restart, etcd going away):
//! the deletions a spec's teardown issues. Without the retry, a teardown that meets the outage
//! leaks its namespace and objects.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a transient error is retried.
const RETRY_FOR: Duration = Duration::from_secs(30);
/// The pause between attempts.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Whether `e` may pass by itself: the API server unreachable, overloaded or failing inside
/// (a connection error, 429 or a 5xx status).
pub(crate) fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `call` again while it fails with a [transient](is_transient) error, every second for
/// up to 30 s; returns its first success, its first other error, or the last error.
pub(crate) async fn retry_transient<T, F, Fut>(mut call: F) -> kube::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = kube::Result<T>>,
{
    let started = Instant::now();
    loop {
        match call().await {
            Err(e) if is_transient(&e) && started.elapsed() < RETRY_FOR => {
                tracing::warn!(error = %e, "API call failed; retrying");
                tokio::time::sleep(RETRY_EVERY).await;
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure("x", "Reason").with_code(code)))
    }

    #[test]
    fn outages_are_transient_and_refusals_are_not() {
        assert!(is_transient(&status(503)));
        assert!(is_transient(&status(429)));
        assert!(is_transient(&kube::Error::Service(
            "connection refused".into()
        )));
        assert!(!is_transient(&status(404)));
        assert!(!is_transient(&status(403)));
        assert!(!is_transient(&status(409)));
    }

    #[tokio::test]
    async fn a_transient_error_is_retried_until_the_call_succeeds() {
        let mut calls = 0;
        let result = retry_transient(|| {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(status(503)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
    }

    #[tokio::test]
    async fn other_errors_end_the_retries_at_once() {
        let mut calls = 0;
        let result: kube::Result<()> = retry_transient(|| {
            calls += 1;
            async { Err(status(404)) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}
