//! A service of the real stack goes down: its probe fails with a clear reason,
//! the others are unaffected, and it recovers when the service is back.
//!
//! In its own test binary: it stops shared services, and cargo runs test
//! binaries one after another.

use std::time::{Duration, Instant};

use nfops_fleet::{probe_environment, ProbeKind, ProbeState};
use nfops_testkit::Stack;

#[tokio::test]
async fn a_stopped_redis_fails_the_cache_probe_naming_its_address_then_recovers() {
    let Some(stack) =
        Stack::from_env("a_stopped_redis_fails_the_cache_probe_naming_its_address_then_recovers")
    else {
        return;
    };
    let prod_cache = stack
        .env("production")
        .cache
        .clone()
        .expect("production has a cache");
    let address = format!("{}:{}", prod_cache.host, prod_cache.port);

    // Started again even when an assertion fails.
    let stopped = stack.stop("redis");

    for env in ["production", "staging"] {
        let status =
            probe_environment(env, stack.env(env), &*stack.creds, &stack.known_hosts()).await;
        let cache = status
            .probes
            .iter()
            .find(|p| p.kind == ProbeKind::Cache)
            .expect("cache probe");
        assert_eq!(
            cache.state,
            ProbeState::Failed,
            "{env}: a stopped Redis must fail the cache probe"
        );
        let e = cache
            .error
            .as_ref()
            .expect("a failed probe carries its error");
        assert_eq!(e.code, "service.unreachable", "{env}: {e:?}");
        assert!(
            e.message.contains(&address),
            "{env}: the reason names the address {address}: {}",
            e.message
        );
        if env == "production" {
            assert!(
                e.message.contains("via host 'prod-app-1'"),
                "the tunnel is named: {}",
                e.message
            );
        }
        assert!(
            cache.latency_ms < 5_000,
            "{env}: a refused connection fails fast, took {} ms",
            cache.latency_ms
        );
        let rel = status
            .probes
            .iter()
            .find(|p| p.kind == ProbeKind::Release)
            .expect("release probe");
        assert_eq!(rel.state, ProbeState::Ok, "{env}: other probes go on");
        eprintln!(
            "{env}: cache probe failed as expected in {} ms: {}",
            cache.latency_ms, e.message
        );
    }

    stopped.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = probe_environment(
            "production",
            stack.env("production"),
            &*stack.creds,
            &stack.known_hosts(),
        )
        .await;
        let cache = status
            .probes
            .iter()
            .find(|p| p.kind == ProbeKind::Cache)
            .expect("cache probe");
        if cache.state == ProbeState::Ok {
            assert_eq!(cache.summary, "PONG");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cache probe recovers once Redis is back: {:?}",
            cache.error
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
