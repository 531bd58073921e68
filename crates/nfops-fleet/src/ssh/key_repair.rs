//! One repair of valid OpenSSH private keys the key parser refuses: an
//! ECDSA NIST P-256 key whose private scalar is shorter than 32 bytes.
//!
//! OpenSSH writes the scalar as an `mpint`, so leading zero bytes are left
//! out: about one P-256 key in 256 that `ssh-keygen -t ecdsa` makes has a
//! 31-byte scalar (one in 65,536 a 30-byte one). The parser (ssh-key 0.7)
//! requires at least 32 bytes and refuses such a key as malformed, although
//! OpenSSH itself uses it. The repair writes the same number back left-padded
//! to the curve's size (the parser's own representation), so the key is
//! unchanged: same scalar, same public key. Only unencrypted keys
//! (cipher "none") are touched; anything else is left to the parser's error.

use base64::Engine as _;
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"openssh-key-v1\0";
const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END: &str = "-----END OPENSSH PRIVATE KEY-----";
/// The private section of a key with cipher "none" is padded to 8 bytes.
const BLOCK: usize = 8;

/// The key in `pem` laid out again as OpenSSH writes it (the base64 body
/// in lines of 70, header and footer on their own lines), or None when it
/// has no OpenSSH header and footer. For a key whose line breaks a paste
/// turned into spaces, CRLFs or nothing at all (web consoles, chat, some
/// terminals): the bytes of the key are the same.
pub(super) fn rewrapped(pem: &str) -> Option<Zeroizing<String>> {
    let start = pem.find(BEGIN)? + BEGIN.len();
    let end = start + pem[start..].find(END)?;
    let body: Zeroizing<String> = pem[start..end]
        .split_whitespace()
        .collect::<String>()
        .into();
    let mut out = Zeroizing::new(String::with_capacity(body.len() + body.len() / 70 + 80));
    out.push_str(BEGIN);
    out.push('\n');
    for line in body.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(line).ok()?);
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    Some(out)
}

/// The key in `pem` with a short P-256 scalar padded to 32 bytes, or None
/// when there is nothing this repair applies to.
pub(super) fn pad_short_ecdsa_scalar(pem: &str) -> Option<Zeroizing<String>> {
    let body: Zeroizing<String> = pem
        .trim()
        .strip_prefix(BEGIN)?
        .strip_suffix(END)?
        .split_whitespace()
        .collect::<String>()
        .into();
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .ok()?,
    );
    let mut r = Reader(bytes.get(MAGIC.len()..)?);
    if !bytes.starts_with(MAGIC) {
        return None;
    }
    let cipher = r.string()?;
    let kdf = r.string()?;
    let _kdf_options = r.string()?;
    if cipher != b"none" || kdf != b"none" || r.u32()? != 1 {
        return None;
    }
    let _public = r.string()?;
    let header_len = bytes.len() - r.0.len();
    let private = r.string()?;

    let mut p = Reader(private);
    let checks = p.take(8)?;
    let key_type = p.string()?;
    if key_type != b"ecdsa-sha2-nistp256" {
        return None;
    }
    let curve = p.string()?;
    let point = p.string()?;
    let scalar = p.string()?;
    let comment = p.string()?;
    const SIZE: usize = 32;
    // A 33-byte form (sign byte) and a full 32-byte one already parse; an
    // empty or absurdly short one is not a key this repair should touch.
    if scalar.len() >= SIZE || scalar.len() < SIZE - 4 {
        return None;
    }
    let mut padded = Zeroizing::new(vec![0u8; SIZE - scalar.len()]);
    padded.extend_from_slice(scalar);

    let mut section = Zeroizing::new(Vec::with_capacity(private.len() + 2 * BLOCK));
    section.extend_from_slice(checks);
    for field in [key_type, curve, point, padded.as_slice(), comment] {
        put_string(&mut section, field);
    }
    let mut pad = 1u8;
    while section.len() % BLOCK != 0 {
        section.push(pad);
        pad += 1;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(header_len + 4 + section.len()));
    out.extend_from_slice(&bytes[..header_len]);
    put_string(&mut out, &section);
    let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*out));
    let mut pem = Zeroizing::new(String::with_capacity(
        BEGIN.len() + END.len() + text.len() + text.len() / 70 + 4,
    ));
    pem.push_str(BEGIN);
    pem.push('\n');
    for line in text.as_bytes().chunks(70) {
        pem.push_str(std::str::from_utf8(line).ok()?);
        pem.push('\n');
    }
    pem.push_str(END);
    pem.push('\n');
    Some(pem)
}

fn put_string(out: &mut Vec<u8>, field: &[u8]) {
    let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
}

/// Reads the SSH wire format's `uint32` and length-prefixed strings.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Length of the private scalar of an unencrypted OpenSSH ECDSA key.
    fn scalar_len(pem: &str) -> usize {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64");
        let mut r = Reader(&bytes[MAGIC.len()..]);
        for _ in 0..3 {
            r.string().expect("header");
        }
        r.u32().expect("count");
        r.string().expect("public");
        let mut p = Reader(r.string().expect("private"));
        p.take(8).expect("checks");
        for _ in 0..3 {
            p.string().expect("type, curve, point");
        }
        p.string().expect("scalar").len()
    }

    /// ssh-keygen makes a P-256 key with a 31-byte scalar about once in 256
    /// tries: make keys until one comes (bounded), then load it.
    #[test]
    fn a_p256_key_with_a_short_scalar_loads_as_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut found = None;
        for i in 0..4000 {
            let path = dir.path().join(format!("k{i}"));
            let made = std::process::Command::new("ssh-keygen")
                .args([
                    "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-C", "short", "-f",
                ])
                .arg(&path)
                .output();
            match made {
                Ok(o) if o.status.success() => {}
                _ => {
                    eprintln!("skipping: ssh-keygen is not available");
                    return;
                }
            }
            let pem = std::fs::read_to_string(&path).expect("key");
            if scalar_len(&pem) < 32 {
                found = Some(path);
                break;
            }
            let _ = std::fs::remove_file(&path);
        }
        let path = found.expect("a short-scalar key within 4000 tries (p < 1e-6 to miss)");
        let pem = std::fs::read_to_string(&path).expect("key");
        // What the console does with it: the credential loads.
        let creds = nfops_core::credentials::MemoryCredentials::default();
        creds.insert("k", &pem);
        super::super::private_key::load_private_key(
            &super::super::private_key::tests::toml_host("k"),
            "k",
            &creds,
        )
        .expect("a P-256 key with a 31-byte scalar loads");
        let repaired = pad_short_ecdsa_scalar(&pem).expect("the repair applies");
        assert_eq!(scalar_len(&repaired), 32);
        let key = russh::keys::decode_secret_key(&repaired, None).expect("the repaired key parses");
        let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
        let want = russh::keys::parse_public_key_base64(
            public.split_whitespace().nth(1).expect("base64 field"),
        )
        .expect("public key parses");
        assert_eq!(
            key.public_key().key_data(),
            want.key_data(),
            "the same key, not another one"
        );
        assert_eq!(key.comment().as_str_lossy(), "short", "the comment is kept");
    }

    #[test]
    fn keys_it_does_not_apply_to_are_left_alone() {
        assert!(pad_short_ecdsa_scalar("not a key").is_none());
        assert!(pad_short_ecdsa_scalar(&format!("{BEGIN}\n!!!\n{END}\n")).is_none());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ed");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&path)
            .output();
        if !made.is_ok_and(|o| o.status.success()) {
            eprintln!("skipping: ssh-keygen is not available");
            return;
        }
        let pem = std::fs::read_to_string(&path).expect("key");
        assert!(
            pad_short_ecdsa_scalar(&pem).is_none(),
            "ed25519 is untouched"
        );
    }
}
