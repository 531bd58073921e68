//! The host's private key, read from its keyring credential: as stored,
//! laid out again when a paste lost its line breaks, and with the short
//! P-256 scalar repair (see [`super::key_repair`]).

use nfops_core::config::Host;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};

use super::key_repair;

/// Reads the host's private key from its credential. The key text never
/// reaches an error: the decoder's error is not even kept as source.
pub(super) fn load_private_key(
    host: &Host,
    credential: &str,
    creds: &dyn CredentialSource,
) -> Result<russh::keys::PrivateKey> {
    let secret = creds.get(credential)?;
    // As stored, else laid out again (line breaks lost in a paste), then
    // with the short-scalar repair on either form.
    let relaid = key_repair::rewrapped(secret.expose());
    let forms =
        std::iter::once(secret.expose().as_str()).chain(relaid.as_deref().map(String::as_str));
    let mut first = None;
    for pem in forms {
        let parsed = russh::keys::decode_secret_key(pem, None).or_else(|e| {
            match key_repair::pad_short_ecdsa_scalar(pem) {
                Some(repaired) => russh::keys::decode_secret_key(&repaired, None).map_err(|_| e),
                None => Err(e),
            }
        });
        match parsed {
            Ok(k) => return Ok(k),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or(russh::keys::Error::CouldNotReadKey))
        .map_err(|e| {
        let hint = match e {
            russh::keys::Error::KeyIsEncrypted => {
                "The key is passphrase-protected; store an unencrypted copy (ssh-keygen -p -N '' on a copy) in the keyring."
            }
            _ => "Store the whole OpenSSH private key, from -----BEGIN OPENSSH PRIVATE KEY----- to the END line.",
        };
        Error::new(
            ErrorCode::SshAuth,
            format!("credential '{credential}' (SSH key of host '{}') is not a usable private key", host.name),
        )
        .hint(hint)
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_a_key_never_echoes_its_text() {
        let creds = nfops_core::credentials::MemoryCredentials::default();
        creds.insert("k", "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LXBsYW50ZWQ=\n-----END OPENSSH PRIVATE KEY-----\n");
        let host: Host = toml_host("k");
        let err = load_private_key(&host, "k", &creds).expect_err("garbage is not a key");
        assert_eq!(err.code(), ErrorCode::SshAuth);
        let all = format!("{} {:?} {:?}", err, err.to_wire(), err.causes());
        assert!(!all.contains("c2VjcmV0"), "key text leaked: {all}");
    }

    #[test]
    fn openssh_keys_of_every_supported_type_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (kind, bits) in [
            ("ed25519", None),
            ("ecdsa", Some("256")),
            ("ecdsa", Some("384")),
            ("rsa", Some("2048")),
        ] {
            let path = dir.path().join(format!("{kind}{}", bits.unwrap_or("")));
            let mut cmd = std::process::Command::new("ssh-keygen");
            cmd.args(["-q", "-t", kind, "-N", "", "-f"]).arg(&path);
            if let Some(b) = bits {
                cmd.args(["-b", b]);
            }
            match cmd.output() {
                Ok(o) if o.status.success() => {}
                _ => {
                    eprintln!("skipping: ssh-keygen is not available");
                    return;
                }
            }
            let creds = nfops_core::credentials::MemoryCredentials::default();
            creds.insert("k", &std::fs::read_to_string(&path).expect("key written"));
            let key = load_private_key(&toml_host("k"), "k", &creds)
                .unwrap_or_else(|e| panic!("{kind} {bits:?} keys must load: {e}"));
            assert_eq!(
                key.algorithm().is_rsa(),
                kind == "rsa",
                "{kind}: RSA keys are told apart for the hash choice"
            );
        }
    }

    pub(in crate::ssh) fn toml_host(cred: &str) -> Host {
        let text = format!(
            "name = \"app1\"\naddress = \"127.0.0.1\"\nuser = \"deploy\"\nssh_key_credential = \"{cred}\"\napp_dir = \"/srv/app\"\n"
        );
        toml_from_str(&text)
    }

    fn toml_from_str(text: &str) -> Host {
        // The config crate owns the TOML parser; go through a one-host environment file.
        let file = format!("[environments.t]\ntier = \"local\"\n[[environments.t.hosts]]\n{text}");
        let cfg = nfops_core::config::Config::parse(std::path::Path::new("t.toml"), &file)
            .expect("test config parses");
        let env = cfg.environment("t").expect("env t");
        env.hosts[0].get_ref().clone()
    }
}

#[cfg(test)]
mod pasted_key_tests {
    use super::*;

    /// A fresh key from ssh-keygen, as OpenSSH writes it.
    fn fresh_key() -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&path)
            .status()
            .expect("ssh-keygen runs");
        assert!(made.success());
        std::fs::read_to_string(&path).expect("key")
    }

    #[test]
    fn a_key_whose_line_breaks_a_paste_lost_or_changed_still_loads() {
        let pem = fresh_key();
        let host: Host = toml::from_str(
            "name = \"h\"\naddress = \"127.0.0.1\"\nuser = \"u\"\nssh_key_credential = \"k\"\napp_dir = \"/srv\"\n",
        )
        .expect("host");
        let want = load_from(&host, &pem).expect("as written");
        let flattened = pem.replace('\n', " ");
        let crlf = pem.replace('\n', "\r\n");
        let glued = pem.lines().collect::<String>();
        let no_final_newline = pem.trim_end().to_owned();
        for (what, text) in [
            ("spaces", flattened),
            ("CRLF", crlf),
            ("nothing", glued),
            ("no final newline", no_final_newline),
        ] {
            let got =
                load_from(&host, &text).unwrap_or_else(|e| panic!("line breaks as {what}: {e}"));
            assert_eq!(got.public_key(), want.public_key(), "{what}: the same key");
        }
        // A key with a byte of its body changed is still refused.
        let mut broken = pem.clone();
        let at = broken.find('\n').expect("line") + 10;
        broken.replace_range(at..at + 1, "!");
        assert!(load_from(&host, &broken).is_err());
    }

    fn load_from(host: &Host, text: &str) -> Result<russh::keys::PrivateKey> {
        let creds = nfops_core::credentials::MemoryCredentials::default();
        creds.insert("k", text);
        load_private_key(host, "k", &creds)
    }
}
