//! Cluster mode end to end: real `confab` processes sharing one PostgreSQL
//! and one Redis (both on 127.0.0.1, never mocked). Each test gets its own
//! database and Redis key prefix, so tests run in parallel. An unreachable
//! PostgreSQL or Redis fails the test.

use crate::common;
use common::{OwnRedis, Sio};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Seconds without a heartbeat after which a node counts as dead (short, for the tests).
const NODE_TTL: u64 = 4;

pub(crate) struct Cluster {
    redis_url: String,
    db_url: String,
    db_name: String,
    prefix: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

pub(crate) struct Node {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pg_base() -> String {
    std::env::var("TEST_PG_BASE").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

impl Cluster {
    pub(crate) async fn new() -> Cluster {
        Self::with_redis(redis_url()).await
    }

    async fn with_redis(redis_url: String) -> Cluster {
        let db_url = common::fresh_postgres().await;
        let name = db_url.rsplit('/').next().expect("database name").to_string();
        // Fail early and clearly if Redis is down.
        let client = redis::Client::open(redis_url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.expect("Redis reachable");
        let _: String = redis::cmd("PING").query_async(&mut conn).await.expect("Redis answers PING");
        Cluster {
            redis_url,
            db_url,
            db_name: name.clone(),
            prefix: name,
            dir: tempfile::tempdir().unwrap(),
            http: {
                confab::install_tls_provider();
                reqwest::Client::new()
            },
        }
    }

    /// Starts one `confab serve` process of this cluster.
    pub(crate) fn node(&self) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &self.db_url,
                "--redis-url",
                &self.redis_url,
            ])
            .arg("--data-dir")
            .arg(self.dir.path())
            .env("CONFAB_CLUSTER__REDIS_PREFIX", &self.prefix)
            .env("CONFAB_CLUSTER__NODE_TTL_SECS", NODE_TTL.to_string())
            .env("CONFAB_CLUSTER__POSTGRES_MAX_CONNECTIONS", "4")
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("confab starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("confab listening on http://") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr =
            rx.recv_timeout(Duration::from_secs(30)).expect("node prints its address").parse().unwrap();
        Node { child, addr }
    }

    pub(crate) async fn user(&self, node: &Node, name: &str) -> (i64, String) {
        let res = self
            .http
            .post(format!("http://{}/api/auth/register", node.addr))
            .json(&json!({"username": name, "password": "password123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
        let body: Value = res.json().await.unwrap();
        (body["user"]["id"].as_i64().unwrap(), body["token"].as_str().unwrap().to_string())
    }

    pub(crate) async fn post(&self, node: &Node, path: &str, token: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("http://{}{path}", node.addr))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, node: &Node, path: &str, token: &str) -> (u16, Value) {
        let res =
            self.http.get(format!("http://{}{path}", node.addr)).bearer_auth(token).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Best effort, after the nodes (declared later in each test) are gone.
        let name = self.db_name.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&format!("{}/test", pg_base())).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await;
                }
            });
        })
        .join()
        .ok();
    }
}

async fn socket(node: &Node, token: &str) -> Sio {
    Sio::connect(node.addr, Some(token)).await.expect("socket connects")
}

/// The next text `receive_message`, skipping system notes.
async fn recv_text(s: &Sio) -> common::Received {
    loop {
        let got = s.recv("receive_message").await;
        if got.data["type"] == "text" {
            return got;
        }
    }
}

#[tokio::test]
async fn direct_and_group_messages_cross_nodes_once() {
    let cluster = Cluster::new().await;
    let (n1, n2) = (cluster.node(), cluster.node());
    let (ana, ta) = cluster.user(&n1, "ana").await;
    let (bob, tb) = cluster.user(&n2, "bob").await;
    let (cyd, tc) = cluster.user(&n1, "cyd").await;
    let mut a = socket(&n1, &ta).await;
    let b_on_1 = socket(&n1, &tb).await;
    let b_on_2 = socket(&n2, &tb).await;
    let c = socket(&n2, &tc).await;

    let ack = a.call("send_message", json!({"receiverId": bob, "message": "across"})).await;
    let id = ack["message"]["id"].clone();
    for s in [&b_on_1, &b_on_2] {
        let got = s.recv("receive_message").await;
        assert_eq!(got.data["id"], id);
        s.ack(got.ack_id.unwrap(), json!(null));
    }
    let st = a.recv("message_status").await.data;
    assert_eq!((st["messageId"].clone(), st["status"].as_str()), (id.clone(), Some("delivered")));

    let (status, g) = cluster
        .post(&n2, "/api/conversations", &tb, json!({"type": "group", "name": "G", "memberIds": [cyd]}))
        .await;
    assert_eq!(status, 201, "{g}");
    let gid = g["conversation"]["id"].as_i64().unwrap();
    cluster.post(&n2, &format!("/api/conversations/{gid}/members"), &tb, json!({"userIds": [ana]})).await;
    let ack = a.call("send_message", json!({"conversationId": gid, "message": "group across"})).await;
    let gmid = ack["message"]["id"].clone();
    for s in [&b_on_1, &b_on_2, &c] {
        assert_eq!(recv_text(s).await.data["id"], gmid);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in [&b_on_1, &b_on_2, &c] {
        let dup = s.drain("receive_message").into_iter().filter(|e| e.data["id"] == gmid).count();
        assert_eq!(dup, 0, "each device gets it once");
    }
    // Typing crosses nodes too.
    a.call("typing", json!({"conversationId": gid, "isTyping": true})).await;
    assert_eq!(c.recv("typing").await.data["isTyping"], true);
}

#[tokio::test]
async fn presence_and_logout_cross_nodes() {
    let cluster = Cluster::new().await;
    let (n1, n2) = (cluster.node(), cluster.node());
    let (_, ta) = cluster.user(&n1, "ana").await;
    let (bob, tb) = cluster.user(&n1, "bob").await;
    cluster.post(&n1, "/api/messages", &ta, json!({"receiverId": bob, "message": "hi"})).await;
    let a = socket(&n1, &ta).await;

    let b = socket(&n2, &tb).await;
    let p = a.recv("presence").await.data;
    assert_eq!((p["userId"].as_i64(), p["online"].as_bool()), (Some(bob), Some(true)));
    let (_, profile) = cluster.get(&n1, &format!("/api/users/{bob}"), &ta).await;
    assert_eq!(profile["user"]["online"], true, "node 1 sees a user connected to node 2");

    // Logout on node 1 closes the socket on node 2 and revokes the token there.
    let (status, _) = cluster.post(&n1, "/api/auth/logout", &tb, json!({})).await;
    assert_eq!(status, 204);
    assert!(b.closed().await, "socket on the other node closed");
    let (status, _) = cluster.get(&n2, "/api/users/me", &tb).await;
    assert_eq!(status, 401, "the other node forgot the token");
    let p = a.recv("presence").await.data;
    assert_eq!((p["userId"].as_i64(), p["online"].as_bool()), (Some(bob), Some(false)));
}

#[tokio::test]
async fn a_killed_node_is_noticed_and_its_users_catch_up_elsewhere() {
    let cluster = Cluster::new().await;
    let n1 = cluster.node();
    let mut n2 = cluster.node();
    let (_, ta) = cluster.user(&n1, "ana").await;
    let (bob, tb) = cluster.user(&n1, "bob").await;
    cluster.post(&n1, "/api/messages", &ta, json!({"receiverId": bob, "message": "before"})).await;
    let mut a = socket(&n1, &ta).await;
    let mut b = socket(&n2, &tb).await;
    assert_eq!(a.recv("presence").await.data["online"], true);
    b.call("fetch_unread_messages", json!({})).await;

    n2.child.kill().expect("SIGKILL node 2");
    let _ = n2.child.wait();
    // Messages sent while node 2 is dead are stored and acked.
    let mut sent = Vec::new();
    for i in 0..3 {
        let ack =
            a.call("send_message", json!({"receiverId": bob, "message": format!("while dead {i}")})).await;
        sent.push(ack["message"]["id"].as_i64().expect("acked"));
    }
    // Within the bound (TTL plus a heartbeat), Bob counts as offline.
    let offline = a.try_recv("presence", Duration::from_secs(NODE_TTL * 3)).await.expect("offline announced");
    assert_eq!((offline.data["userId"].as_i64(), offline.data["online"].as_bool()), (Some(bob), Some(false)));
    let (_, profile) = cluster.get(&n1, &format!("/api/users/{bob}"), &ta).await;
    assert_eq!(profile["user"]["online"], false);

    // Bob's client reconnects to the surviving node and fetches everything acked, once.
    drop(b);
    let mut b = socket(&n1, &tb).await;
    let first = b.call("fetch_unread_messages", json!({})).await;
    let got: Vec<i64> =
        first["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(got, sent);
    let second = b.call("fetch_unread_messages", json!({})).await;
    assert_eq!(second["messages"], json!([]));
}

#[tokio::test]
async fn a_redis_restart_loses_nothing_and_nodes_recover() {
    let mut own = OwnRedis::start();
    let cluster = Cluster::with_redis(own.url()).await;
    let (n1, n2) = (cluster.node(), cluster.node());
    let (_, ta) = cluster.user(&n1, "ana").await;
    let (bob, tb) = cluster.user(&n2, "bob").await;
    let mut a = socket(&n1, &ta).await;
    let mut b = socket(&n2, &tb).await;
    a.call("send_message", json!({"receiverId": bob, "message": "before"})).await;
    let got = b.recv("receive_message").await;
    b.ack(got.ack_id.unwrap(), json!(null));

    own.kill();
    // Redis is down: sends are still stored and acknowledged.
    let ack = a.call("send_message", json!({"receiverId": bob, "message": "during the outage"})).await;
    let during = ack["message"]["id"].as_i64().expect("acked without Redis");
    // An outage longer than the connection manager's own reconnect attempt:
    // a node that only listens must still get its subscriptions back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    own.restart();

    // The nodes reconnect and re-register their sockets by themselves.
    let path = format!("/api/users/{bob}");
    let (_, profile) =
        loop_until(|| cluster.get(&n1, &path, &ta), |(_, p)| p["user"]["online"] == true).await;
    assert_eq!(profile["user"]["online"], true, "presence is back after the heartbeat");
    // Presence (heartbeat) and the adapter's subscriptions come back on their
    // own schedules: send until a message crosses live, within 15 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let live = 'retry: loop {
        assert!(tokio::time::Instant::now() < deadline, "cross-node delivery did not come back within 15 s");
        let ack = a.call("send_message", json!({"receiverId": bob, "message": "after"})).await;
        let after = ack["message"]["id"].clone();
        while let Some(m) = b.try_recv("receive_message", Duration::from_secs(1)).await {
            if m.data["id"] == after {
                break 'retry m;
            }
        }
    };
    assert_eq!(live.data["message"], "after", "cross-node delivery works again");
    let fetched = b.call("fetch_unread_messages", json!({})).await;
    let ids: Vec<i64> =
        fetched["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert!(ids.contains(&during), "the message from the outage is there: {ids:?}");
}

/// Polls `f` (every 250 ms, at most 15 s) until `done` holds; returns the last answer.
async fn loop_until<F, Fut, T>(f: F, done: impl Fn(&T) -> bool) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let v = f().await;
        if done(&v) || tokio::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
