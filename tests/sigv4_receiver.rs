//! The verifying receiver: the AMP stand-in (`tests/support/aws_standin.py`)
//! checks SigV4 with botocore, independently of tern. It accepts what
//! tern's signer (`tern::remote::sigv4::sign`) produces, and refuses, as AMP
//! does, a request whose body, signature, token, key, scope or date was
//! altered; and `tern run` with static keys in its `sigv4` block delivers
//! every sample through it.

#[path = "support/aws_env.rs"]
mod aws_env;
mod support;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use aws_env::*;

/// A remote-write body: one series, one sample, snappy-compressed.
fn body() -> Vec<u8> {
    let labels = tern::labels::Labels::from_pairs([("__name__", "up"), ("job", "x")]);
    let samples =
        [tern::remote::encode::SampleValue { timestamp_ms: 1_700_000_000_000, value: 1.0 }];
    let mut enc = tern::remote::encode::Encoder::default();
    enc.encode([(&labels, &samples[..])]).unwrap().to_vec()
}

fn creds(key: &Key) -> Credentials {
    Credentials::new(&key.access_key_id, &key.secret, key.token.clone(), None, "test")
}

/// The signed headers for a POST of `body` to `url`.
fn signed(url: &str, body: &[u8], key: &Key, region: &str, time: SystemTime) -> HeaderMap {
    let url = reqwest::Url::parse(url).unwrap();
    let headers =
        tern::remote::sigv4::sign::sign(&url, body, &creds(key), region, "aps", time).unwrap();
    headers.into_iter().collect()
}

/// POSTs and returns the status and the `x-amzn-ErrorType` code.
async fn post(url: &str, headers: HeaderMap, body: Vec<u8>) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .headers(headers)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .body(body)
        .send()
        .await
        .unwrap();
    let code = r.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), code.unwrap_or_default().split(':').next().unwrap().to_owned())
}

#[tokio::test]
async fn the_receiver_accepts_tern_signatures_and_refuses_alterations() {
    let s = Standin::start().await;
    let url = s.write_url();
    let key = Key::session("recv");
    s.add_key(&key).await;
    let now = SystemTime::now();
    let good = || signed(&url, &body(), &key, REGION, now);

    // tern's signature verifies; the body reaches the upstream receiver.
    assert_eq!(post(&url, good(), body()).await, (200, String::new()));
    let got = s.upstream.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sample_count(), 1);

    let refused = |code: &str| (403, code.to_owned());
    // The body altered (one byte), its hash header left as signed.
    let mut altered = body();
    *altered.last_mut().unwrap() ^= 1;
    assert_eq!(post(&url, good(), altered.clone()).await, refused("InvalidSignatureException"));
    // The body altered and its hash header recomputed to match: the
    // signature covers the header.
    let mut headers = good();
    let sha = sha256_hex(&altered);
    assert_ne!(headers["x-amz-content-sha256"].to_str().unwrap(), sha);
    headers.insert("x-amz-content-sha256", HeaderValue::from_str(&sha).unwrap());
    assert_eq!(post(&url, headers, altered).await, refused("InvalidSignatureException"));
    // The signature altered (its last hex digit).
    let mut headers = good();
    let auth = headers["authorization"].to_str().unwrap().to_owned();
    let flipped = if auth.ends_with('0') { "1" } else { "0" };
    let auth = format!("{}{flipped}", &auth[..auth.len() - 1]);
    headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert_eq!(post(&url, headers, body()).await, refused("InvalidSignatureException"));
    // Another token than the key's.
    let mut headers = good();
    headers.insert(HeaderName::from_static("x-amz-security-token"), HeaderValue::from_static("x"));
    assert_eq!(post(&url, headers, body()).await, refused("UnrecognizedClientException"));
    // An unknown key, a wrong secret, the wrong region, a stale date.
    let unknown = Key::session("unknown");
    let h = signed(&url, &body(), &unknown, REGION, now);
    assert_eq!(post(&url, h, body()).await, refused("UnrecognizedClientException"));
    let wrong_secret = Key { secret: "not-the-secret".into(), ..key.clone() };
    let h = signed(&url, &body(), &wrong_secret, REGION, now);
    assert_eq!(post(&url, h, body()).await, refused("InvalidSignatureException"));
    let h = signed(&url, &body(), &key, "eu-west-1", now);
    assert_eq!(post(&url, h, body()).await, refused("InvalidSignatureException"));
    let h = signed(&url, &body(), &key, REGION, now - Duration::from_secs(600));
    assert_eq!(post(&url, h, body()).await, refused("InvalidSignatureException"));
    // No signature at all.
    assert_eq!(
        post(&url, HeaderMap::new(), body()).await,
        refused("MissingAuthenticationTokenException")
    );
    // Expired and denied keys.
    s.set_state(&key.access_key_id, "expired").await;
    assert_eq!(post(&url, good(), body()).await, refused("ExpiredTokenException"));
    s.set_state(&key.access_key_id, "denied").await;
    assert_eq!(post(&url, good(), body()).await, refused("AccessDeniedException"));

    // Nothing refused went through.
    assert_eq!(s.upstream.requests().len(), 1);
}

/// SHA-256 of `data` in hex, as the `x-amz-content-sha256` header tern's
/// signer computes (botocore's check of it is what is under test).
fn sha256_hex(data: &[u8]) -> String {
    let url = reqwest::Url::parse("http://127.0.0.1/").unwrap();
    let c = Credentials::new("AKIDEXAMPLE1", "s", None, None, "test");
    let h =
        tern::remote::sigv4::sign::sign(&url, data, &c, REGION, "aps", SystemTime::now()).unwrap();
    h.iter().find(|(n, _)| n == "x-amz-content-sha256").unwrap().1.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn tern_with_static_keys_delivers_every_sample_through_the_verifier() {
    let s = Standin::start().await;
    let key =
        Key { access_key_id: "AKIASTATICKEY0000001".into(), token: None, ..Key::session("static") };
    s.add_key(&key).await;
    let target = target().await;
    let sigv4 = format!(
        "{{region: {REGION}, access_key: {}, secret_key: \"{}\"}}",
        key.access_key_id, key.secret
    );
    let dir = tempfile::tempdir().unwrap();
    let tern =
        start_tern(dir.path(), &config(&target, &s.write_url(), &sigv4), &base_env(dir.path()))
            .await;
    s.wait_log("5 accepted requests", Duration::from_secs(20), |log| {
        accepted_with(log, &key.access_key_id) >= 5
    })
    .await;
    assert_nothing_lost(&tern, &s, Duration::from_secs(20)).await;
    let log = s.log().await;
    assert!(log.iter().all(|e| e.status == 200), "refused: {log:?}");
    // The headers AMP expects arrived.
    let r = &s.upstream.requests()[0];
    assert_eq!(r.header("content-encoding"), Some("snappy"));
    assert_no_secret_anywhere(&tern, &key.secrets()).await;
}
