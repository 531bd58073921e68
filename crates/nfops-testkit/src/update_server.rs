//! A local update server (a static file server on 127.0.0.1, like the S3
//! bucket or nginx a company mirror is) and update signing with the pinned
//! Tauri CLI, for the desktop updater's tests (`tests/updater.rs`,
//! `tests/e2e_updates.rs`).
//!
//! Keys are made per test run in a temp folder; none is ever committed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a path answers: a status and a body.
pub type Files = Arc<Mutex<HashMap<String, (u16, Vec<u8>)>>>;

/// A running server: `url(path)` for its files, `files` to change them.
pub struct UpdateServer {
    pub base: String,
    pub files: Files,
}

impl UpdateServer {
    /// Serves `files` on a free loopback port until the runtime ends.
    pub async fn start() -> Self {
        let files: Files = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = files.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let files = served.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if sock.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head);
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let path = path.split('?').next().unwrap_or("/").to_owned();
                    let (status, body) = files
                        .lock()
                        .expect("lock")
                        .get(&path)
                        .cloned()
                        .unwrap_or((404, b"not found".to_vec()));
                    let header = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(header.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                });
            }
        });
        Self {
            base: format!("http://{addr}"),
            files,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Serves `body` at `path` with HTTP `status`.
    pub fn put(&self, path: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.files
            .lock()
            .expect("lock")
            .insert(path.to_owned(), (status, body.into()));
    }
}

/// A loopback port that accepts connections and never answers.
pub async fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock); // kept open, never read or written
        }
    });
    format!("http://{addr}/latest.json")
}

/// A loopback URL where nothing listens (the port was just freed).
pub fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}/latest.json")
}

/// The pinned Tauri CLI (`ui/node_modules/.bin/tauri`, installed by
/// scripts/ensure-deps), or `NFOPS_TAURI_CLI`.
pub fn tauri_cli() -> PathBuf {
    if let Some(p) = std::env::var_os("NFOPS_TAURI_CLI") {
        return PathBuf::from(p);
    }
    let p = crate::repo().join("ui/node_modules/.bin/tauri");
    assert!(
        p.exists(),
        "the Tauri CLI is not installed at {}: run scripts/ensure-deps (or set NFOPS_TAURI_CLI)",
        p.display()
    );
    p
}

/// An update signing key pair made by `tauri signer generate`.
pub struct SigningKey {
    pub private_key: PathBuf,
    /// The `.pub` file's text: what `plugins.updater.pubkey` holds.
    pub public_key: String,
}

/// The password of every test key.
pub const PASSWORD: &str = "test-only";

impl SigningKey {
    /// A new key pair in `dir` named `name`.
    pub fn generate(dir: &Path, name: &str) -> Self {
        let private_key = dir.join(name);
        let out = Command::new(tauri_cli())
            .args(["signer", "generate", "--ci", "-p", PASSWORD, "-f", "-w"])
            .arg(&private_key)
            .output()
            .expect("run tauri signer generate");
        assert!(out.status.success(), "tauri signer generate: {out:?}");
        let public_key = std::fs::read_to_string(private_key.with_extension("pub"))
            .or_else(|_| std::fs::read_to_string(format!("{}.pub", private_key.display())))
            .expect("read public key")
            .trim()
            .to_owned();
        Self {
            private_key,
            public_key,
        }
    }

    /// `tauri signer sign --app-version version file`: the `.sig` text.
    pub fn sign(&self, file: &Path, version: &str) -> String {
        let out = Command::new(tauri_cli())
            .args(["signer", "sign", "-f"])
            .arg(&self.private_key)
            .args(["-p", PASSWORD, "--app-version", version])
            .arg(file)
            .output()
            .expect("run tauri signer sign");
        assert!(out.status.success(), "tauri signer sign: {out:?}");
        std::fs::read_to_string(format!("{}.sig", file.display()))
            .expect("read .sig")
            .trim()
            .to_owned()
    }
}

/// A `latest.json` as `make release` writes it, one platform entry for the
/// updater's `target` of this machine (`linux-x86_64`, ...).
pub fn manifest(version: &str, notes: &str, url: &str, signature: &str, size: u64) -> String {
    let target = format!("{}-{}", os_name(), std::env::consts::ARCH);
    serde_json::json!({
        "version": version,
        "notes": notes,
        "pub_date": "2026-12-07T08:00:00Z",
        "platforms": {
            target: { "url": url, "signature": signature, "size": size }
        }
    })
    .to_string()
}

fn os_name() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}
