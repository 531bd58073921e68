//! Redis charts from `INFO` against the local stack (`NFOPS_STACK_DIR`,
//! under `scripts/with-keyring`): the full board of staging carries the
//! memory and hit-ratio charts, with Redis's real memory figure.

#[test]
fn the_staging_board_has_redis_memory_and_hit_ratio_from_info() {
    let Some(stack) =
        nfops_testkit::stack_dir("the_staging_board_has_redis_memory_and_hit_ratio_from_info")
            .map(|s| s.dir)
    else {
        return;
    };
    let config = stack.join("environments.toml");
    let home = tempfile::tempdir().expect("tempdir");
    let service = format!("nfops-redis-test-{}", std::process::id());
    let password =
        std::fs::read_to_string(stack.join("credentials/stack/redis")).expect("redis password");
    let out = nfops_testkit::run_nfops(
        home.path(),
        &config,
        &service,
        &["credentials", "set", "stack/redis"],
        Some(&password),
    );
    assert!(out.status.success());
    let mut last = serde_json::Value::Null;
    for _ in 0..2 {
        let out = nfops_testkit::run_nfops(
            home.path(),
            &config,
            &service,
            &["--json", "metrics", "--env", "staging", "--since", "15m"],
            None,
        );
        last = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    }
    let chart = |id: &str| {
        last.as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("chart {id} on the board: {last}"))
    };
    let memory = chart("redis-memory");
    assert!(memory["error"].is_null(), "{memory}");
    let value = memory["latest"][0][1].as_str().unwrap_or("");
    assert!(
        value != "no data" && !value.is_empty(),
        "Redis reported its memory: {memory}"
    );
    let ratio = chart("redis-hit-ratio");
    assert!(
        ratio["error"].is_null(),
        "the hit ratio is drawn (a gap without lookups): {ratio}"
    );
}
