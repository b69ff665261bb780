//! Crash safety: send under load, SIGKILL the server at a random moment,
//! restart it, retry every unanswered send with the same `clientMsgId`, and
//! check that every acknowledged message is stored, nothing is stored twice,
//! and the recipient fetches each message exactly once.

use crate::common;
use common::Process;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const ITERATIONS: usize = 5;
const SENDERS: usize = 4;

async fn post(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Option<(u16, Value)> {
    let mut req = http.post(format!("{url}{path}")).json(body).timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.ok()?;
    let status = res.status().as_u16();
    Some((status, res.json().await.ok()?))
}

#[tokio::test]
async fn sqlite_acknowledged_messages_survive_sigkill_and_retries_store_nothing_twice() {
    crash_kill(Vec::new()).await;
}

#[tokio::test]
async fn postgres_acknowledged_messages_survive_sigkill_and_retries_store_nothing_twice() {
    let db = common::fresh_postgres().await;
    crash_kill(vec!["--database-url".into(), db]).await;
}

async fn crash_kill(args: Vec<String>) {
    confab::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let start = || {
        Process::start(
            dir.path(),
            &args,
            &[
                ("CONFAB_LIMITS__EVENTS_PER_SECOND", "100000"),
                ("CONFAB_LIMITS__EVENTS_PER_SECOND_PER_USER", "100000"),
            ],
        )
    };
    let mut server = start();
    let register = |name: &str| json!({"username": name, "password": "password123"});
    let (_, ana) = post(&http, &server.url, "/api/auth/register", None, &register("ana")).await.unwrap();
    let (_, bob) = post(&http, &server.url, "/api/auth/register", None, &register("bob")).await.unwrap();
    let ana_token = ana["token"].as_str().unwrap().to_string();
    let bob_token = bob["token"].as_str().unwrap().to_string();
    let bob_id = bob["user"]["id"].as_i64().unwrap();

    // clientMsgId → the message id of its ack.
    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut unanswered: Vec<String> = Vec::new();
    let mut next = 0usize;
    for iteration in 0..ITERATIONS {
        // Retry what the last crash left unanswered, then send new ones, until the kill.
        let retry = std::mem::take(&mut unanswered);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Option<i64>)>();
        let mut senders = Vec::new();
        let retry_share = retry.len().div_ceil(SENDERS);
        for s in 0..SENDERS {
            let (http, url, token, tx) = (http.clone(), server.url.clone(), ana_token.clone(), tx.clone());
            let mut queue: Vec<String> =
                retry.iter().skip(s * retry_share).take(retry_share).cloned().collect();
            let base = next + s * 100_000;
            senders.push(tokio::spawn(async move {
                for i in 0.. {
                    let id = if queue.is_empty() { format!("m{base}-{i}") } else { queue.remove(0) };
                    let body = json!({"receiverId": bob_id, "message": id, "clientMsgId": id});
                    let answer = post(&http, &url, "/api/messages", Some(&token), &body).await;
                    let message_id = match answer {
                        Some((201, v)) => v["message"]["id"].as_i64(),
                        _ => None,
                    };
                    let failed = message_id.is_none();
                    let _ = tx.send((id, message_id));
                    if failed {
                        return; // the server is gone
                    }
                }
            }));
        }
        drop(tx);
        next += SENDERS * 100_000;
        let delay = 150 + (rand::random::<u64>() % 500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        for s in senders {
            let _ = s.await;
        }
        while let Some((id, message_id)) = rx.recv().await {
            match message_id {
                Some(m) => {
                    if let Some(previous) = acked.insert(id.clone(), m) {
                        assert_eq!(previous, m, "a retried clientMsgId must return the original message");
                    }
                }
                None if !acked.contains_key(&id) => unanswered.push(id),
                None => {}
            }
        }
        eprintln!(
            "iteration {iteration}: killed after {delay} ms; {} acked so far, {} to retry",
            acked.len(),
            unanswered.len()
        );
        server = start();
    }
    // Retry the last unanswered sends on the final server.
    for id in std::mem::take(&mut unanswered) {
        let body = json!({"receiverId": bob_id, "message": id, "clientMsgId": id});
        let (status, v) = post(&http, &server.url, "/api/messages", Some(&ana_token), &body).await.unwrap();
        assert_eq!(status, 201);
        acked.insert(id, v["message"]["id"].as_i64().unwrap());
    }
    assert!(acked.len() > 20, "the run sent messages ({} acked)", acked.len());

    // Every acknowledged message is stored once; nothing else is stored.
    let conversation = {
        let (_, list) = {
            let res = http
                .get(format!("{}/api/conversations", server.url))
                .bearer_auth(&bob_token)
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        };
        list["conversations"][0]["id"].as_i64().unwrap()
    };
    let mut stored: Vec<(String, i64)> = Vec::new();
    let mut before = String::new();
    loop {
        let url = format!("{}/api/conversations/{conversation}/messages?limit=500{before}", server.url);
        let page: Value = http.get(url).bearer_auth(&bob_token).send().await.unwrap().json().await.unwrap();
        let messages = page["messages"].as_array().unwrap();
        for m in messages {
            stored.push((m["clientMsgId"].as_str().unwrap().to_string(), m["id"].as_i64().unwrap()));
        }
        if !page["hasMore"].as_bool().unwrap_or(false) || messages.is_empty() {
            break;
        }
        before = format!("&before={}", messages.last().unwrap()["id"]);
    }
    let unique: HashSet<&String> = stored.iter().map(|(c, _)| c).collect();
    assert_eq!(unique.len(), stored.len(), "no clientMsgId stored twice");
    let stored_map: HashMap<String, i64> = stored.iter().cloned().collect();
    for (client, id) in &acked {
        assert_eq!(stored_map.get(client), Some(id), "acknowledged {client} is stored as {id}");
    }
    assert_eq!(stored.len(), acked.len(), "nothing stored that was not eventually acknowledged");

    // The recipient fetches each exactly once.
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let mut b = common::Sio::connect(addr, Some(&bob_token)).await.unwrap();
    let mut fetched = Vec::new();
    loop {
        let page = b.call("fetch_unread_messages", json!({})).await;
        let messages = page["messages"].as_array().unwrap();
        fetched.extend(messages.iter().map(|m| m["id"].as_i64().unwrap()));
        if !page["hasMore"].as_bool().unwrap() {
            break;
        }
    }
    let fetched_set: HashSet<i64> = fetched.iter().copied().collect();
    assert_eq!(fetched_set.len(), fetched.len(), "fetched once each");
    assert_eq!(fetched_set, acked.values().copied().collect::<HashSet<_>>());
    eprintln!(
        "crash-kill {args:?}: {ITERATIONS} kills, {} messages checked, 0 lost, 0 duplicated",
        acked.len()
    );
}
