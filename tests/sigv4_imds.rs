//! EC2 instance-role credentials through a local IMDS stand-in
//! (`tests/support/aws_standin.py`: IMDSv2 sessions, the role's credentials
//! as EC2 serves them, the placement region; selected with
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` as the AWS SDKs allow), with the
//! AMP stand-in verifying every signature:
//!
//! - credentials and region come from IMDS and are renewed before they
//!   expire;
//! - a 403 ExpiredTokenException forces a refresh: the batch is retried, not
//!   dropped, and delivery resumes with the new credentials.

#[path = "support/aws_env.rs"]
mod aws_env;
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_env::*;

fn imds_env(s: &Standin, home: &std::path::Path) -> Vec<(String, String)> {
    let mut env: Vec<_> =
        base_env(home).into_iter().filter(|(k, _)| k != "AWS_EC2_METADATA_DISABLED").collect();
    env.push(("AWS_EC2_METADATA_SERVICE_ENDPOINT".into(), s.imds_url()));
    env
}

fn accepted_keys(log: &[LogEntry]) -> BTreeSet<String> {
    log.iter().filter(|e| e.status == 200).filter_map(|e| e.access_key_id.clone()).collect()
}

#[tokio::test]
async fn instance_role_credentials_and_region_come_from_imdsv2_and_are_renewed_before_expiry() {
    let s = Standin::start().await;
    // Valid 20 s; IMDS offers new ones in their last 12 s (EC2 does so
    // minutes ahead). tern refreshes at half their lifetime.
    s.imds(20, 12).await;
    let dir = tempfile::tempdir().unwrap();
    let target = target().await;
    // No region anywhere but IMDS's placement.
    let yaml = config(&target, &s.write_url(), "{}");
    let tern = start_tern(dir.path(), &yaml, &imds_env(&s, dir.path())).await;
    let log = s
        .wait_log("requests accepted with 3 instance credentials", Duration::from_secs(45), |log| {
            accepted_keys(log).len() >= 3
        })
        .await;
    // Renewed before expiry: the receiver never refused a request.
    assert!(log.iter().all(|e| e.status == 200), "refused: {log:?}");
    let calls = s.imds_calls().await;
    let paths: BTreeSet<&str> = calls.iter().filter_map(|c| c["path"].as_str()).collect();
    for want in [
        "/latest/api/token",
        "/latest/meta-data/placement/region",
        "/latest/meta-data/iam/security-credentials/",
        "/latest/meta-data/iam/security-credentials/tern-instance-role",
    ] {
        assert!(paths.contains(want), "{want} not asked: {paths:?}");
    }
    assert_nothing_lost(&tern, &s, Duration::from_secs(20)).await;
    let m = tern.metrics().await;
    let expiry = m.sum("tern_remote_sigv4_credentials_expiry_timestamp_seconds");
    assert!(expiry > support::now_secs(), "expiry {expiry}");
    let secrets: Vec<String> = s.keys().await.iter().flat_map(Key::secrets).collect();
    assert_no_secret_anywhere(&tern, &secrets).await;
}

#[tokio::test]
async fn an_expired_token_403_refreshes_the_credentials_and_drops_nothing() {
    let s = Standin::start().await;
    // An hour's credentials: no refresh ahead of expiry during the test.
    s.imds(3600, 300).await;
    let dir = tempfile::tempdir().unwrap();
    let target = target().await;
    let yaml = config(&target, &s.write_url(), &format!("{{region: {REGION}}}"));
    let tern = start_tern(dir.path(), &yaml, &imds_env(&s, dir.path())).await;
    let log = s
        .wait_log("3 accepted requests", Duration::from_secs(20), |log| {
            log.iter().filter(|e| e.status == 200).count() >= 3
        })
        .await;
    let first = log.iter().find(|e| e.status == 200).unwrap().access_key_id.clone().unwrap();
    // The receiver now says the token expired (IMDS then serves new ones).
    s.set_state(&first, "expired").await;
    let log = s
        .wait_log("3 requests accepted with new credentials", Duration::from_secs(30), |log| {
            log.iter()
                .filter(|e| e.status == 200 && e.access_key_id.as_deref() != Some(&*first))
                .count()
                >= 3
        })
        .await;
    let refused: Vec<_> = log.iter().filter(|e| e.status == 403).collect();
    assert!(!refused.is_empty(), "the receiver never refused: {log:?}");
    assert!(
        refused.iter().all(|e| e.error.as_deref() == Some("ExpiredTokenException")),
        "{refused:?}"
    );
    let m = tern.metrics().await;
    let rejected = m.0.iter().filter(|s| {
        s.is("tern_remote_sigv4_credentials_rejected_total", &[("reason", "expired_token")])
    });
    assert!(rejected.map(|s| s.value).sum::<f64>() >= 1.0, "{}", m.dump("tern_remote_sigv4"));
    // No data dropped: every sample arrived, none counted as failed.
    assert_nothing_lost(&tern, &s, Duration::from_secs(20)).await;
    let secrets: Vec<String> = s.keys().await.iter().flat_map(Key::secrets).collect();
    assert_no_secret_anywhere(&tern, &secrets).await;
}
