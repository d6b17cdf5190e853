//! Interrupts: Ctrl-C (SIGINT) and SIGTERM, counted.
//!
//! 1. The first cancels running specs (their tokens fire), starts no new ones, and lets their
//!    cleanup run within the grace period.
//! 2. The second abandons cleanup still in progress, but reports are still written.
//! 3. The third exits at once with code 130.
//!
//! The whole-run timeout takes the same path as a first interrupt.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio_util::sync::CancellationToken;

/// Exit code after an interrupt (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The process's interrupt state.
#[derive(Debug, Default)]
pub struct Interrupts {
    count: AtomicU32,
    stop: CancellationToken,
    abandon_cleanup: CancellationToken,
    reason: Mutex<Option<String>>,
    signalled: std::sync::atomic::AtomicBool,
}

impl Interrupts {
    /// A fresh state with nothing triggered.
    pub fn new() -> Self {
        Interrupts::default()
    }

    /// Records a signal (SIGINT, SIGTERM) and acts on the count; returns the count.
    pub fn signal(&self, reason: &str) -> u32 {
        self.signalled.store(true, Ordering::SeqCst);
        self.trigger(reason)
    }

    /// Whether a signal (not only the suite timeout) stopped the run: the run then exits with
    /// [`EXIT_INTERRUPTED`].
    pub fn signalled(&self) -> bool {
        self.signalled.load(Ordering::SeqCst)
    }

    /// Records an interrupt that is not a signal (the suite timeout) and acts on the count;
    /// returns the count.
    pub fn trigger(&self, reason: &str) -> u32 {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        match n {
            1 => {
                *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_string());
                eprintln!(
                    "\n{reason}: cancelling running specs and running their cleanup (interrupt again to skip cleanup)"
                );
                self.stop.cancel();
            }
            2 => {
                eprintln!(
                    "\n{reason} again: skipping remaining cleanup, writing reports (interrupt again to exit now)"
                );
                self.abandon_cleanup.cancel();
            }
            _ => {
                eprintln!("\n{reason} a third time: exiting now");
                std::process::exit(EXIT_INTERRUPTED);
            }
        }
        n
    }

    /// The token cancelled by the first interrupt.
    pub fn stop_token(&self) -> &CancellationToken {
        &self.stop
    }

    /// The token cancelled by the second interrupt.
    pub fn cleanup_token(&self) -> &CancellationToken {
        &self.abandon_cleanup
    }

    /// Why the run was stopped, if it was.
    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether a real signal (not only the suite timeout) arrived.
    pub fn count(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }

    /// Listens for SIGINT and SIGTERM on the current tokio runtime for the rest of the process.
    pub fn listen(self: &std::sync::Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = int.recv() => me.signal("interrupted (SIGINT)"),
                        _ = term.recv() => me.signal("terminated (SIGTERM)"),
                    };
                }
            }
            #[cfg(not(unix))]
            while tokio::signal::ctrl_c().await.is_ok() {
                me.signal("interrupted (Ctrl-C)");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_stops_second_abandons_cleanup() {
        let i = Interrupts::new();
        assert!(!i.stop_token().is_cancelled());
        assert_eq!(i.trigger("suite timeout"), 1);
        assert!(i.stop_token().is_cancelled());
        assert!(!i.cleanup_token().is_cancelled());
        assert_eq!(i.reason().as_deref(), Some("suite timeout"));
        assert!(!i.signalled(), "a timeout is not a signal");
        assert_eq!(i.signal("interrupted"), 2);
        assert!(i.cleanup_token().is_cancelled());
        assert!(i.signalled());
    }
}
