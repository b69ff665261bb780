//! Test helpers: spawn the real app on a random port with its own temporary
//! database, talk to it over HTTP, and over a real Socket.IO connection
//! (a small client speaking Engine.IO v4 / Socket.IO v5 over WebSocket).
//!
//! Every wait has a timeout: an event that never comes fails the test.
//! Set `TEST_LOG=1` to see the server's logs.

use confab::app::App;
use confab::config::Config;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

pub const WAIT: Duration = Duration::from_secs(5);

pub struct TestApp {
    pub addr: SocketAddr,
    /// The `/metrics` listener (each test app has its own port).
    pub metrics: Option<SocketAddr>,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_env_filter("confab=debug,info").try_init();
        }
    });
}

/// Starts the app on 127.0.0.1:0 with a fresh data directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("tempdir");
    start(data_dir, tweak).await
}

async fn start(data_dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> TestApp {
    init_logs();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data_dir.path().to_path_buf(),
        metrics_listen: "127.0.0.1:0".into(),
        ..Config::default()
    };
    // Tests need crash safety, not power-loss safety; skip the fsyncs.
    config.storage.sqlite_synchronous = confab::config::SqliteSynchronous::Normal;
    tweak(&mut config);
    let app = App::build(config).await.expect("app builds");
    let addr = app.local_addr().expect("bound");
    let metrics = app.metrics_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.run(async {
            let _ = stopped.await;
        })
        .await
        .expect("server runs");
    });
    TestApp { addr, metrics, http: reqwest::Client::new(), data_dir, stop: Some(stop), task: Some(task) }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Graceful stop, then a new server on the same data directory.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// Graceful stop, then a new server on the same data directory with `tweak`.
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        self.shutdown().await;
        let dir = tempfile::TempDir::new().expect("tempdir");
        let data_dir = std::mem::replace(&mut self.data_dir, dir);
        start(data_dir, tweak).await
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops within 10 s")
                .expect("server task ends cleanly");
        }
    }

    /// POST JSON; returns (status, body).
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Registers a user with a unique name; returns (id, token).
    pub async fn user(&self, name: &str) -> (i64, String) {
        let (status, body) =
            self.post("/api/auth/register", None, json!({"username": name, "password": "password123"})).await;
        assert_eq!(status, 201, "register {name}: {body}");
        (body["user"]["id"].as_i64().expect("id"), body["token"].as_str().expect("token").to_string())
    }

    /// Push jobs waiting in the outbox (SQLite apps only).
    pub async fn push_pending(&self) -> i64 {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.data_dir.path().join("confab.db"))
            .read_only(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("open the database");
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM push_jobs").fetch_one(&pool).await.expect("count");
        pool.close().await;
        n
    }

    pub async fn socket(&self, token: &str) -> Sio {
        Sio::connect(self.addr, Some(token)).await.expect("socket connects")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An event received from the server, with the ack id if it asked for one.
#[derive(Debug, Clone)]
pub struct Received {
    pub name: String,
    pub data: Value,
    pub ack_id: Option<u64>,
}

#[derive(Default)]
struct Inbox {
    events: VecDeque<Received>,
    acks: HashMap<u64, Value>,
    closed: bool,
}

/// A minimal Socket.IO v4 client over WebSocket.
pub struct Sio {
    out: mpsc::UnboundedSender<String>,
    inbox: Arc<Mutex<Inbox>>,
    notify: Arc<Notify>,
    next_ack: u64,
}

impl Sio {
    /// Connects; `Err` carries the `connect_error` message.
    pub async fn connect(addr: SocketAddr, token: Option<&str>) -> Result<Sio, String> {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| e.to_string())?;
        let (mut sink, mut stream) = ws.split();
        let open = next_text(&mut stream).await?;
        assert!(open.starts_with('0'), "engine.io open packet, got {open}");
        let auth = match token {
            Some(t) => format!("40{}", json!({ "token": t })),
            None => "40".to_string(),
        };
        sink.send(Message::text(auth)).await.map_err(|e| e.to_string())?;
        // Events may precede the connect acknowledgement (the server joins the
        // socket to its rooms during the handshake); keep them, as socket.io-client does.
        let mut early = Vec::new();
        let mut reply = next_text(&mut stream).await?;
        while reply == "2" || reply.starts_with("42") {
            if reply == "2" {
                sink.send(Message::text("3")).await.map_err(|e| e.to_string())?;
            } else {
                early.push(reply);
            }
            reply = next_text(&mut stream).await?;
        }
        if let Some(err) = reply.strip_prefix("44") {
            let v: Value = serde_json::from_str(err).unwrap_or(Value::Null);
            return Err(v["message"].as_str().unwrap_or(err).to_string());
        }
        assert!(reply.starts_with("40"), "connect ack, got {reply}");

        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        for text in &early {
            if let Some(received) = text.strip_prefix("42").and_then(parse_event) {
                lock(&inbox).events.push_back(received);
            }
        }
        let notify = Arc::new(Notify::new());
        tokio::spawn(async move {
            while let Some(s) = out_rx.recv().await {
                if s == CLOSE {
                    let _ = sink.close().await;
                    break;
                }
                if sink.send(Message::text(s)).await.is_err() {
                    break;
                }
            }
        });
        let (inbox2, notify2, pong) = (inbox.clone(), notify.clone(), out.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let text = text.as_str();
                if text == "2" {
                    let _ = pong.send("3".into());
                    continue;
                }
                if text.starts_with("41") || text == "1" {
                    break;
                }
                if let Some(received) = text.strip_prefix("42").and_then(parse_event) {
                    lock(&inbox2).events.push_back(received);
                } else if let Some(rest) = text.strip_prefix("43") {
                    let (id, json) = split_id(rest);
                    let arr: Value = serde_json::from_str(json).unwrap_or(Value::Null);
                    if let Some(id) = id {
                        lock(&inbox2).acks.insert(id, arr.get(0).cloned().unwrap_or(Value::Null));
                    }
                }
                notify2.notify_waiters();
            }
            lock(&inbox2).closed = true;
            notify2.notify_waiters();
        });
        Ok(Sio { out, inbox, notify, next_ack: 0 })
    }

    /// Sends a raw Socket.IO event array, e.g. `["send_message", {...}]`.
    pub fn emit_raw(&self, args: Value) {
        let _ = self.out.send(format!("42{args}"));
    }

    pub fn emit(&self, event: &str, data: Value) {
        self.emit_raw(json!([event, data]));
    }

    /// Emits with an ack and waits for it (5 s).
    pub async fn call(&mut self, event: &str, data: Value) -> Value {
        self.call_raw(json!([event, data])).await
    }

    pub async fn call_raw(&mut self, args: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        let _ = self.out.send(format!("42{id}{args}"));
        self.wait_for(|inbox| inbox.acks.remove(&id))
            .await
            .unwrap_or_else(|| panic!("no ack for {args} within {WAIT:?}"))
    }

    /// Emits with an ack and waits at most `within` (and 5 s); `None` if no
    /// ack came or the connection closed.
    pub async fn try_call(&mut self, event: &str, data: Value, within: Duration) -> Option<Value> {
        let id = self.next_ack;
        self.next_ack += 1;
        let _ = self.out.send(format!("42{id}{}", json!([event, data])));
        tokio::time::timeout(within, self.wait_for(|inbox| inbox.acks.remove(&id))).await.ok().flatten()
    }

    /// True once the server closed this connection (or it broke).
    pub fn is_closed(&self) -> bool {
        lock(&self.inbox).closed
    }

    /// Acknowledges an event the server sent with an ack id.
    pub fn ack(&self, ack_id: u64, data: Value) {
        let _ = self.out.send(format!("43{ack_id}{}", json!([data])));
    }

    /// The next `name` event (earlier other events stay queued), or panic after 5 s.
    pub async fn recv(&self, name: &str) -> Received {
        self.try_recv(name, WAIT).await.unwrap_or_else(|| panic!("no `{name}` event within {WAIT:?}"))
    }

    /// The next `name` event within `within`, if any.
    pub async fn try_recv(&self, name: &str, within: Duration) -> Option<Received> {
        tokio::time::timeout(
            within,
            self.wait_for(|inbox| {
                let pos = inbox.events.iter().position(|e| e.name == name)?;
                inbox.events.remove(pos)
            }),
        )
        .await
        .ok()
        .flatten()
    }

    /// All queued `name` events right now.
    pub fn drain(&self, name: &str) -> Vec<Received> {
        let mut inbox = lock(&self.inbox);
        let (matching, rest): (Vec<_>, Vec<_>) = inbox.events.drain(..).partition(|e| e.name == name);
        inbox.events = rest.into();
        matching
    }

    /// Waits (5 s) until the server closes this connection: true only if
    /// it did. (It used to answer true when its wait merely ran out.)
    pub async fn closed(&self) -> bool {
        self.closed_within(WAIT).await
    }

    /// Waits at most `within` until the server closes this connection;
    /// true only if it did.
    pub async fn closed_within(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before the check, so a close in between still wakes it.
            let notified = self.notify.notified();
            if self.is_closed() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.is_closed();
            }
        }
    }

    async fn wait_for<T>(&self, mut f: impl FnMut(&mut Inbox) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.notify.notified();
            {
                let mut inbox = lock(&self.inbox);
                if let Some(v) = f(&mut inbox) {
                    return Some(v);
                }
                if inbox.closed {
                    return None;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

/// Tells the writer task to close the WebSocket (the reader holds a sender
/// for pongs, so dropping ours alone would keep the connection open).
const CLOSE: &str = "\0close";

impl Drop for Sio {
    fn drop(&mut self) {
        let _ = self.out.send(CLOSE.to_string());
    }
}

fn lock(m: &Mutex<Inbox>) -> std::sync::MutexGuard<'_, Inbox> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An event packet's payload (after `42`): optional ack id, then `[name, data]`.
fn parse_event(rest: &str) -> Option<Received> {
    let (id, json) = split_id(rest);
    let arr: Value = serde_json::from_str(json).ok()?;
    let name = arr[0].as_str()?.to_string();
    let data = arr.get(1).cloned().unwrap_or(Value::Null);
    Some(Received { name, data, ack_id: id })
}

fn split_id(s: &str) -> (Option<u64>, &str) {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (s[..digits].parse().ok(), &s[digits..])
}

async fn next_text<S>(stream: &mut S) -> Result<String, String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(WAIT, stream.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.as_str().to_string()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => return Err("connection closed".into()),
            Err(_) => return Err("timed out".into()),
        }
    }
}

/// A new, empty PostgreSQL database on the test server (`TEST_PG_BASE`,
/// default `postgres://postgres@127.0.0.1:5432`); returns its URL.
pub async fn fresh_postgres() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::var("TEST_PG_BASE").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("confab_p{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let admin = sqlx::PgPool::connect(&format!("{base}/test")).await.expect("PostgreSQL reachable");
    for sql in [format!("DROP DATABASE IF EXISTS {name}"), format!("CREATE DATABASE {name}")] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await.expect("create test database");
    }
    admin.close().await;
    format!("{base}/{name}")
}

/// Registers `name` on `node` over HTTP: its user id and token.
pub async fn register_at(http: &reqwest::Client, node: SocketAddr, name: &str) -> (i64, String) {
    let res = http
        .post(format!("http://{node}/api/auth/register"))
        .json(&json!({"username": name, "password": "password123"}))
        .send()
        .await
        .expect("register request");
    assert_eq!(res.status().as_u16(), 201, "register {name}");
    let body: Value = res.json().await.expect("register answer");
    (body["user"]["id"].as_i64().expect("user id"), body["token"].as_str().expect("token").to_string())
}

/// Checks the cluster tests' durability promise in PostgreSQL `db`: every
/// acknowledged message (`acked`: clientMsgId → (pair, message id)) of
/// `senders` is stored exactly once under its id, and nothing else is.
pub async fn assert_stored_once(db: &str, senders: &[i64], acked: &HashMap<String, (usize, i64)>) {
    let pool = sqlx::PgPool::connect(db).await.expect("PostgreSQL reachable");
    let rows: Vec<(Option<String>, i64)> =
        sqlx::query_as("SELECT client_msg_id, id FROM messages WHERE kind = 'text' AND sender_id = ANY($1)")
            .bind(senders)
            .fetch_all(&pool)
            .await
            .expect("messages read");
    pool.close().await;
    let stored: HashMap<String, i64> =
        rows.iter().map(|(c, id)| (c.clone().expect("every test send has a clientMsgId"), *id)).collect();
    assert_eq!(stored.len(), rows.len(), "no clientMsgId stored twice");
    for (client_id, (_, id)) in acked {
        assert_eq!(stored.get(client_id), Some(id), "acknowledged {client_id} is stored as {id}");
    }
    assert_eq!(stored.len(), acked.len(), "nothing stored that was not acknowledged");
}

/// A `confab serve` process (the real binary) on a data directory, for tests
/// that kill it: dropped, it is killed (SIGKILL) and reaped.
pub struct Process {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Process {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.url.trim_start_matches("http://").parse().expect("a socket address")
    }

    pub fn start(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Process {
        Process::start_at("127.0.0.1:0", dir, args, env)
    }

    /// Like [`Process::start`] on a given address (a restart on the same port).
    pub fn start_at(listen: &str, dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Process {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["serve", "--listen", listen])
            .args(args)
            .arg("--data-dir")
            .arg(dir)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .spawn()
            .expect("confab starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("address line");
        let url = line.trim().strip_prefix("confab listening on ").expect("address line").to_string();
        Process { child, url }
    }

    /// SIGTERM (what a service manager sends to stop it), then waits up to
    /// `within` for it to exit by itself: its exit status, or `None` if it
    /// is still running (it is then left to [`Process::kill`] or the drop).
    pub async fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        // `kill(1)` rather than a new dependency for one signal.
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "SIGTERM sent to {}", self.child.id());
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private Redis server for a test that kills (SIGKILL) and restarts it
/// (the shared one must stay up for the other tests).
pub struct OwnRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    pub fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut r = OwnRedis { port, child: None };
        r.restart();
        r
    }

    pub fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not start");
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
