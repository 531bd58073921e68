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

    /// Puts production's schema back where `stack up` leaves it (v1's
    /// migrations only): every promotion to v2 or v3-broken applies
    /// `002_orders_note`, which v1 does not need.
    pub async fn unapply_v2_migration(&self) {
        let db = self.env("production").database.clone().expect("database");
        let target = nfops_mysql::Target {
            host: db.host,
            port: db.port,
            user: db.user,
            password: nfops_core::SecretString::new(self.credential("stack/production/db")),
            database: db.name,
            label: "production database".into(),
        };
        let mut conn = target.connect().await.expect("production database");
        for q in [
            "ALTER TABLE orders DROP COLUMN IF EXISTS note",
            "DELETE FROM schema_migrations WHERE version = '002_orders_note'",
        ] {
            sqlx::query(q)
                .execute(&mut conn)
                .await
                .expect("un-apply 002");
        }
    }

    /// Production on v1 with v1's schema, staging on v2: where `stack up`
    /// leaves them, whatever a promotion clicked in `make run` changed.
    pub async fn baseline_releases(&self) {
        self.set_release("production", "v1", true).await;
        self.set_release("staging", "v2", true).await;
        self.unapply_v2_migration().await;
    }
}
