//! Against the local stack's real Prometheus (`scripts/stack up`,
//! `NFOPS_STACK_DIR`): every chart of the catalog returns data for each
//! environment, and charts draw one line per series. Skipped without the
//! stack unless `NFOPS_REQUIRE_STACK=1`.

use std::time::{Duration, Instant};

use nfops_core::config::{Config, Environment};
use nfops_metrics::board::Board;
use nfops_metrics::{catalog, Drawing, Prometheus, Scope, TimeRange};

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
