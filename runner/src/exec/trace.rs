//! Timed steps on stderr: with `KUBE_E2E_LOG` set to `tracing` filter directives (for example
//! `KUBE_E2E_LOG=kube_e2e=info`), the run prints an event when each span closes, with the time
//! it took. The framework opens a span for every step it takes on a spec's behalf (connecting,
//! creating a namespace, waiting for it, deleting it), so this shows where a spec's time goes.
//! Unset, nothing is installed and spans cost next to nothing.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// The environment variable that turns the step log on.
pub const LOG_ENV: &str = "KUBE_E2E_LOG";

/// Installs the stderr subscriber when [`LOG_ENV`] is set. A bad filter is reported and
/// ignored: logging must never stop a run.
pub fn install_subscriber() {
    let Some(directives) = std::env::var_os(LOG_ENV) else {
        return;
    };
    let directives = directives.to_string_lossy();
    let filter = match EnvFilter::builder().parse(directives.trim()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("warning: {LOG_ENV}: ignoring filter `{directives}`: {e}");
            return;
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}
