//! Fan-out after the ack: once a message is committed the sender is
//! answered, and handing the message to the recipients' devices happens
//! here, off the sender's path.
//!
//! Messages are queued to a few workers by conversation, so one
//! conversation's messages (and system notes) always go out in seq order,
//! while different conversations fan out in parallel. The queues are
//! bounded: when fan-out falls behind, senders wait for room instead of
//! memory growing. A message still queued at a crash is not lost — it is
//! stored, and recipients get it from `fetch_unread_messages`.

use super::Message;
use super::delivery::DeliveryQueue;
use crate::domain::{ConnectionId, UserId};
use crate::fanout::{Event, Fanout};
use crate::notify::Notifier;
use crate::presence::PresenceService;
use crate::store::{ConversationRow, DeliveryMark};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Parallel fan-out workers (each keeps its conversations in order).
const WORKERS: usize = 4;
/// Messages waiting per worker before senders have to wait.
const QUEUE: usize = 4096;

struct Job {
    conversation: ConversationRow,
    message: Message,
    origin: Option<ConnectionId>,
}

/// What a worker needs to hand a message out.
#[derive(Clone)]
pub(super) struct Deliverer {
    pub presence: Arc<PresenceService>,
    pub fanout: Arc<dyn Fanout>,
    pub notifier: Arc<dyn Notifier>,
    pub deliveries: DeliveryQueue,
}

/// The sending side; the workers stop when it is dropped.
#[derive(Clone)]
pub(super) struct Dispatcher {
    queues: Arc<[mpsc::Sender<Job>]>,
}

impl Dispatcher {
    pub(super) fn spawn(deliverer: Deliverer) -> Self {
        let queues: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
                let d = deliverer.clone();
                tokio::spawn(async move {
                    while let Some(job) = rx.recv().await {
                        d.fan_out(&job.conversation, &job.message, job.origin.as_ref()).await;
                    }
                });
                tx
            })
            .collect();
        Self { queues: queues.into() }
    }

    /// Queues a committed message for its conversation's worker.
    pub(super) async fn dispatch(
        &self,
        conversation: &ConversationRow,
        message: &Message,
        origin: Option<&ConnectionId>,
    ) {
        let shard = conversation.id.0.unsigned_abs() as usize % self.queues.len();
        let job =
            Job { conversation: conversation.clone(), message: message.clone(), origin: origin.cloned() };
        if self.queues[shard].send(job).await.is_err() {
            tracing::warn!("fan-out workers are gone; the message waits for fetch_unread_messages");
        }
    }
}

impl Deliverer {
    /// Sends a stored message to every member but its sender (live if they
    /// are online, else to the notification hook), and to the sender's other
    /// devices.
    async fn fan_out(
        &self,
        conversation: &ConversationRow,
        message: &Message,
        origin: Option<&ConnectionId>,
    ) {
        let sender = message.row.sender_id;
        self.fanout.send(sender, Event::Message(message.clone()), origin).await;
        let recipients: Vec<UserId> =
            conversation.members.iter().map(|m| m.user_id).filter(|&u| u != sender).collect();
        let online = self.presence.online_among(&recipients).await;
        for (&recipient, online) in recipients.iter().zip(online) {
            if !online {
                self.notifier.recipient_offline(recipient, message).await;
                continue;
            }
            // A device's ack makes it delivered (batched, see `delivery`), unless an
            // older message from someone else is still undelivered: then the
            // watermark waits for `fetch_unread_messages`.
            let receipt = self.fanout.deliver(recipient, message).await;
            let deliveries = self.deliveries.clone();
            let mark = DeliveryMark {
                conversation: message.row.conversation_id,
                user: recipient,
                seq: message.row.seq,
            };
            tokio::spawn(async move {
                if receipt.await.is_ok() {
                    deliveries.push(mark);
                }
            });
        }
    }
}
