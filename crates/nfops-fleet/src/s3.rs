//! One way to build an S3 client for an S3-compatible server, used by the
//! storage probe and the backup object store.
//!
//! Built by hand (no environment, profile or IMDS lookups): static keys,
//! rustls on ring, path-style when asked, and checksums only when required
//! (S3-compatible servers refuse the SDK's newer defaults; callers check
//! sizes and hashes themselves).

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
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
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
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
