//! The update steps over `tauri-plugin-updater`'s Rust API: check, download
//! (verified against the app's public key), install. Generic over the Tauri
//! runtime so `tests/updater.rs` drives the very same code on a mock app.
//!
//! The plugin's own errors are mapped here to operator messages with our
//! codes: unreachable server, an HTTP status, a bad signature, no release
//! for this platform. The plugin has no timeout unless one is set, so every
//! request here carries one (a server that accepts and never answers would
//! otherwise hang "Check now" forever).

use std::path::PathBuf;
use std::time::Duration;

use nfops_core::{Error, ErrorCode};
use tauri::{AppHandle, Runtime, Url};
use tauri_plugin_updater::{Update, UpdaterExt};

/// How long a check may take (connect, answer, manifest).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the whole download may take: a ~10 MB package on a slow VPN.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Where and how to look for an update.
#[derive(Debug, Clone)]
pub struct Source {
    /// Manifest URLs tried in order; empty = `plugins.updater.endpoints`.
    pub endpoints: Vec<Url>,
    /// Only tests set this: the public key instead of the configured one.
    pub pubkey: Option<String>,
    /// Only tests set this: the "installed app" file the in-place install
    /// replaces instead of this executable.
    pub executable_path: Option<PathBuf>,
    pub check_timeout: Duration,
    pub download_timeout: Duration,
}

impl Source {
    /// The configured endpoints (or the built-in ones when `endpoints` is
    /// empty) with the default timeouts.
    pub fn new(endpoints: Vec<Url>) -> Self {
        Self {
            endpoints,
            pubkey: None,
            executable_path: None,
            check_timeout: CHECK_TIMEOUT,
            download_timeout: DOWNLOAD_TIMEOUT,
        }
    }
}

/// A newer release the server offers for this platform.
#[derive(Clone)]
pub struct Found {
    pub update: Update,
    /// The package size: the manifest's `size` for this platform (written by
    /// `make release`); None when the manifest has none (then the download's
    /// Content-Length is the first size known).
    pub size: Option<u64>,
    /// The manifest URL that answered (for messages).
    pub endpoint: String,
}

/// Asks the endpoints for a release newer than this app. `Ok(None)`: this
/// app is the newest (an older or equal version is never offered).
pub async fn check<R: Runtime>(
    app: &AppHandle<R>,
    source: &Source,
) -> Result<Option<Found>, Error> {
    let mut builder = app.updater_builder().timeout(source.check_timeout);
    if !source.endpoints.is_empty() {
        builder = builder
            .endpoints(source.endpoints.clone())
            .map_err(|e| map_error(e, &describe(&source.endpoints)))?;
    }
    if let Some(key) = &source.pubkey {
        builder = builder.pubkey(key.clone());
    }
    if let Some(path) = &source.executable_path {
        builder = builder.executable_path(path);
    }
    let where_ = describe(&source.endpoints);
    let updater = builder.build().map_err(|e| map_error(e, &where_))?;
    match updater.check().await {
        Ok(None) => Ok(None),
        Ok(Some(mut update)) => {
            update.timeout = Some(source.download_timeout);
            let size = manifest_size(&update);
            Ok(Some(Found {
                update,
                size,
                endpoint: where_,
            }))
        }
        Err(tauri_plugin_updater::Error::ReleaseNotFound) => {
            Err(release_not_found(&source.endpoints, source.check_timeout).await)
        }
        Err(e) => Err(map_error(e, &where_)),
    }
}

/// Downloads the package and verifies its signature; `progress(done, total)`
/// after each chunk. Nothing is written anywhere.
pub async fn download(
    found: &Found,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, Error> {
    let mut done = 0u64;
    let total = found.size;
    found
        .update
        .download(
            |chunk, length| {
                done += chunk as u64;
                progress(done, length.or(total));
            },
            || {},
        )
        .await
        .map_err(|e| map_error(e, found.update.download_url.as_str()))
}

/// Installs verified bytes (verified again by the plugin): on Linux a deb or
/// rpm through pkexec/sudo, an AppImage (or the test's file) replaced in
/// place with the old one put back on failure.
pub fn install(found: &Found, bytes: &[u8]) -> Result<(), Error> {
    found
        .update
        .install(bytes)
        .map_err(|e| map_error(e, found.update.download_url.as_str()))
}

/// The `size` of the manifest's platform entry this update downloads (the
/// entry whose `url` is the update's: the plugin picked it among
/// `{os}-{arch}-{bundle}` and `{os}-{arch}`), when `make release` wrote it.
fn manifest_size(update: &Update) -> Option<u64> {
    let url = update.download_url.as_str();
    update
        .raw_json
        .get("platforms")?
        .as_object()?
        .values()
        .find(|p| p.get("url").and_then(|u| u.as_str()) == Some(url))?
        .get("size")?
        .as_u64()
}

fn describe(endpoints: &[Url]) -> String {
    if endpoints.is_empty() {
        "the built-in update server".to_owned()
    } else {
        endpoints
            .iter()
            .map(Url::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The plugin says only "no valid release JSON" when an endpoint answered a
/// non-2xx status (it logs the status and drops it): ask again for the
/// status, so the operator reads "answered HTTP 404" instead.
async fn release_not_found(endpoints: &[Url], timeout: Duration) -> Error {
    let client = reqwest::Client::builder().timeout(timeout).build();
    if let Ok(client) = client {
        for url in endpoints {
            if let Ok(res) = client.get(url.clone()).send().await {
                if !res.status().is_success() {
                    return Error::new(
                        ErrorCode::Unhealthy,
                        format!("the update server answered HTTP {} for {url}", res.status()),
                    )
                    .hint("Check the endpoint URL ([updates] endpoints in environments.toml) and that latest.json was published there.");
                }
            }
        }
    }
    Error::new(
        ErrorCode::UpdateNoRelease,
        format!(
            "{} did not answer with a valid update manifest",
            describe(endpoints)
        ),
    )
    .hint("The endpoint must serve the latest.json written by `make release`.")
}

/// The plugin's error as an operator message with one of our codes.
pub fn map_error(e: tauri_plugin_updater::Error, where_: &str) -> Error {
    use tauri_plugin_updater::Error as E;
    let text = e.to_string();
    match e {
        E::Reqwest(r) if r.is_timeout() => Error::new(
            ErrorCode::Unreachable,
            format!("the update server ({where_}) did not answer in time"),
        )
        .hint("Check the network or proxy, then try again.")
        .source(r),
        E::Reqwest(r) if r.is_connect() => Error::new(
            ErrorCode::Unreachable,
            format!("could not connect to the update server ({where_})"),
        )
        .hint("Check the network, the proxy and the endpoint URL ([updates] endpoints in environments.toml).")
        .source(r),
        E::Reqwest(r) if r.is_decode() => Error::new(
            ErrorCode::UpdateNoRelease,
            format!("{where_} did not answer with a valid update manifest"),
        )
        .hint("The endpoint must serve the latest.json written by `make release`.")
        .source(r),
        E::Reqwest(r) => Error::new(
            ErrorCode::Unreachable,
            format!("the update server ({where_}) failed: {r}"),
        )
        .hint("Check the network or proxy, then try again."),
        E::Network(status) => Error::new(
            ErrorCode::Unhealthy,
            format!("downloading {where_} failed: {}", status.trim_matches('`')),
        )
        .hint("The package named in latest.json is missing or refused on the server."),
        E::Serialization(_) => Error::new(
            ErrorCode::UpdateNoRelease,
            format!("the update manifest at {where_} is not valid: {text}"),
        )
        .hint("The endpoint must serve the latest.json written by `make release`."),
        E::TargetNotFound(_) | E::TargetsNotFound(_) => Error::new(
            ErrorCode::UpdateNoRelease,
            format!("the newest release has no package for this platform ({text})"),
        )
        .hint("Ask whoever publishes releases to add this platform's package to latest.json."),
        E::Minisign(_)
        | E::Base64(_)
        | E::SignatureUtf8(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => Error::new(
            ErrorCode::UpdateUntrusted,
            format!("the update from {where_} was refused: its signature does not match this app's update key ({text})"),
        )
        .hint("Nothing was installed. The package was altered or signed with another key: tell whoever publishes releases."),
        E::InsecureTransportProtocol => Error::new(
            ErrorCode::ConfigInvalid,
            format!("the update endpoint {where_} is not https"),
        )
        .hint("Installed builds only read updates over https: fix [updates] endpoints."),
        E::AuthenticationFailed | E::DebInstallFailed | E::PackageInstallFailed => Error::new(
            ErrorCode::CheckFailed,
            format!("installing the update failed: {text}"),
        )
        .hint("A deb or rpm update needs pkexec (polkit) or sudo: install the package by hand, or ask an administrator."),
        E::InvalidUpdaterFormat => Error::new(
            ErrorCode::UpdateNoRelease,
            format!("the package at {where_} is not one this copy can install"),
        )
        .hint("latest.json lists the wrong file for this platform: tell whoever publishes releases."),
        E::Io(io) => Error::io("installing the update", io),
        other => Error::internal(format!("the updater failed: {other}")),
    }
}
