//! Per-socket state: who is connected, how fast they may send, and the
//! order in which their events are handled.
//!
//! socketioxide runs each event handler as its own task, so two
//! `send_message`s from one socket could otherwise be stored in either
//! order. [`Ctx`] is an extractor that takes a ticket synchronously, in
//! arrival order; a handler waits for its ticket's turn before touching
//! state. The rate limit is checked at the same moment, per arrival.
//!
//! Owns: per-socket state and ordering. May not touch: what an event means —
//! handlers call the services.

use crate::config::Limits;
use crate::domain::{ConnectionId, Error, UserId};
use crate::telemetry::Limit;
use crate::users::Session;
use governor::clock::DefaultClock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use socketioxide::adapter::Adapter;
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value as SioValue;
use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What a socket carries for its whole life (in its extensions).
pub struct Conn {
    pub session: Session,
    pub id: ConnectionId,
    /// This connection made its user go online (their contacts are told).
    pub first_device: bool,
    limiter: DefaultDirectRateLimiter,
    user_rates: Arc<UserRates>,
    turnstile: Turnstile,
    /// Counts this socket's events in flight for a graceful shutdown.
    pub drain: Arc<super::drain::Drain>,
    /// Notified when the socket disconnects (ends its token watch).
    pub closed: tokio::sync::Notify,
}

impl Conn {
    pub fn new(
        session: Session,
        id: ConnectionId,
        first_device: bool,
        limits: &Limits,
        user_rates: Arc<UserRates>,
        drain: Arc<super::drain::Drain>,
    ) -> Self {
        Self {
            session,
            id,
            first_device,
            limiter: RateLimiter::direct_with_clock(
                quota(limits.events_per_second, limits.events_burst),
                user_rates.clock.clone(),
            ),
            user_rates,
            turnstile: Turnstile::new(),
            drain,
            closed: tokio::sync::Notify::new(),
        }
    }

    /// `None` if one more event fits both this socket's rate and its
    /// user's, else the limit it is over.
    fn over_limit(&self) -> Option<Limit> {
        if self.limiter.check().is_err() {
            Some(Limit::EventsPerSocket)
        } else if !self.user_rates.check(self.session.user_id) {
            Some(Limit::EventsPerUser)
        } else {
            None
        }
    }
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// Event rates per user, across all their sockets on this node: many
/// sockets of one user do not multiply what they may send.
pub struct UserRates {
    limiter: DefaultKeyedRateLimiter<UserId>,
    checks: AtomicU64,
    /// The clock every socket's own limiter reads: making one per socket
    /// probed the CPU (cpuid) in every handshake, ~3 % of a handshake's CPU.
    clock: DefaultClock,
}

impl UserRates {
    pub fn new(limits: &Limits) -> Self {
        let quota = quota(limits.events_per_second_per_user, limits.events_burst_per_user);
        Self { limiter: RateLimiter::keyed(quota), checks: AtomicU64::new(0), clock: DefaultClock::default() }
    }

    fn check(&self, user: UserId) -> bool {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiter.retain_recent(); // forget users whose allowance is full again
        }
        self.limiter.check_key(&user).is_ok()
    }
}

/// Serves tickets strictly in order; a ticket is done when its [`Ctx`] drops.
struct Turnstile {
    next: AtomicU64,
    done: Mutex<BTreeSet<u64>>,
    serving: watch::Sender<u64>,
}

impl Turnstile {
    fn new() -> Self {
        Self { next: AtomicU64::new(0), done: Mutex::new(BTreeSet::new()), serving: watch::channel(0).0 }
    }

    fn take(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    async fn wait(&self, ticket: u64) {
        let mut rx = self.serving.subscribe();
        // The sender lives as long as `self`, so this only ends when our turn comes.
        let _ = rx.wait_for(|&s| s >= ticket).await;
    }

    fn release(&self, ticket: u64) {
        // A panic cannot leave the set inconsistent (single insert/remove calls).
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        done.insert(ticket);
        self.serving.send_modify(|s| {
            while done.remove(s) {
                *s += 1;
            }
        });
    }
}

/// The handler's view of its socket: session, rate-limit verdict and ticket.
pub struct Ctx {
    pub conn: Arc<Conn>,
    ticket: u64,
    over_limit: Option<Limit>,
}

impl Ctx {
    /// Checks the rate limit and the token, then waits for this event's turn.
    pub async fn admit(&self, users: &crate::users::Users) -> Result<(), Error> {
        if self.over_limit.is_some() {
            return Err(Error::RateLimited);
        }
        users.check(&self.conn.session).await?;
        self.conn.turnstile.wait(self.ticket).await;
        Ok(())
    }
}

impl Ctx {
    /// The rate limit this event is over, if any.
    pub fn limit(&self) -> Option<Limit> {
        self.over_limit
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        self.conn.turnstile.release(self.ticket);
    }
}

/// The socket has no session (cannot happen after the handshake middleware).
#[derive(Debug, thiserror::Error)]
#[error("socket has no session")]
pub struct NoSession;

impl<A: Adapter> FromMessageParts<A> for Ctx {
    type Error = NoSession;

    fn from_message_parts(s: &Arc<Socket<A>>, _: &mut SioValue, _: &Option<i64>) -> Result<Self, NoSession> {
        let conn = s.extensions.get::<Arc<Conn>>().ok_or(NoSession)?;
        let over_limit = conn.over_limit();
        let ticket = conn.turnstile.take();
        Ok(Ctx { conn, ticket, over_limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn turnstile_serves_in_ticket_order_even_if_one_is_abandoned() {
        let t = Arc::new(Turnstile::new());
        let (a, b, c) = (t.take(), t.take(), t.take());
        let order = Arc::new(Mutex::new(Vec::new()));
        let spawn = |ticket: u64| {
            let (t, order) = (t.clone(), order.clone());
            tokio::spawn(async move {
                t.wait(ticket).await;
                order.lock().unwrap_or_else(|e| e.into_inner()).push(ticket);
                t.release(ticket);
            })
        };
        let hc = spawn(c);
        tokio::time::sleep(Duration::from_millis(20)).await;
        t.release(b); // b never waits (e.g. rate-limited) but must not block c
        let ha = spawn(a);
        let both = async { (ha.await, hc.await) };
        assert!(tokio::time::timeout(Duration::from_secs(2), both).await.is_ok());
        assert_eq!(*order.lock().unwrap_or_else(|e| e.into_inner()), vec![a, c]);
    }
}
