//! The one home of the console's HTTP clients. Every reqwest client (health
//! probes, Prometheus, Loki, uptime checks, restore checks, Vercel/Netlify)
//! starts from [`client_builder`], so all of them trust the same roots and
//! take the same proxy; raw TLS probes take [`tls_client_config`].
//!
//! Trust: the operating system's certificate store, through
//! rustls-platform-verifier. macOS: the Security framework (keychains, with
//! the user's trust settings); Windows: CryptoAPI (the certificate stores);
//! Linux: the system bundle read by rustls-native-certs (`SSL_CERT_FILE` /
//! `SSL_CERT_DIR` when set, else the distribution's `/etc/ssl/certs`). No
//! roots are bundled: a company CA installed in the OS store is trusted, and
//! a host with no CA certificates at all cannot build a client.
//!
//! Proxy: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (upper or
//! lower case) on every OS; when none is set, the system proxy settings on
//! macOS and Windows (reqwest's `system-proxy`). Both are read when a client
//! is built.

use std::error::Error as StdError;
use std::sync::{Arc, Once};

/// What every client sends as `User-Agent`.
pub const USER_AGENT: &str = concat!("nfops/", env!("CARGO_PKG_VERSION"));

/// The proxy variables read (curl's names), in the order shown in logs.
pub const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Installs ring as rustls' process-wide crypto provider, once. Both mains
/// call it first thing, so every rustls user of the process (reqwest, the
/// updater, fantoccini, sqlx's TLS) agrees on one provider; [`client_builder`]
/// and the MySQL TLS setup call it too, so a library caller (a test) never
/// meets rustls' "no provider" panic (ring and aws-lc-rs are both in the
/// tree, so rustls cannot pick one itself).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err: another library installed one first; any provider will do.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest builder that trusts the OS certificate store and honours the OS
/// proxy settings, with the console's `User-Agent`. Callers add their own
/// timeouts and redirect policy, then `build()`.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    log_proxy_once();
    reqwest::Client::builder().user_agent(USER_AGENT)
}

/// A rustls client config with the same OS trust as [`client_builder`], for
/// probes that speak TLS themselves (the uptime certificate check).
///
/// Errors: rustls' own when the OS store cannot be read or holds no CA.
pub fn tls_client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// When `e`'s chain holds a refused server certificate, one sentence saying
/// why, for error messages ("the server's TLS certificate is issued by a CA
/// this computer does not trust…"); `None` for every other failure.
pub fn certificate_problem(e: &(dyn StdError + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return describe(tls);
        }
        // tokio-rustls wraps the rustls error in an io::Error (and the
        // connector may wrap that in another); io::Error's source() skips
        // the wrapped error itself, so step into it by hand.
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => err.source(),
        };
    }
    None
}

fn describe(e: &rustls::Error) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return None;
    };
    let why = match c {
        C::UnknownIssuer => "is issued by a certificate authority this computer does not trust (add the CA to the operating system's trust store)".to_owned(),
        C::NotValidForName | C::NotValidForNameContext { .. } => "is not valid for this host name".to_owned(),
        C::Expired | C::ExpiredContext { .. } => "has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "is not valid yet (check this computer's clock)".to_owned(),
        C::Revoked => "has been revoked".to_owned(),
        other => format!("was refused ({other:?})"),
    };
    Some(format!("the server's TLS certificate {why}"))
}

/// `url` with any `user:password@` replaced by `***@`, for logs and messages:
/// a proxy URL may carry the proxy's credentials.
pub fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    // The last '@': a password may hold an unescaped '@' of its own.
    match rest.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}***@{host}"),
        None => url.to_owned(),
    }
}

/// The proxy variables that are set, credentials redacted ("HTTPS_PROXY=http://***@proxy:3128").
pub fn proxy_settings() -> Vec<String> {
    PROXY_VARS
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
            Some(format!("{name}={}", redact_userinfo(&value)))
        })
        .collect()
}

/// Says once per process which proxy the clients take, so a support request
/// can tell "through the proxy" from "direct" from the log alone.
fn log_proxy_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let set = proxy_settings();
        if set.is_empty() {
            tracing::debug!("HTTP clients: no proxy variables set (macOS and Windows: system proxy settings apply)");
        } else {
            tracing::info!(proxy = %set.join(" "), "HTTP clients: proxy from the environment");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_proxy_credentials() {
        assert_eq!(
            redact_userinfo("http://ops:s3cret@proxy.corp:3128"),
            "http://***@proxy.corp:3128"
        );
        assert_eq!(
            redact_userinfo("http://ops:p@ss@proxy.corp:3128/"),
            "http://***@proxy.corp:3128/"
        );
        assert_eq!(redact_userinfo("ops:s3cret@proxy:8080"), "***@proxy:8080");
        assert_eq!(
            redact_userinfo("http://proxy.corp:3128"),
            "http://proxy.corp:3128"
        );
    }

    #[test]
    fn names_a_refused_certificate_through_an_io_error() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let io = std::io::Error::other(io);
        let msg = certificate_problem(&io).expect("a certificate problem");
        assert!(msg.contains("does not trust"), "{msg}");
        let other = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(certificate_problem(&other), None);
    }

    #[test]
    fn builds_a_client_without_a_provider_installed_by_hand() {
        // No install_crypto_provider() first: the home does it itself.
        assert!(client_builder().build().is_ok());
        assert!(tls_client_config().is_ok());
    }
}
