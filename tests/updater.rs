//! The updater against a local update server (a static HTTP server in this
//! process) with keys and signatures made by the pinned Tauri CLI: the code
//! of `src-tauri/updates/engine.rs` on a mock Tauri app with the real
//! `tauri-plugin-updater`.
//!
//! Install uses the plugin's in-place path (what an AppImage gets) on a
//! temp "installed app" file: a test binary carries no package marker, and
//! the deb/rpm path needs root (`make bundle-test` covers the package).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nfops_core::ErrorCode;
use nfops_desktop::updates::engine::{self, Source};
use nfops_testkit::update_server::{
    closed_port_url, manifest, silent_server, tauri_cli, SigningKey, UpdateServer, PASSWORD,
};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::Url;

/// Two key pairs and one payload signed by each, made once per run.
struct Fixture {
    _dir: tempfile::TempDir,
    trusted: SigningKey,
    payload: Vec<u8>,
    /// The payload signed for 0.2.0 by the trusted key.
    good_sig: String,
    /// The same payload signed for 0.2.0 by another key.
    other_sig: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let trusted = SigningKey::generate(dir.path(), "trusted.key");
        let other = SigningKey::generate(dir.path(), "other.key");
        // An ELF, as the in-place (AppImage) path requires, marked as 0.2.0.
        let mut payload = std::fs::read("/bin/true").expect("read /bin/true");
        payload.extend_from_slice(b"\nnfops-desktop 0.2.0 test payload\n");
        let a = dir.path().join("app-a.AppImage");
        let b = dir.path().join("app-b.AppImage");
        std::fs::write(&a, &payload).expect("write");
        std::fs::write(&b, &payload).expect("write");
        let good_sig = trusted.sign(&a, "0.2.0");
        let other_sig = other.sign(&b, "0.2.0");
        Fixture {
            _dir: dir,
            trusted,
            payload,
            good_sig,
            other_sig,
        }
    })
}

/// A mock app (version 0.1.0) with the updater plugin configured to trust
/// `pubkey`, as tauri.conf.json's `plugins.updater` does for the real one.
fn app(pubkey: &str) -> tauri::App<MockRuntime> {
    let mut context = mock_context(noop_assets());
    context.config_mut().plugins.0.insert(
        "updater".into(),
        serde_json::json!({ "pubkey": pubkey, "endpoints": [], "requireSignedVersion": true }),
    );
    mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(context)
        .expect("mock app")
}

/// The "installed app": a file the in-place install replaces.
fn installed(dir: &Path) -> PathBuf {
    let path = dir.join("NewFinity Ops.AppImage");
    std::fs::write(&path, b"the installed 0.1.0").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A mock 0.1.0 "installed app" trusting the fixture's key, in its own folder.
struct Installed {
    _dir: tempfile::TempDir,
    exe: PathBuf,
    app: tauri::App<MockRuntime>,
}

impl Installed {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = installed(dir.path());
        let app = app(&fixture().trusted.public_key);
        Self {
            _dir: dir,
            exe,
            app,
        }
    }

    /// Asks `endpoint` as the app's check does.
    async fn check(&self, endpoint: &str) -> nfops_core::Result<Option<engine::Found>> {
        engine::check(self.app.handle(), &source(endpoint, &self.exe)).await
    }

    /// Asks `endpoint`, which must offer an update.
    async fn offered(&self, endpoint: &str) -> engine::Found {
        self.check(endpoint)
            .await
            .expect("check")
            .expect("an update is offered to 0.1.0")
    }

    fn untouched(&self) {
        assert_eq!(
            std::fs::read(&self.exe).expect("read"),
            b"the installed 0.1.0",
            "nothing replaced"
        );
    }
}

fn source(endpoint: &str, exe: &Path) -> Source {
    let mut s = Source::new(vec![Url::parse(endpoint).expect("url")]);
    s.executable_path = Some(exe.to_owned());
    s.check_timeout = Duration::from_secs(3);
    s.download_timeout = Duration::from_secs(30);
    s
}

/// A server offering `version` signed with `signature`, whose package
/// serves `package`.
async fn server(version: &str, signature: &str, package: &[u8]) -> UpdateServer {
    let s = UpdateServer::start().await;
    let url = s.url("/NewFinity%20Ops_0.2.0_amd64.AppImage");
    s.put(
        "/latest.json",
        200,
        manifest(
            version,
            "Faster restores.",
            &url,
            signature,
            fixture().payload.len() as u64,
        ),
    );
    s.put(
        "/NewFinity%20Ops_0.2.0_amd64.AppImage",
        200,
        package.to_vec(),
    );
    s
}

#[tokio::test]
async fn a_valid_signed_update_is_found_downloaded_and_installed_in_place() {
    let f = fixture();
    let srv = server("0.2.0", &f.good_sig, &f.payload).await;
    let client = Installed::new();

    let found = client.offered(&srv.url("/latest.json")).await;
    assert_eq!(found.update.version, "0.2.0");
    assert_eq!(found.update.current_version, "0.1.0");
    assert_eq!(found.update.body.as_deref(), Some("Faster restores."));
    assert_eq!(
        found.size,
        Some(f.payload.len() as u64),
        "size from latest.json"
    );

    let mut seen = Vec::new();
    let bytes = engine::download(&found, |done, total| seen.push((done, total)))
        .await
        .expect("download");
    assert_eq!(bytes, f.payload);
    assert_eq!(
        seen.last(),
        Some(&(f.payload.len() as u64, Some(f.payload.len() as u64)))
    );

    engine::install(&found, &bytes).expect("install");
    assert_eq!(
        std::fs::read(&client.exe).expect("read"),
        f.payload,
        "the installed file is the update"
    );
    let mode = std::fs::metadata(&client.exe)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "the installed file stays executable");
}

#[tokio::test]
async fn a_tampered_payload_is_refused_and_nothing_is_replaced() {
    let f = fixture();
    let mut tampered = f.payload.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 0x01;
    let srv = server("0.2.0", &f.good_sig, &tampered).await;
    let client = Installed::new();

    let found = client.offered(&srv.url("/latest.json")).await;
    let err = engine::download(&found, |_, _| {})
        .await
        .expect_err("tampered");
    assert_eq!(err.code(), ErrorCode::UpdateUntrusted, "{err}");
    assert!(err.message().contains("signature"), "{err}");
    // Install verifies again: tampered bytes handed to it are refused too.
    let err = engine::install(&found, &tampered).expect_err("tampered");
    assert_eq!(err.code(), ErrorCode::UpdateUntrusted, "{err}");
    client.untouched();
}

#[tokio::test]
async fn an_update_signed_with_another_key_is_refused() {
    let f = fixture();
    let srv = server("0.2.0", &f.other_sig, &f.payload).await;
    let client = Installed::new();

    let found = client.offered(&srv.url("/latest.json")).await;
    let err = engine::download(&found, |_, _| {})
        .await
        .expect_err("other key");
    assert_eq!(err.code(), ErrorCode::UpdateUntrusted, "{err}");
    let err = engine::install(&found, &f.payload).expect_err("other key");
    assert_eq!(err.code(), ErrorCode::UpdateUntrusted, "{err}");
    client.untouched();
}

#[tokio::test]
async fn a_manifest_announcing_another_version_than_signed_is_refused() {
    let f = fixture();
    // A valid 0.2.0 signature presented as 0.3.0 (requireSignedVersion).
    let srv = server("0.3.0", &f.good_sig, &f.payload).await;
    let client = Installed::new();
    let found = client.offered(&srv.url("/latest.json")).await;
    let err = engine::download(&found, |_, _| {})
        .await
        .expect_err("version mismatch");
    assert_eq!(err.code(), ErrorCode::UpdateUntrusted, "{err}");
}

#[tokio::test]
async fn an_older_or_equal_version_is_not_offered() {
    let f = fixture();
    let client = Installed::new();
    for version in ["0.1.0", "0.0.9"] {
        let srv = server(version, &f.good_sig, &f.payload).await;
        let found = client.check(&srv.url("/latest.json")).await.expect("check");
        assert!(found.is_none(), "{version} must not be offered to 0.1.0");
    }
}

#[tokio::test]
async fn a_release_without_this_platform_and_an_http_error_are_named() {
    let f = fixture();
    let client = Installed::new();
    let srv = UpdateServer::start().await;
    let other_os = serde_json::json!({
        "version": "0.2.0",
        "platforms": { "windows-x86_64": { "url": srv.url("/x.msi"), "signature": f.good_sig } }
    });
    srv.put("/latest.json", 200, other_os.to_string());
    let err = client
        .check(&srv.url("/latest.json"))
        .await
        .err()
        .expect("no package for this platform");
    assert_eq!(err.code(), ErrorCode::UpdateNoRelease, "{err}");
    assert!(
        err.message().contains("no package for this platform"),
        "{err}"
    );

    srv.put("/latest.json", 404, "gone");
    let err = client
        .check(&srv.url("/latest.json"))
        .await
        .err()
        .expect("404");
    assert_eq!(err.code(), ErrorCode::Unhealthy, "{err}");
    assert!(err.message().contains("HTTP 404"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error_at_once() {
    let client = Installed::new();
    let started = Instant::now();
    let err = client
        .check(&closed_port_url())
        .await
        .err()
        .expect("nothing listens");
    assert_eq!(err.code(), ErrorCode::Unreachable, "{err}");
    assert!(err.message().contains("could not connect"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_fails_after_the_timeout() {
    let client = Installed::new();
    let started = Instant::now();
    let err = client
        .check(&silent_server().await)
        .await
        .err()
        .expect("no answer");
    let took = started.elapsed();
    assert_eq!(err.code(), ErrorCode::Unreachable, "{err}");
    assert!(err.message().contains("did not answer in time"), "{err}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(10),
        "took {took:?}"
    );
}

/// Runs scripts/release (`make release`) for 0.2.0 on `bundle` with the
/// private key `key` in the environment.
fn release(bundle: &Path, conf: &Path, base_url: &str, key: &str) -> std::process::Output {
    std::process::Command::new(nfops_testkit::repo().join("scripts/release"))
        .env("NFOPS_BUNDLE_DIR", bundle)
        .env("NFOPS_RELEASE_VERSION", "0.2.0")
        .env("NFOPS_TAURI_CONF", conf)
        .env("NFOPS_TAURI_CLI", tauri_cli())
        .env("BASE_URL", base_url)
        .env("TAURI_SIGNING_PRIVATE_KEY", key)
        .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", PASSWORD)
        .output()
        .expect("run scripts/release")
}

/// `make release` (scripts/release) on a dummy AppImage bundle: it signs
/// with the key from the environment and writes a latest.json that this
/// updater accepts, with the package's size.
#[tokio::test]
async fn make_release_signs_and_writes_a_manifest_the_updater_installs_from() {
    let f = fixture();
    let bundle = tempfile::tempdir().expect("tempdir");
    let appimage_dir = bundle.path().join("appimage");
    std::fs::create_dir(&appimage_dir).expect("mkdir");
    let name = "NewFinity Ops_0.2.0_amd64.AppImage";
    std::fs::write(appimage_dir.join(name), &f.payload).expect("write");
    let conf = bundle.path().join("tauri.conf.json");
    let conf_text =
        serde_json::json!({ "plugins": { "updater": { "pubkey": f.trusted.public_key } } });
    std::fs::write(&conf, conf_text.to_string()).expect("write conf");
    let srv = UpdateServer::start().await;

    let key = std::fs::read_to_string(&f.trusted.private_key).expect("read key");
    let out = release(bundle.path(), &conf, &srv.base, key.trim());
    assert!(
        out.status.success(),
        "scripts/release: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let latest = std::fs::read_to_string(bundle.path().join("latest.json")).expect("latest.json");
    let json: serde_json::Value = serde_json::from_str(&latest).expect("json");
    assert_eq!(json["version"], "0.2.0");
    let entry = &json["platforms"]["linux-x86_64"];
    assert_eq!(entry["size"], f.payload.len() as u64, "{latest}");
    assert!(
        !latest.contains(key.trim()),
        "the private key never reaches the manifest"
    );

    srv.put("/latest.json", 200, latest.clone());
    srv.put(
        "/NewFinity%20Ops_0.2.0_amd64.AppImage",
        200,
        f.payload.clone(),
    );
    let client = Installed::new();
    let found = client.offered(&srv.url("/latest.json")).await;
    assert_eq!(found.size, Some(f.payload.len() as u64));
    let bytes = engine::download(&found, |_, _| {})
        .await
        .expect("verified download");
    engine::install(&found, &bytes).expect("install");
    assert_eq!(std::fs::read(&client.exe).expect("read"), f.payload);

    // A release signed by a key the apps do not trust is refused up front.
    let other_conf = serde_json::json!({ "plugins": { "updater": { "pubkey": SigningKey::generate(bundle.path(), "x.key").public_key } } });
    std::fs::write(&conf, other_conf.to_string()).expect("write conf");
    let out = release(bundle.path(), &conf, &srv.base, key.trim());
    assert!(
        !out.status.success(),
        "a key mismatch must fail the release"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("trusts"),
        "{out:?}"
    );
}
