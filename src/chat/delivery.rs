//! Live receipts, batched: acknowledgements of `receive_message` are queued
//! and written many per transaction, so a message to a 1,000-member group
//! does not cost 1,000 write transactions when everyone acknowledges it.
//!
//! The worker takes whatever has queued up while the previous batch was
//! being written (no timer: under light load a batch is one receipt, under
//! heavy load it grows by itself). It stops when every [`DeliveryQueue`]
//! handle is dropped. A receipt lost in a crash only means the message is
//! returned once more by `fetch_unread_messages`; clients de-duplicate by id.
//!
//! Owns: the receipt queue and its worker. May not touch: sockets or SQL — it
//! calls `store` and tells senders through `fanout`.

use crate::domain::{ConversationId, DeliveryMark, Receipt, UserId};
use crate::fanout::{Event, Fanout};
use crate::store::Store;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Most receipts written in one transaction.
const BATCH_MAX: usize = 1024;
/// Receipts waiting beyond this are dropped (and re-delivered by a later fetch)
/// rather than letting memory grow without bound.
const QUEUE_MAX: usize = 100_000;

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct DeliveryQueue {
    tx: mpsc::Sender<DeliveryMark>,
}

impl DeliveryQueue {
    /// Starts the worker on the current runtime.
    pub fn spawn(store: Arc<dyn Store>, fanout: Arc<dyn Fanout>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_MAX);
        tokio::spawn(run(rx, store, fanout));
        Self { tx }
    }

    pub fn push(&self, mark: DeliveryMark) {
        if self.tx.try_send(mark).is_err() {
            tracing::warn!("receipt queue full; the message stays undelivered until fetched");
        }
    }
}

async fn run(mut rx: mpsc::Receiver<DeliveryMark>, store: Arc<dyn Store>, fanout: Arc<dyn Fanout>) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    let mut parked = Parked::default();
    while rx.recv_many(&mut batch, BATCH_MAX).await > 0 {
        parked.expire(Instant::now());
        let (mut moved, refused) = write(&batch, &*store, &*fanout).await;
        batch.clear();
        parked.park(refused, Instant::now());
        // A refused mark is retried as soon as a mark of the same member and
        // conversation moves: each round moves at least one mark, so it ends.
        loop {
            let again = parked.take_moved(&moved);
            if again.is_empty() {
                break;
            }
            let (now_moved, refused) = write(&again, &*store, &*fanout).await;
            parked.park(refused, Instant::now());
            moved = now_moved;
        }
    }
}

/// Most refused marks kept for a retry; beyond it the oldest are dropped
/// (they are still handed out again by `fetch_unread_messages`).
const PARKED_MAX: usize = 10_000;
/// How long a refused mark waits for the acks before it.
const PARKED_FOR: Duration = Duration::from_secs(10);

/// Marks the gap check refused: acks of later messages that arrived before
/// the acks of earlier ones (each message's acks are awaited on their own,
/// and clients may ack out of order). Dropping them would leave a message
/// that was shown as undelivered for good.
#[derive(Default)]
struct Parked {
    marks: VecDeque<(Instant, DeliveryMark)>,
}

impl Parked {
    fn park(&mut self, refused: Vec<DeliveryMark>, now: Instant) {
        self.marks.extend(refused.into_iter().map(|m| (now, m)));
        while self.marks.len() > PARKED_MAX {
            self.marks.pop_front();
        }
    }

    fn expire(&mut self, now: Instant) {
        while self.marks.front().is_some_and(|(at, _)| now.duration_since(*at) > PARKED_FOR) {
            self.marks.pop_front();
        }
    }

    /// Takes out the parked marks of the (conversation, member) pairs that just moved.
    fn take_moved(&mut self, moved: &HashSet<(ConversationId, UserId)>) -> Vec<DeliveryMark> {
        if moved.is_empty() || self.marks.is_empty() {
            return Vec::new();
        }
        let mut again = Vec::new();
        self.marks.retain(|(_, m)| {
            let retry = moved.contains(&(m.conversation, m.user));
            if retry {
                again.push(*m);
            }
            !retry
        });
        again
    }
}

/// One step of the worker: write the marks in seq order per member (so an
/// ack for seq 1 lets the ack for seq 2 through the gap check in the same
/// transaction), then tell each moved message's sender. A mark moves only if
/// no older message from someone else was skipped, so the messages a move
/// covers are exactly the marks that moved: no read is needed to announce.
/// Returns the pairs that moved and the marks that did not.
pub(super) async fn write(
    batch: &[DeliveryMark],
    store: &dyn Store,
    fanout: &dyn Fanout,
) -> (HashSet<(ConversationId, UserId)>, Vec<DeliveryMark>) {
    let mut marks = batch.to_vec();
    marks.sort_unstable();
    marks.dedup();
    let moved = match store.advance_delivered_many(&marks).await {
        Ok(moved) => moved,
        Err(e) => {
            tracing::warn!(error = %e, count = marks.len(), "could not record live deliveries");
            return (HashSet::new(), Vec::new());
        }
    };
    let moved_marks: HashSet<DeliveryMark> = moved.iter().map(|(m, _)| *m).collect();
    let pairs = moved_marks.iter().map(|m| (m.conversation, m.user)).collect();
    let refused = marks.into_iter().filter(|m| !moved_marks.contains(m)).collect();
    for (m, _) in moved {
        let Some(sender) = m.notify else { continue };
        let event = Event::Receipt {
            conversation_id: m.conversation,
            message_id: m.message,
            seq: m.seq,
            receipt: Receipt::Delivered,
            reader: m.user,
        };
        fanout.send(sender, event, None).await;
    }
    (pairs, refused)
}
