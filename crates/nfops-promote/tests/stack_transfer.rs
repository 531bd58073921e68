//! The streamed, incremental release copy against the stack's real sshd:
//! releases built on a "staging" folder and copied to a "production" folder,
//! both under /tmp as the deploy user (the stack's own releases are left
//! alone). Covers a release over the old 12 MiB limit with odd names, modes,
//! empty folders and symlinks; an incremental copy that sends only changed
//! files and links the rest; a base edited in place; hostile releases
//! refused before the target is touched; and a copy that arrives damaged.

use std::time::Duration;

use nfops_core::config::Host;
use nfops_core::ErrorCode;
use nfops_fleet::{shell_quote, SshSession};
use nfops_promote::host::{stage_release, Staged};
use nfops_promote::release::release_on_host;
use nfops_promote::transfer::{Ends, Transferred};
use nfops_promote::Release;
use nfops_testkit::Stack;

const CMD: Duration = Duration::from_secs(120);

/// Two app folders on the stack's SSH host, removed at the end.
struct Pair {
    s: SshSession,
    /// The target's own session: a session carrying a stream carries nothing else.
    t: SshSession,
    src: Host,
    dst: Host,
    root: String,
}

impl Pair {
    async fn new(stack: &Stack, test: &str) -> Pair {
        let host = stack.host("production", "prod-app-1");
        let s = SshSession::connect(&host, &*stack.creds, &stack.known_hosts())
            .await
            .expect("the stack's deploy key logs in");
        let t = SshSession::connect(&host, &*stack.creds, &stack.known_hosts())
            .await
            .expect("a second session");
        let root = format!("/tmp/nfops-transfer-{}-{test}", std::process::id());
        let (mut src, mut dst) = (host.clone(), host.clone());
        src.name = "stg-test".into();
        src.app_dir = format!("{root}/src");
        dst.name = "prod-test".into();
        dst.app_dir = format!("{root}/dst");
        let pair = Pair {
            s,
            t,
            src,
            dst,
            root,
        };
        pair.sh(&format!(
            "rm -rf {r}; mkdir -p {r}/src/releases {r}/dst/releases",
            r = shell_quote(&pair.root)
        ))
        .await;
        pair
    }

    async fn sh(&self, script: &str) -> String {
        self.s
            .exec_checked(&format!("set -e; {script}"), CMD)
            .await
            .unwrap_or_else(|e| panic!("{script}: {}", e.message()))
            .stdout
    }

    fn src_rel(&self, id: &str) -> String {
        shell_quote(&format!("{}/src/releases/{id}", self.root))
    }

    fn dst_rel(&self, id: &str) -> String {
        shell_quote(&format!("{}/dst/releases/{id}", self.root))
    }

    /// Writes CHECKSUM as the stack's release builder does and reads the release.
    async fn seal_src(&self, id: &str) -> Release {
        self.sh(&format!(
            "cd {} && rm -f CHECKSUM && find . -type f ! -name CHECKSUM -print0 | LC_ALL=C sort -z | xargs -0 sha256sum > ../.sum && mv ../.sum CHECKSUM",
            self.src_rel(id)
        ))
        .await;
        release_on_host(&self.s, &self.src, id)
            .await
            .expect("release")
    }

    async fn stage(&self, release: &Release, running: &str) -> nfops_core::Result<Staged> {
        let ends = Ends {
            source: &self.s,
            source_host: &self.src,
            target: &self.t,
            target_host: &self.dst,
        };
        stage_release(&ends, release, running, &|_, _| {}).await
    }

    async fn copied(&self, release: &Release, running: &str) -> Transferred {
        match self.stage(release, running).await {
            Ok(Staged::Copied(r, t)) => {
                assert_eq!(r.digest, release.digest);
                t
            }
            Ok(other) => panic!("expected a copy, got {other:?}"),
            Err(e) => panic!("copy failed: {}", e.message()),
        }
    }

    /// `sha256sum -c` passes on the target and its listing (kind, mode,
    /// size, name, link target) equals the source's.
    async fn assert_same(&self, id: &str) {
        self.sh(&format!(
            "cd {} && sha256sum --quiet --strict -c CHECKSUM",
            self.dst_rel(id)
        ))
        .await;
        let list = |dir: String| {
            format!("cd {dir} && find . -mindepth 1 -printf '%y %m %p -> %l\\n' | LC_ALL=C sort | md5sum")
        };
        let a = self.sh(&list(self.src_rel(id))).await;
        let b = self.sh(&list(self.dst_rel(id))).await;
        assert_eq!(a, b, "the arrived tree lists exactly as staging's");
    }

    async fn leftovers(&self) -> String {
        self.sh(&format!(
            "cd {}/dst/releases && ls -A",
            shell_quote(&self.root)
        ))
        .await
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rm")
            .args(["-rf", &self.root])
            .status();
    }
}

/// A release with odd names, modes, an empty folder, symlinks and one file
/// of `big_mb` MiB.
async fn build_v1(p: &Pair, big_mb: u32) -> Release {
    p.sh(&format!(
        "d={}; mkdir -p \"$d/node_modules/pkg/lib\" \"$d/node_modules/.bin\" \"$d/empty\" \"$d/odd dir\"; cd \"$d\"; \
         echo '{{\"migrations\":[]}}' > release.json; \
         for i in $(seq 1 200); do echo \"module $i $(date +%N)\" > node_modules/pkg/lib/m$i.js; done; \
         printf '#!/bin/sh\\necho hi\\n' > node_modules/pkg/cli.js; chmod 755 node_modules/pkg/cli.js; \
         ln -s ../pkg/cli.js node_modules/.bin/cli; \
         echo spaced > 'odd dir/a b.txt'; echo nl > \"$(printf 'new\\nline')\"; echo ff > \"$(printf 'byte\\377')\"; \
         echo 'back' > 'back\\slash'; chmod 600 'odd dir/a b.txt'; \
         head -c {big_mb}M /dev/urandom > big.bin",
        p.src_rel("v1")
    ))
    .await;
    p.seal_src("v1").await
}

#[tokio::test]
async fn a_release_over_the_old_limit_arrives_whole_and_the_next_sends_only_what_changed() {
    let Some(stack) = Stack::from_env("transfer_full_then_incremental") else {
        return;
    };
    let p = Pair::new(&stack, "incremental").await;
    let v1 = build_v1(&p, 40).await;

    let t = p.copied(&v1, "").await;
    assert_eq!(t.linked, 0, "nothing to link from");
    assert!(
        t.bytes_sent > 40 * 1024 * 1024,
        "the 40 MiB file was sent: {t:?}"
    );
    p.assert_same("v1").await;
    assert_eq!(
        p.leftovers().await.trim(),
        "v1",
        "no incoming folder is left"
    );
    p.sh(&format!(
        "cd {}/dst && ln -sfn releases/v1 current",
        shell_quote(&p.root)
    ))
    .await;

    // v2: 3 files changed, 1 added, 1 removed, 1 mode-only change.
    p.sh(&format!(
        "cp -a {v1} {v2}; cd {v2}; echo changed >> node_modules/pkg/lib/m1.js; echo changed >> node_modules/pkg/lib/m2.js; \
         echo changed >> 'odd dir/a b.txt'; echo new > node_modules/pkg/lib/new.js; rm node_modules/pkg/lib/m3.js; \
         chmod 755 node_modules/pkg/lib/m4.js",
        v1 = p.src_rel("v1"),
        v2 = p.src_rel("v2")
    ))
    .await;
    let v2 = p.seal_src("v2").await;
    let t = p.copied(&v2, "v1").await;
    assert_eq!(
        t.files_sent, 6,
        "3 changed + 1 new + 1 mode change + CHECKSUM are sent, nothing else: {t:?}"
    );
    assert!(
        t.bytes_sent < 1024 * 1024,
        "the big file was not sent again: {t:?}"
    );
    assert_eq!(t.base.as_deref(), Some("v1"));
    p.assert_same("v2").await;
    let inodes = p
        .sh(&format!(
            "stat -c %i {}/big.bin {}/big.bin",
            p.dst_rel("v1"),
            p.dst_rel("v2")
        ))
        .await;
    let inodes: Vec<&str> = inodes.lines().collect();
    assert_eq!(
        inodes[0], inodes[1],
        "unchanged files are hard links to v1's"
    );
    p.assert_same("v1").await;

    // v1 edited in place on the host: that file is no longer trusted, so
    // v3 (identical to v2 for it) sends it instead of linking the edited one.
    p.sh(&format!(
        "echo hotfix >> {}/node_modules/pkg/lib/m10.js",
        p.dst_rel("v2")
    ))
    .await;
    p.sh(&format!(
        "cd {}/dst && ln -sfn releases/v2 current",
        shell_quote(&p.root)
    ))
    .await;
    p.sh(&format!("cp -a {} {}", p.src_rel("v2"), p.src_rel("v3")))
        .await;
    p.sh(&format!("echo v3 > {}/VERSION", p.src_rel("v3")))
        .await;
    let v3 = p.seal_src("v3").await;
    let t = p.copied(&v3, "v2").await;
    assert_eq!(
        t.files_sent, 3,
        "VERSION, CHECKSUM and the edited m10.js: {t:?}"
    );
    p.assert_same("v3").await;
}

#[tokio::test]
async fn hostile_or_changed_releases_are_refused_before_the_target_is_touched() {
    let Some(stack) = Stack::from_env("transfer_hostile") else {
        return;
    };
    let p = Pair::new(&stack, "hostile").await;
    let v1 = build_v1(&p, 1).await;
    let cases: [(&str, &str, &str); 5] = [
        ("abs", "ln -s /etc/passwd leak", "absolute symlink"),
        (
            "up",
            "ln -s ../../../../etc up",
            "symlink leaves the app folder",
        ),
        ("fifo", "mkfifo pipe", "a FIFO"),
        ("suid", "echo x > s && chmod 4755 s", "setuid"),
        (
            "under",
            "ln -s node_modules nm",
            "in CHECKSUM but not a file",
        ),
    ];
    for (id, make, want) in cases {
        p.sh(&format!("cp -a {} {}", p.src_rel("v1"), p.src_rel(id)))
            .await;
        let mut r = p.seal_src(id).await;
        if id == "under" {
            // A CHECKSUM line through the symlink (./nm/...): sha256sum -c
            // would follow it; the copy refuses it.
            p.sh(&format!(
                "cd {} && {make} && sha256sum ./nm/pkg/cli.js >> CHECKSUM",
                p.src_rel(id)
            ))
            .await;
            r = release_on_host(&p.s, &p.src, id).await.expect("release");
        } else {
            p.sh(&format!("cd {} && {make}", p.src_rel(id))).await;
            if id == "suid" {
                r = p.seal_src(id).await;
            }
        }
        let err = p.stage(&r, "").await.expect_err(id);
        assert_eq!(
            err.code(),
            ErrorCode::CheckFailed,
            "{id}: {}",
            err.message()
        );
        assert!(
            err.message().contains(want),
            "{id}: '{want}' in: {}",
            err.message()
        );
        assert_eq!(
            p.leftovers().await.trim(),
            "",
            "{id}: nothing reached the target"
        );
    }

    // The plan's digest no longer matches staging's CHECKSUM.
    let mut stale = v1.clone();
    stale.digest = "0".repeat(64);
    let err = p.stage(&stale, "").await.expect_err("stale plan");
    assert!(
        err.message().contains("changed since the plan"),
        "{}",
        err.message()
    );

    // A file that differs from its CHECKSUM arrives damaged: refused, nothing
    // renamed into place; the next attempt sweeps what was left.
    p.sh(&format!(
        "echo tampered >> {}/release.json",
        p.src_rel("v1")
    ))
    .await;
    let err = p.stage(&v1, "").await.expect_err("damaged");
    assert_eq!(err.code(), ErrorCode::CheckFailed);
    assert!(
        err.message().contains("did not arrive intact"),
        "{}",
        err.message()
    );
    let left = p.leftovers().await;
    assert!(!left.lines().any(|l| l == "v1"), "no v1 folder: {left}");
    let v1 = p.seal_src("v1").await;
    p.copied(&v1, "").await;
    assert_eq!(
        p.leftovers().await.trim(),
        "v1",
        "the failed attempt was swept"
    );
}
