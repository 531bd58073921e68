//! What a copy links and what it sends: the running release's files that
//! still match their seal, and the plan built from them.

use std::collections::BTreeMap;

use nfops_core::config::Host;
use nfops_core::{ErrorCode, Result};
use nfops_fleet::{shell_quote, SshSession};

use super::manifest::{self, Entry, Kind, Sealed};
use super::{listing, IDLE, MAX_LISTING};
use crate::release::app_dir;

/// The running release's files that still match their seal.
pub(super) struct Base {
    pub(super) id: String,
    /// path → sealed record, only for files whose inode, size, mode, mtime
    /// and ctime match the seal now, under folders only.
    pub(super) trusted: BTreeMap<Vec<u8>, Sealed>,
}

pub(super) async fn trusted_base(
    session: &SshSession,
    host: &Host,
    id: &str,
) -> Result<Option<Base>> {
    let seal_path = format!("{}/.nfops/seals/{id}", app_dir(host));
    let out = session
        .exec_stream(
            &format!("cat -- {} 2>/dev/null || true", shell_quote(&seal_path)),
            IDLE,
        )
        .await?
        .read_to_end(MAX_LISTING)
        .await?;
    let Some(seal) = manifest::parse_seal(&out).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let dir = format!("{}/releases/{id}", app_dir(host));
    let now = match listing(session, &dir, &format!("release {id} on '{}'", host.name)).await {
        Ok(n) => n,
        Err(e) if e.code() == ErrorCode::SshCommand => return Ok(None),
        Err(e) => return Err(e),
    };
    let kinds: BTreeMap<&[u8], Kind> = now.iter().map(|e| (e.path.as_slice(), e.kind)).collect();
    let under_dirs = |p: &[u8]| {
        let mut parent = p;
        while let Some(i) = parent.iter().rposition(|b| *b == b'/') {
            parent = &parent[..i];
            if kinds.get(parent) != Some(&Kind::Dir) {
                return false;
            }
        }
        true
    };
    let trusted = now
        .iter()
        .filter(|e| e.kind == Kind::File && under_dirs(&e.path))
        .filter_map(|e| {
            let s = seal.get(&e.path)?;
            (s.ino == e.ino
                && s.size == e.size
                && s.mode == e.mode
                && s.mtime == e.mtime
                && s.ctime == e.ctime)
                .then(|| (e.path.clone(), s.clone()))
        })
        .collect();
    Ok(Some(Base {
        id: id.to_owned(),
        trusted,
    }))
}

/// What is linked and what is sent.
pub(super) struct Plan<'a> {
    /// Files hard-linked from the base.
    pub(super) link: Vec<&'a Entry>,
    /// Files sent (CHECKSUM included), in listing order.
    pub(super) send_files: Vec<&'a Entry>,
    /// Every entry the tar stream carries: folders, sent files, then symlinks.
    pub(super) stream: Vec<&'a Entry>,
    /// Bytes of the sent files.
    pub(super) bytes: u64,
    /// The base inode each linked file must end up on.
    pub(super) link_inos: BTreeMap<&'a [u8], u64>,
}

impl<'a> Plan<'a> {
    pub(super) fn new(
        entries: &'a [Entry],
        sums: &manifest::Checksums,
        base: Option<&Base>,
    ) -> Plan<'a> {
        let mut link = Vec::new();
        let mut send_files = Vec::new();
        let mut link_inos = BTreeMap::new();
        for e in entries.iter().filter(|e| e.kind == Kind::File) {
            let sealed = base
                .and_then(|b| b.trusted.get(&e.path))
                .filter(|s| sums.get(&e.path) == Some(&s.sha) && s.mode == e.mode);
            if let Some(s) = sealed {
                link_inos.insert(e.path.as_slice(), s.ino);
                link.push(e);
            } else {
                send_files.push(e);
            }
        }
        let mut stream: Vec<&Entry> = entries.iter().filter(|e| e.kind == Kind::Dir).collect();
        stream.extend(send_files.iter().copied());
        stream.extend(entries.iter().filter(|e| e.kind == Kind::Link));
        let bytes = send_files.iter().map(|e| e.size).sum();
        Plan {
            link,
            send_files,
            stream,
            bytes,
            link_inos,
        }
    }
}

impl Plan<'_> {
    /// The base inode a linked file must share (recorded in the trusted seal).
    pub(super) fn want_ino(&self, want: &Entry) -> u64 {
        self.link_inos
            .get(want.path.as_slice())
            .copied()
            .unwrap_or(u64::MAX)
    }
}
