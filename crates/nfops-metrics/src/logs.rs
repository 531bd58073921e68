//! Structured log lines of the platform (JSON: `ts`, `level`, `category`,
//! `msg`, `app`, `host`, ...), parsed and filtered the same way whether they
//! came from PM2's files over SSH or from Loki.

use serde::Serialize;

/// Levels from least to most severe; a filter on a level keeps it and
/// everything more severe.
pub const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];
/// The platform's log categories.
pub const CATEGORIES: [&str; 5] = ["application", "error", "access", "security", "worker"];

fn severity(level: &str) -> usize {
    let l = level.to_ascii_lowercase();
    let l = if l == "warning" { "warn".to_owned() } else { l };
    LEVELS.iter().position(|x| *x == l).unwrap_or(2)
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// RFC 3339 as written by the app; sorts as time.
    pub ts: String,
    pub level: String,
    pub category: String,
    pub msg: String,
    pub app: String,
    pub host: String,
    /// The whole line (other fields: route, status, duration ...), as JSON text.
    pub raw: String,
}

/// What to keep.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Minimum level (`warn` keeps warn, error, fatal).
    pub level: Option<String>,
    pub category: Option<String>,
    pub host: Option<String>,
}

impl LogFilter {
    pub fn keeps(&self, e: &LogEntry) -> bool {
        self.level
            .as_deref()
            .is_none_or(|l| severity(&e.level) >= severity(l))
            && self
                .category
                .as_deref()
                .is_none_or(|c| e.category.eq_ignore_ascii_case(c))
            && self.host.as_deref().is_none_or(|h| e.host == h)
    }

    /// Errors: `input.invalid` for a level or category the platform does not use.
    pub fn validate(&self) -> nfops_core::Result<()> {
        use nfops_core::{Error, ErrorCode};
        if let Some(l) = &self.level {
            if !LEVELS.contains(&l.to_ascii_lowercase().as_str()) {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("unknown log level '{l}'"),
                )
                .hint(format!("Levels: {}", LEVELS.join(", "))));
            }
        }
        if let Some(c) = &self.category {
            if !CATEGORIES.contains(&c.to_ascii_lowercase().as_str()) {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("unknown log category '{c}'"),
                )
                .hint(format!("Categories: {}", CATEGORIES.join(", "))));
            }
        }
        Ok(())
    }
}

/// Parses one JSON line; `host` fills in when the line has none. A line that
/// is not JSON (a stack trace, PM2's own messages) becomes an `info` entry of
/// category `application` with the text as its message, so nothing is lost.
pub fn parse_line(line: &str, host: &str, app: &str) -> Option<LogEntry> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let v: serde_json::Value = match serde_json::from_str(line) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => {
            return Some(LogEntry {
                ts: String::new(),
                level: "info".into(),
                category: "application".into(),
                msg: crate::bounded(line, 2000),
                app: app.to_owned(),
                host: host.to_owned(),
                raw: crate::bounded(line, 4000),
            })
        }
    };
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    Some(LogEntry {
        ts: s("ts").or_else(|| s("time")).unwrap_or_default(),
        level: s("level").unwrap_or_else(|| "info".into()),
        category: s("category").unwrap_or_else(|| "application".into()),
        msg: crate::bounded(&s("msg").or_else(|| s("message")).unwrap_or_default(), 2000),
        app: s("app").unwrap_or_else(|| app.to_owned()),
        host: s("host").unwrap_or_else(|| host.to_owned()),
        raw: crate::bounded(line, 4000),
    })
}

/// Sorts `entries` by time (stable: lines of one file keep their order) and
/// keeps the newest `limit`.
pub fn newest(mut entries: Vec<LogEntry>, limit: usize) -> Vec<LogEntry> {
    entries.sort_by(|a, b| a.ts.cmp(&b.ts));
    let cut = entries.len().saturating_sub(limit);
    entries.split_off(cut)
}

/// The newest `limit` lines of the last `since_seconds` from Loki at `url`
/// for stream selector `selector` (e.g. `env="production"`), oldest first.
///
/// Errors: `service.unreachable` when Loki cannot be reached;
/// `service.unhealthy` when it answers with an error (its text, bounded).
pub async fn loki_query(
    url: &str,
    selector: &str,
    limit: usize,
    since_seconds: u64,
) -> nfops_core::Result<Vec<LogEntry>> {
    use nfops_core::{Error, ErrorCode};
    let base = url.trim_end_matches('/');
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let start = now.saturating_sub(u128::from(since_seconds) * 1_000_000_000);
    let query = format!(
        "{{{}}}",
        selector
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
    );
    let client = nfops_core::http::client_builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| Error::internal(format!("cannot build an HTTP client: {e}")))?;
    let response = client
        .get(format!("{base}/loki/api/v1/query_range"))
        .query(&[
            ("query", query.as_str()),
            ("limit", &limit.to_string()),
            ("start", &start.to_string()),
            ("end", &now.to_string()),
            ("direction", "backward"),
        ])
        .send()
        .await
        .map_err(|e| {
            Error::new(ErrorCode::Unreachable, format!("Loki at {base} did not answer"))
                .hint("Check monitoring.loki_url in environments.toml and that Loki is reachable from here.")
                .source(e)
        })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(Error::new(
            ErrorCode::Unhealthy,
            format!(
                "Loki at {base} refused {query}: {} {}",
                status.as_u16(),
                crate::bounded(body.trim(), 300)
            ),
        ));
    }
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
        Error::new(
            ErrorCode::Unhealthy,
            format!("Loki at {base} answered with something that is not JSON"),
        )
    })?;
    let mut entries = Vec::new();
    for stream in v["data"]["result"].as_array().into_iter().flatten() {
        let host = stream["stream"]["host"].as_str().unwrap_or("");
        let app = stream["stream"]["app"].as_str().unwrap_or("");
        for pair in stream["values"].as_array().into_iter().flatten() {
            if let Some(line) = pair.get(1).and_then(|l| l.as_str()) {
                entries.extend(parse_line(line, host, app));
            }
        }
    }
    Ok(newest(entries, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS: &str = r#"{"ts":"2026-01-01T00:00:02.000Z","level":"info","category":"access","msg":"GET /health 200","app":"nf-api","host":"prod-app-1","status":200}"#;
    const FAIL: &str = r#"{"ts":"2026-01-01T00:00:01.000Z","level":"error","category":"error","msg":"db down","app":"nf-api","host":"prod-app-2"}"#;

    #[test]
    fn filters_by_minimum_level_category_and_host() {
        let a = parse_line(ACCESS, "x", "y").expect("entry");
        let f = parse_line(FAIL, "x", "y").expect("entry");
        assert_eq!(a.host, "prod-app-1", "the line's own host wins");
        let warn = LogFilter {
            level: Some("warn".into()),
            ..Default::default()
        };
        assert!(!warn.keeps(&a) && warn.keeps(&f));
        let access = LogFilter {
            category: Some("ACCESS".into()),
            ..Default::default()
        };
        assert!(access.keeps(&a) && !access.keeps(&f));
        let host = LogFilter {
            host: Some("prod-app-2".into()),
            ..Default::default()
        };
        assert!(!host.keeps(&a) && host.keeps(&f));
    }

    #[test]
    fn plain_text_is_kept_and_newest_sorts_by_time() {
        let t = parse_line("    at Object.<anonymous> (server.js:1)", "h", "nf-api").expect("kept");
        assert_eq!((t.level.as_str(), t.host.as_str()), ("info", "h"));
        let entries = vec![
            parse_line(ACCESS, "", "").expect("a"),
            parse_line(FAIL, "", "").expect("f"),
        ];
        let last = newest(entries, 1);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].msg, "GET /health 200", "the newer line is kept");
    }

    #[test]
    fn unknown_levels_and_categories_are_refused() {
        assert!(LogFilter {
            level: Some("loud".into()),
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(LogFilter {
            category: Some("audit".into()),
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(LogFilter {
            level: Some("WARN".into()),
            category: Some("worker".into()),
            host: None
        }
        .validate()
        .is_ok());
    }
}
