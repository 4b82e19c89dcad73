use super::*;

use std::sync::Mutex;

use aws_credential_types::Credentials;

const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn timing() -> Timing {
    Timing {
        poll_interval: Duration::from_secs(1),
        reread_interval: Duration::from_secs(60),
        settle: Duration::from_millis(5),
        incomplete_grace: Duration::from_secs(120),
        ..Timing::default()
    }
}

#[test]
fn files_are_where_the_sdks_look() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    };
    let f = ProfileFiles::locate(env(&[("HOME", "/home/ssm-user")]));
    assert_eq!(f.config, PathBuf::from("/home/ssm-user/.aws/config"));
    assert_eq!(f.credentials, PathBuf::from("/home/ssm-user/.aws/credentials"));
    let f = ProfileFiles::locate(env(&[
        ("HOME", "/root"),
        ("AWS_CONFIG_FILE", "/etc/tern/aws-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/creds"),
    ]));
    assert_eq!(f.config, PathBuf::from("/etc/tern/aws-config"));
    assert_eq!(f.credentials, PathBuf::from("/root/creds"));
    // Without HOME the path stays unexpanded (and will not exist).
    let f = ProfileFiles::locate(env(&[]));
    assert_eq!(f.credentials, PathBuf::from("~/.aws/credentials"));
}

#[test]
fn half_written_contents_are_recognised() {
    let keys = |token| Yield::Keys { token };
    assert!(looks_incomplete(keys(true), Yield::Nothing).is_some());
    assert!(looks_incomplete(keys(false), Yield::Nothing).is_some());
    assert!(looks_incomplete(keys(true), keys(false)).is_some());
    assert_eq!(looks_incomplete(keys(false), keys(true)), None);
    assert_eq!(looks_incomplete(keys(true), keys(true)), None);
    assert_eq!(looks_incomplete(Yield::Nothing, Yield::Nothing), None);
    assert_eq!(looks_incomplete(Yield::Nothing, keys(false)), None);
}

struct Dir {
    _tmp: tempfile::TempDir,
    files: ProfileFiles,
}

fn dir() -> Dir {
    let tmp = tempfile::tempdir().unwrap();
    let files = ProfileFiles {
        config: tmp.path().join("config"),
        credentials: tmp.path().join("credentials"),
    };
    Dir { _tmp: tmp, files }
}

fn ssm_file(key: &str, token: Option<&str>) -> String {
    let mut s =
        format!("[default]\naws_access_key_id = {key}\naws_secret_access_key = secret-{key}\n");
    if let Some(t) = token {
        s.push_str(&format!("aws_session_token = {t}\n"));
    }
    s
}

/// Writes in place, as the SSM agent does (truncate, then write).
fn write_in_place(path: &Path, content: &str) {
    use std::io::Write;
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path).unwrap();
    f.write_all(content.as_bytes()).unwrap();
}

#[tokio::test]
async fn the_watch_sees_changes_by_stat_and_by_periodic_reread() {
    let d = dir();
    write_in_place(&d.files.credentials, &ssm_file("AKIDAAAA", Some("t1")));
    let mut w = FileWatch::new(d.files.clone(), &timing());
    assert!(!w.changed(at(0)).await, "the first look is the baseline");
    // A touch without a change of content is no change.
    let f = std::fs::File::options().write(true).open(&d.files.credentials).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5)).unwrap();
    assert!(!w.changed(at(1)).await);
    // A new content of another size: seen at the next poll, not before.
    write_in_place(&d.files.credentials, &ssm_file("AKIDBBBBBB", Some("t2")));
    assert!(!w.changed(at(1)).await, "polls at most once per poll_interval");
    assert!(w.changed(at(2)).await);
    assert!(!w.changed(at(3)).await);
    // Same size, modification time put back: invisible to stat, seen by
    // the re-read at least every reread_interval.
    let before = std::fs::metadata(&d.files.credentials).unwrap().modified().unwrap();
    write_in_place(&d.files.credentials, &ssm_file("AKIDCCCCCC", Some("t3")));
    let f = std::fs::File::options().write(true).open(&d.files.credentials).unwrap();
    f.set_modified(before).unwrap();
    assert!(!w.changed(at(4)).await);
    assert!(!w.changed(at(61)).await);
    assert!(w.changed(at(62)).await, "re-read 60 s after the last read");
    // A config file appearing counts too.
    std::fs::write(&d.files.config, "[default]\nregion = eu-west-1\n").unwrap();
    assert!(w.changed(at(63)).await);
}

/// What production passes (the providers want an HTTP client, even when
/// static keys need none).
fn conf() -> ProviderConfig {
    super::super::source::provider_config(&super::super::source::http_client(), None)
}

fn watched(d: &Dir, clock: Clock) -> WatchedProfile {
    let conf = conf();
    WatchedProfile::new(d.files.clone(), Some("default".into()), conf, &timing(), clock)
}

fn fake_clock() -> (Clock, Arc<Mutex<SystemTime>>) {
    let now = Arc::new(Mutex::new(at(0)));
    let read = now.clone();
    (Arc::new(move || *read.lock().unwrap()), now)
}

async fn load(p: &WatchedProfile) -> Result<Credentials, CredentialsError> {
    p.provide_credentials().await
}

#[tokio::test]
async fn new_content_replaces_credentials_and_half_written_content_does_not() {
    let d = dir();
    let (clock, now) = fake_clock();
    let p = watched(&d, clock);
    write_in_place(&d.files.credentials, &ssm_file("AKIDAAAA", Some("token-a")));
    let c = load(&p).await.unwrap();
    assert_eq!((c.access_key_id(), c.session_token()), ("AKIDAAAA", Some("token-a")));

    write_in_place(&d.files.credentials, &ssm_file("AKIDBBBB", Some("token-b")));
    let c = load(&p).await.unwrap();
    assert_eq!((c.access_key_id(), c.session_token()), ("AKIDBBBB", Some("token-b")));

    // Caught half-way: the token line not written yet, or the secret
    // missing, or a line cut: B stays (the step fails, the cache keeps B).
    for half in [
        ssm_file("AKIDCCCC", None),
        "[default]\naws_access_key_id = AKIDCCCC\n".to_owned(),
        "[default]\naws_access_key_id = AKIDCCCC\naws_secr".to_owned(),
        "[defa".to_owned(),
        String::new(),
    ] {
        write_in_place(&d.files.credentials, &half);
        let err = load(&p).await.unwrap_err();
        assert!(matches!(err, CredentialsError::ProviderError(_)), "{half:?}: {err:?}");
        let text = super::error_chain(&err);
        assert!(text.contains("keeping the previous credentials"), "{text}");
        assert!(!text.contains("secret-") && !text.contains("token-"), "{text}");
    }
    // Completed: taken.
    write_in_place(&d.files.credentials, &ssm_file("AKIDCCCC", Some("token-c")));
    assert_eq!(load(&p).await.unwrap().access_key_id(), "AKIDCCCC");

    // Long-term keys replacing session ones on purpose: taken once the
    // file stayed so for the grace period.
    write_in_place(&d.files.credentials, &ssm_file("AKIDDDDD", None));
    assert!(load(&p).await.is_err());
    *now.lock().unwrap() = at(119);
    assert!(load(&p).await.is_err());
    *now.lock().unwrap() = at(120);
    let c = load(&p).await.unwrap();
    assert_eq!((c.access_key_id(), c.session_token()), ("AKIDDDDD", None));
    // Unchanged content: the same credentials, without waiting to settle.
    assert_eq!(load(&p).await.unwrap().access_key_id(), "AKIDDDDD");
}

#[tokio::test]
async fn without_credentials_in_the_files_the_chain_goes_on() {
    let d = dir();
    let (clock, _) = fake_clock();
    let p = watched(&d, clock);
    // No files at all, then a config without keys: "not loaded", so the
    // chain asks web identity, containers, IMDS.
    let err = load(&p).await.unwrap_err();
    assert!(matches!(err, CredentialsError::CredentialsNotLoaded(_)), "{err:?}");
    std::fs::write(&d.files.config, "[default]\nregion = eu-west-1\n").unwrap();
    let err = load(&p).await.unwrap_err();
    assert!(matches!(err, CredentialsError::CredentialsNotLoaded(_)), "{err:?}");
    // Keys in the config file's profile work as in the SDKs.
    std::fs::write(
        &d.files.config,
        "[default]\nregion = eu-west-1\naws_access_key_id = AKIDCONF\naws_secret_access_key = s\n",
    )
    .unwrap();
    assert_eq!(load(&p).await.unwrap().access_key_id(), "AKIDCONF");
}

#[tokio::test]
async fn the_named_profile_is_read() {
    let d = dir();
    let (clock, _) = fake_clock();
    let p = WatchedProfile::new(d.files.clone(), Some("tern".into()), conf(), &timing(), clock);
    let mut content = ssm_file("AKIDDEFAULT", Some("t"));
    content.push_str("[tern]\naws_access_key_id = AKIDTERN\naws_secret_access_key = s\n");
    write_in_place(&d.files.credentials, &content);
    assert_eq!(load(&p).await.unwrap().access_key_id(), "AKIDTERN");
}
