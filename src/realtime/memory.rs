//! Gives the memory of closed sockets back to the operating system.
//!
//! glibc's allocator keeps what a program frees in its arenas for reuse
//! and returns only the free space at the top of each heap. Sockets'
//! allocations are spread between longer-lived ones, so after many sockets
//! close the process kept their memory: 5,000 idle sockets took RSS from
//! 61 to 167 MB, and it stayed at 166 MB once they had all closed
//! (BENCHMARKS.md). `malloc_trim` hands back every free page, wherever it
//! is: RSS went back to 64 MB.
//!
//! A trim walks the allocator's free lists and may make pages that are soon
//! reused fault in again, so it is done only after [`AFTER_CLOSES`] sockets
//! closed, at most once per [`CHECK_EVERY`], off the async workers.
//!
//! Owns: when to trim. Elsewhere than glibc, nothing is done.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How many sockets must have closed since the last trim for the next one.
const AFTER_CLOSES: usize = 1_000;
/// How often the count is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(10);

/// Counts closed sockets; a task trims once enough have closed.
#[derive(Default)]
pub struct Giveback {
    closed: AtomicUsize,
}

impl Giveback {
    /// A counter, with its task started; the task ends when the counter is dropped.
    pub fn start() -> Arc<Self> {
        let giveback = Arc::new(Self::default());
        let weak = Arc::downgrade(&giveback);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CHECK_EVERY).await;
                let Some(giveback) = weak.upgrade() else { return };
                if giveback.due() {
                    let took = tokio::task::spawn_blocking(trim).await;
                    tracing::debug!(?took, "gave freed memory back after sockets closed");
                }
            }
        });
        giveback
    }

    pub fn socket_closed(&self) {
        self.closed.fetch_add(1, Ordering::Relaxed);
    }

    /// Enough sockets closed since the last trim (and the count starts again).
    fn due(&self) -> bool {
        self.closed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n >= AFTER_CLOSES).then_some(0))
            .is_ok()
    }
}

/// Returns free memory to the system; how long that took.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> Duration {
    let start = std::time::Instant::now();
    // SAFETY: malloc_trim takes no pointers and locks each arena it walks,
    // so it may run beside allocations on any thread.
    unsafe {
        libc::malloc_trim(0);
    }
    start.elapsed()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> Duration {
    Duration::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trim_is_due_once_enough_sockets_closed_and_then_counts_again() {
        let g = Giveback::default();
        for _ in 0..AFTER_CLOSES - 1 {
            g.socket_closed();
        }
        assert!(!g.due());
        g.socket_closed();
        assert!(g.due());
        assert!(!g.due(), "the count starts again after a trim");
    }
}
