//! `confab admin backup FILE` while the server writes, and a restore into a
//! fresh data directory that a server starts on with the data complete.

use crate::common::spawn_app_with;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn admin(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_confab")).arg("admin").args(args).output().unwrap()
}

#[tokio::test]
async fn online_backup_is_a_consistent_point_in_time_that_a_server_starts_on() {
    let app = spawn_app_with(|_| {}).await;
    let (_, ta) = app.user("ana").await;
    let (bob, _) = app.user("bob").await;
    // A writer that sends one message after another and records each acked id.
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let (acked, stop, http, url) =
            (acked.clone(), stop.clone(), app.http.clone(), app.url("/api/messages"));
        async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && i < 450 {
                let res = http
                    .post(&url)
                    .bearer_auth(&ta)
                    .json(&json!({"receiverId": bob, "message": format!("m{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 201);
                let body: serde_json::Value = res.json().await.unwrap();
                acked.lock().unwrap().push(body["message"]["id"].as_i64().unwrap());
                i += 1;
            }
        }
    });
    while acked.lock().unwrap().len() < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("copy.db");
    let before = acked.lock().unwrap().len();
    let data_dir = app.data_dir.path().to_path_buf();
    let backup = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            admin(&["backup".as_ref(), file.as_os_str(), "--data-dir".as_ref(), data_dir.as_os_str()])
        })
        .await
        .unwrap()
    };
    let after = acked.lock().unwrap().len();
    assert!(backup.status.success(), "backup: {}", String::from_utf8_lossy(&backup.stderr));
    assert!(String::from_utf8_lossy(&backup.stdout).contains("backed up"));
    // Writes go on after the backup.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();
    let all = acked.lock().unwrap().clone();
    assert!(all.len() > after, "the server kept writing after the backup");

    // A second backup to the same file is refused and leaves it alone.
    let again =
        admin(&["backup".as_ref(), file.as_os_str(), "--data-dir".as_ref(), app.data_dir.path().as_os_str()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Restore: the copy becomes confab.db of a fresh data directory.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("confab.db")).unwrap();
    let dir = restored.path().to_path_buf();
    let node = spawn_app_with(move |c| c.data_dir = dir).await;
    let (status, login) =
        node.post("/api/auth/login", None, json!({"username": "ana", "password": "password123"})).await;
    assert_eq!(status, 200, "{login}");
    let token = login["token"].as_str().unwrap();
    let (_, convs) = node.get("/api/conversations", Some(token)).await;
    let conv = convs["conversations"][0]["id"].as_i64().expect("the conversation survived");
    let (status, page) =
        node.get(&format!("/api/conversations/{conv}/messages?limit=500"), Some(token)).await;
    assert_eq!(status, 200, "{page}");
    let mut ids: Vec<i64> =
        page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    // Every message acknowledged before the backup began is there, and the
    // copy is one point in time: exactly the first N acknowledged messages.
    assert!(
        ids.len() >= before && ids.len() <= after,
        "{} messages, between {before} and {after}",
        ids.len()
    );
    assert_eq!(ids, all[..ids.len()], "a prefix of what was acknowledged, without gaps");
    let seqs: Vec<i64> =
        page["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=ids.len() as i64).collect::<Vec<_>>(), "seqs are contiguous");
    // The restored server accepts new writes.
    let (status, _) =
        node.post("/api/messages", Some(token), json!({"receiverId": bob, "message": "after restore"})).await;
    assert_eq!(status, 201);
}

#[test]
fn backup_of_a_postgres_cluster_points_to_pg_dump() {
    let out = admin(&[
        "backup".as_ref(),
        "/tmp/never-written.db".as_ref(),
        "--database-url".as_ref(),
        "postgres://postgres@127.0.0.1:5432/test".as_ref(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
    assert!(!std::path::Path::new("/tmp/never-written.db").exists());
}
