//! End-to-end harness: the real built app under Xvfb, driven through
//! WebKitWebDriver, against the local stack (`scripts/stack`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::{StackDir, TestKeyring};

/// How long a WebDriver screenshot may take before the test goes on without it.
const SCREENSHOT_BOUND: Duration = Duration::from_secs(20);
/// How long ending the WebDriver session may take before the driver is stopped.
const CLOSE_BOUND: Duration = Duration::from_secs(10);

/// Where screenshots go: `target/e2e/` in the repository.
pub fn shots_dir() -> PathBuf {
    let d = crate::repo().join("target/e2e");
    std::fs::create_dir_all(&d).expect("create target/e2e");
    d
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A private X display.
pub struct Display {
    child: Child,
    pub name: String,
}

impl Display {
    /// Saves the whole virtual screen as a PNG (ImageMagick `import`, which
    /// `scripts/ensure-deps` installs), bounded to 15 s; says so when it
    /// cannot.
    pub fn capture(&self, path: &std::path::Path) {
        let child = Command::new("import")
            .args(["-display", &self.name, "-window", "root"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!(
                "capture {}: ImageMagick `import` is not installed",
                path.display()
            );
            return;
        };
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(st)) if st.success() => return,
                Ok(Some(st)) => {
                    eprintln!("capture {}: import exited with {st}", path.display());
                    return;
                }
                Ok(None) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => {
                    let _ = child.kill();
                    eprintln!(
                        "capture {}: import did not finish within 15 s",
                        path.display()
                    );
                    return;
                }
            }
        }
    }

    pub fn start() -> Self {
        for n in 90..190 {
            if !display_free(n) {
                continue;
            }
            let mut child = Command::new("Xvfb")
                .args([
                    format!(":{n}"),
                    "-screen".into(),
                    "0".into(),
                    "1280x800x24".into(),
                    "-nolisten".into(),
                    "tcp".into(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start Xvfb (apt-get install xvfb)");
            let sock = format!("/tmp/.X11-unix/X{n}");
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if Path::new(&sock).exists() {
                    return Self {
                        child,
                        name: format!(":{n}"),
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost a race for this display number: try the next
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no X display could be started in :90..:189");
    }
}

/// Whether display `:n` can be used: no lock file, or a lock left by a dead
/// server (its lock and socket are then removed).
fn display_free(n: u32) -> bool {
    let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists();
    };
    let alive = text
        .trim()
        .parse::<u32>()
        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
    if alive {
        return false;
    }
    let _ = std::fs::remove_file(&lock);
    let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
    true
}

/// Stops a child with SIGTERM (so Xvfb removes its lock and socket, and
/// WebKitWebDriver its browser), then SIGKILL if it lingers.
fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Display {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// WebKitWebDriver, stopped when dropped (also when a test panics mid-launch).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

/// The desktop app in a WebDriver session.
pub struct App {
    pub client: Client,
    driver: Driver,
    _display: Display,
    pub home: tempfile::TempDir,
}

impl App {
    /// Launches the app binary `bin` (the root package's tests pass
    /// `env!("CARGO_BIN_EXE_nfops-desktop")`) with `env` on top of a private
    /// `NFOPS_HOME`, and waits until the page shows its title.
    pub async fn launch(bin: &str, env: &[(&str, String)]) -> App {
        let display = Display::start();
        let home = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut cmd = Command::new("WebKitWebDriver");
        cmd.arg(format!("--port={port}"))
            .env("DISPLAY", &display.name)
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .env("NFOPS_HOME", home.path())
            // The webview's own storage (the remembered environment) is per
            // launch too, so no test opens on what another one chose.
            .env("XDG_DATA_HOME", home.path().join("xdg-data"))
            .env("XDG_CACHE_HOME", home.path().join("xdg-cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = Driver(
            cmd.spawn()
                .expect("start WebKitWebDriver (apt-get install webkit2gtk-driver)"),
        );
        let url = format!("http://127.0.0.1:{port}");
        let until = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < until,
                "WebKitWebDriver did not listen on {port} within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "webkitgtk:browserOptions".into(),
            serde_json::json!({ "binary": bin, "args": [] }),
        );
        nfops_core::http::install_crypto_provider();
        // Session creation hangs when the app was not built for automation: bound it.
        let mut builder = ClientBuilder::rustls().expect("tls");
        builder.capabilities(caps);
        let connect = builder.connect(&url);
        let client = match tokio::time::timeout(Duration::from_secs(90), connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => panic!("WebDriver session with the app failed: {e}"),
            Err(_) => panic!("WebDriver session with the app did not start within 90 s"),
        };
        let app = App {
            client,
            driver,
            _display: display,
            home,
        };
        app.wait_for("[data-testid=page-title]", Duration::from_secs(30))
            .await;
        app
    }

    /// Launches `bin` on the stack's config, reading credentials from `keys`
    /// (when given), with `extra` variables on top.
    pub async fn launch_on(
        bin: &str,
        stack: &StackDir,
        keys: Option<&TestKeyring>,
        extra: &[(&str, String)],
    ) -> App {
        let mut env = vec![("NFOPS_CONFIG", stack.config_path().display().to_string())];
        if let Some(k) = keys {
            env.push(("NFOPS_KEYRING_SERVICE", k.service.clone()));
        }
        env.extend(extra.iter().cloned());
        App::launch(bin, &env).await
    }

    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        match self
            .client
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                self.screenshot("failure").await;
                panic!("element {css} did not appear within {timeout:?}: {e}");
            }
        }
    }

    /// Waits for `css`; on timeout fails with the page's text instead of a
    /// screenshot (a WebDriver screenshot can stall WebKit mid-job).
    pub async fn wait_or_page(&self, css: &str, timeout: Duration) -> Element {
        match self
            .client
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(200))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                let body = match self.client.find(Locator::Css("main")).await {
                    Ok(b) => b.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("{css} did not appear within {timeout:?} ({e}); the page says: {body}");
            }
        }
    }

    /// Polls until `css` has attribute `attr` equal to one of `want`.
    pub async fn wait_attr(
        &self,
        css: &str,
        attr: &str,
        want: &[&str],
        timeout: Duration,
    ) -> String {
        let until = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < until {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(Some(v)) = e.attr(attr).await {
                    if want.contains(&v.as_str()) {
                        return v;
                    }
                    last = Some(v);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.screenshot("failure").await;
        panic!("{css} [{attr}] stayed {last:?}, wanted one of {want:?} within {timeout:?}");
    }

    /// Polls the text of `css` until `done(text)` holds or `timeout` passes;
    /// returns the last text seen (empty if the element never appeared), for
    /// the caller to assert on with its own message.
    pub async fn wait_text_until(
        &self,
        css: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let until = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if done(&last) {
                    return last;
                }
            }
            if Instant::now() >= until {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls until no element matches `css`; false if one still does after
    /// `timeout`.
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while self.client.find(Locator::Css(css)).await.is_ok() {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        true
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css, Duration::from_secs(10))
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css, Duration::from_secs(10))
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Saves a screenshot as `target/e2e/<name>.png`.
    /// Scrolls the first element matching `css` into view (for a screenshot
    /// of a part below the fold).
    pub async fn scroll_to(&self, css: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
                vec![serde_json::Value::String(css.to_owned())],
            )
            .await
            .unwrap_or_else(|e| panic!("scrolling to {css}: {e}"));
    }

    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = shots_dir().join(format!("{name}.png"));
        // A WebDriver screenshot can lag the DOM by a few hundred ms.
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Bounded: a screenshot can stall WebKit, and a test failing on its
        // way to a "failure" screenshot must still fail, not hang.
        match tokio::time::timeout(SCREENSHOT_BOUND, self.client.screenshot()).await {
            Ok(Ok(png)) => {
                if let Err(e) = std::fs::write(&path, png) {
                    eprintln!("screenshot {}: {e}", path.display());
                }
            }
            Ok(Err(e)) => {
                eprintln!("screenshot {name} failed: {e}; capturing the X display instead");
                self._display.capture(&path);
            }
            Err(_) => {
                // Seen on the Backups and Integrity pages (cause not found):
                // the screen itself is still there to capture.
                eprintln!("screenshot {name} did not come within {SCREENSHOT_BOUND:?}; capturing the X display instead");
                self._display.capture(&path);
            }
        }
        path
    }

    /// Runs axe-core (from `axe_js`, the file `ui/node_modules/axe-core/axe.min.js`)
    /// inside the app's page and returns its serious and critical
    /// violations, one line each: rule, impact, help, the first elements.
    pub async fn axe_violations(&self, axe_js: &Path) -> Vec<String> {
        let src = std::fs::read_to_string(axe_js).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (npm --prefix ui ci installs axe-core)",
                axe_js.display()
            )
        });
        self.client
            .execute(&format!("{src}\n;return typeof axe;"), vec![])
            .await
            .unwrap_or_else(|e| panic!("injecting axe-core: {e}"));
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
              .then((r) => done(JSON.stringify(r.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(" | ")}`))))
              .catch((e) => done(JSON.stringify([`axe failed: ${e}`])));
        "#;
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            self.client.execute_async(script, vec![]),
        )
        .await
        .unwrap_or_else(|_| panic!("axe-core did not finish within 60 s"))
        .unwrap_or_else(|e| panic!("running axe-core: {e}"));
        let text = out.as_str().unwrap_or("[]");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("axe's answer {text}: {e}"))
    }

    /// Saves the X display as `target/e2e/<name>.png` without asking
    /// WebDriver: for pages whose WebDriver screenshot stalls, which also
    /// holds up every later command of the session (seen on the first-run
    /// setup, Backups and Integrity pages).
    pub async fn capture(&self, name: &str) -> PathBuf {
        let path = shots_dir().join(format!("{name}.png"));
        self.capture_to(&path).await;
        path
    }

    /// [`App::capture`] to `path` (the README's screenshots under docs/).
    pub async fn capture_to(&self, path: &Path) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        self._display.capture(path);
    }

    /// Ends the session and stops the app; hands back its `NFOPS_HOME` so a
    /// test can inspect what the app left on disk.
    pub async fn close(mut self) -> tempfile::TempDir {
        // Bounded too: a stalled page must not keep the test from ending.
        let _ = tokio::time::timeout(CLOSE_BOUND, self.client.clone().close()).await;
        terminate(&mut self.driver.0);
        let empty = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.home, empty)
    }
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p);
                }
            }
        }
    }
    hits
}
