//! A local server implementing the documented Vercel and Netlify endpoints
//! the drivers use (the only fake this project allows: public SaaS APIs).
//! It keeps real state (live deploy, locked deploys), checks the bearer
//! token and answers unknown deploys with 404. Used by nfops-promote's
//! driver tests and nfops-ops's promotion tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub const TOKEN: &str = "tok-fake-123";

/// The provider's state: deploys that exist, the live one, locked ones, and
/// every request seen (method and path).
#[derive(Default)]
pub struct Provider {
    pub deploys: Vec<(String, String)>, // (id, context)
    pub live: String,
    pub locked: Vec<String>,
    pub seen: Vec<String>,
    /// Vercel applies a promotion a moment later: answers before it still show the old one.
    pub pending: Option<(String, u32)>,
}

pub type Shared = Arc<Mutex<Provider>>;

fn respond(p: &mut Provider, method: &str, path: &str, auth: Option<&str>) -> (u16, Value) {
    p.seen.push(format!("{method} {path}"));
    if auth != Some(&format!("Bearer {TOKEN}")) {
        return (
            401,
            json!({"error": {"code": "forbidden", "message": "Not authorized"}}),
        );
    }
    if let Some((id, n)) = p.pending.take() {
        if n == 0 {
            p.live = id;
        } else {
            p.pending = Some((id, n - 1));
        }
    }
    let exists = |p: &Provider, id: &str| p.deploys.iter().any(|(d, _)| d == id);
    let parts: Vec<&str> = path
        .split('?')
        .next()
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match (method, parts.as_slice()) {
        // Vercel
        ("GET", ["v9", "projects", id]) => (
            200,
            json!({"id": id, "name": id, "targets": {"production": {"id": p.live}}}),
        ),
        ("GET", ["v6", "deployments"]) => {
            let list: Vec<Value> = p
                .deploys
                .iter()
                .filter(|(_, c)| c == "preview")
                .rev()
                .map(|(d, _)| json!({"uid": d, "state": "READY", "target": null}))
                .collect();
            (200, json!({"deployments": list}))
        }
        ("POST", ["v10", "projects", _, "promote", d]) if exists(p, d) => {
            p.pending = Some(((*d).to_owned(), 1));
            (202, json!({}))
        }
        ("POST", ["v1", "projects", _, "rollback", d]) if exists(p, d) => {
            p.live = (*d).to_owned();
            (201, json!({}))
        }
        // Netlify
        ("GET", ["sites", id]) => (200, json!({"id": id, "published_deploy": {"id": p.live}})),
        ("GET", ["sites", _, "deploys"]) => (
            200,
            Value::Array(
                p.deploys
                    .iter()
                    .rev()
                    .map(|(d, c)| json!({"id": d, "state": "ready", "context": c}))
                    .collect(),
            ),
        ),
        ("POST", ["sites", _, "deploys", d, "restore"]) if exists(p, d) => {
            p.live = (*d).to_owned();
            (200, json!({"id": d, "state": "ready"}))
        }
        ("POST", ["deploys", d, "lock"]) if exists(p, d) => {
            p.locked.push((*d).to_owned());
            (200, json!({"id": d, "locked": true}))
        }
        _ => (404, json!({"code": 404, "message": "Not Found"})),
    }
}

/// Serves `state` on a free loopback port; returns its base URL.
pub async fn serve(state: Shared) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                let mut line = String::new();
                if r.read_line(&mut line).await.is_err() {
                    return;
                }
                let mut it = line.split_whitespace();
                let (method, path) = (
                    it.next().unwrap_or("").to_owned(),
                    it.next().unwrap_or("").to_owned(),
                );
                let mut headers = HashMap::new();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).await.unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body).await;
                let (status, answer) = respond(
                    &mut state.lock().expect("lock"),
                    &method,
                    &path,
                    headers.get("authorization").map(String::as_str),
                );
                let text = answer.to_string();
                let _ = w
                    .write_all(
                        format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                            text.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A provider with `deploys` (id, context), `live` published.
pub fn provider(deploys: &[(&str, &str)], live: &str) -> Shared {
    Arc::new(Mutex::new(Provider {
        deploys: deploys
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
        live: live.to_owned(),
        ..Provider::default()
    }))
}
