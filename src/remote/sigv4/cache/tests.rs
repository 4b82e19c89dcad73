use super::*;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, future};

const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn creds(id: &str, expires: Option<u64>) -> Credentials {
    Credentials::new(
        id,
        format!("secret-{id}"),
        Some(format!("token-{id}")),
        expires.map(at),
        "test",
    )
}

fn current(id: &str, expires: Option<u64>, refresh: Option<u64>) -> Option<Current> {
    Some(Current { creds: creds(id, expires), generation: 1, refresh_at: refresh.map(at) })
}

#[track_caller]
fn check(state: &State, now: u64, want: Decision) {
    assert_eq!(decide(state, at(now), &Timing::default()), want, "at +{now}s");
}

fn refresh(trigger: Trigger, wait: bool) -> Decision {
    Decision::Refresh { trigger, wait }
}

#[test]
fn decisions_by_state_and_time() {
    // Nothing yet: wait for the first load; after a failure, back off.
    let mut s = State::default();
    check(&s, 0, refresh(Trigger::Initial, true));
    s.failures = 1;
    s.next_attempt = Some(at(10));
    check(&s, 5, Decision::Unavailable);
    check(&s, 10, refresh(Trigger::Retry, true));

    // Valid credentials: used until the refresh time, then refreshed by one
    // caller while the others go on; expired ones make everybody wait.
    let s = State { current: current("A", Some(100), Some(60)), ..State::default() };
    check(&s, 0, Decision::Use);
    check(&s, 60, refresh(Trigger::Expiry, false));
    check(&s, 100, refresh(Trigger::Expiry, true));

    // Without expiry: only a reason to refresh refreshes.
    let mut s = State { current: current("A", None, None), ..State::default() };
    check(&s, 1_000_000, Decision::Use);
    s.stale = Some(Trigger::FilesChanged);
    check(&s, 0, refresh(Trigger::FilesChanged, true));

    // A rejection forces a refresh, at most once per min_forced_interval.
    s.stale = Some(Trigger::Rejected);
    s.last_attempt = Some(at(100));
    check(&s, 102, Decision::Use);
    check(&s, 105, refresh(Trigger::Rejected, true));

    // While backing off after a failure, the last good ones serve, even
    // expired.
    let s = State {
        current: current("A", Some(100), Some(60)),
        stale: Some(Trigger::FilesChanged),
        next_attempt: Some(at(200)),
        failures: 3,
        ..State::default()
    };
    check(&s, 150, Decision::Use);
    check(&s, 200, refresh(Trigger::FilesChanged, true));
}

#[test]
fn refresh_times_ahead_of_expiry() {
    let t = Timing::default();
    let r = |now: u64, exp: Option<u64>| {
        refresh_at(at(now), exp.map(at), &t).map(|x| x.duration_since(at(0)).unwrap().as_secs_f64())
    };
    // An hour: five minutes ahead.
    assert_eq!(r(0, Some(3600)), Some(3300.0));
    // Fifteen minutes (IMDS, STS minimum): at ten (half would be 7.5).
    assert_eq!(r(0, Some(900)), Some(600.0));
    // Short lifetimes: at half.
    assert_eq!(r(0, Some(30)), Some(15.0));
    assert_eq!(r(10, Some(30)), Some(20.0));
    // Never sooner than a second, also when already expired.
    assert_eq!(r(0, Some(1)), Some(1.0));
    assert_eq!(r(50, Some(30)), Some(51.0));
    assert_eq!(r(0, None), None);
}

#[test]
fn failure_backoff_doubles_to_its_bound() {
    let t = Timing::default();
    let secs: Vec<u64> = (1..=9).map(|n| failure_backoff(n, &t).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(failure_backoff(u32::MAX, &t), Duration::from_secs(60));
}

/// A provider answering from a script, counting calls, each taking `delay`.
#[derive(Debug)]
struct Scripted {
    answers: Mutex<VecDeque<Result<Credentials, String>>>,
    calls: AtomicUsize,
    delay: Duration,
}

impl Scripted {
    fn new(answers: Vec<Result<Credentials, String>>, delay: Duration) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers: Mutex::new(answers.into()),
            calls: AtomicUsize::new(0),
            delay,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn next(&self) -> provider::Result {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let answer = self.answers.lock().unwrap().pop_front();
        match answer {
            Some(Ok(c)) => Ok(c),
            Some(Err(e)) => Err(CredentialsError::provider_error(e)),
            None => Err(CredentialsError::not_loaded("script ended")),
        }
    }
}

#[derive(Debug)]
struct Handle(Arc<Scripted>);

impl ProvideCredentials for Handle {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.0.next())
    }
}

/// A clock the test moves.
fn fake_clock() -> (Clock, Arc<Mutex<SystemTime>>) {
    let now = Arc::new(Mutex::new(at(0)));
    let read = now.clone();
    (Arc::new(move || *read.lock().unwrap()), now)
}

fn cache(script: &Arc<Scripted>, clock: Clock, metrics: &SigV4Metrics) -> Arc<CredentialCache> {
    let source = SharedCredentialsProvider::new(Handle(script.clone()));
    Arc::new(CredentialCache::new("amp", source, None, Timing::default(), clock, metrics.clone()))
}

fn refreshes(m: &SigV4Metrics, result: &str) -> u64 {
    let labels =
        super::super::metrics::RemoteResult { remote_name: "amp".into(), result: result.into() };
    m.credential_refreshes.get_or_create(&labels).get()
}

#[tokio::test]
async fn concurrent_first_callers_share_one_load() {
    let script = Scripted::new(vec![Ok(creds("A", None))], Duration::from_millis(50));
    let (clock, _) = fake_clock();
    let m = SigV4Metrics::default();
    let c = cache(&script, clock, &m);
    let gets = (0..20).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.get().await })
    });
    for got in futures_util::future::join_all(gets).await {
        assert_eq!(got.unwrap().unwrap().creds.access_key_id(), "A");
    }
    assert_eq!(script.calls(), 1);
    assert_eq!(refreshes(&m, "success"), 1);
}

#[tokio::test]
async fn refresh_ahead_of_expiry_does_not_hold_up_other_callers() {
    let script = Scripted::new(
        vec![Ok(creds("A", Some(30))), Ok(creds("B", Some(60)))],
        Duration::from_millis(200),
    );
    let (clock, now) = fake_clock();
    let m = SigV4Metrics::default();
    let c = cache(&script, clock, &m);
    assert_eq!(c.get().await.unwrap().creds.access_key_id(), "A");
    assert_eq!(
        m.credentials_expiry
            .get_or_create(&super::super::metrics::Remote { remote_name: "amp".into() })
            .get(),
        (T0 + 30) as f64
    );
    *now.lock().unwrap() = at(16);
    let refreshing = tokio::spawn({
        let c = c.clone();
        async move { c.get().await.unwrap().creds.access_key_id().to_owned() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The refresh is running: others sign with A, at once.
    let started = std::time::Instant::now();
    assert_eq!(c.get().await.unwrap().creds.access_key_id(), "A");
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(refreshing.await.unwrap(), "B");
    assert_eq!(c.get().await.unwrap().creds.access_key_id(), "B");
    assert_eq!(script.calls(), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_credentials_and_backs_off() {
    let script = Scripted::new(
        vec![Ok(creds("A", Some(30))), Err("STS is down".into()), Ok(creds("B", Some(90)))],
        Duration::ZERO,
    );
    let (clock, now) = fake_clock();
    let m = SigV4Metrics::default();
    let c = cache(&script, clock, &m);
    let first = c.get().await.unwrap();
    // Expired, and the refresh fails: A still serves.
    *now.lock().unwrap() = at(31);
    let got = c.get().await.unwrap();
    assert_eq!((got.creds.access_key_id(), got.generation), ("A", first.generation));
    assert_eq!(script.calls(), 2);
    assert_eq!(refreshes(&m, "failure"), 1);
    // Within the backoff: no new attempt.
    assert_eq!(c.get().await.unwrap().creds.access_key_id(), "A");
    assert_eq!(script.calls(), 2);
    // After it: B.
    *now.lock().unwrap() = at(32);
    let got = c.get().await.unwrap();
    assert_eq!(got.creds.access_key_id(), "B");
    assert!(got.generation > first.generation);
    assert_eq!(script.calls(), 3);
}

#[tokio::test]
async fn nothing_loaded_is_an_error_without_secrets_and_is_not_hammered() {
    let script = Scripted::new(vec![Err("no source answered".into())], Duration::ZERO);
    let (clock, now) = fake_clock();
    let c = cache(&script, clock, &SigV4Metrics::default());
    let err = c.get().await.unwrap_err();
    assert!(err.to_string().contains("no source answered"), "{err}");
    let err = c.get().await.unwrap_err();
    assert!(err.to_string().contains("no source answered"), "{err}");
    assert_eq!(script.calls(), 1);
    *now.lock().unwrap() = at(1);
    assert!(c.get().await.is_err());
    assert_eq!(script.calls(), 2);
}

#[tokio::test]
async fn a_rejection_forces_one_refresh_for_the_generation_it_names() {
    let script = Scripted::new(
        vec![Ok(creds("A", None)), Ok(creds("B", None)), Ok(creds("C", None))],
        Duration::ZERO,
    );
    let (clock, now) = fake_clock();
    let c = cache(&script, clock, &SigV4Metrics::default());
    let a = c.get().await.unwrap();
    *now.lock().unwrap() = at(10);
    c.reject(a.generation);
    // Several rejections of the same request's credentials: one refresh.
    c.reject(a.generation);
    let b = c.get().await.unwrap();
    assert_eq!(b.creds.access_key_id(), "B");
    // A late rejection of A (a request signed before) changes nothing.
    c.reject(a.generation);
    assert_eq!(c.get().await.unwrap().creds.access_key_id(), "B");
    assert_eq!(script.calls(), 2);
    // B refused at once: not before min_forced_interval.
    c.reject(b.generation);
    assert_eq!(c.get().await.unwrap().creds.access_key_id(), "B");
    *now.lock().unwrap() = at(15);
    assert_eq!(c.get().await.unwrap().creds.access_key_id(), "C");
    assert_eq!(script.calls(), 3);
}
