use super::*;

use reqwest::header::HeaderValue;

fn config(yaml: &str) -> SigV4Config {
    serde_yaml::from_str(yaml).unwrap()
}

fn static_signer(metrics: &SigV4Metrics) -> Signer {
    let c = config("region: eu-west-1\naccess_key: AKIDSTATIC0001\nsecret_key: sk-static-secret");
    let timing = Timing { min_forced_interval: Duration::ZERO, ..Timing::default() };
    Signer::with(&c, "amp", metrics.clone(), timing, cache::system_clock())
}

#[test]
fn masking_and_error_chains() {
    assert_eq!(masked("ASIAEXAMPLEWXYZ"), "ASIA…WXYZ");
    assert_eq!(masked("short"), "…");
    assert_eq!(masked(""), "…");
    let inner = std::io::Error::other("connection refused");
    let outer = CredentialsErrorLike("failed to load credentials", inner);
    assert_eq!(error_chain(&outer), "failed to load credentials: connection refused");
}

#[derive(Debug)]
struct CredentialsErrorLike(&'static str, std::io::Error);

impl fmt::Display for CredentialsErrorLike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for CredentialsErrorLike {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.1)
    }
}

#[test]
fn the_reread_interval_can_be_shortened_internally_and_defaults_to_a_minute() {
    assert_eq!(timing_from_env(|_| None).reread_interval, Duration::from_secs(60));
    let t = timing_from_env(|k| (k == REREAD_INTERVAL_ENV).then(|| "2s".to_owned()));
    assert_eq!(t.reread_interval, Duration::from_secs(2));
    assert_eq!(timing_from_env(|_| Some("soon".to_owned())), Timing::default());
}

#[test]
fn service_defaults_to_aps() {
    let m = SigV4Metrics::default();
    let s = static_signer(&m);
    assert_eq!(s.service, "aps");
    let c = config("region: eu-west-1\nservice_name: execute-api");
    let s = Signer::with(&c, "x", m, Timing::default(), cache::system_clock());
    assert_eq!(s.service, "execute-api");
}

#[tokio::test]
async fn static_keys_sign_each_call_anew_and_debug_shows_no_secret() {
    let m = SigV4Metrics::default();
    let s = static_signer(&m);
    let url = reqwest::Url::parse("https://aps-workspaces.eu-west-1.amazonaws.com/w").unwrap();
    let signed = s.sign(&url, b"body").await.unwrap();
    let names: Vec<&str> = signed.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x-amz-date", "authorization", "x-amz-content-sha256"]);
    let auth = signed.headers[1].1.to_str().unwrap();
    assert!(auth.contains("Credential=AKIDSTATIC0001/") && auth.contains("/eu-west-1/aps/"));
    // Another body, another signature.
    let other = s.sign(&url, b"body2").await.unwrap();
    assert_ne!(other.headers[1].1, signed.headers[1].1);
    for debug in [format!("{s:?}"), format!("{signed:?}")] {
        assert!(
            !debug.contains("sk-static-secret") && !debug.contains("AKIDSTATIC0001"),
            "{debug}"
        );
    }
}

#[tokio::test]
async fn responses_are_scrubbed_classified_and_counted() {
    let m = SigV4Metrics::default();
    let s = static_signer(&m);
    let url = reqwest::Url::parse("https://example.com/w").unwrap();
    let signed = s.sign(&url, b"x").await.unwrap();
    let generation = signed.generation;
    let mut headers = HeaderMap::new();

    let mut body = "all fine sk-static-secret".to_owned();
    assert_eq!(s.observe(&signed, 200, &headers, &mut body), None);
    assert_eq!(body, "all fine <redacted>");

    headers.insert("x-amzn-errortype", HeaderValue::from_static("ExpiredTokenException"));
    let mut body =
        r#"{"message":"The security token included in the request is expired"}"#.to_owned();
    assert_eq!(
        s.observe(&signed, 403, &headers, &mut body),
        Some(Rejection::Credentials(Problem::ExpiredToken))
    );
    let labels =
        metrics::RemoteReason { remote_name: "amp".into(), reason: "expired_token".into() };
    assert_eq!(m.credentials_rejected.get_or_create(&labels).get(), 1);
    // The rejection forced a reload of the (static) credentials.
    let again = s.sign(&url, b"x").await.unwrap();
    assert_eq!(again.generation, generation + 1);

    headers.insert("x-amzn-errortype", HeaderValue::from_static("AccessDeniedException"));
    let mut body = r#"{"message":"not authorized to perform: aps:RemoteWrite"}"#.to_owned();
    assert_eq!(s.observe(&again, 403, &headers, &mut body), Some(Rejection::AccessDenied));
    let denied = m.access_denied.get_or_create(&metrics::Remote { remote_name: "amp".into() });
    assert_eq!(denied.get(), 1);

    // A 403 without a recognised reason is left to the status.
    let mut body = "denied by a proxy".to_owned();
    assert_eq!(s.observe(&again, 403, &HeaderMap::new(), &mut body), None);
}
