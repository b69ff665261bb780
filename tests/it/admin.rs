//! `confab admin disable-user` / `enable-user`: the real binary, run beside
//! running servers on the same database, must end the user's sessions and
//! close their sockets on every node within seconds, leave everyone else
//! alone, and be undone by `enable-user`.

use crate::common;
use common::{Sio, TestApp, spawn_app_with};
use serde_json::json;
use std::time::{Duration, Instant};

/// Runs `confab admin <args>`; returns its stdout, panicking on failure.
async fn confab_admin(args: Vec<String>) -> String {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_confab")).arg("admin").args(&args).output()
    })
    .await
    .unwrap()
    .expect("confab admin runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "confab admin failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn login(app: &TestApp, name: &str) -> (u16, serde_json::Value) {
    app.post("/api/auth/login", None, json!({"username": name, "password": "password123"})).await
}

/// The server closes the socket within `within` (measured from `since`).
async fn closed_within(s: &Sio, since: Instant, within: Duration) {
    assert!(s.closed().await, "the socket was not closed");
    assert!(since.elapsed() <= within, "closed after {:?}", since.elapsed());
}

/// Disables `ana` with `store_args` (how the CLI finds the database) while
/// `ana` has a socket on every node, checks the effects, then enables her.
async fn disable_and_enable(nodes: &[TestApp], store_args: Vec<String>) {
    let first = &nodes[0];
    let (_, ana) = first.user("ana").await;
    let (_, bob) = first.user("bob").await;
    let ana_sockets: Vec<Sio> = futures_util::future::join_all(nodes.iter().map(|n| n.socket(&ana))).await;
    let mut bob_socket = nodes.last().unwrap().socket(&bob).await;

    let started = Instant::now();
    let mut args = vec!["disable-user".to_string(), "ana".to_string()];
    args.extend(store_args.iter().cloned());
    let said = confab_admin(args).await;
    assert!(said.contains("disabled ana") && said.contains("1 sessions ended"), "{said}");
    for s in &ana_sockets {
        closed_within(s, started, Duration::from_secs(4)).await;
    }
    for node in nodes {
        let (status, body) = login(node, "ana").await;
        assert_eq!((status, &body["error"]["code"]), (403, &json!("account_disabled")), "{body}");
        assert_eq!(node.get("/api/users/me", Some(&ana)).await.0, 401, "the old token");
        let refused = Sio::connect(node.addr, Some(&ana)).await.err();
        assert!(refused.as_deref().is_some_and(|e| e.starts_with("unauthorized")), "{refused:?}");
        // A wrong password still says only that.
        let (status, _) = node
            .post("/api/auth/login", None, json!({"username": "ana", "password": "wrong-password"}))
            .await;
        assert_eq!(status, 401);
    }
    // Everyone else is unaffected.
    assert_eq!(first.get("/api/users/me", Some(&bob)).await.0, 200);
    let ack = bob_socket.call("fetch_unread_messages", json!({})).await;
    assert!(ack.get("error").is_none(), "{ack}");

    let mut args = vec!["enable-user".to_string(), "ana".to_string()];
    args.extend(store_args);
    assert!(confab_admin(args).await.contains("enabled ana"));
    for node in nodes {
        let (status, body) = login(node, "ana").await;
        assert_eq!(status, 200, "{body}");
        node.socket(body["token"].as_str().unwrap()).await;
        assert_eq!(node.get("/api/users/me", Some(&ana)).await.0, 401, "revoked tokens stay revoked");
    }
}

#[tokio::test]
async fn disable_user_on_a_single_node() {
    let app = spawn_app_with(|_| {}).await;
    let dir = app.data_dir.path().to_str().unwrap().to_string();
    disable_and_enable(std::slice::from_ref(&app), vec!["--data-dir".into(), dir.clone()]).await;

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["admin", "disable-user", "nobody", "--data-dir", &dir])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown user is an error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named"));
}

#[tokio::test]
async fn disable_user_in_a_cluster() {
    let db = common::fresh_postgres().await;
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("admin{}", std::process::id());
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let (db, redis, prefix) = (db.clone(), redis.clone(), prefix.clone());
        nodes.push(
            spawn_app_with(move |c| {
                c.database_url = Some(db);
                c.redis_url = Some(redis);
                c.cluster.redis_prefix = prefix;
            })
            .await,
        );
    }
    // The CLI talks to no node: only to the cluster's database.
    disable_and_enable(&nodes, vec!["--database-url".into(), db]).await;
}
