//! The checks that ask the running services: the app's health and smoke
//! requests, and the worker queue.

use std::time::Duration;

use nfops_core::config::Environment;
use nfops_core::Result;

use super::{CheckRequest, CheckResult, Finding};

/// The health URL and smoke requests through the front (nginx).
pub(super) async fn app_health(env: &Environment) -> (CheckResult, Vec<Finding>) {
    let Some(health) = env.health_url.as_ref().map(|h| h.get_ref().clone()) else {
        return (
            CheckResult {
                seconds: 0.0,
                name: "app".into(),
                ok: true,
                detail: "no health_url configured: skipped".into(),
            },
            vec![],
        );
    };
    let client = match nfops_core::http::client_builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return (
                CheckResult {
                    seconds: 0.0,
                    name: "app".into(),
                    ok: false,
                    detail: format!("no HTTP client: {e}"),
                },
                vec![],
            )
        }
    };
    let base = health
        .trim_end_matches("/health")
        .trim_end_matches('/')
        .to_owned();
    let mut findings = Vec::new();
    let mut urls = vec![health.clone()];
    for p in ["/version", "/users?limit=5", "/orders", "/files"] {
        urls.push(format!("{base}{p}"));
    }
    for u in &urls {
        match client.get(u).send().await {
            Ok(r) if r.status().is_success() => {
                if *u == health {
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    if body.get("status").and_then(|s| s.as_str()) != Some("ok") {
                        findings.push(Finding {
                            check: "app".into(),
                            subject: u.clone(),
                            problem: format!(
                                "health status is {}",
                                body.get("status").cloned().unwrap_or_default()
                            ),
                        });
                    }
                }
            }
            Ok(r) => findings.push(Finding {
                check: "app".into(),
                subject: u.clone(),
                problem: format!("answered HTTP {}", r.status().as_u16()),
            }),
            Err(e) => findings.push(Finding {
                check: "app".into(),
                subject: u.clone(),
                problem: format!(
                    "no answer ({})",
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    }
                ),
            }),
        }
    }
    (
        CheckResult {
            seconds: 0.0,
            name: "app".into(),
            ok: findings.is_empty(),
            detail: format!("{} request(s) through {base}", urls.len()),
        },
        findings,
    )
}

/// The worker queue is empty or shrinking over two seconds.
pub(super) async fn queue_draining(req: &CheckRequest) -> (CheckResult, Vec<Finding>) {
    let result: Result<(u64, u64, String)> = async {
        let Some(cache) = req.env.cache.as_ref() else {
            return Ok((0, 0, String::new()));
        };
        let key = format!("{}queue:jobs", cache.key_prefix.clone().unwrap_or_default());
        let mut conn =
            crate::cache::connect(&req.env, req.creds.as_ref(), &req.known_hosts, cache).await?;
        let a: u64 = redis::cmd("LLEN")
            .arg(&key)
            .query_async(&mut conn.conn)
            .await
            .map_err(|e| crate::cache::error(cache, e))?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let b: u64 = redis::cmd("LLEN")
            .arg(&key)
            .query_async(&mut conn.conn)
            .await
            .map_err(|e| crate::cache::error(cache, e))?;
        Ok((a, b, key))
    }
    .await;
    match result {
        Ok((_, _, k)) if k.is_empty() => (
            CheckResult {
                seconds: 0.0,
                name: "workers".into(),
                ok: true,
                detail: "no cache configured: skipped".into(),
            },
            vec![],
        ),
        Ok((a, b, key)) => {
            let ok = b == 0 || b < a;
            (
                CheckResult {
                    seconds: 0.0,
                    name: "workers".into(),
                    ok,
                    detail: format!("queue {key}: {a} then {b} job(s) two seconds later"),
                },
                if ok {
                    vec![]
                } else {
                    vec![Finding {
                        check: "workers".into(),
                        subject: key,
                        problem: format!(
                            "{b} job(s) waiting and not draining: are the workers consuming?"
                        ),
                    }]
                },
            )
        }
        Err(e) => (
            CheckResult {
                seconds: 0.0,
                name: "workers".into(),
                ok: false,
                detail: e.message().to_owned(),
            },
            vec![],
        ),
    }
}
