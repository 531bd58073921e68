//! A small Prometheus HTTP API client: instant and range queries.
//!
//! Every error names the Prometheus server (without credentials in its URL),
//! the query, and Prometheus's own error text, each bounded in length.

use std::collections::BTreeMap;
use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use serde_json::Value;

use crate::bounded;

/// Label set of one series.
pub type Labels = BTreeMap<String, String>;

/// One series of a range query: its labels and `(unix seconds, value)`
/// points in time order. `NaN` values (e.g. a quantile of no traffic) are
/// kept: they are gaps, not zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<(f64, f64)>,
}

/// One sample of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub at: f64,
    pub value: f64,
}

/// A Prometheus server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Prometheus {
    base: String,
    shown: String,
    http: reqwest::Client,
}

impl Prometheus {
    /// A client for the server at `url` (`http://host:9090`, maybe with a path prefix).
    ///
    /// Errors: `internal` when the HTTP client cannot be built.
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        let http = nfops_core::http::client_builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| Error::internal(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            shown: shown_url(url),
            http,
        })
    }

    /// The server's URL as shown to people (no user:password part).
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// `query` evaluated now.
    ///
    /// Errors: `service.unreachable` when the server does not answer;
    /// `service.unhealthy` with Prometheus's error text when it refuses the
    /// query or answers with something that is not an instant vector.
    pub async fn instant(&self, query: &str) -> Result<Vec<Sample>> {
        let data = self.call("query", query, &[]).await?;
        parse_vector(&data).map_err(|why| self.refused(query, &why))
    }

    /// `query` over `[start, end]` every `step` seconds.
    ///
    /// Errors: as [`Prometheus::instant`].
    pub async fn range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: u64,
    ) -> Result<Vec<RangeSeries>> {
        let params = [
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", step.to_string()),
        ];
        let data = self.call("query_range", query, &params).await?;
        parse_matrix(&data).map_err(|why| self.refused(query, &why))
    }

    /// The alerts Prometheus has pending or firing (all of them: the API
    /// takes no selector; [`crate::pulse::open_alerts`] narrows them).
    ///
    /// Errors: as [`Prometheus::instant`].
    pub async fn alerts(&self) -> Result<Vec<crate::pulse::AlertDetail>> {
        let what = "its alerts";
        let url = format!("{}/api/v1/alerts", self.base);
        let data = self.send(what, self.http.get(&url)).await?;
        parse_alerts(&data).map_err(|why| self.refused(what, &why))
    }

    async fn call(&self, endpoint: &str, query: &str, extra: &[(&str, String)]) -> Result<Value> {
        let mut form: Vec<(&str, &str)> = vec![("query", query)];
        form.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let url = format!("{}/api/v1/{endpoint}", self.base);
        self.send(query, self.http.post(&url).form(&form)).await
    }

    /// Sends `request` and unwraps the API's `data`; `query` names what was asked in errors.
    async fn send(&self, query: &str, request: reqwest::RequestBuilder) -> Result<Value> {
        let resp = request.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "timed out".to_owned()
            } else {
                nfops_core::http::certificate_problem(&e).unwrap_or_else(|| bounded(&root_cause(&e), 200))
            };
            Error::new(
                ErrorCode::Unreachable,
                format!("Prometheus at {} did not answer {}: {why}", self.shown, bounded(query, 300)),
            )
            .hint("Check monitoring.prometheus_url in environments.toml and that Prometheus is running.")
            .source(e)
        })?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| {
            Error::new(
                ErrorCode::Unreachable,
                format!(
                    "Prometheus at {} broke off its answer to {}",
                    self.shown,
                    bounded(query, 300)
                ),
            )
            .source(e)
        })?;
        let v: Value = serde_json::from_str(&body).map_err(|_| {
            self.refused(
                query,
                &format!(
                    "HTTP {}, not a Prometheus API answer: {}",
                    status.as_u16(),
                    bounded(body.trim(), 120)
                ),
            )
        })?;
        if v.get("status").and_then(Value::as_str) != Some("success") {
            let kind = v
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let text = v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no error text");
            return Err(self.refused(
                query,
                &format!("{}: {}", bounded(kind, 40), bounded(text, 300)),
            ));
        }
        v.get("data")
            .cloned()
            .ok_or_else(|| self.refused(query, "answer has no data"))
    }

    fn refused(&self, query: &str, why: &str) -> Error {
        Error::new(
            ErrorCode::Unhealthy,
            format!("Prometheus at {} refused {}: {why}", self.shown, bounded(query, 300)),
        )
        .hint("Check that prometheus_url is the Prometheus server itself and that its version supports the query.")
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// `url` without any `user:password@`.
fn shown_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.trim_end_matches('/').to_owned(),
    }
}

fn labels(series: &Value) -> Labels {
    series
        .get("metric")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// `[ts, "value"]` → `(ts, value)`; `"NaN"`, `"+Inf"` parse as floats.
fn point(p: &Value) -> Option<(f64, f64)> {
    let ts = p.get(0)?.as_f64()?;
    let v = p.get(1)?.as_str()?.parse::<f64>().ok()?;
    Some((ts, v))
}

pub(crate) fn parse_vector(data: &Value) -> std::result::Result<Vec<Sample>, String> {
    if data.get("resultType").and_then(Value::as_str) != Some("vector") {
        return Err("answer is not an instant vector".into());
    }
    let result = data
        .get("result")
        .and_then(Value::as_array)
        .ok_or("answer has no result list")?;
    result
        .iter()
        .map(|s| {
            let (at, value) = s
                .get("value")
                .and_then(point)
                .ok_or("a sample has no value")?;
            Ok(Sample {
                labels: labels(s),
                at,
                value,
            })
        })
        .collect()
}

pub(crate) fn parse_alerts(
    data: &Value,
) -> std::result::Result<Vec<crate::pulse::AlertDetail>, String> {
    let list = data
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or("answer has no alert list")?;
    let strings = |v: Option<&Value>| -> BTreeMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(list
        .iter()
        .map(|a| crate::pulse::AlertDetail {
            labels: strings(a.get("labels")),
            annotations: strings(a.get("annotations")),
            active_at: a
                .get("activeAt")
                .and_then(Value::as_str)
                .map(|t| crate::bounded(t, 40)),
        })
        .collect())
}

pub(crate) fn parse_matrix(data: &Value) -> std::result::Result<Vec<RangeSeries>, String> {
    if data.get("resultType").and_then(Value::as_str) != Some("matrix") {
        return Err("answer is not a range vector".into());
    }
    let result = data
        .get("result")
        .and_then(Value::as_array)
        .ok_or("answer has no result list")?;
    result
        .iter()
        .map(|s| {
            let values = s
                .get("values")
                .and_then(Value::as_array)
                .ok_or("a series has no values")?;
            let points = values
                .iter()
                .map(point)
                .collect::<Option<Vec<_>>>()
                .ok_or("a point is malformed")?;
            Ok(RangeSeries {
                labels: labels(s),
                points,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_answers_keep_labels_annotations_and_since() {
        let v: Value = serde_json::from_str(
            r#"{"alerts":[{"labels":{"alertname":"TargetDown","env":"staging"},"annotations":{"summary":"down"},"state":"firing","activeAt":"2026-12-07T10:00:00Z","value":"0e+00"},{"labels":{"alertname":"X"},"state":"pending"}]}"#,
        )
        .expect("json");
        let a = parse_alerts(&v).expect("alerts");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].labels.get("env").map(String::as_str), Some("staging"));
        assert_eq!(
            a[0].annotations.get("summary").map(String::as_str),
            Some("down")
        );
        assert_eq!(a[0].active_at.as_deref(), Some("2026-12-07T10:00:00Z"));
        assert!(a[1].annotations.is_empty() && a[1].active_at.is_none());
        assert!(parse_alerts(&serde_json::json!({"result": []})).is_err());
    }

    #[test]
    fn matrix_answers_become_series() {
        let v: Value = serde_json::from_str(
            r#"{"resultType":"matrix","result":[{"metric":{"host":"a"},"values":[[10,"1.5"],[15,"NaN"]]}]}"#,
        )
        .expect("json");
        let s = parse_matrix(&v).expect("matrix");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].labels.get("host").map(String::as_str), Some("a"));
        assert_eq!(s[0].points[0], (10.0, 1.5));
        assert!(s[0].points[1].1.is_nan(), "NaN stays a gap, not a zero");
        assert!(parse_matrix(&serde_json::json!({"resultType":"vector","result":[]})).is_err());
    }

    #[test]
    fn credentials_never_show_in_the_url() {
        assert_eq!(
            shown_url("https://u:p@prom.example:9090/"),
            "https://prom.example:9090/"
        );
        assert_eq!(shown_url("http://127.0.0.1:9090/"), "http://127.0.0.1:9090");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named_with_the_query() {
        let p = Prometheus::new("http://127.0.0.1:9", Duration::from_secs(2)).expect("client");
        let e = p
            .instant("up{env=\"x\"}")
            .await
            .expect_err("nothing listens on port 9");
        assert_eq!(e.code(), ErrorCode::Unreachable);
        assert!(
            e.message().contains("up{env=\"x\"}"),
            "the query is in the message: {}",
            e.message()
        );
        assert!(e.message().contains("127.0.0.1:9"), "{}", e.message());
    }
}
