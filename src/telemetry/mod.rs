//! Operational metrics in the Prometheus text format, served by `app` on
//! `metrics_listen` (off the public listener).
//!
//! Each app has its own [`Metrics`]: a `metrics-exporter-prometheus` recorder
//! that is *not* installed as the process-wide one (no globals; several apps
//! in one test process count separately). Every series is registered once, at
//! start-up, and kept as a handle: on the hot path a count is one atomic add
//! on a pre-built handle, with no key formatting, no map lookup and no
//! allocation. Series with labels are tables indexed by small enums.
//!
//! Owns: the metric names, labels, buckets and the rendering, and the
//! node's readiness (`readiness`). May not touch: anything that is measured —
//! the services and transports call in. Imports only `domain::ErrorCode`
//! (an event's outcome label).

mod labels;
mod readiness;
pub use labels::{Dependency, EventName, Limit, PushResult, Refusal};
use labels::{EVENTS, LIMITS, OUTCOMES, PROVIDERS, PUSH_RESULTS, REFUSALS, outcome_index};
pub use readiness::{Probe, Readiness};

use crate::domain::ErrorCode;
use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::collections::HashMap;
use std::sync::Mutex;

/// Every series of one app, registered up front.
pub struct Metrics {
    handle: PrometheusHandle,
    /// False when metrics are off: every handle is a no-op.
    enabled: bool,
    sockets: Gauge,
    users: Gauge,
    /// Sockets per connected user on this node (connect/disconnect only).
    per_user: Mutex<HashMap<i64, u32>>,
    handshakes_accepted: Counter,
    handshakes_refused: Vec<Counter>,
    events: Vec<Vec<Counter>>,
    messages_stored: Counter,
    commit_batch: Histogram,
    commit_seconds: Histogram,
    deliveries: Counter,
    ack_seconds: Histogram,
    fetch_size: Histogram,
    push: Vec<Vec<Counter>>,
    push_pending: Gauge,
    uploads: Counter,
    upload_bytes: Counter,
    rate_limited: Vec<Counter>,
    db_errors: Counter,
    redis_errors: Counter,
}

const SECONDS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const SIZES: [f64; 11] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0];

impl Metrics {
    /// A fresh set of series (all at zero) for one app.
    pub fn new() -> Self {
        Self::build(true)
    }

    /// Metrics switched off (`metrics_listen` empty): every handle is a
    /// no-op, so nothing is counted and the hot path pays only a branch.
    pub fn disabled() -> Self {
        Self::build(false)
    }

    fn build(enabled: bool) -> Self {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in [
            ("confab_commit_batch_size", &SIZES[..]),
            ("confab_fetch_unread_messages", &SIZES[..]),
            ("confab_commit_seconds", &SECONDS[..]),
            ("confab_delivery_ack_seconds", &SECONDS[..]),
        ] {
            // Never fails: the bucket lists are not empty.
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.into()), buckets)
                .unwrap_or_else(|_| unreachable!("non-empty buckets"));
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let r = enabled.then_some(&recorder);
        let version =
            Key::from_parts("confab_build_info", vec![Label::new("version", env!("CARGO_PKG_VERSION"))]);
        gauge(r, version).set(1.0);
        let events = EVENTS
            .iter()
            .map(|e| {
                OUTCOMES
                    .iter()
                    .map(|o| counter(r, "confab_socket_events_total", &[("event", e), ("outcome", o)]))
                    .collect()
            })
            .collect();
        let push = PROVIDERS
            .iter()
            .map(|p| {
                PUSH_RESULTS
                    .iter()
                    .map(|x| counter(r, "confab_push_jobs_total", &[("provider", p), ("result", x)]))
                    .collect()
            })
            .collect();
        if enabled {
            describe(&recorder);
        }
        Self {
            enabled,
            sockets: gauge(r, Key::from_name("confab_connected_sockets")),
            users: gauge(r, Key::from_name("confab_connected_users")),
            per_user: Mutex::new(HashMap::new()),
            handshakes_accepted: counter(r, "confab_handshakes_total", &[("result", "accepted")]),
            handshakes_refused: REFUSALS
                .iter()
                .map(|why| counter(r, "confab_handshakes_total", &[("result", "refused"), ("reason", why)]))
                .collect(),
            events,
            messages_stored: counter(r, "confab_messages_stored_total", &[]),
            commit_batch: histogram(r, "confab_commit_batch_size"),
            commit_seconds: histogram(r, "confab_commit_seconds"),
            deliveries: counter(r, "confab_live_deliveries_total", &[]),
            ack_seconds: histogram(r, "confab_delivery_ack_seconds"),
            fetch_size: histogram(r, "confab_fetch_unread_messages"),
            push,
            push_pending: gauge(r, Key::from_name("confab_push_jobs_pending")),
            uploads: counter(r, "confab_uploads_total", &[]),
            upload_bytes: counter(r, "confab_upload_bytes_total", &[]),
            rate_limited: LIMITS
                .iter()
                .map(|l| counter(r, "confab_rate_limited_total", &[("limit", l)]))
                .collect(),
            db_errors: counter(r, "confab_dependency_errors_total", &[("dependency", "database")]),
            redis_errors: counter(r, "confab_dependency_errors_total", &[("dependency", "redis")]),
            handle,
        }
    }

    /// The text exposition (`GET /metrics`).
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recent histogram samples in; run every few seconds so memory
    /// stays bounded when nobody scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// A socket of `user` completed its handshake on this node.
    pub fn socket_opened(&self, user: i64) {
        self.handshakes_accepted.increment(1);
        self.sockets.increment(1.0);
        if !self.enabled {
            return;
        }
        let mut per_user = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        let n = per_user.entry(user).or_insert(0);
        *n += 1;
        if *n == 1 {
            self.users.increment(1.0);
        }
    }

    /// A socket of `user` closed.
    pub fn socket_closed(&self, user: i64) {
        self.sockets.decrement(1.0);
        if !self.enabled {
            return;
        }
        let mut per_user = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_user.get_mut(&user) {
            *n -= 1;
            if *n == 0 {
                per_user.remove(&user);
                self.users.decrement(1.0);
            }
        }
    }

    /// A handshake was refused.
    pub fn handshake_refused(&self, why: Refusal) {
        self.handshakes_refused[why as usize].increment(1);
    }

    /// A socket event was answered: `None` on success, else its error code.
    pub fn event(&self, name: EventName, error: Option<ErrorCode>) {
        self.events[name as usize][outcome_index(error)].increment(1);
    }

    /// A new message was stored (not a retried duplicate).
    pub fn message_stored(&self) {
        self.messages_stored.increment(1);
    }

    /// A group commit of `messages` took `elapsed`.
    pub fn commit(&self, messages: usize, elapsed: std::time::Duration) {
        self.commit_batch.record(messages as f64);
        self.commit_seconds.record(elapsed.as_secs_f64());
    }

    /// A message was handed to `devices` live connections.
    pub fn delivered(&self, devices: usize) {
        self.deliveries.increment(devices as u64);
    }

    /// A device acknowledged a live message `elapsed` after it was sent.
    pub fn acked(&self, elapsed: std::time::Duration) {
        self.ack_seconds.record(elapsed.as_secs_f64());
    }

    /// `fetch_unread_messages` returned `n` messages.
    pub fn fetched(&self, n: usize) {
        self.fetch_size.record(n as f64);
    }

    /// A push job for a `provider` device (`webpush`, `apns`, `fcm`) ended so.
    pub fn push(&self, provider: &str, result: PushResult) {
        let p = PROVIDERS.iter().position(|x| *x == provider).unwrap_or(PROVIDERS.len() - 1);
        self.push[p][result as usize].increment(1);
    }

    /// Jobs waiting in the push outbox (all nodes), as last counted.
    pub fn push_pending(&self, n: i64) {
        self.push_pending.set(n as f64);
    }

    /// An upload of `bytes` was stored.
    pub fn uploaded(&self, bytes: u64) {
        self.uploads.increment(1);
        self.upload_bytes.increment(bytes);
    }

    /// A request, event or connection was refused by `limit`.
    pub fn rate_limited(&self, limit: Limit) {
        self.rate_limited[limit as usize].increment(1);
    }

    /// A call to a dependency failed.
    pub fn dependency_error(&self, which: Dependency) {
        match which {
            Dependency::Database => self.db_errors.increment(1),
            Dependency::Redis => self.redis_errors.increment(1),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

const META: Metadata<'static> = Metadata::new("confab", Level::INFO, Some(module_path!()));

// Each helper registers a series, or gives a no-op handle when metrics are off.
type Registry<'a> = Option<&'a PrometheusRecorder>;

fn counter(r: Registry, name: &'static str, labels: &[(&'static str, &'static str)]) -> Counter {
    let Some(r) = r else { return Counter::noop() };
    let labels: Vec<Label> = labels.iter().map(|(k, v)| Label::new(*k, *v)).collect();
    r.register_counter(&Key::from_parts(name, labels), &META)
}

fn gauge(r: Registry, key: Key) -> Gauge {
    r.map_or_else(Gauge::noop, |r| r.register_gauge(&key, &META))
}

fn histogram(r: Registry, name: &'static str) -> Histogram {
    r.map_or_else(Histogram::noop, |r| r.register_histogram(&Key::from_name(name), &META))
}

fn describe(r: &PrometheusRecorder) {
    let text: [(&str, Option<Unit>, &str, char); 17] = [
        ("confab_connected_sockets", None, "Socket.IO connections open on this node.", 'g'),
        ("confab_connected_users", None, "Distinct users with a socket on this node.", 'g'),
        ("confab_handshakes_total", None, "Socket.IO handshakes, accepted or refused (by reason).", 'c'),
        ("confab_socket_events_total", None, "Socket events answered, by event name and outcome.", 'c'),
        ("confab_messages_stored_total", None, "Messages stored (retried duplicates not counted).", 'c'),
        (
            "confab_commit_batch_size",
            Some(Unit::Count),
            "Writes (message appends, receipt batches) per group commit.",
            'h',
        ),
        ("confab_commit_seconds", Some(Unit::Seconds), "Time to store a group commit of messages.", 'h'),
        ("confab_live_deliveries_total", None, "Messages handed to live connections.", 'c'),
        ("confab_delivery_ack_seconds", Some(Unit::Seconds), "From live send to the device's ack.", 'h'),
        (
            "confab_fetch_unread_messages",
            Some(Unit::Count),
            "Messages returned per fetch_unread_messages.",
            'h',
        ),
        ("confab_push_jobs_total", None, "Push jobs finished, by provider and result.", 'c'),
        ("confab_push_jobs_pending", None, "Push jobs waiting in the outbox (all nodes).", 'g'),
        ("confab_uploads_total", None, "Media uploads stored.", 'c'),
        ("confab_upload_bytes_total", Some(Unit::Bytes), "Bytes of media uploads stored.", 'c'),
        ("confab_rate_limited_total", None, "Requests, events or connections refused, by limit.", 'c'),
        ("confab_dependency_errors_total", None, "Failed calls to the database or Redis.", 'c'),
        ("confab_build_info", None, "Always 1; the version is a label.", 'g'),
    ];
    for (name, unit, help, kind) in text {
        let (name, help): (KeyName, SharedString) = (name.into(), help.into());
        match kind {
            'c' => r.describe_counter(name, unit, help),
            'g' => r.describe_gauge(name, unit, help),
            _ => r.describe_histogram(name, unit, help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_text_format() {
        let m = Metrics::new();
        m.event(EventName::SendMessage, None);
        m.event(EventName::SendMessage, Some(ErrorCode::RateLimited));
        m.socket_opened(7);
        m.socket_opened(7);
        m.socket_closed(7);
        let text = m.render();
        assert!(
            text.contains(r#"confab_socket_events_total{event="send_message",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"confab_socket_events_total{event="send_message",outcome="rate_limited"} 1"#)
        );
        assert!(text.contains("confab_connected_sockets 1"), "{text}");
        assert!(text.contains("confab_connected_users 1"));
        assert!(text.contains(r#"confab_build_info{version=""#));
    }

    #[test]
    fn disabled_metrics_count_nothing() {
        let m = Metrics::disabled();
        m.event(EventName::SendMessage, None);
        m.socket_opened(7);
        m.commit(3, std::time::Duration::from_millis(1));
        m.upkeep();
        let text = m.render();
        assert!(!text.contains("confab_socket_events_total"), "{text}");
        assert!(!text.contains("confab_build_info"), "{text}");
        assert!(m.per_user.lock().unwrap().is_empty());
    }

    #[test]
    fn outcome_labels_cover_every_error_code() {
        for code in [ErrorCode::Unauthorized, ErrorCode::Internal, ErrorCode::Invalid, ErrorCode::Unavailable]
        {
            assert_eq!(OUTCOMES[outcome_index(Some(code))], code.as_str());
        }
    }
}
