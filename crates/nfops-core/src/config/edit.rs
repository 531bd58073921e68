//! Writing `environments.toml` from the console: the first-run setup, the
//! Settings editor and `nfops init`.
//!
//! Edits go through `toml_edit`, so what the operator wrote by hand
//! (comments, order, spacing, keys the forms do not know) stays as it was:
//! an [`EnvironmentDraft`] sets only the keys it manages. Every edit is
//! validated by the same parser that loads the file before anything is
//! written; [`ConfigEdit::save`] writes atomically (temporary file, then
//! rename) and refuses when the file changed on disk since it was read, so
//! two operators editing at once never overwrite each other unseen.

use std::path::{Path, PathBuf};

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table};

use super::{Config, SshAuth, Tier};
use crate::error::{Error, ErrorCode, Result};

mod diff;
mod draft;

pub use diff::{line_diff, DiffLine};
use draft::check_draft;
pub use draft::{
    CacheDraft, DatabaseDraft, EnvironmentDraft, HostDraft, MonitoringDraft, StorageDraft,
};

/// The file `nfops init` writes and the setup flow starts from: every part
/// explained, no environment yet.
pub const TEMPLATE: &str = r#"# environments.toml: the environments NewFinity Ops operates.
#
# Written by `nfops init` or the console's first-run setup; edit it by hand
# or in Settings → Environments (comments like these are kept). It holds no
# secret: every *_credential key names a value in the OS keyring, set with
# `nfops credentials set NAME` or in Settings → Credentials.
#
# One table per environment, e.g.
#
#   [environments.staging]
#   tier = "staging"                 # local, staging, production or region
#   health_url = "https://staging.example.com/health"
#
#   [[environments.staging.hosts]]   # a VPS running the backend under PM2
#   name = "stg-app-1"
#   address = "203.0.113.10"
#   user = "deploy"
#   ssh_key_credential = "staging/ssh/deploy"
#   host_key = "SHA256:…"            # as `ssh-keygen -lf` prints it on the host
#   app_dir = "/srv/app"
#
#   [environments.staging.database]  # MySQL / MariaDB
#   host = "127.0.0.1"
#   port = 3306
#   name = "newfinity"
#   user = "ops"
#   password_credential = "staging/db"
#   via = "stg-app-1"                # tunnel through this host (firewalled DB)
#
# and [storage], [cache], [monitoring], [backup], [frontend] likewise; the
# README's "environments.toml" section lists every key.

version = 1
"#;

/// An `environments.toml` being edited.
#[derive(Debug, Clone)]
pub struct ConfigEdit {
    path: PathBuf,
    /// The file as read (None: it did not exist); `save` checks it is unchanged.
    original: Option<String>,
    doc: DocumentMut,
}

impl ConfigEdit {
    /// A fresh file at `path` (the template), whatever is there: to check a
    /// draft on its own before it is added to the real file.
    pub fn scratch(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            original: None,
            doc: TEMPLATE.parse().unwrap_or_default(),
        }
    }

    /// Reads `path` for editing, or starts from [`TEMPLATE`] when it does not exist.
    ///
    /// Errors: `io.error` reading it; `config.invalid` (with line and column)
    /// when it is not TOML at all, so nothing is edited blindly.
    pub fn open(path: &Path) -> Result<Self> {
        let original = match std::fs::read_to_string(path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let text = original.as_deref().unwrap_or(TEMPLATE);
        let doc = text.parse::<DocumentMut>().map_err(|e| {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let (line, col) = super::line_col(text, at);
            Error::new(
                ErrorCode::ConfigInvalid,
                format!("{}:{line}:{col}: {}", path.display(), e.message().trim()),
            )
            .hint("Fix the file by hand first; the editor changes only files it can read.")
        })?;
        Ok(Self {
            path: path.to_owned(),
            original,
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file existed when opened.
    pub fn exists(&self) -> bool {
        self.original.is_some()
    }

    /// The text before any edit (the template for a new file).
    pub fn before(&self) -> &str {
        self.original.as_deref().unwrap_or("")
    }

    /// The text as it would be written.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// The edited text, validated as the console would load it.
    ///
    /// Errors: `config.invalid` naming the line and column of the problem.
    pub fn validated(&self) -> Result<Config> {
        Config::parse(&self.path, &self.text())
    }

    /// The changes from the file on disk to the edited text.
    pub fn diff(&self) -> Vec<DiffLine> {
        line_diff(self.before(), &self.text())
    }

    /// Environment names in the file, in file order.
    pub fn environment_names(&self) -> Vec<String> {
        self.doc
            .get("environments")
            .and_then(Item::as_table_like)
            .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
            .unwrap_or_default()
    }

    /// Adds environment `draft.name`, or updates it in place: only the keys
    /// the draft manages change; comments, order and every other key stay.
    ///
    /// Errors: `input.invalid` when the draft misses what the file needs
    /// (names the field).
    pub fn set_environment(&mut self, draft: &EnvironmentDraft) -> Result<()> {
        check_draft(draft)?;
        let envs = table_at(
            self.doc.as_table_mut(),
            "environments",
            true,
            "environments",
        )?;
        let base = format!("environments.{}", draft.name);
        let env = table_at(envs, &draft.name, false, &base)?;
        let tier = draft.tier.unwrap_or(Tier::Staging);
        put(env, "tier", tier.as_str());
        set_opt(env, "label", draft.label.as_deref());
        set_opt(env, "health_url", draft.health_url.as_deref());
        set_hosts(env, &draft.hosts);
        match &draft.database {
            None => drop(env.remove("database")),
            Some(d) => {
                let t = table_at(env, "database", false, &format!("{base}.database"))?;
                put(t, "host", d.host.trim());
                put(t, "port", i64::from(d.port));
                put(t, "name", d.name.trim());
                put(t, "user", d.user.trim());
                put(t, "password_credential", d.password_credential.trim());
                set_opt(t, "via", d.via.as_deref());
            }
        }
        match &draft.storage {
            None => drop(env.remove("storage")),
            Some(s) => {
                let t = table_at(env, "storage", false, &format!("{base}.storage"))?;
                put(t, "endpoint", s.endpoint.trim());
                // The default region is only written when the file had a region.
                let region = s.region.as_deref().map(str::trim);
                if region != Some("us-east-1") || t.contains_key("region") {
                    set_opt(t, "region", region);
                }
                if s.path_style {
                    put(t, "path_style", true);
                } else {
                    t.remove("path_style");
                }
                put(t, "buckets", strings(&s.buckets));
                put(t, "access_key_credential", s.access_key_credential.trim());
                put(t, "secret_key_credential", s.secret_key_credential.trim());
            }
        }
        match &draft.cache {
            None => drop(env.remove("cache")),
            Some(c) => {
                let t = table_at(env, "cache", false, &format!("{base}.cache"))?;
                put(t, "host", c.host.trim());
                put(t, "port", i64::from(c.port));
                match c.db {
                    Some(db) if db != 0 => put(t, "db", i64::from(db)),
                    _ => drop(t.remove("db")),
                }
                set_opt(t, "key_prefix", c.key_prefix.as_deref());
                set_opt(t, "password_credential", c.password_credential.as_deref());
                set_opt(t, "via", c.via.as_deref());
            }
        }
        match &draft.monitoring {
            None => drop(env.remove("monitoring")),
            Some(m) => {
                let t = table_at(env, "monitoring", false, &format!("{base}.monitoring"))?;
                put(t, "prometheus_url", m.prometheus_url.trim());
                set_opt(t, "selector", m.selector.as_deref());
            }
        }
        Ok(())
    }

    /// Removes environment `name` (and everything under it).
    ///
    /// Errors: `config.unknown_environment` when the file has none of that name.
    pub fn remove_environment(&mut self, name: &str) -> Result<()> {
        let removed = self
            .doc
            .get_mut("environments")
            .and_then(Item::as_table_like_mut)
            .and_then(|t| t.remove(name));
        match removed {
            Some(_) => Ok(()),
            None => Err(Error::new(
                ErrorCode::UnknownEnvironment,
                format!("no environment named '{name}' in {}", self.path.display()),
            )),
        }
    }

    /// Validates, then writes the edited text: to a temporary file in the
    /// same folder (readable by this user only), renamed over the file.
    /// The folder is created when missing.
    ///
    /// Errors: `config.invalid` (nothing written); `config.conflict` when the
    /// file on disk changed since [`ConfigEdit::open`] (nothing written:
    /// reopen, and the edit shows on top of the other one); `io.error`.
    pub fn save(&self) -> Result<Config> {
        let config = self.validated()?;
        let now = match std::fs::read_to_string(&self.path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(format!("reading {}", self.path.display()), e)),
        };
        if now != self.original {
            return Err(Error::new(
                ErrorCode::ConfigConflict,
                format!(
                    "{} changed on disk since it was opened for this edit",
                    self.path.display()
                ),
            )
            .hint(
                "Nothing was written. Open the editor again: it starts from the file as it is now.",
            ));
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating the config folder {}", dir.display()), e))?;
        let tmp = dir.join(format!(
            ".{}.nfops-edit-{}",
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("environments.toml"),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp)?;
            f.write_all(self.text().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(format!("writing {}", self.path.display()), e));
        }
        Ok(config)
    }
}

/// `parent[key]` as a table, created (implicit when `implicit`, e.g. the
/// `[environments]` header that only groups) when missing or not a table.
/// The table at `parent[key]`, created when missing. An inline table
/// (`database = { host = "…" }`) becomes a standard one with all its keys,
/// so keys the forms do not manage are kept.
///
/// Errors: `config.invalid` naming `path` when the key holds something other
/// than a table (nothing is replaced).
fn table_at<'a>(
    parent: &'a mut Table,
    key: &str,
    implicit: bool,
    path: &str,
) -> Result<&'a mut Table> {
    match parent.get(key) {
        None => {
            let mut t = Table::new();
            t.set_implicit(implicit);
            parent.insert(key, Item::Table(t));
        }
        Some(Item::Table(_)) => {}
        Some(item) if item.is_inline_table() => {
            let inline = parent.remove(key).unwrap_or_default();
            match inline.into_table() {
                Ok(t) => {
                    parent.insert(key, Item::Table(t));
                }
                Err(back) => {
                    parent.insert(key, back);
                    return Err(not_a_table(
                        path,
                        "an inline table that cannot be converted",
                    ));
                }
            }
        }
        Some(item) => return Err(not_a_table(path, item.type_name())),
    }
    parent
        .get_mut(key)
        .and_then(Item::as_table_mut)
        .ok_or_else(|| not_a_table(path, "not a table"))
}

fn not_a_table(path: &str, what: &str) -> Error {
    Error::new(
        ErrorCode::ConfigInvalid,
        format!("environments.toml: `{path}` is {what}, where a table belongs"),
    )
    .hint(format!(
        "Nothing was written. Make `{path}` a table ([{path}]) by hand, then edit it here again."
    ))
}

/// Sets `t[key]`; an unchanged value is left alone, and a changed one keeps
/// the old one's surroundings (a trailing `# comment`).
fn put(t: &mut Table, key: &str, new: impl Into<toml_edit::Value>) {
    let mut new: toml_edit::Value = new.into();
    if let Some(old) = t.get_mut(key).and_then(Item::as_value_mut) {
        if old.to_string().trim() == new.to_string().trim() {
            return;
        }
        *new.decor_mut() = old.decor().clone();
        *old = new;
        return;
    }
    t[key] = Item::Value(new);
}

fn set_opt(t: &mut Table, key: &str, v: Option<&str>) {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => put(t, key, v),
        None => drop(t.remove(key)),
    }
}

fn strings(items: &[String]) -> Array {
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The hosts array: a host keeps its table (comments, unmanaged keys) when a
/// draft host of the same name exists; new ones are appended; hosts no
/// longer in the draft go.
fn set_hosts(env: &mut Table, hosts: &[HostDraft]) {
    if hosts.is_empty() {
        env.remove("hosts");
        return;
    }
    let mut old: Vec<Table> = env
        .remove("hosts")
        .and_then(|i| i.into_array_of_tables().ok())
        .map(|a| a.into_iter().collect())
        .unwrap_or_default();
    let mut out = ArrayOfTables::new();
    for h in hosts {
        let at = old
            .iter()
            .position(|t| t.get("name").and_then(Item::as_str) == Some(h.name.trim()));
        let mut t = at.map(|i| old.remove(i)).unwrap_or_default();
        put(&mut t, "name", h.name.trim());
        put(&mut t, "address", h.address.trim());
        if h.port == 22 {
            t.remove("port");
        } else {
            put(&mut t, "port", i64::from(h.port));
        }
        put(&mut t, "user", h.user.trim());
        match h.ssh_auth {
            Some(SshAuth::Agent) => {
                put(&mut t, "ssh_auth", "agent");
                t.remove("ssh_key_credential");
            }
            _ => {
                t.remove("ssh_auth");
                set_opt(
                    &mut t,
                    "ssh_key_credential",
                    h.ssh_key_credential.as_deref(),
                );
            }
        }
        set_opt(&mut t, "host_key", h.host_key.as_deref());
        put(&mut t, "app_dir", h.app_dir.trim());
        let default_roles = ["backend", "worker"];
        if h.roles.is_empty() || h.roles.iter().map(String::as_str).eq(default_roles) {
            t.remove("roles");
        } else {
            put(&mut t, "roles", strings(&h.roles));
        }
        out.push(t);
    }
    env.insert("hosts", Item::ArrayOfTables(out));
}

#[cfg(test)]
mod tests;
