//! What tern does when AWS refuses its requests, and that no secret ever
//! shows, with the verifying AMP stand-in (`tests/support/aws_standin.py`):
//!
//! - 403 AccessDeniedException: an ERROR naming `aps:RemoteWrite`, counted
//!   in `tern_remote_sigv4_access_denied_total`, the samples kept and
//!   retried; once access is granted every sample arrives.
//! - 403 InvalidSignatureException whose message quotes the canonical
//!   request (session token included), as AWS's does: retried after a
//!   refresh, and with the most verbose log level, neither the secret key
//!   nor the session token appear in the log, `/metrics`,
//!   `/api/v1/targets` or the health endpoints.
//! - No region anywhere: an error that says where to set one.

#[path = "support/aws_env.rs"]
mod aws_env;
mod support;

use std::path::Path;
use std::time::Duration;

use aws_env::*;

fn credentials_file(home: &Path, key: &Key) {
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(home.join(".aws/credentials"), key.profile_section("default")).unwrap();
}

#[tokio::test]
async fn access_denied_is_reported_clearly_and_retried_until_granted() {
    let s = Standin::start().await;
    let key = Key::session("denied");
    s.add_key(&key).await;
    let dir = tempfile::tempdir().unwrap();
    credentials_file(dir.path(), &key);
    let target = target().await;
    let yaml = config(&target, &s.write_url(), &format!("{{region: {REGION}}}"));
    let tern = start_tern(dir.path(), &yaml, &base_env(dir.path())).await;
    s.wait_log("an accepted request", Duration::from_secs(20), |log| {
        log.iter().any(|e| e.status == 200)
    })
    .await;

    s.set_state(&key.access_key_id, "denied").await;
    let m = tern
        .wait_metrics(Duration::from_secs(20), "access denied counted", |m| {
            m.sum("tern_remote_sigv4_access_denied_total") >= 3.0
        })
        .await;
    assert_eq!(m.sum("prometheus_remote_storage_samples_failed_total"), 0.0);
    let log = tern.log();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.iter().any(|l| l.contains("AccessDeniedException") && l.contains("aps:RemoteWrite")),
        "no ERROR naming aps:RemoteWrite:\n{log}"
    );
    // Rate-limited: one ERROR for several refusals.
    assert_eq!(errors.len(), 1, "{errors:#?}");

    // Granted: the backlog arrives.
    s.set_state(&key.access_key_id, "valid").await;
    assert_nothing_lost(&tern, &s, Duration::from_secs(30)).await;
    assert_no_secret_anywhere(&tern, &key.secrets()).await;
}

#[tokio::test]
async fn no_secret_shows_in_logs_or_endpoints_even_when_aws_quotes_the_canonical_request() {
    let s = Standin::start().await;
    let key = Key::session("quoted");
    // The receiver first knows another secret for the key: every signature
    // is refused with InvalidSignatureException and the canonical string,
    // session token included.
    s.add_key(&Key { secret: "another-secret-for-the-same-key".into(), ..key.clone() }).await;
    let dir = tempfile::tempdir().unwrap();
    credentials_file(dir.path(), &key);
    let target = target().await;
    let yaml = config(&target, &s.write_url(), &format!("{{region: {REGION}}}"));
    let mut env = base_env(dir.path());
    env.retain(|(k, _)| k != "TERN_LOG");
    env.push(("TERN_LOG".into(), "debug".into()));
    let tern = start_tern(dir.path(), &yaml, &env).await;
    s.wait_log("3 refusals", Duration::from_secs(20), |log| {
        log.iter().filter(|e| e.error.as_deref() == Some("InvalidSignatureException")).count() >= 3
    })
    .await;
    let log = tern.log();
    assert!(log.contains("[canonical request omitted]"), "the refusal was not logged:\n{log}");

    // The secret put right: delivery resumes, nothing was dropped.
    s.add_key(&key).await;
    assert_nothing_lost(&tern, &s, Duration::from_secs(30)).await;
    let m = tern.metrics().await;
    let rejected = m.0.iter().filter(|s| {
        s.is("tern_remote_sigv4_credentials_rejected_total", &[("reason", "invalid_signature")])
    });
    assert!(rejected.map(|s| s.value).sum::<f64>() >= 3.0, "{}", m.dump("tern_remote_sigv4"));
    assert_no_secret_anywhere(&tern, &key.secrets()).await;
}

#[tokio::test]
async fn without_a_region_the_error_says_where_to_set_one() {
    let s = Standin::start().await;
    let key = Key::session("noregion");
    let dir = tempfile::tempdir().unwrap();
    credentials_file(dir.path(), &key);
    let target = target().await;
    let yaml = config(&target, &s.write_url(), "{}");
    let tern = start_tern(dir.path(), &yaml, &base_env(dir.path())).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !tern.log().contains("no AWS region") {
        assert!(std::time::Instant::now() < deadline, "no region error:\n{}", tern.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = tern.log();
    assert!(log.contains("set sigv4.region, AWS_REGION"), "{log}");
    assert!(s.log().await.is_empty(), "sent unsigned requests");
    let m = tern.metrics().await;
    assert_eq!(m.sum("prometheus_remote_storage_samples_failed_total"), 0.0);
}
