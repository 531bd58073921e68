use std::path::PathBuf;

use super::*;

fn listing(id: &str, complete: bool) -> Listing {
    Listing {
        id: id.into(),
        state: if complete { "complete" } else { "incomplete" },
        path: PathBuf::from(id),
        started_at: complete.then(|| "2026-06-01T10:00:00+00:00".into()),
        finished_at: complete.then(|| "2026-06-01T10:00:42.500+00:00".into()),
        tables: complete.then_some(5),
        rows: complete.then_some(1000),
        stored_bytes: complete.then_some(4096),
        storage_objects: complete.then_some(120),
        problem: (!complete).then(|| "no manifest".into()),
    }
}

async fn catalog() -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().expect("test setup");
    let state = State::open(dir.path()).await.expect("test setup");
    (dir, Catalog::new(&state))
}

#[tokio::test]
async fn refresh_mirrors_the_destination_and_keeps_recorded_results() {
    let (_d, c) = catalog().await;
    let first = c
        .refresh("staging", &[listing("b1", true), listing("b2", false)])
        .await
        .expect("test setup");
    assert_eq!(first.len(), 2);
    let b1 = first.iter().find(|e| e.id == "b1").expect("test setup");
    assert_eq!(
        b1.duration_secs(),
        Some(42.5),
        "duration from the manifest times"
    );
    assert_eq!(
        (b1.tables, b1.rows, b1.stored_bytes),
        (Some(5), Some(1000), Some(4096))
    );
    let b2 = first.iter().find(|e| e.id == "b2").expect("test setup");
    assert!(
        !b2.is_complete() && !b2.is_good(),
        "no manifest: never a backup"
    );
    assert_eq!(
        b2.tables, None,
        "an incomplete folder has no size or tables"
    );

    c.record_verify("staging", "b1", true, "ok")
        .await
        .expect("test setup");
    c.record_offsite("staging", "b1", "copied")
        .await
        .expect("test setup");
    // b2 disappears from the destination; b3 appears.
    let second = c
        .refresh("staging", &[listing("b3", true), listing("b1", true)])
        .await
        .expect("test setup");
    let ids: Vec<&str> = second.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["b3", "b1"],
        "the destination is the source of truth"
    );
    let b1 = &second[1];
    assert!(
        b1.is_verified() && b1.verified_at.is_some(),
        "verification survives a refresh"
    );
    assert_eq!(b1.offsite_state.as_deref(), Some("copied"));
    assert_eq!(second[0].verify_ok, None, "b3 never verified");
    assert_eq!(newest_good(&second).map(|e| e.id.as_str()), Some("b3"));

    c.record_verify("staging", "b3", false, "2 findings")
        .await
        .expect("test setup");
    let third = c.cached("staging").await.expect("test setup");
    assert_eq!(
        newest_good(&third).map(|e| e.id.as_str()),
        Some("b1"),
        "a backup that failed verification is not good"
    );
    assert!(
        c.cached("production").await.expect("test setup").is_empty(),
        "per environment"
    );
}
