//! Against the local stack's real Prometheus (`scripts/stack up`,
//! `NFOPS_STACK_DIR`): every chart of the catalog returns data for each
//! environment, and charts draw one line per series. Skipped without the
//! stack unless `NFOPS_REQUIRE_STACK=1`.

use std::time::{Duration, Instant};

use nfops_core::config::{Config, Environment};
use nfops_metrics::board::Board;
use nfops_metrics::{catalog, pulse, Drawing, Prometheus, Scope, Theme, TimeRange};

fn stack_config(test: &str) -> Option<Config> {
    let path = nfops_testkit::stack_dir(test)?.config_path();
    Some(
        Config::load(&path).unwrap_or_else(|e| panic!("{test}: the stack's config must load: {e}")),
    )
}

fn prometheus(env: &Environment) -> (Prometheus, Option<String>) {
    let m = env
        .monitoring
        .as_ref()
        .expect("the stack configures monitoring for every environment");
    (
        Prometheus::new(&m.prometheus_url, Duration::from_secs(10)).expect("client"),
        m.selector.clone(),
    )
}

/// Some traffic through nginx, so request rate and latency have samples.
async fn traffic(env: &Environment) {
    let url = env
        .health_url
        .as_ref()
        .expect("the stack sets health_url")
        .get_ref()
        .clone();
    let http = nfops_core::http::client_builder().build().expect("client");
    for _ in 0..20 {
        let _ = http.get(&url).send().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_chart_has_data_for_every_environment() {
    let Some(config) = stack_config("every_chart_has_data_for_every_environment") else {
        return;
    };
    let drawing = Drawing {
        range: TimeRange::parse("15m").expect("15m"),
        ..Drawing::default()
    };
    for (name, env) in config.environments() {
        let (prom, selector) = prometheus(env);
        let scope = Scope {
            selector: selector.as_deref(),
            host: None,
        };
        // A just-started stack needs a few scrapes (and rate() two samples): poll, don't sleep.
        let deadline = Instant::now() + Duration::from_secs(45);
        let board = loop {
            traffic(env).await;
            let board = Board::from_prometheus(&prom, scope, drawing, None).await;
            let missing: Vec<String> = board
                .charts
                .iter()
                .filter(|c| {
                    !c.result.as_ref().is_ok_and(|d| {
                        d.series
                            .iter()
                            .any(|s| s.points.iter().any(|p| p.1.is_finite()))
                    })
                })
                .map(|c| match &c.result {
                    Ok(_) => format!("{}: no data for {:?}", c.spec.id, c.queries),
                    Err(e) => format!("{}: {e} (query {:?})", c.spec.id, c.failed_query),
                })
                .collect();
            if missing.is_empty() {
                break board;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: every chart must return data within 45 s; still missing: {missing:#?}"
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        };
        assert_eq!(
            board.charts.len(),
            catalog::CATALOG.len(),
            "{name}: one chart per catalog entry"
        );
        for c in &board.charts {
            let data = c.result.as_ref().expect("checked above");
            let swatches = data.rendered.svg.matches("stroke-width=\"3\"").count();
            assert_eq!(
                swatches,
                data.series.len(),
                "{name}/{}: the SVG's legend lists each series once",
                c.spec.id
            );
            assert!(
                !data.rendered.svg.to_ascii_lowercase().contains("<script"),
                "no script in our SVG"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_counts_follow_hosts_and_lines() {
    let Some(config) = stack_config("series_counts_follow_hosts_and_lines") else {
        return;
    };
    let env = config.environment("production").expect("production");
    let (prom, selector) = prometheus(env);
    let drawing = Drawing {
        range: TimeRange::parse("15m").expect("15m"),
        ..Drawing::default()
    };
    let specs: Vec<_> = ["cpu", "network", "latency", "db-connections"]
        .iter()
        .map(|id| catalog::chart(id).expect("in the catalog"))
        .collect();
    let count = |b: &Board, id: &str| {
        let c = b
            .charts
            .iter()
            .find(|c| c.spec.id == id)
            .expect("asked for");
        c.result
            .as_ref()
            .map(|d| d.series.len())
            .unwrap_or_else(|e| panic!("{id}: {e}"))
    };
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        traffic(env).await;
        let all = Board::from_prometheus(
            &prom,
            Scope {
                selector: selector.as_deref(),
                host: None,
            },
            drawing,
            Some(&specs),
        )
        .await;
        let one = Board::from_prometheus(
            &prom,
            Scope {
                selector: selector.as_deref(),
                host: Some("prod-app-1"),
            },
            drawing,
            Some(&specs),
        )
        .await;
        let got = [
            count(&all, "cpu"),
            count(&all, "network"),
            count(&all, "latency"),
            count(&one, "cpu"),
            count(&one, "network"),
            count(&one, "db-connections"),
        ];
        // production: 2 app hosts; network is rx+tx per host; latency p50/p95/p99;
        // the DB chart is per environment, so a host pick leaves it alone.
        if got == [2, 4, 3, 1, 2, 1] {
            break;
        }
        assert!(Instant::now() < deadline, "series counts [cpu, network, latency, cpu@host, network@host, db@host] = {got:?}, want [2, 4, 3, 1, 2, 1]");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn a_bad_query_is_reported_with_prometheus_reason() {
    let Some(config) = stack_config("a_bad_query_is_reported_with_prometheus_reason") else {
        return;
    };
    let env = config.environment("staging").expect("staging");
    let (prom, _) = prometheus(env);
    let e = prom.instant("rate(up[").await.expect_err("a broken query");
    assert_eq!(e.code(), nfops_core::ErrorCode::Unhealthy);
    assert!(
        e.message().contains("rate(up["),
        "the query is named: {}",
        e.message()
    );
    assert!(
        e.message().contains("bad_data"),
        "Prometheus's reason is kept: {}",
        e.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pulse_has_every_sparkline_and_reads_the_alert_list() {
    let Some(config) = stack_config("the_pulse_has_every_sparkline_and_reads_the_alert_list")
    else {
        return;
    };
    let env = config.environment("production").expect("production");
    let (prom, selector) = prometheus(env);
    let deadline = Instant::now() + Duration::from_secs(45);
    let p = loop {
        traffic(env).await;
        let p = pulse::pulse(&prom, selector.as_deref(), Theme::Dark).await;
        let latest = |id: &str| {
            p.sparks
                .iter()
                .find(|s| s.spec.id == id)
                .and_then(|s| s.result.as_ref().ok())
                .and_then(|d| d.latest)
        };
        if latest("requests").is_some_and(|v| v > 0.0)
            && latest("cpu").is_some()
            && latest("p95").is_some()
        {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "request rate, p95 and CPU must have a value within 45 s: {:#?}",
            p.sparks
                .iter()
                .map(|s| (
                    s.spec.id,
                    s.result
                        .as_ref()
                        .map(|d| d.latest)
                        .map_err(|e| e.to_string())
                ))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let ids: Vec<&str> = p.sparks.iter().map(|s| s.spec.id).collect();
    assert_eq!(ids, ["requests", "errors", "p95", "cpu"]);
    for s in &p.sparks {
        let d = s
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e} ({})", s.spec.id, s.query));
        assert!(d.svg.starts_with("<svg"), "{}: an SVG", s.spec.id);
        assert!(
            d.points.iter().all(|pt| pt.0 >= p.start && pt.0 <= p.end),
            "{}: points inside the hour",
            s.spec.id
        );
    }
    let cpu = p.sparks[3]
        .result
        .as_ref()
        .ok()
        .and_then(|d| d.latest)
        .expect("checked");
    assert!((0.0..=100.0).contains(&cpu), "CPU is a share: {cpu}");
    // An environment without a selector: the same queries over all series.
    let all = pulse::pulse(&prom, None, Theme::Light).await;
    for s in &all.sparks {
        let d = s
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("no selector, {}: {e} ({})", s.spec.id, s.query));
        assert!(
            d.points.len() >= 60,
            "{}: every step of the hour",
            s.spec.id
        );
        assert!(
            d.latest.is_some(),
            "{}: a value now, over all series",
            s.spec.id
        );
    }
    all.alerts.as_ref().expect("ALERTS without a selector");
    // The stack's rules load; whether one fires depends on the machine, but the list must be read.
    p.alerts
        .as_ref()
        .expect("the stack's Prometheus answers ALERTS and its alerts API");
    let rules: serde_json::Value = nfops_core::http::client_builder()
        .build()
        .expect("client")
        .get(format!("{}/api/v1/rules", prom.url()))
        .send()
        .await
        .expect("rules API")
        .json()
        .await
        .expect("JSON");
    let loaded: Vec<(String, String)> = rules["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("?").to_owned(),
                r["health"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    assert!(
        loaded.len() >= 6,
        "assets/stack/alerts.yml is loaded: {loaded:?}"
    );
    assert!(
        loaded.iter().all(|(_, h)| h == "ok" || h == "unknown"),
        "every stack alert rule evaluates: {loaded:?}"
    );
}

/// A Prometheus of this test's own, with rules that fire at once, so open
/// alerts can be checked exactly (the stack's own should stay quiet).
struct OwnPrometheus {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for OwnPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn own_prometheus(rules: &str) -> OwnPrometheus {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yml"), rules).expect("rules");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{ evaluation_interval: 1s }}\nrule_files: ['{}']\n",
            dir.path().join("rules.yml").display()
        ),
    )
    .expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = std::process::Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus is installed with the stack");
    let own = OwnPrometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let http = nfops_core::http::client_builder().build().expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{}/-/ready", own.url))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            Instant::now() < deadline,
            "prometheus was not ready within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    own
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_alerts_are_those_of_the_environment_firing_first() {
    if stack_config("open_alerts_are_those_of_the_environment_firing_first").is_none() {
        return;
    }
    let own = own_prometheus(
        r#"groups:
  - name: t
    interval: 1s
    rules:
      - alert: StagingBroken
        expr: vector(1)
        labels: { env: staging, host: stg-app-1, severity: critical }
        annotations: { summary: "staging is broken" }
      - alert: AlsoStaging
        expr: vector(1)
        for: 1h
        labels: { env: staging }
        annotations: { description: "waits an hour" }
      - alert: ProductionOnly
        expr: vector(1)
        labels: { env: production }
      - alert: NeverFires
        expr: vector(1) == 2
        labels: { env: staging }
"#,
    )
    .await;
    let prom = Prometheus::new(&own.url, Duration::from_secs(5)).expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let a = pulse::open_alerts(&prom, Some(r#"{env="staging"}"#))
            .await
            .expect("alerts");
        if a.len() >= 2 {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "two staging alerts within 30 s: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let names: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a.name.as_str(), a.state.as_str()))
        .collect();
    assert_eq!(
        names,
        [("StagingBroken", "firing"), ("AlsoStaging", "pending")],
        "only staging's, firing first; a rule whose condition is false is not open"
    );
    let first = &alerts[0];
    assert_eq!(first.severity.as_deref(), Some("critical"));
    assert_eq!(
        first.labels.get("host").map(String::as_str),
        Some("stg-app-1")
    );
    assert_eq!(first.summary.as_deref(), Some("staging is broken"));
    assert!(first.active_at.is_some(), "since when, from the alerts API");
    assert_eq!(
        alerts[1].summary.as_deref(),
        Some("waits an hour"),
        "description when no summary"
    );
    // A regex matcher is Prometheus's to apply, not ours to imitate.
    let both = pulse::open_alerts(&prom, Some(r#"env=~"prod.*|staging""#))
        .await
        .expect("alerts");
    assert_eq!(both.len(), 3, "{both:?}");
}
