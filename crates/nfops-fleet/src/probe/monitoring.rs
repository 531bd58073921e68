//! Prometheus: are this environment's scrape targets up?

use std::time::Duration;

use nfops_core::config::Monitoring;
use nfops_core::{Error, ErrorCode, Result};
use serde_json::Value;

use super::backend::{display_url, http_client, request_error};
use super::bounded;

/// Queries `up{selector}`; ok when Prometheus answers and every target is up.
/// Summary: "5/5 targets up".
///
/// Errors: `service.unreachable` when Prometheus does not answer;
/// `service.unhealthy` listing the down targets (job/instance), or when no
/// target matches the selector.
pub(super) async fn probe(m: &Monitoring, timeout: Duration) -> Result<String> {
    let shown = display_url(&m.prometheus_url);
    let url = format!("{}/api/v1/query", m.prometheus_url.trim_end_matches('/'));
    let query = up_query(m.selector.as_deref());
    let client = http_client(timeout)?;
    let what = format!("Prometheus at {shown}");
    let resp = client
        .get(&url)
        .query(&[("query", query.as_str())])
        .send()
        .await
        .map_err(|e| request_error(&what, e))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| request_error(&what, e))?;
    let targets = parse_up(&body).map_err(|why| {
        Error::new(
            ErrorCode::Unhealthy,
            format!("Prometheus at {shown} answered HTTP {} to {query}: {why}", status.as_u16()),
        )
        .hint("Check prometheus_url (it must be the Prometheus server itself) and monitoring.selector.")
    })?;
    if targets.total == 0 {
        return Err(Error::new(ErrorCode::Unhealthy, format!("no scrape target matches {query} in Prometheus at {shown}"))
            .hint("Check monitoring.selector in environments.toml; a just-started Prometheus needs a few seconds for its first scrape."));
    }
    let up = targets.total - targets.down.len();
    if targets.down.is_empty() {
        return Ok(format!("{up}/{} targets up", targets.total));
    }
    Err(Error::new(
        ErrorCode::Unhealthy,
        format!("{up}/{} targets up; down: {}", targets.total, targets.down.join(", ")),
    )
    .hint("Check the exporters (node, mysqld, app) on the hosts listed, and Prometheus' Targets page."))
}

/// `up{<selector>}`, or `up` without a selector.
pub(crate) fn up_query(selector: Option<&str>) -> String {
    match selector.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => format!("up{{{}}}", s.trim_start_matches('{').trim_end_matches('}')),
        None => "up".to_owned(),
    }
}

/// What a `up` query said.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UpTargets {
    pub total: usize,
    /// `job/instance` (plus ` (host)` when the series has a `host` label) of
    /// every target whose `up` is not 1, sorted.
    pub down: Vec<String>,
}

/// Parses a Prometheus instant-query answer for `up`. `Err` says, in a few
/// words, why the answer is not usable (error status, wrong result type).
pub(crate) fn parse_up(body: &str) -> std::result::Result<UpTargets, String> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| format!("not a Prometheus API answer: {}", bounded(body, 120)))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        let e = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error text");
        return Err(format!("query failed: {}", bounded(e, 160)));
    }
    let data = v.get("data").ok_or("answer has no data")?;
    if data.get("resultType").and_then(Value::as_str) != Some("vector") {
        return Err("answer is not an instant vector".to_owned());
    }
    let result = data
        .get("result")
        .and_then(Value::as_array)
        .ok_or("answer has no result list")?;
    let mut down = Vec::new();
    for series in result {
        let value = series
            .get("value")
            .and_then(|v| v.get(1))
            .and_then(Value::as_str)
            .unwrap_or("");
        if value.parse::<f64>().ok() != Some(1.0) {
            let label = |k: &str| {
                series
                    .get("metric")
                    .and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned()
            };
            let mut name = format!(
                "{}/{}",
                bounded(&label("job"), 60),
                bounded(&label("instance"), 80)
            );
            if let Some(host) = series
                .get("metric")
                .and_then(|m| m.get("host"))
                .and_then(Value::as_str)
            {
                name.push_str(&format!(" ({})", bounded(host, 60)));
            }
            down.push(name);
        }
    }
    down.sort();
    Ok(UpTargets {
        total: result.len(),
        down,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_up() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","env":"production","instance":"127.0.0.1:9100","job":"node"},"value":[1714000000.123,"1"]},
            {"metric":{"__name__":"up","env":"production","instance":"127.0.0.1:9104","job":"mysqld"},"value":[1714000000.123,"1"]}]}}"#;
        assert_eq!(
            parse_up(body),
            Ok(UpTargets {
                total: 2,
                down: vec![]
            })
        );
    }

    #[test]
    fn down_targets_are_named_by_job_and_instance() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"instance":"h2:9100","job":"node"},"value":[1,"0"]},
            {"metric":{"instance":"h1:3000","job":"app","host":"prod-app-1"},"value":[1,"0"]},
            {"metric":{"instance":"h1:9100","job":"node"},"value":[1,"1"]}]}}"#;
        assert_eq!(
            parse_up(body),
            Ok(UpTargets {
                total: 3,
                down: vec!["app/h1:3000 (prod-app-1)".into(), "node/h2:9100".into()]
            })
        );
    }

    #[test]
    fn errors_and_odd_answers_are_explained() {
        let err = parse_up(
            r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#,
        )
        .expect_err("error status");
        assert!(err.contains("parse error at char 4"), "{err}");
        assert!(parse_up("<html>nginx</html>")
            .expect_err("html")
            .contains("not a Prometheus API answer"));
        assert!(
            parse_up(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#).is_err()
        );
        assert_eq!(
            parse_up(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#),
            Ok(UpTargets {
                total: 0,
                down: vec![]
            })
        );
    }

    #[test]
    fn selector_goes_inside_braces() {
        assert_eq!(
            up_query(Some(r#"env="production""#)),
            r#"up{env="production"}"#
        );
        assert_eq!(
            up_query(Some(r#"{env="staging"}"#)),
            r#"up{env="staging"}"#,
            "braces given by the user are not doubled"
        );
        assert_eq!(up_query(None), "up");
        assert_eq!(up_query(Some("  ")), "up");
    }
}
