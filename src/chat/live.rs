//! What happens to a stored message next: it is handed to every online
//! member's devices, and their acknowledgements become delivery receipts;
//! and typing indicators, which are relayed without being stored.
//!
//! Owns: choosing who gets a message live and collecting their
//! acknowledgements. May not touch: sockets — it goes through the
//! `fanout` port — or SQL.

use super::Chat;
use crate::domain::{
    ConnectionId, Conversation, ConversationId, DeliveryMark, Envelope, Error, MessageKind, UserId,
};
use crate::fanout::Event;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::collections::HashSet;

impl Chat {
    /// Sends a stored message live to every member but its sender who is
    /// online, and to the sender's other devices. `offline`, if known, were
    /// offline before the commit (they got push jobs): only they are asked
    /// again, in case they connected meanwhile and their unread fetch
    /// missed the message. Otherwise everyone is asked.
    pub(super) async fn fan_out(
        &self,
        conversation: &Conversation,
        message: &Envelope,
        origin: Option<&ConnectionId>,
        offline: Option<&[UserId]>,
    ) {
        let sender = message.message.sender_id;
        let others = conversation.members.iter().map(|m| m.user_id).filter(|&u| u != sender);
        let (mut recipients, ask): (Vec<UserId>, Vec<UserId>) = match offline {
            Some(offline) => {
                let pushed: HashSet<UserId> = offline.iter().copied().collect();
                (others.filter(|u| !pushed.contains(u)).collect(), offline.to_vec())
            }
            None => (Vec::new(), others.collect()),
        };
        if !ask.is_empty() {
            let online = self.presence.online_among(&ask).await;
            recipients.extend(ask.iter().zip(online).filter(|(_, on)| *on).map(|(&u, _)| u));
        }
        // The sender's other devices and every recipient at once; the
        // message is serialized once for all of them.
        let sent_at = std::time::Instant::now();
        let handed = self.fanout.publish(message, origin, &recipients).await;
        self.metrics.delivered(handed.len());
        let metrics = self.metrics.clone();
        // A device's ack makes it delivered (batched, see `delivery`), unless an
        // older message from someone else is still undelivered: then the
        // watermark waits for `fetch_unread_messages`. One task waits for them all.
        let deliveries = self.deliveries.clone();
        let (conversation, seq, id) =
            (message.message.conversation_id, message.message.seq, message.message.id);
        let notify = (message.message.kind == MessageKind::Text).then_some(sender);
        tokio::spawn(async move {
            let mut receipts: FuturesUnordered<_> = handed
                .into_iter()
                .map(|(user, receipt)| async move { receipt.await.ok().map(|_| user) })
                .collect();
            while let Some(done) = receipts.next().await {
                if let Some(user) = done {
                    metrics.acked(sent_at.elapsed());
                    deliveries.push(DeliveryMark { conversation, user, seq, message: id, notify });
                }
            }
        });
    }

    /// Relays a typing indicator to the other members (nothing is stored).
    pub async fn typing(
        &self,
        user: UserId,
        conversation: ConversationId,
        is_typing: bool,
        origin: Option<&ConnectionId>,
    ) -> Result<(), Error> {
        let c = self.member_view(user, conversation).await?;
        let display_name = c.member(user).map(|m| m.display_name.clone()).unwrap_or_default();
        let hidden = self.hidden_from(user).await?;
        for m in c.members.iter().filter(|m| m.user_id != user && !hidden.contains(&m.user_id)) {
            let event = Event::Typing {
                conversation_id: conversation,
                user,
                display_name: display_name.clone(),
                is_typing,
            };
            self.fanout.send(m.user_id, event, origin).await;
        }
        Ok(())
    }
}
