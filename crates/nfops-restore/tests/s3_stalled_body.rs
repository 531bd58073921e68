//! Downloading a backup object from S3 whose body stops mid-way: before, the
//! SDK's timeouts ended with the headers and the read waited forever; now the
//! download fails after the idle bound with an error naming the object.
//!
//! The "server" is a loopback listener that answers one GET with headers and
//! a few bytes, then keeps the connection open and silent (as a wedged proxy
//! does). No stack needed.

use std::time::{Duration, Instant};

use nfops_backup::object_store::ObjectStore;
use nfops_core::config::{Config, ObjectDestination};
use nfops_core::credentials::MemoryCredentials;
use nfops_core::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn destination(endpoint: &str) -> ObjectDestination {
    let text = format!(
        "version = 1\n[environments.t]\ntier = \"staging\"\n[environments.t.backup.offsite]\nendpoint = \"{endpoint}\"\npath_style = true\nbucket = \"nf-stall\"\naccess_key_credential = \"k\"\nsecret_key_credential = \"s\"\n"
    );
    let c = Config::parse(std::path::Path::new("t.toml"), &text).expect("config");
    let e = c.environment("t").expect("env");
    e.backup
        .as_ref()
        .and_then(|b| b.offsite.clone())
        .expect("offsite")
}

#[tokio::test]
async fn a_body_that_stops_arriving_fails_after_the_idle_bound() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nContent-Type: application/octet-stream\r\n\r\nfirst bytes")
                .await;
            let _ = sock.flush().await;
            // Silent from here on, connection kept open.
            held.push(sock);
        }
    });

    let creds = MemoryCredentials::default();
    creds.insert("k", "AKIDSTALL");
    creds.insert("s", "secret-stall");
    let store = ObjectStore::connect(&destination(&format!("http://127.0.0.1:{port}")), &creds)
        .expect("client")
        .with_read_idle(Duration::from_secs(3));
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        store.sha256("production/b1/data/x"),
    )
    .await
    .expect("the download must end by itself, not hang (it hung before the idle bound)");
    let err = r.expect_err("a stalled body is an error, not a short object");
    let took = started.elapsed();
    assert_eq!(err.code(), ErrorCode::Unreachable, "{err}");
    assert!(
        err.message().contains("stalled") && err.message().contains("production/b1/data/x"),
        "the error names the object and says it stalled: {}",
        err.message()
    );
    assert!(
        took < Duration::from_secs(20),
        "the bound (3 s) decides, not some later timeout: took {took:?}"
    );
    server.abort();
}
