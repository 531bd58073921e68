//! The hosts' releases, read and set over SSH the way the console does, and
//! the baseline the promotion tests start from (what `scripts/stack up`
//! leaves): production on v1 with v1's schema, staging on v2.

use nfops_core::config::Host;
use nfops_fleet::SshSession;
use nfops_promote::host::{reload_apps, switch_current};
use nfops_promote::release::current_release;

use crate::Stack;

impl Stack {
    /// An SSH session to `h` as the console opens it.
    pub async fn session(&self, h: &Host) -> SshSession {
        SshSession::connect(h, &*self.creds, &self.known_hosts())
            .await
            .expect("ssh to the stack")
    }

    /// The release `h`'s `current` points at.
    pub async fn release_of(&self, h: &Host) -> String {
        let s = self.session(h).await;
        let r = current_release(&s, h).await.expect("current release").id;
        s.disconnect().await;
        r
    }

    /// Every host's release in `env`, in config order.
    pub async fn releases(&self, env: &str) -> Vec<String> {
        let mut out = Vec::new();
        for h in self.hosts(env) {
            out.push(self.release_of(&h).await);
        }
        out
    }

    /// Points `current` of every host of `env` at `id` where it is not;
    /// `reload` also restarts the apps (without it the hosts keep serving
    /// what they run and only the artifact they offer changes).
    pub async fn set_release(&self, env: &str, id: &str, reload: bool) {
        for h in self.hosts(env) {
            let s = self.session(&h).await;
            if current_release(&s, &h).await.map(|r| r.id).ok().as_deref() != Some(id) {
                switch_current(&s, &h, id).await.expect("switch");
                if reload {
                    reload_apps(&s, &h).await.expect("reload");
                }
            }
            s.disconnect().await;
        }
    }

    /// Production on v1 with v1's schema, staging on v2: where `stack up`
    /// leaves them, whatever a promotion (a test's, or one clicked in the
    /// console `make run` opened) changed. The one implementation is
    /// `scripts/stack reset`, which `make test` also runs.
    pub async fn baseline_releases(&self) {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || crate::StackDir { dir }.reset())
            .await
            .expect("scripts/stack reset");
    }
}
