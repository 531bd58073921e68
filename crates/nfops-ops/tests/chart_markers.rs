//! Deploy and restore markers: audit entries named `promote*` / `restore*`
//! (the contract with the promotion and restore features) appear on the
//! uptime charts of their environment, and only there.

use nfops_core::audit::{Action, Outcome};
use nfops_metrics::{Drawing, TimeRange};
use nfops_ops::Console;

#[tokio::test]
async fn promotions_and_restores_mark_the_charts_of_their_environment() {
    let home = tempfile::tempdir().expect("tempdir");
    // A port nothing listens on: the probe fails fast, which still draws points.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let config = home.path().join("environments.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\n[environments.staging]\ntier = \"staging\"\nhealth_url = \"http://127.0.0.1:{port}/health\"\n\
             [environments.production]\ntier = \"production\"\nhealth_url = \"http://127.0.0.1:{port}/health\"\n"
        ),
    )
    .expect("config");
    std::env::set_var("NFOPS_HOME", home.path());
    let console = Console::open(Some(&config)).await.expect("console");
    console.uptime_check(None).await.expect("first check");
    for (action, env, outcome) in [
        ("promote.apply", "staging", Outcome::Started),
        ("promote.apply", "staging", Outcome::Succeeded),
        ("restore.run", "staging", Outcome::Failed),
        ("backup.run", "staging", Outcome::Succeeded),
        ("promote.apply", "production", Outcome::Succeeded),
    ] {
        console
            .audit()
            .record(Action {
                action,
                environment: Some(env),
                target: Some("v2"),
                outcome,
                details: serde_json::json!({}),
            })
            .await
            .expect("audit");
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    console.uptime_check(None).await.expect("second check");

    let markers = console
        .chart_markers("staging", 0.0, f64::MAX)
        .await
        .expect("markers");
    let labels: Vec<&str> = markers.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(
        labels,
        ["promote.apply v2 (succeeded)", "restore.run v2 (failed)"],
        "started entries, other actions and other environments are not markers"
    );

    let drawing = Drawing {
        range: TimeRange::parse("15m").expect("range"),
        ..Drawing::default()
    };
    let report = console
        .uptime_report("staging", drawing)
        .await
        .expect("report");
    let latency = report
        .charts
        .iter()
        .find(|c| c.spec.id == "uptime-latency")
        .expect("latency chart");
    let svg = &latency.result.as_ref().expect("drawn").rendered.svg;
    assert_eq!(
        svg.matches("class=\"marker\" data-kind=\"deploy\"").count(),
        1,
        "one deploy line"
    );
    assert_eq!(
        svg.matches("class=\"marker\" data-kind=\"restore\"")
            .count(),
        1,
        "one restore line"
    );
}
