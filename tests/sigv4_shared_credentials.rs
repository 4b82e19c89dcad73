//! Credentials from the shared credentials file, rewritten in place under a
//! running `tern run` as the SSM agent does on hybrid-activated
//! (on-premises) servers: tern follows the file, never takes a half-written
//! one, and loses not one sample, counted at the verifying receiver
//! (`tests/support/aws_standin.py`, botocore) and its decoding upstream.

#[path = "support/aws_env.rs"]
mod aws_env;
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_env::*;

/// The SSM agent's layout: `~/.aws/credentials` of the user tern runs as.
fn credentials_file(home: &Path) -> PathBuf {
    let aws = home.join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    aws.join("credentials")
}

/// Truncates and writes, in place (same inode), as the SSM agent does.
fn write_in_place(path: &Path, content: &str) {
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path).unwrap();
    f.write_all(content.as_bytes()).unwrap();
    f.sync_all().unwrap();
}

fn refreshes(m: &support::tern_process::Metrics, result: &str) -> f64 {
    let s = m.0.iter().filter(|s| {
        s.is(
            "tern_remote_sigv4_credential_refreshes_total",
            &[("remote_name", "amp"), ("result", result)],
        )
    });
    s.map(|s| s.value).sum()
}

#[tokio::test]
async fn a_rotated_credentials_file_is_followed_at_once_and_not_one_sample_is_lost() {
    let s = Standin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = credentials_file(dir.path());
    let (a, b) = (Key::session("filea"), Key::session("fileb"));
    s.add_key(&a).await;
    s.add_key(&b).await;
    write_in_place(&file, &a.profile_section("default"));
    let target = target().await;
    let yaml = config(&target, &s.write_url(), &format!("{{region: {REGION}}}"));
    let tern = start_tern(dir.path(), &yaml, &base_env(dir.path())).await;
    s.wait_log("3 requests accepted with A", Duration::from_secs(20), |log| {
        accepted_with(log, &a.access_key_id) >= 3
    })
    .await;

    // The SSM agent caught half-way: B's key id and half its secret, no
    // token yet. tern keeps signing with A, which the receiver still takes.
    let half = b.profile_section("default");
    let half = &half[..half.find("aws_secret_access_key").unwrap() + 40];
    write_in_place(&file, half);
    let before = s.log().await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = s.log().await;
    let during: Vec<_> = log[before..].iter().collect();
    assert!(during.len() >= 2, "tern stopped sending: {during:?}");
    assert!(
        during
            .iter()
            .all(|e| e.status == 200 && e.access_key_id.as_deref() == Some(&*a.access_key_id)),
        "the half-written file was used: {during:?}\nlog:\n{}",
        tern.log()
    );
    let m = tern.metrics().await;
    assert!(refreshes(&m, "failure") >= 1.0, "{}", m.dump("tern_remote_sigv4"));
    assert!(tern.log().contains("keeping the previous credentials"), "{}", tern.log());

    // The rotation completes, and from now on the receiver refuses A.
    s.set_state(&a.access_key_id, "expired").await;
    let rotated = Instant::now();
    write_in_place(&file, &b.profile_section("default"));
    s.wait_log("a request accepted with B", Duration::from_secs(60), |log| {
        accepted_with(log, &b.access_key_id) >= 1
    })
    .await;
    let took = rotated.elapsed();
    // Change detection polls once a second: far inside the 60 s asked for.
    assert!(took < Duration::from_secs(10), "switched after {took:?}");
    s.wait_log("3 requests accepted with B", Duration::from_secs(20), |log| {
        accepted_with(log, &b.access_key_id) >= 3
    })
    .await;
    let delivered = assert_nothing_lost(&tern, &s, Duration::from_secs(30)).await;
    let m = tern.metrics().await;
    assert!(refreshes(&m, "success") >= 2.0, "{}", m.dump("tern_remote_sigv4"));
    assert!(delivered > 0);
    let mut secrets = a.secrets();
    secrets.extend(b.secrets());
    assert_no_secret_anywhere(&tern, &secrets).await;
}

#[tokio::test]
async fn a_rewrite_invisible_to_stat_is_found_by_the_periodic_reread() {
    let s = Standin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = credentials_file(dir.path());
    let a = Key::session("samea");
    // B: every value as long as A's, so the file keeps its size.
    let b = Key {
        access_key_id: a.access_key_id.replace("SAMEA", "SAMEB"),
        secret: a.secret.replace("samea", "sameb"),
        token: a.token.as_ref().map(|t| t.replace("samea", "sameb")),
        ..a.clone()
    };
    assert_ne!(a.access_key_id, b.access_key_id);
    s.add_key(&a).await;
    s.add_key(&b).await;
    write_in_place(&file, &a.profile_section("default"));
    let target = target().await;
    let yaml = config(&target, &s.write_url(), &format!("{{region: {REGION}}}"));
    let mut env = base_env(dir.path());
    env.push(("TERN_SIGV4_REREAD_INTERVAL".into(), "3s".into()));
    let tern = start_tern(dir.path(), &yaml, &env).await;
    s.wait_log("2 requests accepted with A", Duration::from_secs(20), |log| {
        accepted_with(log, &a.access_key_id) >= 2
    })
    .await;

    // Same size, same inode, modification time put back: stat sees nothing.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let rewritten = Instant::now();
    write_in_place(&file, &b.profile_section("default"));
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(
        (meta.len(), meta.modified().unwrap()),
        (a.profile_section("default").len() as u64, mtime)
    );
    s.wait_log("a request accepted with B", Duration::from_secs(15), |log| {
        accepted_with(log, &b.access_key_id) >= 1
    })
    .await;
    assert!(rewritten.elapsed() < Duration::from_secs(8), "took {:?}", rewritten.elapsed());
    // A stayed valid: the switch came from the re-read, not from a refusal.
    assert!(s.log().await.iter().all(|e| e.status == 200));
    assert_nothing_lost(&tern, &s, Duration::from_secs(20)).await;
}
