//! The Vercel and Netlify drivers against a local server that implements
//! the documented endpoints they use (the only fake this project allows:
//! those are public SaaS APIs). The server keeps real state (which deploy is
//! live, which is locked), checks the bearer token, and answers unknown
//! deploys with 404, so the drivers' read-back checks are exercised.

use nfops_core::config::{Config, Frontend};
use nfops_core::credentials::MemoryCredentials;
use nfops_core::ErrorCode;
use nfops_promote::frontend::driver_for;
use nfops_testkit::frontend_fake::{provider, serve, TOKEN};

fn frontend(provider: &str, project: &str, api: &str) -> Frontend {
    let text = format!(
        "[environments.p]\ntier = \"production\"\n[environments.p.frontend]\nprovider = \"{provider}\"\nproject = \"{project}\"\napi_url = \"{api}\"\ntoken_credential = \"fe/token\"\n"
    );
    let cfg = Config::parse(std::path::Path::new("t.toml"), &text).expect("config");
    cfg.environment("p")
        .expect("env")
        .frontend
        .clone()
        .expect("frontend")
}

fn creds(token: &str) -> MemoryCredentials {
    let c = MemoryCredentials::default();
    c.insert("fe/token", token);
    c
}

#[tokio::test]
async fn vercel_promotes_a_preview_and_rolls_back_to_the_previous_production_deployment() {
    let state = provider(
        &[("dpl_old", "production"), ("dpl_new", "preview")],
        "dpl_old",
    );
    let url = serve(state.clone()).await;
    let d = driver_for(&frontend("vercel", "prj_1", &url), &creds(TOKEN)).expect("driver");
    assert_eq!(d.live_deploy().await.expect("live"), "dpl_old");
    let cand = d.candidate_deploy().await.expect("candidate");
    assert_eq!(cand, "dpl_new");
    d.promote(&cand).await.expect("promote");
    assert_eq!(
        d.live_deploy().await.expect("live"),
        "dpl_new",
        "the promotion is applied"
    );
    d.rollback("dpl_old").await.expect("rollback");
    assert_eq!(d.live_deploy().await.expect("live"), "dpl_old");
    let seen = state.lock().expect("lock").seen.clone();
    assert!(
        seen.contains(&"POST /v10/projects/prj_1/promote/dpl_new".to_owned()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"POST /v1/projects/prj_1/rollback/dpl_old".to_owned()),
        "{seen:?}"
    );
}

#[tokio::test]
async fn netlify_restores_and_locks_the_deploy_and_rolls_back_the_same_way() {
    let state = provider(
        &[("d_old", "production"), ("d_new", "branch-deploy")],
        "d_old",
    );
    let url = serve(state.clone()).await;
    let d = driver_for(&frontend("netlify", "site1", &url), &creds(TOKEN)).expect("driver");
    let cand = d.candidate_deploy().await.expect("candidate");
    assert_eq!(cand, "d_new", "the newest ready non-production deploy");
    d.promote(&cand).await.expect("promote");
    assert_eq!(d.live_deploy().await.expect("live"), "d_new");
    d.rollback("d_old").await.expect("rollback");
    let s = state.lock().expect("lock");
    assert_eq!(s.live, "d_old");
    assert_eq!(
        s.locked,
        vec!["d_new", "d_old"],
        "publishing is locked after each switch"
    );
    let restore = s
        .seen
        .iter()
        .position(|r| r == "POST /sites/site1/deploys/d_new/restore");
    let lock = s.seen.iter().position(|r| r == "POST /deploys/d_new/lock");
    assert!(
        restore.is_some() && lock > restore,
        "restore, then lock: {:?}",
        s.seen
    );
}

#[tokio::test]
async fn a_refused_token_or_unknown_deploy_fails_clearly_without_the_token() {
    let state = provider(&[("d_old", "production")], "d_old");
    let url = serve(state.clone()).await;
    let d = driver_for(&frontend("netlify", "site1", &url), &creds("wrong-token")).expect("driver");
    let e = d.live_deploy().await.expect_err("401");
    assert_eq!(e.code(), ErrorCode::Unhealthy);
    assert!(e.message().contains("401"), "{}", e.message());
    assert!(
        !format!("{e:?}").contains("wrong-token"),
        "the token never reaches an error"
    );
    let d = driver_for(&frontend("vercel", "prj_1", &url), &creds(TOKEN)).expect("driver");
    let e = d.promote("dpl_missing").await.expect_err("404");
    assert!(e.message().contains("404"), "{}", e.message());
    assert_eq!(state.lock().expect("lock").live, "d_old", "nothing changed");
}
