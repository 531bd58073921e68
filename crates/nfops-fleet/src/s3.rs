//! One way to build an S3 client for an S3-compatible server, used by the
//! storage probe and the backup object store.
//!
//! Built by hand (no profile or IMDS lookups): static keys, rustls on ring
//! with the OS trust store, the proxy from `HTTPS_PROXY` / `HTTP_PROXY` /
//! `NO_PROXY` (the same variables `nfops_core::http` reads; the SDK has no
//! reader of the macOS/Windows system settings), path-style when asked, and
//! checksums only when required (S3-compatible servers refuse the SDK's
//! newer defaults; callers check sizes and hashes themselves).

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedHttpClient,
};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Connector;

use nfops_core::SecretString;

/// Where the server is and how to address buckets on it.
pub struct Endpoint<'a> {
    pub url: &'a str,
    pub region: &'a str,
    pub path_style: bool,
}

/// A client for `endpoint` with the given keys, retry policy and timeouts.
pub fn client(
    endpoint: Endpoint<'_>,
    access_key: &SecretString,
    secret_key: &SecretString,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
) -> aws_sdk_s3::Client {
    let http = http_client();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint.url.trim_end_matches('/'))
        .region(Region::new(endpoint.region.to_owned()))
        .credentials_provider(Credentials::new(
            access_key.expose().clone(),
            secret_key.expose().clone(),
            None,
            None,
            "nfops-keyring",
        ))
        .force_path_style(endpoint.path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(retry)
        .timeout_config(timeouts)
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The SDK's HTTPS client with the proxy from the environment. The SDK's
/// `build_https()` has no proxy setting, so the connector is built here
/// with the SDK's timeouts and sleep (what `build_https` passes on).
fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = Connector::builder().proxy_config(ProxyConfig::from_env());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build()
    })
}
