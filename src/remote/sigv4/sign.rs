//! Signing one request: a pure function of the URL, the body, the
//! credentials, the region, the service and the time.
//!
//! The canonical request covers `host` (from the URL, without a default
//! port, as the transport sends it), `x-amz-date`, `x-amz-content-sha256`
//! (the SHA-256 of the exact bytes sent: the snappy-compressed protobuf) and,
//! with temporary credentials, `x-amz-security-token`. Other headers are left
//! out of the signature, as AWS's SDKs leave out those that proxies may
//! change. The path is normalised and double-encoded, as for every AWS
//! service but S3.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign as aws_sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use reqwest::header::{HeaderName, HeaderValue};

/// The headers to add to a `POST` of `body` to `url`, signed with `creds`
/// for `region` and `service` at `time`. `authorization` and
/// `x-amz-security-token` are marked sensitive (never printed by reqwest or
/// `http`).
pub fn sign(
    url: &reqwest::Url,
    body: &[u8],
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let identity: Identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request =
        SignableRequest::new("POST", url.as_str(), std::iter::empty(), SignableBody::Bytes(body))
            .map_err(|e| e.to_string())?;
    let (instructions, _signature) =
        aws_sign(request, &params).map_err(|e| e.to_string())?.into_parts();
    let (headers, _params) = instructions.into_parts();
    headers
        .into_iter()
        .map(|h| {
            let name = HeaderName::from_static(h.name());
            let mut value = HeaderValue::from_str(h.value())
                .map_err(|_| format!("{} is not a valid header value", h.name()))?;
            value.set_sensitive(h.sensitive() || name == reqwest::header::AUTHORIZATION);
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 2023-11-14T22:13:20Z.
    fn time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn header<'a>(headers: &'a [(HeaderName, HeaderValue)], name: &str) -> &'a str {
        let found = headers.iter().find(|(n, _)| n == name);
        found.unwrap_or_else(|| panic!("no {name} in {headers:?}")).1.to_str().unwrap()
    }

    /// Known answers, computed independently with botocore 1.43
    /// (`botocore.auth.SigV4Auth` over the same request, credentials and
    /// time: see `tests/support/aws_standin.py`, which verifies the same way).
    #[test]
    fn known_answer_with_and_without_session_token() {
        let url = reqwest::Url::parse(
            "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-EXAMPLE/api/v1/remote_write",
        )
        .unwrap();
        let body = b"\xff\x06\x00\x00sNaPpY";
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let creds = Credentials::new("AKIDEXAMPLE", secret, None, None, "test");
        let headers = sign(&url, body, &creds, "us-east-1", "aps", time()).unwrap();
        assert_eq!(header(&headers, "x-amz-date"), "20231114T221320Z");
        assert_eq!(
            header(&headers, "x-amz-content-sha256"),
            "75605fd35293ed52e316629e8d3971affee9fee08518e6657188c9e51450a66f"
        );
        assert_eq!(
            header(&headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/aps/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=22185c5a4ef59b2a50921a05d00b3f126e37e714b7a43c33df406aa7a3dde5e0"
        );
        assert!(headers.iter().all(|(n, _)| n != "x-amz-security-token"));

        let creds = Credentials::new("ASIAEXAMPLE", secret, Some("TOKEN/+=".into()), None, "test");
        let headers = sign(&url, body, &creds, "eu-west-1", "aps", time()).unwrap();
        assert_eq!(header(&headers, "x-amz-security-token"), "TOKEN/+=");
        assert_eq!(
            header(&headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20231114/eu-west-1/aps/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, \
             Signature=1d2dd493cbc1009843c2c17a00b3f9ade5a2d89bdbed573aa1bce8b2bdf0a65e"
        );
    }

    #[test]
    fn secrets_are_sensitive_headers() {
        let url = reqwest::Url::parse("http://127.0.0.1:9/w").unwrap();
        let creds = Credentials::new("AKID", "s3cr3t", Some("t0k3n".into()), None, "test");
        let headers = sign(&url, b"", &creds, "us-east-1", "aps", time()).unwrap();
        for (name, value) in &headers {
            let secret = name == "authorization" || name == "x-amz-security-token";
            assert_eq!(value.is_sensitive(), secret, "{name}");
        }
        let debug = format!("{headers:?}");
        assert!(!debug.contains("t0k3n") && !debug.contains("Signature="), "{debug}");
    }
}
