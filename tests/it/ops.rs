//! Operations: `/metrics` after real traffic, `/readyz` on a cluster node
//! whose Redis goes away, JSON logs without secrets, and online backups.

use crate::common::{self, OwnRedis, Process, Sio, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

/// The value of one series in the Prometheus text (`name{labels}` exactly
/// as rendered, or a bare name); 0 if absent.
fn series(text: &str, key: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.trim().parse().expect("a number"))
        .unwrap_or(0.0)
}

async fn scrape(app: &common::TestApp) -> String {
    let addr = app.metrics.expect("the test app has a metrics listener");
    let res = app.http.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    res.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_real_traffic_exactly() {
    let app = spawn_app_with(|c| {
        c.limits.events_burst = 20;
        c.limits.events_per_second = 1;
    })
    .await;
    let before = scrape(&app).await;
    assert!(before.contains("confab_build_info{version=\""), "{before}");
    assert_eq!(series(&before, "confab_messages_stored_total"), 0.0);
    // /metrics is not on the public listener.
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_ne!(public.status().as_u16(), 200);

    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let b = app.socket(&tb).await;
    assert!(Sio::connect(app.addr, Some("not-a-token")).await.is_err(), "a bad token is refused");
    for i in 0..3 {
        let ack = a.call("send_message", json!({"receiverId": bob, "message": format!("m{i}")})).await;
        assert!(ack["message"]["id"].is_i64(), "{ack}");
        let got = b.recv("receive_message").await;
        b.ack(got.ack_id.expect("receive_message asks for an ack"), json!({}));
    }
    // A retry with the same clientMsgId is not a new stored message.
    let once = json!({"receiverId": bob, "message": "once", "clientMsgId": "c-1"});
    a.call("send_message", once.clone()).await;
    a.call("send_message", once).await;
    let unknown = a.call("no_such_event", json!({})).await;
    assert_eq!(unknown["error"]["code"], "invalid");
    let fetched = a.call("fetch_unread_messages", json!({})).await;
    assert_eq!(fetched["messages"], json!([]));
    // Past the burst: count the refusals the client saw.
    let mut refused = 0;
    for _ in 0..25 {
        let r = a.call("typing", json!({"conversationId": 1, "isTyping": true})).await;
        if r["error"]["code"] == "rate_limited" {
            refused += 1;
        }
    }
    assert!(refused > 0, "some typing events were over the limit");
    let bytes = b"plain text upload".to_vec();
    let up = app
        .http
        .post(app.url("/api/media?name=a.txt"))
        .bearer_auth(&ta)
        .header("Content-Type", "text/plain")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 201, "the upload is stored");

    // Receipts are written by a background batch; wait for the last ack's effect.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = scrape(&app).await;
    let ok = |event: &str| {
        series(&text, &format!("confab_socket_events_total{{event=\"{event}\",outcome=\"ok\"}}"))
    };
    assert_eq!(series(&text, "confab_messages_stored_total"), 4.0, "3 + 1 (the retry is not stored again)");
    assert_eq!(ok("send_message"), 5.0);
    assert_eq!(ok("fetch_unread_messages"), 1.0);
    assert_eq!(
        series(&text, "confab_socket_events_total{event=\"unknown\",outcome=\"invalid\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        series(&text, "confab_socket_events_total{event=\"typing\",outcome=\"rate_limited\"}"),
        f64::from(refused)
    );
    assert_eq!(series(&text, "confab_rate_limited_total{limit=\"events_per_socket\"}"), f64::from(refused));
    assert_eq!(series(&text, "confab_handshakes_total{result=\"accepted\"}"), 2.0);
    assert_eq!(series(&text, "confab_handshakes_total{result=\"refused\",reason=\"unauthorized\"}"), 1.0);
    assert_eq!(series(&text, "confab_connected_sockets"), 2.0);
    assert_eq!(series(&text, "confab_connected_users"), 2.0);
    // Bob was online for all four stored messages: each was handed to him live.
    assert_eq!(series(&text, "confab_live_deliveries_total"), 4.0);
    assert_eq!(series(&text, "confab_delivery_ack_seconds_count"), 3.0, "bob acked three");
    assert_eq!(series(&text, "confab_fetch_unread_messages_count"), 1.0);
    assert_eq!(series(&text, "confab_fetch_unread_messages_sum"), 0.0);
    // Four appends (the retry is answered before the committer) plus receipt batches.
    assert!(series(&text, "confab_commit_batch_size_sum") >= 4.0, "{text}");
    assert!(series(&text, "confab_commit_seconds_count") >= 1.0);
    assert!(text.contains("confab_commit_seconds_bucket{le=\"0.005\"}"), "histograms have buckets");
    assert_eq!(series(&text, "confab_uploads_total"), 1.0);
    assert_eq!(series(&text, "confab_upload_bytes_total"), bytes.len() as f64);
    assert_eq!(series(&text, "confab_dependency_errors_total{dependency=\"database\"}"), 0.0);
    assert_eq!(series(&text, "confab_push_jobs_pending"), 0.0);

    // Bob leaves: the gauges follow.
    drop(b);
    let mut left = String::new();
    for _ in 0..50 {
        left = scrape(&app).await;
        if series(&left, "confab_connected_sockets") == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(series(&left, "confab_connected_sockets"), 1.0, "{left}");
    assert_eq!(series(&left, "confab_connected_users"), 1.0);
}

#[tokio::test]
async fn metrics_listen_empty_disables_the_listener() {
    let app = spawn_app_with(|c| c.metrics_listen = String::new()).await;
    assert!(app.metrics.is_none());
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ready"}));
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status().as_u16(), 200);
}

async fn ready_status(http: &reqwest::Client, node: &Process) -> u16 {
    http.get(format!("{}/readyz", node.url)).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

async fn wait_status(http: &reqwest::Client, node: &Process, want: u16) -> u16 {
    let mut got = 0;
    for _ in 0..100 {
        got = ready_status(http, node).await;
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got
}

/// A cluster node answers 503 on /readyz while its Redis is down (and 200
/// on /healthz: it is alive), and 200 again once Redis is back.
#[tokio::test]
async fn readyz_follows_redis_on_a_cluster_node() {
    let db = common::fresh_postgres().await;
    let mut redis = OwnRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let prefix = db.rsplit('/').next().unwrap().to_string();
    let node = Process::start(
        dir.path(),
        &["--database-url", &db, "--redis-url", &redis.url()],
        &[("CONFAB_CLUSTER__REDIS_PREFIX", prefix.as_str()), ("CONFAB_METRICS_LISTEN", "")],
    );
    let http = reqwest::Client::new();
    assert_eq!(wait_status(&http, &node, 200).await, 200);
    redis.kill();
    assert_eq!(wait_status(&http, &node, 503).await, 503, "Redis down: not ready");
    let body: Value = http.get(format!("{}/readyz", node.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(body, json!({"status": "unavailable", "reason": "redis unreachable"}));
    let live = http.get(format!("{}/healthz", node.url)).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200, "still alive");
    redis.restart();
    assert_eq!(wait_status(&http, &node, 200).await, 200, "Redis back: ready again");
}

/// `log_format = "json"`: every line is a JSON object; HTTP requests carry a
/// request id and the user; no token, password or message text appears,
/// even with Confab's own logs at the most verbose level.
#[tokio::test]
async fn json_logs_parse_and_hold_no_secrets() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("CONFAB_LOG_FORMAT", "json")
        // Confab's own code at its most verbose; dependencies at info (at
        // debug/trace socketioxide and tungstenite print packets: DEPLOY.md).
        .env("CONFAB_LOG", "confab=trace,tower_http=debug,info")
        .env_remove("RUST_LOG")
        .env("CONFAB_METRICS_LISTEN", "")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("confab starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("confab listening on ").expect("address line").to_string();
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let http = reqwest::Client::new();
    let password = "Pw-Zebra-Quartz-9183";
    let text = "Secret-Text-Marmalade-4471";
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for name in ["jlogana", "jlogbob"] {
        let res = http
            .post(format!("{url}/api/auth/register"))
            .header("X-Request-Id", format!("req-{name}"))
            .json(&json!({"username": name, "password": password}))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        tokens.push(body["token"].as_str().unwrap().to_string());
        ids.push(body["user"]["id"].as_i64().unwrap());
    }
    let login = http
        .post(format!("{url}/api/auth/login"))
        .json(&json!({"username": "jlogana", "password": password}))
        .send()
        .await
        .unwrap();
    tokens.push(login.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string());
    let sent = http
        .post(format!("{url}/api/messages"))
        .bearer_auth(&tokens[0])
        .header("X-Request-Id", "req-send-1")
        .json(&json!({"receiverId": ids[1], "message": text}))
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{}", sent.status());
    // And over Socket.IO, with the token in the query string.
    let mut s = Sio::connect(addr, Some(&tokens[1])).await.unwrap();
    s.call("send_message", json!({"receiverId": ids[0], "message": text})).await;
    let polled =
        http.get(format!("{url}/socket.io/?EIO=4&transport=polling&token={}", tokens[2])).send().await;
    assert!(polled.is_ok());
    drop(s);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let mut lines = 0;
    let (mut with_request_id, mut with_user) = (false, false);
    for l in logs.lines().filter(|l| !l.trim().is_empty()) {
        lines += 1;
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.is_object(), "{l}");
        for secret in tokens.iter().map(String::as_str).chain([password, text]) {
            assert!(!l.contains(secret), "a log line holds a secret: {l}");
        }
        with_request_id |= l.contains("\"request_id\":\"req-send-1\"");
        with_user |= l.contains(&format!("\"user\":{}", ids[0]));
    }
    assert!(lines > 5, "the server logged verbosely: {logs}");
    assert!(with_request_id, "the send request's id is in its lines");
    assert!(with_user, "the authenticated user is in the request's span");
}

/// While the node drains at shutdown (an event is still being handled),
/// `/readyz` answers 503 `draining`, and the event still gets its answer.
#[tokio::test]
async fn readyz_answers_503_while_the_node_drains() {
    let mut app = common::spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, _) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let http = app.http.clone();
    let ready = format!("http://{}/readyz", app.addr);
    assert_eq!(http.get(&ready).send().await.unwrap().status().as_u16(), 200);
    // Hold SQLite's write lock, so a send stays in flight.
    let lock = rusqlite::Connection::open(app.data_dir.path().join("confab.db")).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let send = tokio::spawn(async move {
        let ack = a.call("send_message", json!({"receiverId": bob, "message": "in flight"})).await;
        (a, ack)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = tokio::spawn(async move {
        app.shutdown().await;
        app
    });
    let mut seen = (0, Value::Null);
    for _ in 0..50 {
        if let Ok(res) = http.get(&ready).send().await {
            seen = (res.status().as_u16(), res.json().await.unwrap_or(Value::Null));
            if seen.0 == 503 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, (503, json!({"status": "unavailable", "reason": "draining"})));
    lock.execute_batch("ROLLBACK").unwrap();
    let (_a, ack) = send.await.unwrap();
    assert!(ack["message"]["id"].is_i64(), "the event in flight was answered: {ack}");
    stopping.await.unwrap();
}
