//! Graceful shutdown of the socket side. Once closing, new events are
//! refused with `unavailable`; events already being handled finish and send
//! their replies before the sockets are closed. Without this an answer cut
//! off by the shutdown could be lost after its effect was stored — for
//! `fetch_unread_messages`, messages marked delivered that the client never
//! saw.
//!
//! Owns: the drain. May not touch: sockets — `app` closes them after the
//! drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
/// Admits socket events until shutdown, and counts those in flight.
pub struct Drain {
    closing: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// One event being handled; it counts until dropped.
pub struct Working(Arc<Drain>);

impl Drop for Working {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    /// Admits one event, unless the server is closing.
    pub fn enter(self: &Arc<Self>) -> Option<Working> {
        if self.closing.load(Ordering::SeqCst) {
            return None;
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let working = Working(self.clone());
        // Re-checked after counting, so `close` never misses an event it raced with.
        (!self.closing.load(Ordering::SeqCst)).then_some(working)
    }

    /// Whether shutdown has begun (new connections are refused too).
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Refuses new events, then waits (at most `limit`) for those in flight.
    pub async fn close(&self, limit: Duration) {
        self.closing.store(true, Ordering::SeqCst);
        let finished = async {
            loop {
                // Registered before the check, so a wake-up in between is not lost.
                let idle = self.idle.notified();
                if self.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        if tokio::time::timeout(limit, finished).await.is_err() {
            let left = self.in_flight.load(Ordering::SeqCst);
            tracing::warn!(left, "shutting down with socket events still in flight");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_waits_for_events_in_flight_and_refuses_new_ones() {
        let drain = Arc::new(Drain::default());
        let working = drain.enter().expect("open");
        let closing = tokio::spawn({
            let drain = drain.clone();
            async move { drain.close(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!closing.is_finished(), "close returned with an event in flight");
        assert!(drain.enter().is_none(), "a new event was admitted while closing");
        drop(working);
        assert!(tokio::time::timeout(Duration::from_secs(1), closing).await.is_ok());
    }
}
