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

use crate::domain::{DeliveryMark, Receipt};
use crate::fanout::{Event, Fanout};
use crate::store::Store;
use std::sync::Arc;
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
    while rx.recv_many(&mut batch, BATCH_MAX).await > 0 {
        write(&batch, &*store, &*fanout).await;
        batch.clear();
    }
}

/// One step of the worker: write the marks in seq order per member (so an
/// ack for seq 1 lets the ack for seq 2 through the gap check in the same
/// transaction), then tell each moved message's sender. A mark moves only if
/// no older message from someone else was skipped, so the messages a move
/// covers are exactly the marks that moved: no read is needed to announce.
pub(super) async fn write(batch: &[DeliveryMark], store: &dyn Store, fanout: &dyn Fanout) {
    let mut marks = batch.to_vec();
    marks.sort_unstable();
    marks.dedup();
    let moved = match store.advance_delivered_many(&marks).await {
        Ok(moved) => moved,
        Err(e) => {
            tracing::warn!(error = %e, count = marks.len(), "could not record live deliveries");
            return;
        }
    };
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
}
