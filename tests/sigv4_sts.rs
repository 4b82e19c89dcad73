//! Credentials from AWS STS, through a local STS stand-in
//! (`tests/support/aws_standin.py`, the STS query protocol and its XML,
//! selected with `AWS_ENDPOINT_URL_STS` as the AWS SDKs allow):
//!
//! - web identity (EKS IRSA): `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`
//!   exchanged with `AssumeRoleWithWebIdentity`; the credentials STS returns
//!   are the ones tern signs with, and they are renewed before they expire;
//! - `role_arn` + `external_id` in the `sigv4` block: `AssumeRole`, itself
//!   signed with the block's static keys (and verified by the stand-in).

#[path = "support/aws_env.rs"]
mod aws_env;
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_env::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/tern-irsa";

#[tokio::test]
async fn web_identity_credentials_are_used_and_renewed_before_they_expire() {
    let s = Standin::start().await;
    // The projected service-account token kubelet writes.
    let jwt = format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlcm4ifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.{}",
        std::process::id()
    );
    // STS credentials valid 20 s: tern renews at half their lifetime.
    s.sts(ROLE, Some(&jwt), 20).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &jwt).unwrap();
    let target = target().await;
    // No region in the block: AWS_REGION.
    let yaml = config(&target, &s.write_url(), "{}");
    let mut env = base_env(dir.path());
    for (k, v) in [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.display().to_string()),
        ("AWS_ROLE_ARN", ROLE.to_owned()),
        ("AWS_ROLE_SESSION_NAME", "tern-test".to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ENDPOINT_URL_STS", s.sts_url()),
    ] {
        env.push((k.into(), v));
    }
    let tern = start_tern(dir.path(), &yaml, &env).await;
    let log = s
        .wait_log("requests accepted with 3 STS credentials", Duration::from_secs(45), |log| {
            let keys: BTreeSet<_> = log
                .iter()
                .filter(|e| e.status == 200)
                .filter_map(|e| e.access_key_id.clone())
                .collect();
            keys.len() >= 3
        })
        .await;
    let calls = s.sts_calls().await;
    assert!(calls.len() >= 3, "{calls:?}");
    assert!(calls
        .iter()
        .all(|c| c["action"] == "AssumeRoleWithWebIdentity" && c["role_arn"] == ROLE));
    // Every key used was minted by STS, and renewed before it expired: the
    // receiver (which refuses expired keys) never refused one.
    let minted: BTreeSet<String> = s.keys().await.into_iter().map(|k| k.access_key_id).collect();
    assert!(log.iter().all(|e| e.status == 200), "refused: {log:?}");
    assert!(log.iter().all(|e| minted.contains(e.access_key_id.as_deref().unwrap_or_default())));
    assert_nothing_lost(&tern, &s, Duration::from_secs(20)).await;
    let mut secrets: Vec<String> = s.keys().await.iter().flat_map(Key::secrets).collect();
    secrets.push(jwt);
    assert_no_secret_anywhere(&tern, &secrets).await;
}

#[tokio::test]
async fn role_arn_is_assumed_with_the_external_id_on_top_of_static_keys() {
    let s = Standin::start().await;
    s.sts(ROLE, None, 3600).await;
    let base =
        Key { token: None, access_key_id: "AKIABASEKEY000000001".into(), ..Key::session("base") };
    s.add_key(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let target = target().await;
    let sigv4 = format!(
        "{{region: {REGION}, access_key: {}, secret_key: \"{}\", role_arn: \"{ROLE}\", external_id: tern-ext-1}}",
        base.access_key_id, base.secret
    );
    let yaml = config(&target, &s.write_url(), &sigv4);
    let mut env = base_env(dir.path());
    env.push(("AWS_ENDPOINT_URL_STS".into(), s.sts_url()));
    let tern = start_tern(dir.path(), &yaml, &env).await;
    let log = s
        .wait_log("3 accepted requests", Duration::from_secs(20), |log| {
            log.iter().filter(|e| e.status == 200).count() >= 3
        })
        .await;
    let calls = s.sts_calls().await;
    assert_eq!(calls.len(), 1, "one AssumeRole for an hour's credentials: {calls:?}");
    assert_eq!(calls[0]["action"], "AssumeRole");
    assert_eq!(calls[0]["external_id"], "tern-ext-1");
    // Signed with the assumed role's credentials, not the base keys.
    assert!(log.iter().all(|e| e.access_key_id.as_deref() != Some(&*base.access_key_id)));
    assert!(log.iter().all(|e| e.access_key_id.as_deref().is_some_and(|k| k.starts_with("ASIA"))));
    assert_nothing_lost(&tern, &s, Duration::from_secs(20)).await;
    let secrets: Vec<String> = s.keys().await.iter().flat_map(Key::secrets).collect();
    assert_no_secret_anywhere(&tern, &secrets).await;
}
