//! Media attachments end to end: uploads streamed to disk and fetched back
//! byte for byte, sniffing, limits, access control, attachments on messages
//! (ack, live, history, unread), and Cloudinary signed uploads against a
//! fake Cloudinary that checks every signature.

use crate::common;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::{TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A real PNG (or JPEG) of `w`×`h` pixels.
fn picture(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

async fn upload_raw(
    app: &TestApp,
    token: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let res = app
        .http
        .post(app.url(&format!("/api/media?name={name}")))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn upload_multipart(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let boundary = "confab-test-boundary-7MA4YWxk";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = app
        .http
        .post(app.url("/api/media"))
        .bearer_auth(token)
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn fetch(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn uploads_round_trip_byte_for_byte_with_thumbnails() {
    let app = spawn_app().await;
    let (_, ana) = app.user("ana").await;

    let png = picture(640, 480, image::ImageFormat::Png);
    let (status, body) = upload_raw(&app, &ana, "holiday.png", "image/png", png.clone()).await;
    assert_eq!(status, 201, "{body}");
    let m = &body["media"];
    assert_eq!(
        (m["kind"].as_str(), m["mime"].as_str(), m["name"].as_str()),
        (Some("image"), Some("image/png"), Some("holiday.png"))
    );
    assert_eq!(
        (m["size"].as_u64(), m["width"].as_i64(), m["height"].as_i64()),
        (Some(png.len() as u64), Some(640), Some(480))
    );
    let res = fetch(&app, m["url"].as_str().unwrap(), Some(&ana)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("inline"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), png.as_slice(), "byte for byte");
    let thumb = fetch(&app, m["thumbnailUrl"].as_str().unwrap(), Some(&ana)).await;
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240), "longest side 320, aspect kept");

    let jpeg = picture(300, 900, image::ImageFormat::Jpeg);
    let (status, body) = upload_multipart(&app, &ana, "tall.jpg", &jpeg).await;
    assert_eq!(status, 201, "{body}");
    let m = &body["media"];
    assert_eq!(
        (m["mime"].as_str(), m["width"].as_i64(), m["height"].as_i64()),
        (Some("image/jpeg"), Some(300), Some(900))
    );
    let bytes = fetch(&app, m["url"].as_str().unwrap(), Some(&ana)).await.bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), jpeg.as_slice());
    let thumb = fetch(&app, m["thumbnailUrl"].as_str().unwrap(), Some(&ana)).await.bytes().await.unwrap();
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (107, 320));

    // Range requests (video players seek with them).
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let (_, body) = upload_raw(&app, &ana, "blob.bin", "application/octet-stream", data.clone()).await;
    let res = app
        .http
        .get(app.url(body["media"]["url"].as_str().unwrap()))
        .bearer_auth(&ana)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &data[100..200]);

    // Content-addressed: the same bytes again are the same file on disk.
    upload_raw(&app, &ana, "again.png", "image/png", png.clone()).await;
    let files = walk(&app.data_dir.path().join("media"));
    let pngs = files.iter().filter(|p| std::fs::read(p).map(|b| b == png).unwrap_or(false)).count();
    assert_eq!(pngs, 1);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[tokio::test]
async fn sizes_are_limited_per_kind_and_types_come_from_the_bytes() {
    let app = spawn_app_with(|c| {
        c.media.max_file_bytes = 1000;
        c.media.max_image_bytes = 200_000;
    })
    .await;
    let (_, ana) = app.user("ana").await;
    let (status, body) = upload_raw(&app, &ana, "a.bin", "application/octet-stream", vec![7; 1001]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_large")), "{body}");
    let (status, _) = upload_raw(&app, &ana, "a.bin", "application/octet-stream", vec![7; 1000]).await;
    assert_eq!(status, 201);
    // A big image is fine under the image limit, which is the kind the bytes say.
    let (status, body) =
        upload_raw(&app, &ana, "big.png", "image/png", picture(200, 200, image::ImageFormat::Png)).await;
    assert_eq!(status, 201, "{body}");
    assert!(walk(&app.data_dir.path().join("media/tmp")).is_empty(), "no partial files left");
    let (status, _) = upload_raw(&app, &ana, "empty", "text/plain", Vec::new()).await;
    assert_eq!(status, 400);

    // HTML claiming to be a PNG is a plain download, never rendered.
    let html = b"<html><body><script>alert(document.cookie)</script></body></html>".to_vec();
    let (status, body) = upload_raw(&app, &ana, "cat.png", "image/png", html.clone()).await;
    assert_eq!(status, 201);
    let m = &body["media"];
    assert_eq!((m["kind"].as_str(), m["mime"].as_str()), (Some("file"), Some("application/octet-stream")));
    assert!(m["thumbnailUrl"].is_null());
    let res = fetch(&app, m["url"].as_str().unwrap(), Some(&ana)).await;
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), html.as_slice());

    let (status, _) = upload_raw(&app, "not-a-token", "x", "image/png", vec![1]).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn attachments_travel_with_messages_and_only_members_can_fetch_them() {
    let app = spawn_app().await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;
    let (_, eve) = app.user("eve").await;
    let png = picture(64, 48, image::ImageFormat::Png);
    let (_, body) = upload_raw(&app, &ana, "pic.png", "image/png", png.clone()).await;
    let media = body["media"].clone();
    let url = media["url"].as_str().unwrap().to_string();

    // Before it is sent: only the uploader sees it.
    assert_eq!(fetch(&app, &url, Some(&bob)).await.status(), 404);
    assert_eq!(fetch(&app, &url, None).await.status(), 401);

    // Someone else's upload cannot be attached.
    let mut e = app.socket(&eve).await;
    let ack =
        e.call("send_message", json!({"receiverId": bob_id, "attachments": [{"id": media["id"]}]})).await;
    assert_eq!(ack["error"]["code"], "invalid", "{ack}");

    let mut a = app.socket(&ana).await;
    let ack = a
        .call(
            "send_message",
            json!({"receiverId": bob_id, "attachments": [{"id": media["id"]}], "clientMsgId": "p1"}),
        )
        .await;
    let sent = &ack["message"];
    assert_eq!(sent["message"], "", "{ack}");
    let expect = |a: &Value| {
        assert_eq!(a["id"], media["id"]);
        assert_eq!(a["url"], media["url"]);
        assert_eq!(
            (a["mime"].as_str(), a["size"].as_u64(), a["name"].as_str()),
            (Some("image/png"), Some(png.len() as u64), Some("pic.png"))
        );
        assert_eq!(
            (a["width"].as_i64(), a["height"].as_i64(), a["kind"].as_str()),
            (Some(64), Some(48), Some("image"))
        );
        assert!(a["thumbnailUrl"].as_str().is_some_and(|t| t.ends_with("/thumbnail")));
    };
    expect(&sent["attachments"][0]);

    // Offline recipient: the unread fetch carries it.
    let mut b = app.socket(&bob).await;
    let unread = b.call("fetch_unread_messages", json!({})).await;
    expect(&unread["messages"][0]["attachments"][0]);
    // Live delivery carries it.
    a.call(
        "send_message",
        json!({"receiverId": bob_id, "message": "and again", "attachments": [{"id": media["id"]}]}),
    )
    .await;
    let live = b.recv("receive_message").await;
    expect(&live.data["attachments"][0]);
    assert_eq!(live.data["message"], "and again");
    // History carries it.
    let (_, history) =
        app.get(&format!("/api/conversations/{}/messages", sent["conversationId"]), Some(&bob)).await;
    assert!(history["messages"].as_array().unwrap().iter().all(|m| m["attachments"][0]["id"] == media["id"]));

    // Now the member can fetch it; a stranger still cannot.
    let res = fetch(&app, &url, Some(&bob)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), png.as_slice());
    assert_eq!(fetch(&app, &url, Some(&eve)).await.status(), 404);
    assert_eq!(fetch(&app, &format!("{url}/thumbnail"), Some(&eve)).await.status(), 404);

    // Signed links work without a header; tampered ones do not.
    let (status, link) = app.get(&format!("{url}/link"), Some(&bob)).await;
    assert_eq!(status, 200);
    let signed = link["url"].as_str().unwrap();
    let res = fetch(&app, signed, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), png.as_slice());
    assert_eq!(fetch(&app, link["thumbnailUrl"].as_str().unwrap(), None).await.status(), 200);
    let forged = signed.replace("exp=", "exp=9");
    assert_eq!(fetch(&app, &forged, None).await.status(), 404);
    let (status, _) = app.get(&format!("{url}/link"), Some(&eve)).await;
    assert_eq!(status, 404);

    // Bad attachment payloads are refused clearly.
    for bad in [json!("x"), json!([1]), json!([{"id": ""}]), json!([{"publicId": "confab/x"}])] {
        let ack =
            a.call("send_message", json!({"receiverId": bob_id, "message": "x", "attachments": bad})).await;
        assert_eq!(ack["error"]["code"], "invalid", "{bad} → {ack}");
    }
    let ack = a.call("send_message", json!({"receiverId": bob_id, "message": ""})).await;
    assert_eq!(ack["error"]["code"], "invalid");
}

#[tokio::test]
async fn uploads_never_sent_are_swept_and_owners_can_delete() {
    let app = spawn_app_with(|c| c.media.orphan_hours = 0).await;
    let (_, ana) = app.user("ana").await;
    let (_, bob) = app.user("bob").await;
    let data = vec![42u8; 5000];
    let (_, kept) = upload_raw(&app, &ana, "kept.bin", "application/octet-stream", data.clone()).await;
    let (_, gone) = upload_raw(&app, &ana, "gone.bin", "application/octet-stream", vec![9u8; 100]).await;
    let gone_url = gone["media"]["url"].as_str().unwrap().to_string();
    assert_eq!(app.http.delete(app.url(&gone_url)).bearer_auth(&bob).send().await.unwrap().status(), 404);
    assert_eq!(app.http.delete(app.url(&gone_url)).bearer_auth(&ana).send().await.unwrap().status(), 204);
    assert_eq!(fetch(&app, &gone_url, Some(&ana)).await.status(), 404);

    // The sweep runs at start-up: an upload never sent is deleted with its file.
    let kept_url = kept["media"]["url"].as_str().unwrap().to_string();
    let app = app.restart_with(|c| c.media.orphan_hours = 0).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let file_left = || {
        walk(&app.data_dir.path().join("media"))
            .iter()
            .any(|p| std::fs::read(p).map(|b| b == data).unwrap_or(false))
    };
    while fetch(&app, &kept_url, Some(&ana)).await.status() != 404 || file_left() {
        assert!(std::time::Instant::now() < deadline, "orphan and its file not swept");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// Cloudinary, against a fake that checks signatures like the real one.

const CLOUD: &str = "demo-cloud";
const KEY: &str = "123456789012345";
const SECRET: &str = "fake-api-secret";

fn signature(params: &BTreeMap<String, String>) -> String {
    let joined: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Sha1::digest(format!("{}{SECRET}", joined.join("&")).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Default)]
struct Cloud {
    destroyed: Mutex<Vec<String>>,
    refused: Mutex<Vec<String>>,
}

/// Cloudinary's upload endpoint (JSON body; `file` is a data URI) and destroy endpoint.
async fn fake_upload(
    State(c): State<Arc<Cloud>>,
    Path(cloud): Path<String>,
    body: Bytes,
) -> axum::response::Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut signed = BTreeMap::new();
    for k in ["timestamp", "folder", "allowed_formats"] {
        if let Some(v) = req.get(k) {
            signed.insert(k.to_string(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()));
        }
    }
    let fresh = req["timestamp"].as_i64().is_some_and(|t| (t - now()).abs() < 3600);
    if cloud != CLOUD
        || req["api_key"] != KEY
        || req["signature"].as_str() != Some(&signature(&signed))
        || !fresh
    {
        c.refused.lock().unwrap().push(req["signature"].to_string());
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"message": "Invalid Signature"}})))
            .into_response();
    }
    let public_id = format!("{}/img{}", req["folder"].as_str().unwrap(), rand::random::<u32>());
    let version = 1_700_000_000 + rand::random::<u16>() as i64;
    let mut back = BTreeMap::new();
    back.insert("public_id".to_string(), public_id.clone());
    back.insert("version".to_string(), version.to_string());
    axum::Json(json!({
        "public_id": public_id, "version": version, "signature": signature(&back),
        "resource_type": "image", "format": "png", "bytes": 1234, "width": 800, "height": 600,
        "original_filename": "beach", "type": "upload",
    }))
    .into_response()
}

async fn fake_destroy(
    State(c): State<Arc<Cloud>>,
    Path((cloud, kind)): Path<(String, String)>,
    h: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    assert!(h["content-type"].to_str().unwrap().starts_with("application/x-www-form-urlencoded"));
    let form: BTreeMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%2F", "/")))
        .collect();
    let signed: BTreeMap<String, String> = form
        .iter()
        .filter(|(k, _)| ["public_id", "timestamp"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if cloud != CLOUD
        || kind != "image"
        || form.get("api_key").map(String::as_str) != Some(KEY)
        || form.get("signature") != Some(&signature(&signed))
    {
        c.refused.lock().unwrap().push(format!("destroy {form:?}"));
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    c.destroyed.lock().unwrap().push(form["public_id"].clone());
    axum::Json(json!({"result": "ok"})).into_response()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn cloudinary_uploads_are_signed_verified_and_destroyed() {
    let cloud = Arc::new(Cloud::default());
    let fake = axum::Router::new()
        .route("/v1_1/{cloud}/auto/upload", axum::routing::post(fake_upload))
        .route("/v1_1/{cloud}/{kind}/destroy", axum::routing::post(fake_destroy))
        .with_state(cloud.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, fake).await });
    let app = spawn_app_with(|c| {
        c.push.allow_http_endpoints = true;
        c.media.cloudinary.cloud_name = Some(CLOUD.into());
        c.media.cloudinary.api_key = Some(KEY.into());
        c.media.cloudinary.api_secret = Some(SECRET.into());
        c.media.cloudinary.api_url = base.clone();
        c.media.cloudinary.delivery_url = format!("{base}/cdn");
    })
    .await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;

    let (status, sig) = app.post("/api/media/cloudinary/signature", Some(&ana), json!({})).await;
    assert_eq!(status, 200, "{sig}");
    assert_eq!((sig["cloudName"].as_str(), sig["apiKey"].as_str()), (Some(CLOUD), Some(KEY)));
    let upload = |sig: &Value, signature: &str| {
        json!({
            "file": "data:image/png;base64,iVBORw0KGgo=", "api_key": sig["apiKey"], "timestamp": sig["timestamp"],
            "folder": sig["folder"], "allowed_formats": sig["allowedFormats"], "signature": signature,
        })
    };
    // The browser uploads straight to Cloudinary with the signed parameters.
    let res = app
        .http
        .post(sig["uploadUrl"].as_str().unwrap())
        .json(&upload(&sig, sig["signature"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the fake accepts the server's signature");
    let result: Value = res.json().await.unwrap();
    // A wrong signature is refused by Cloudinary (the fake).
    let res =
        app.http.post(sig["uploadUrl"].as_str().unwrap()).json(&upload(&sig, "0000")).send().await.unwrap();
    assert_eq!(res.status(), 401);

    let mut a = app.socket(&ana).await;
    // A forged upload result (another public_id under the same signature) is refused.
    let mut forged = result.clone();
    forged["public_id"] = json!("confab/someone-elses");
    let ack = a.call("send_message", json!({"receiverId": bob_id, "attachments": [forged]})).await;
    assert_eq!(ack["error"]["code"], "forbidden", "{ack}");

    let ack = a
        .call("send_message", json!({"receiverId": bob_id, "message": "look", "attachments": [result]}))
        .await;
    let att = &ack["message"]["attachments"][0];
    let public_id = result["public_id"].as_str().unwrap();
    let version = result["version"].as_i64().unwrap();
    assert_eq!(att["url"], format!("{base}/cdn/{CLOUD}/image/upload/v{version}/{public_id}.png"), "{ack}");
    assert_eq!(
        att["thumbnailUrl"],
        format!("{base}/cdn/{CLOUD}/image/upload/c_limit,w_320,h_320/v{version}/{public_id}.png")
    );
    assert_eq!(
        (att["mime"].as_str(), att["size"].as_i64(), att["name"].as_str()),
        (Some("image/png"), Some(1234), Some("beach.png"))
    );
    assert_eq!((att["width"].as_i64(), att["height"].as_i64()), (Some(800), Some(600)));
    let mut b = app.socket(&bob).await;
    let unread = b.call("fetch_unread_messages", json!({})).await;
    assert_eq!(unread["messages"][0]["attachments"][0]["url"], att["url"]);

    // Deleting the attachment destroys the asset through the signed Upload API.
    let id = att["id"].as_str().unwrap();
    let status = app
        .http
        .delete(app.url(&format!("/api/media/{id}")))
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    assert_eq!(*cloud.destroyed.lock().unwrap(), vec![public_id.to_string()]);
    assert_eq!(cloud.refused.lock().unwrap().len(), 1, "only the deliberately wrong upload was refused");

    // Without Cloudinary configured there is nothing to sign.
    let plain = spawn_app().await;
    let (_, t) = plain.user("zed").await;
    let (status, _) = plain.post("/api/media/cloudinary/signature", Some(&t), json!({})).await;
    assert_eq!(status, 404);
}

fn noise(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ 0x5a).collect()
}

#[tokio::test]
async fn the_upload_quota_counts_what_is_kept_once() {
    let app = spawn_app_with(|c| c.media.quota_bytes_per_user = 10_000).await;
    let (_, ana) = app.user("ana").await;
    let (_, bob) = app.user("bob").await;
    let (a, b) = (noise(1, 6_000), noise(2, 6_000));
    let (status, first) = upload_raw(&app, &ana, "a.bin", "application/octet-stream", a.clone()).await;
    assert_eq!(status, 201, "{first}");
    // The same content again is stored once, so it counts once.
    let (status, again) = upload_raw(&app, &ana, "a-again.bin", "application/octet-stream", a.clone()).await;
    assert_eq!(status, 201, "{again}");
    // Another user has a quota of their own.
    let (status, bobs) = upload_raw(&app, &bob, "b.bin", "application/octet-stream", b.clone()).await;
    assert_eq!(status, 201, "{bobs}");
    let (status, body) = upload_raw(&app, &ana, "b.bin", "application/octet-stream", b.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("quota_exceeded")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("quota"), "{body}");
    // Ana's refused copy is gone, bob's (the same file on disk) is not.
    let id = bobs["media"]["id"].as_str().unwrap();
    let res = app.http.get(app.url(&format!("/api/media/{id}"))).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), b.as_slice());
    // Deleting frees the space.
    for item in [&first, &again] {
        let id = item["media"]["id"].as_str().unwrap();
        let res =
            app.http.delete(app.url(&format!("/api/media/{id}"))).bearer_auth(&ana).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 204);
    }
    let (status, kept) = upload_raw(&app, &ana, "b.bin", "application/octet-stream", b).await;
    assert_eq!(status, 201, "{kept}");
    // At the quota exactly, then full: refused before the body is read.
    let (status, _) = upload_raw(&app, &ana, "c.bin", "application/octet-stream", noise(3, 4_000)).await;
    assert_eq!(status, 201);
    let (status, body) = upload_raw(&app, &ana, "d.bin", "application/octet-stream", noise(4, 10)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("quota_exceeded")), "{body}");
}

#[tokio::test]
async fn uploads_are_rate_limited_per_user() {
    let app = spawn_app_with(|c| c.media.uploads_per_minute = 3).await;
    let (_, ana) = app.user("ana").await;
    let (_, bob) = app.user("bob").await;
    for i in 0..3 {
        let (status, body) = upload_raw(&app, &ana, "x.bin", "application/octet-stream", noise(i, 100)).await;
        assert_eq!(status, 201, "{body}");
    }
    let res = app
        .http
        .post(app.url("/api/media?name=x.bin"))
        .bearer_auth(&ana)
        .header("Content-Type", "application/octet-stream")
        .body(noise(9, 100))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Bob is not slowed down by ana.
    assert_eq!(upload_raw(&app, &bob, "y.bin", "application/octet-stream", noise(1, 100)).await.0, 201);
}
