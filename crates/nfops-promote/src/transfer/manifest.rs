//! What a release folder holds, as bytes: its `CHECKSUM` (GNU `sha256sum`
//! lines, escapes included), `find` listings with NUL-framed fields, the
//! seal the console writes after a checked arrival, and the rules a release
//! must follow before any byte of it is sent (no absolute or `..` names,
//! nothing under a symlink, no symlink out of the app folder, no devices,
//! FIFOs, sockets, setuid or setgid files, every file listed in `CHECKSUM`).
//!
//! Paths are kept as bytes without the `./` prefix: names with spaces,
//! newlines or bytes that are not UTF-8 pass unchanged, and messages show
//! them escaped.

use std::collections::{BTreeMap, BTreeSet};

use nfops_core::{Error, ErrorCode, Result};

/// The `find -printf` format every listing uses: kind, octal mode, size,
/// inode, mtime, ctime; then path; then symlink target; each NUL-ended.
pub(crate) const LISTING_FORMAT: &str = r"%y %m %s %i %T@ %C@\0%p\0%l\0";

/// Most entries a release may have.
pub(crate) const MAX_ENTRIES: usize = 1_000_000;

const MAX_PATH: usize = 4096;
const MAX_COMPONENT: usize = 255;

/// An entry's kind, as `find %y` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Link,
    /// Anything else (`p`, `s`, `b`, `c`, `D`...): refused in a release.
    Other(u8),
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub kind: Kind,
    pub mode: u32,
    pub size: u64,
    pub ino: u64,
    /// `%T@` and `%C@` as printed (seconds with fraction): compared, never computed with.
    pub mtime: String,
    pub ctime: String,
    /// Relative, without `./`.
    pub path: Vec<u8>,
    /// The symlink target, empty for other kinds.
    pub target: Vec<u8>,
}

/// A path for messages: printable ASCII as is, everything else escaped.
pub(crate) fn shown(path: &[u8]) -> String {
    path.escape_ascii().to_string()
}

/// Parses a `find -printf LISTING_FORMAT` run in the folder (`find .`).
///
/// Errors: `invalid_input` for a malformed record or more than
/// [`MAX_ENTRIES`] entries, naming `what`.
pub(crate) fn parse_listing(bytes: &[u8], what: &str) -> Result<Vec<Entry>> {
    let bad = |why: String| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("the file listing of {what} is malformed: {why}"),
        )
        .hint("The host's find must be GNU findutils (install findutils).")
    };
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let Some(body) = bytes.strip_suffix(b"\0") else {
        return Err(bad("the last record is cut short".into()));
    };
    let mut fields = body.split(|b| *b == 0);
    let mut out = Vec::new();
    while let Some(head) = fields.next() {
        let (Some(path), Some(target)) = (fields.next(), fields.next()) else {
            return Err(bad("a record is cut short".into()));
        };
        if out.len() >= MAX_ENTRIES {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{what} has more than {MAX_ENTRIES} entries"),
            )
            .hint("Releases that large are not supported; ship fewer files (bundle them)."));
        }
        let head = std::str::from_utf8(head).map_err(|_| bad("a header is not text".into()))?;
        let parts: Vec<&str> = head.split(' ').collect();
        let [kind, mode, size, ino, mtime, ctime] = parts[..] else {
            return Err(bad(format!("header '{}'", head.escape_debug())));
        };
        let num = |s: &str, radix| {
            u64::from_str_radix(s, radix)
                .map_err(|_| bad(format!("header '{}'", head.escape_debug())))
        };
        let path = path
            .strip_prefix(b"./")
            .ok_or_else(|| bad(format!("path {} does not start with ./", shown(path))))?;
        out.push(Entry {
            kind: match kind.as_bytes() {
                b"f" => Kind::File,
                b"d" => Kind::Dir,
                b"l" => Kind::Link,
                [k] => Kind::Other(*k),
                _ => return Err(bad(format!("kind '{}'", kind.escape_debug()))),
            },
            mode: u32::try_from(num(mode, 8)?).map_err(|_| bad("mode".into()))?,
            size: num(size, 10)?,
            ino: num(ino, 10)?,
            mtime: mtime.to_owned(),
            ctime: ctime.to_owned(),
            path: path.to_vec(),
            target: target.to_vec(),
        });
    }
    Ok(out)
}

/// `CHECKSUM`: relative path (without `./`) → SHA-256, hex.
pub(crate) type Checksums = BTreeMap<Vec<u8>, String>;

/// Parses `sha256sum` output, GNU escapes included (a line that starts with
/// `\` has `\\`, `\n` and `\r` in its name).
///
/// Errors: `invalid_input` naming the line.
pub(crate) fn parse_checksum(bytes: &[u8], what: &str) -> Result<Checksums> {
    let mut out = Checksums::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = || {
            Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "line {} of the CHECKSUM of {what} is not a sha256sum line",
                    i + 1
                ),
            )
            .hint("CHECKSUM must be the output of sha256sum over the release's files.")
        };
        let (escaped, line) = match line.strip_prefix(b"\\") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        if line.len() < 67 || !line[..64].iter().all(u8::is_ascii_hexdigit) {
            return Err(bad());
        }
        if &line[64..66] != b"  " && &line[64..66] != b" *" {
            return Err(bad());
        }
        let name = &line[66..];
        let name = if escaped {
            unescape(name).ok_or_else(bad)?
        } else {
            name.to_vec()
        };
        let name = name.strip_prefix(b"./").map(<[u8]>::to_vec).unwrap_or(name);
        let hex = String::from_utf8_lossy(&line[..64]).to_ascii_lowercase();
        if out.insert(name, hex).is_some() {
            return Err(bad());
        }
    }
    Ok(out)
}

fn unescape(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len());
    let mut it = name.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match it.next()? {
            b'\\' => b'\\',
            b'n' => b'\n',
            b'r' => b'\r',
            _ => return None,
        });
    }
    Some(out)
}

/// One `sha256sum -c` line for `path` (with `./`), escaped as GNU does.
pub(crate) fn checksum_line(hex: &str, path: &[u8]) -> Vec<u8> {
    let needs = path.iter().any(|b| matches!(b, b'\\' | b'\n' | b'\r'));
    let mut out = Vec::with_capacity(path.len() + 70);
    if needs {
        out.push(b'\\');
    }
    out.extend_from_slice(hex.as_bytes());
    out.extend_from_slice(b"  ./");
    for &b in path {
        match (needs, b) {
            (true, b'\\') => out.extend_from_slice(b"\\\\"),
            (true, b'\n') => out.extend_from_slice(b"\\n"),
            (true, b'\r') => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out.push(b'\n');
    out
}

/// Checks a release's listing and CHECKSUM before anything is sent; returns
/// every finding (empty when the release may be promoted). `depth` is how
/// many folders the release sits below the app folder (`releases/<id>`: 2),
/// the most a symlink may climb above the release's root.
pub(crate) fn findings(entries: &[Entry], sums: &Checksums, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    let kinds: BTreeMap<&[u8], Kind> = entries
        .iter()
        .map(|e| (e.path.as_slice(), e.kind))
        .collect();
    let mut files = BTreeSet::new();
    for e in entries {
        let p = shown(&e.path);
        if let Some(why) = bad_path(&e.path) {
            out.push(format!("{p}: {why}"));
            continue;
        }
        let mut parent = e.path.as_slice();
        while let Some(i) = parent.iter().rposition(|b| *b == b'/') {
            parent = &parent[..i];
            if kinds.get(parent) != Some(&Kind::Dir) {
                out.push(format!(
                    "{p}: lies under {}, which is not a folder",
                    shown(parent)
                ));
                break;
            }
        }
        match e.kind {
            Kind::File => {
                if e.mode & 0o6000 != 0 {
                    out.push(format!("{p}: setuid or setgid (mode {:o})", e.mode));
                }
                if e.path != b"CHECKSUM" {
                    files.insert(e.path.as_slice());
                }
            }
            Kind::Dir => {}
            Kind::Link => {
                if let Some(why) = bad_link(&e.path, &e.target, depth) {
                    out.push(format!("{p} -> {}: {why}", shown(&e.target)));
                }
            }
            Kind::Other(k) => out.push(format!(
                "{p}: a {} (only files, folders and symlinks are promoted)",
                match k {
                    b'p' => "FIFO",
                    b's' => "socket",
                    b'b' | b'c' => "device",
                    _ => "special file",
                }
            )),
        }
    }
    if kinds.get(b"CHECKSUM".as_slice()) != Some(&Kind::File) {
        out.push("CHECKSUM: missing".to_owned());
    }
    for name in sums.keys() {
        if !files.contains(name.as_slice()) {
            out.push(format!(
                "{}: in CHECKSUM but not a file of the release",
                shown(name)
            ));
        }
    }
    for name in &files {
        if !sums.contains_key(*name) {
            out.push(format!("{}: a file not listed in CHECKSUM", shown(name)));
        }
    }
    out
}

fn bad_path(path: &[u8]) -> Option<&'static str> {
    if path.is_empty() || path.len() > MAX_PATH {
        return Some("path empty or longer than 4096 bytes");
    }
    for c in path.split(|b| *b == b'/') {
        if c.is_empty() || c == b"." || c == b".." {
            return Some("path has an empty, . or .. component");
        }
        if c.len() > MAX_COMPONENT {
            return Some("a name longer than 255 bytes");
        }
    }
    None
}

fn bad_link(path: &[u8], target: &[u8], depth: usize) -> Option<&'static str> {
    if target.is_empty() {
        return Some("empty symlink");
    }
    if target.starts_with(b"/") {
        return Some("absolute symlink (only relative links inside the app folder are promoted)");
    }
    // Lexically, from the link's folder; `..` may climb at most `depth`
    // folders above the release root (to the app folder).
    let mut level = path.iter().filter(|b| **b == b'/').count() as isize;
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => level -= 1,
            _ => level += 1,
        }
        if level < -(depth as isize) {
            return Some("symlink leaves the app folder");
        }
    }
    None
}

/// A sealed file: what it was when its content was last checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub sha: String,
    pub mode: u32,
    pub ino: u64,
    pub size: u64,
    pub mtime: String,
    pub ctime: String,
}

/// The seal of a release: one record per file, `sha mode ino size mtime
/// ctime\0path\0`.
pub(crate) fn seal_record(out: &mut Vec<u8>, s: &Sealed, path: &[u8]) {
    out.extend_from_slice(
        format!(
            "{} {:o} {} {} {} {}\0",
            s.sha, s.mode, s.ino, s.size, s.mtime, s.ctime
        )
        .as_bytes(),
    );
    out.extend_from_slice(path);
    out.push(0);
}

/// Reads a seal; a malformed one is treated as absent (the release is then
/// sent whole, never trusted).
pub(crate) fn parse_seal(bytes: &[u8]) -> Option<BTreeMap<Vec<u8>, Sealed>> {
    let mut out = BTreeMap::new();
    let mut fields = bytes.split(|b| *b == 0);
    while let Some(head) = fields.next() {
        if head.is_empty() {
            break;
        }
        let path = fields.next()?;
        let head = std::str::from_utf8(head).ok()?;
        let p: Vec<&str> = head.split(' ').collect();
        let [sha, mode, ino, size, mtime, ctime] = p[..] else {
            return None;
        };
        if sha.len() != 64 {
            return None;
        }
        out.insert(
            path.to_vec(),
            Sealed {
                sha: sha.to_owned(),
                mode: u32::from_str_radix(mode, 8).ok()?,
                ino: ino.parse().ok()?,
                size: size.parse().ok()?,
                mtime: mtime.to_owned(),
                ctime: ctime.to_owned(),
            },
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: Kind, mode: u32, path: &str, target: &str) -> Entry {
        Entry {
            kind,
            mode,
            size: 1,
            ino: 7,
            mtime: "1.5".into(),
            ctime: "1.5".into(),
            path: path.as_bytes().to_vec(),
            target: target.as_bytes().to_vec(),
        }
    }

    #[test]
    fn listings_keep_odd_names_and_refuse_cut_records() {
        let bytes = b"d 755 4096 1 1.0 2.0\0./a b\0\0f 644 3 2 1.0 2.0\0./a b/x\ny\xff\0\0l 777 5 3 1.0 2.0\0./l\0a b/x\0";
        let e = parse_listing(bytes, "test").expect("parses");
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].path, b"a b/x\ny\xff");
        assert_eq!(e[1].mode, 0o644);
        assert_eq!(e[2].kind, Kind::Link);
        assert_eq!(e[2].target, b"a b/x");
        assert!(
            parse_listing(b"f 644 3 2 1.0 2.0\0./x\0", "t").is_err(),
            "cut short"
        );
        assert!(
            parse_listing(b"f 644 3 2\0./x\0\0", "t").is_err(),
            "short header"
        );
        assert!(
            parse_listing(b"f 644 3 2 1 2\0/x\0\0", "t").is_err(),
            "not ./"
        );
    }

    #[test]
    fn checksum_lines_round_trip_through_gnu_escapes() {
        let hex = "ab".repeat(32);
        for name in [
            &b"plain name"[..],
            b"back\\slash",
            b"new\nline",
            b"cr\rx",
            b"\xff\xfe",
        ] {
            let line = checksum_line(&hex, name);
            let parsed = parse_checksum(&line, "t").expect("parses");
            assert_eq!(parsed.get(name), Some(&hex), "{}", shown(name));
        }
        let gnu = format!("\\{hex}  ./a\\\\b\\nc\n{hex} *./bin\n");
        let parsed = parse_checksum(gnu.as_bytes(), "t").expect("parses");
        assert!(parsed.contains_key(b"a\\b\nc".as_slice()));
        assert!(parsed.contains_key(b"bin".as_slice()));
        assert!(
            parse_checksum(format!("{hex} ./x\n").as_bytes(), "t").is_err(),
            "one space"
        );
        assert!(parse_checksum(b"zz  ./x\n", "t").is_err(), "not hex");
        assert!(
            parse_checksum(format!("\\{hex}  ./a\\q\n").as_bytes(), "t").is_err(),
            "bad escape"
        );
        let dup = format!("{hex}  ./x\n{hex}  x\n");
        assert!(
            parse_checksum(dup.as_bytes(), "t").is_err(),
            "a name listed twice"
        );
    }

    #[test]
    fn a_clean_release_has_no_findings() {
        let hex = "00".repeat(32);
        let e = vec![
            entry(Kind::File, 0o644, "CHECKSUM", ""),
            entry(Kind::Dir, 0o755, "node_modules", ""),
            entry(Kind::Dir, 0o755, "node_modules/.bin", ""),
            entry(Kind::File, 0o755, "node_modules/x.js", ""),
            entry(Kind::Link, 0o777, "node_modules/.bin/x", "../x.js"),
            entry(Kind::Link, 0o777, "env", "../../shared/.env"),
        ];
        let sums = Checksums::from([(b"node_modules/x.js".to_vec(), hex)]);
        assert_eq!(findings(&e, &sums, 2), Vec::<String>::new());
    }

    #[test]
    fn hostile_releases_are_refused_with_every_finding_named() {
        let hex = "00".repeat(32);
        let e = vec![
            entry(Kind::File, 0o644, "CHECKSUM", ""),
            entry(Kind::Link, 0o777, "link", "."),
            entry(Kind::File, 0o644, "link/x", ""),
            entry(Kind::Link, 0o777, "abs", "/etc/passwd"),
            entry(Kind::Link, 0o777, "up", "../../../etc"),
            entry(Kind::Other(b'p'), 0o644, "fifo", ""),
            entry(Kind::File, 0o4755, "suid", ""),
            entry(Kind::File, 0o644, "unlisted", ""),
            entry(Kind::File, 0o644, "a/../b", ""),
        ];
        let sums = Checksums::from([
            (b"suid".to_vec(), hex.clone()),
            (b"link/x".to_vec(), hex.clone()),
            (b"etc/passwd-ghost".to_vec(), hex),
        ]);
        let f = findings(&e, &sums, 2).join("\n");
        for want in [
            "link/x: lies under link",
            "abs -> /etc/passwd: absolute",
            "up -> ../../../etc: symlink leaves",
            "fifo: a FIFO",
            "suid: setuid",
            "unlisted: a file not listed",
            "etc/passwd-ghost: in CHECKSUM but not",
            "a/../b: path has",
        ] {
            assert!(f.contains(want), "missing '{want}' in:\n{f}");
        }
    }

    #[test]
    fn seals_round_trip_and_malformed_ones_count_as_absent() {
        let s = Sealed {
            sha: "cd".repeat(32),
            mode: 0o755,
            ino: 42,
            size: 9,
            mtime: "1.25".into(),
            ctime: "2.5".into(),
        };
        let mut bytes = Vec::new();
        seal_record(&mut bytes, &s, b"a\nb");
        let back = parse_seal(&bytes).expect("parses");
        assert_eq!(back.get(b"a\nb".as_slice()), Some(&s));
        assert!(parse_seal(b"xx 644 1 1 1 1\0p\0").is_none(), "short sha");
        assert!(parse_seal(b"0 644\0p\0").is_none(), "short record");
    }
}
