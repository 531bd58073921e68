//! Restore drills: the scratch database a drill restores into, and its
//! removal once the drill is checked and recorded.

use std::path::Path;

use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;

use crate::load::{exec, server_session};
use crate::swap::safety_schemas;

/// The scratch database a drill of database `db` restores into.
pub fn scratch_database(db: &str) -> String {
    format!("{}_drill", db.chars().take(40).collect::<String>())
}

/// Drops drill database `scratch` and its safety schemas, best effort: a
/// drill keeps only its record and report, and a failed cleanup must not
/// turn a good drill into a failed one.
pub async fn drop_scratch(
    environment: &str,
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    scratch: &str,
) {
    let Ok(route) = nfops_fleet::route::database(
        environment,
        env,
        creds,
        known_hosts,
        Some(scratch),
        "to restore into",
    )
    .await
    else {
        return;
    };
    let t = route.target.clone();
    let Ok(mut c) = server_session(&t).await else {
        return;
    };
    let _ = exec(
        &mut c,
        &t,
        "could not drop the drill database on",
        &format!("DROP DATABASE IF EXISTS `{scratch}`"),
    )
    .await;
    if let Ok(list) = safety_schemas(&t).await {
        for (n, _) in list {
            let _ = exec(
                &mut c,
                &t,
                "could not drop a drill safety schema on",
                &format!("DROP DATABASE IF EXISTS `{n}`"),
            )
            .await;
        }
    }
}
