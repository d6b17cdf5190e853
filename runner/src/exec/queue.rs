//! How many specs of the run have not started yet: [`Queue`], in every spec's context.
//!
//! Work that can be done ahead of a spec (the framework makes the next spec's namespace while
//! the current one runs) asks the queue first, so nothing is made for a spec that will never
//! come: under nextest's process per spec, or for the last spec of a run, the queue is empty.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The count of specs that will still start in this run (this process), shared by every spec
/// context of the run. A spec leaves the queue as its first attempt starts.
#[derive(Debug)]
pub struct Queue {
    unstarted: AtomicUsize,
    workers: usize,
}

impl Queue {
    /// A queue of `specs` specs, none started, run by `workers` at once.
    pub fn new(specs: usize, workers: usize) -> Self {
        Queue {
            unstarted: AtomicUsize::new(specs),
            workers: workers.max(1),
        }
    }

    /// How many specs may run at once (`--test-threads`; at least 1).
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How many specs have not started yet (never negative, never more than were queued).
    pub fn unstarted(&self) -> usize {
        self.unstarted.load(Ordering::Acquire)
    }

    /// Records that one spec started (or will never start: skipped after a stop).
    pub fn take(&self) {
        let _ = self
            .unstarted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_counts_down_to_zero_and_stays_there() {
        let q = Queue::new(2, 0);
        assert_eq!(q.workers(), 1);
        assert_eq!(q.unstarted(), 2);
        q.take();
        assert_eq!(q.unstarted(), 1);
        q.take();
        q.take();
        assert_eq!(q.unstarted(), 0);
    }
}
