//! Backend health: `GET health_url` through nginx.

use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use serde_json::Value;

use super::bounded;

/// Largest health body read; the rest is ignored.
const MAX_BODY: usize = 64 * 1024;

/// Healthy only on HTTP 200; the summary comes from the JSON body.
/// Redirects are followed only within the same host (at most 5).
pub(super) async fn probe(url: &str, shown: &str, timeout: Duration) -> Result<String> {
    let client = http_client(timeout)?;
    let what = format!("backend health at {shown}");
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| request_error(&what, e))?;
    let status = resp.status();
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        match resp.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c),
            Ok(None) => break,
            Err(e) => return Err(request_error(&what, e)),
        }
    }
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if status == reqwest::StatusCode::OK {
        return Ok(json
            .as_ref()
            .map(health_summary)
            .unwrap_or_else(|| "healthy (HTTP 200)".to_owned()));
    }
    let detail = match &json {
        Some(v) => health_summary(v),
        None if status.is_redirection() => "redirect to another host, not followed".to_owned(),
        None => bounded(&String::from_utf8_lossy(&body), 200),
    };
    let mut message = format!(
        "backend health at {shown} answered HTTP {}",
        status.as_u16()
    );
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(&detail);
    }
    Err(Error::new(ErrorCode::Unhealthy, message)
        .hint("Check the backend's logs on its hosts (pm2 logs) and the services it depends on."))
}

/// A client for the platform's HTTP endpoints: the OS trust store and proxy, bounded time, and
/// redirects followed only to the same host.
pub(super) fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same_host = attempt
            .previous()
            .first()
            .map(|u| (u.host_str(), u.port_or_known_default()))
            == Some((
                attempt.url().host_str(),
                attempt.url().port_or_known_default(),
            ));
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if same_host {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    nfops_core::http::client_builder()
        .redirect(policy)
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| Error::internal("cannot set up the HTTP client").source(e))
}

/// Maps a reqwest failure to `service.unreachable` with a short reason;
/// `what` names the service and its address ("Prometheus at http://…").
/// The URL is stripped from the kept source: it may carry credentials.
pub(super) fn request_error(what: &str, e: reqwest::Error) -> Error {
    let e = e.without_url();
    let reason = if e.is_timeout() {
        "timed out".to_owned()
    } else if let Some(why) = nfops_core::http::certificate_problem(&e) {
        why
    } else if e.is_connect() {
        io_reason(&e).unwrap_or_else(|| "cannot connect".to_owned())
    } else if e.is_redirect() {
        "too many redirects".to_owned()
    } else {
        "the request failed".to_owned()
    };
    Error::new(ErrorCode::Unreachable, format!("{what} is unreachable: {reason}"))
        .hint("Check that the service runs and that this machine can reach it (URL, DNS, firewall, TLS certificate).")
        .source(e)
}

/// The I/O reason buried in an error chain ("connection refused").
pub(crate) fn io_reason(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
                _ => io.to_string(),
            });
        }
        cur = err.source();
    }
    None
}

/// `scheme://host[:port]/path` of `url`: no credentials, no query, for messages.
pub(crate) fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = if u.path() == "/" { "" } else { u.path() };
            format!("{}://{host}{port}{path}", u.scheme())
        }
        Err(_) => bounded(url.split(['?', '#']).next().unwrap_or(""), 120),
    }
}

/// "healthy (db ok, redis ok), release v1" from a health document such as
/// `{"status":"ok","release":"v1","checks":{"db":{"ok":true},"redis":{"ok":true}}}`.
///
/// Understands `status` (string), `checks` / `details` / `components`
/// (object of booleans, strings, or objects with `ok` / `status` / `error`),
/// and `release` / `version`. Everything is bounded; nothing else is echoed.
pub(crate) fn health_summary(v: &Value) -> String {
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let word = match status.as_deref() {
        None | Some("ok" | "healthy" | "up" | "pass" | "green") => "healthy".to_owned(),
        Some(other) => bounded(other, 40),
    };
    let checks = ["checks", "details", "components"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_object));
    let mut parts = Vec::new();
    for (name, check) in checks.into_iter().flatten().take(12) {
        let (ok, error) = match check {
            Value::Bool(b) => (*b, None),
            Value::String(s) => (is_ok_word(s), (!is_ok_word(s)).then(|| s.clone())),
            Value::Object(o) => {
                let ok = match (
                    o.get("ok").and_then(Value::as_bool),
                    o.get("status").and_then(Value::as_str),
                ) {
                    (Some(b), _) => b,
                    (None, Some(s)) => is_ok_word(s),
                    (None, None) => false,
                };
                (
                    ok,
                    o.get("error").and_then(Value::as_str).map(str::to_owned),
                )
            }
            _ => (false, None),
        };
        let name = bounded(name, 30);
        parts.push(match (ok, error) {
            (true, _) => format!("{name} ok"),
            (false, Some(e)) => format!("{name} failed: {}", bounded(&e, 120)),
            (false, None) => format!("{name} failed"),
        });
    }
    let mut out = word;
    if !parts.is_empty() {
        out.push_str(&format!(" ({})", parts.join(", ")));
    }
    if let Some(r) = ["release", "version"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
    {
        out.push_str(&format!(", release {}", bounded(r, 40)));
    }
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        out.push_str(&format!(": {}", bounded(e, 120)));
    }
    out
}

fn is_ok_word(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "ok" | "healthy" | "up" | "pass" | "green"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn platform_health_document_is_summarised() {
        let v = json!({"status":"ok","release":"v1","checks":{"db":{"ok":true,"ms":3},"redis":{"ok":true,"ms":1}}});
        assert_eq!(health_summary(&v), "healthy (db ok, redis ok), release v1");
        let v = json!({"status":"degraded","release":"v2","checks":{"db":{"ok":true},"redis":{"ok":false,"error":"connect ECONNREFUSED 127.0.0.1:6379"}}});
        assert_eq!(
            health_summary(&v),
            "degraded (db ok, redis failed: connect ECONNREFUSED 127.0.0.1:6379), release v2"
        );
        let v = json!({"status":"error","release":"v3","checks":{},"error":"release self-check failed"});
        assert_eq!(
            health_summary(&v),
            "error, release v3: release self-check failed"
        );
    }

    #[test]
    fn other_health_shapes_still_read_well() {
        assert_eq!(
            health_summary(&json!({"status":"UP","components":{"db":{"status":"UP"}}})),
            "healthy (db ok)"
        );
        assert_eq!(
            health_summary(&json!({"checks":{"db":"ok","cache":"down"}})),
            "healthy (cache failed: down, db ok)",
            "checks are listed by name"
        );
        assert_eq!(health_summary(&json!([1, 2])), "healthy");
    }

    #[test]
    fn urls_in_messages_carry_no_credentials_or_query() {
        assert_eq!(
            display_url("https://user:pw@api.example.com:8443/health?token=x"),
            "https://api.example.com:8443/health"
        );
        assert_eq!(
            display_url("http://127.0.0.1:18080/"),
            "http://127.0.0.1:18080"
        );
    }
}
