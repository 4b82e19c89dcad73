//! What to do after a send, and how long to wait before trying again.
//!
//! [`classify`] is a pure function of the response status and headers (and
//! the clock, passed in). Its table, from the specification's "Retries &
//! Backoff" section ("MUST retry write requests on HTTP 5xx responses ...
//! MUST NOT retry write requests on HTTP 2xx and 4xx responses other than
//! 429. They MAY retry on HTTP 429"):
//!
//! | status            | action                                              |
//! |-------------------|-----------------------------------------------------|
//! | 2xx               | `Done`                                              |
//! | 5xx               | `Retry`, after `Retry-After` when the server sent it |
//! | 429               | `Retry` honouring `Retry-After` if `retry_on_http_429`, else `Drop` |
//! | 400, 413          | `Split`                                             |
//! | 401, 403          | `Drop` (`Unauthorized`, `Forbidden`); with SigV4, `Retry` when the answer says the credentials expired or were refused, or access was denied (decided from the body too, by `SendOutcome::action` and `sigv4::rejection::classify`) |
//! | other             | `Drop` with the status                              |
//! | no response       | `Retry` ([`RetryAction::NETWORK_ERROR`])            |
//!
//! `Split` is how tern keeps "every valid sample delivered" while never
//! retrying a 4xx as such: a receiver answers 400 for a whole request when
//! any sample in it is invalid ("Labels" section) and 413 when it is too
//! big, so the queue bisects the batch and sends each half as a new request,
//! down to single series. A single series answered 400 or 413 is dropped
//! with [`DropReason::from_status`]. Prometheus drops the whole batch
//! instead.
//!
//! [`Backoff`] spaces retries: exponential from `min_backoff` to
//! `max_backoff` (doubling, as Prometheus), with jitter so that shards and
//! agents that failed together do not retry together. The queue waits
//! [`Backoff::next_after`]: the larger of the backoff and `Retry-After`.

use std::fmt;
use std::time::{Duration, SystemTime};

use rand::rngs::SmallRng;
use rand::{Rng, RngExt};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// What the queue does with a batch after a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// Delivered.
    Done,
    /// Send the same batch again, after the backoff, and at least `after`
    /// (the server's `Retry-After`) when given.
    Retry { after: Option<Duration> },
    /// Send each half of the batch on its own; a batch of one series that
    /// gets `Split` is dropped with [`DropReason::from_status`].
    Split,
    /// Give the batch up: it can never succeed.
    Drop { reason: DropReason },
}

impl RetryAction {
    /// No response at all (connect error, reset, timeout, unreadable
    /// credentials file): retried, as Prometheus does.
    pub const NETWORK_ERROR: RetryAction = RetryAction::Retry { after: None };
}

/// Why a batch was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// 400 for a single series: it holds invalid samples.
    BadRequest,
    /// 401: the credentials were refused.
    Unauthorized,
    /// 403: the credentials may not write here.
    Forbidden,
    /// 413 for a single series: the receiver takes no request that big.
    PayloadTooLarge,
    /// 429 when `retry_on_http_429` is off.
    TooManyRequests,
    /// Any other status that is neither success nor retried.
    Status(u16),
}

impl DropReason {
    /// The reason for a response that is dropped with `status`.
    pub fn from_status(status: u16) -> DropReason {
        match status {
            400 => DropReason::BadRequest,
            401 => DropReason::Unauthorized,
            403 => DropReason::Forbidden,
            413 => DropReason::PayloadTooLarge,
            429 => DropReason::TooManyRequests,
            other => DropReason::Status(other),
        }
    }

    /// A metric label value from a fixed, small set.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::BadRequest => "bad_request",
            DropReason::Unauthorized => "unauthorized",
            DropReason::Forbidden => "forbidden",
            DropReason::PayloadTooLarge => "payload_too_large",
            DropReason::TooManyRequests => "too_many_requests",
            DropReason::Status(_) => "http_status",
        }
    }
}

/// The label, with the status for [`DropReason::Status`] (`http_status_418`).
impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Status(code) => write!(f, "http_status_{code}"),
            other => f.write_str(other.label()),
        }
    }
}

/// What to do after a response with `status` and `headers`, received at
/// `now`. See the module doc for the table.
pub fn classify(
    status: u16,
    headers: &HeaderMap,
    retry_on_http_429: bool,
    now: SystemTime,
) -> RetryAction {
    match status {
        200..=299 => RetryAction::Done,
        500..=599 => RetryAction::Retry { after: retry_after(headers, now) },
        429 if retry_on_http_429 => RetryAction::Retry { after: retry_after(headers, now) },
        400 | 413 => RetryAction::Split,
        // 401 and 403 land here. With SigV4, `SendOutcome::action` retries
        // those the body or `x-amzn-ErrorType` names as an expired or refused
        // token or signature, or as access denied, before asking this
        // function (`remote::sigv4::rejection`).
        other => RetryAction::Drop { reason: DropReason::from_status(other) },
    }
}

/// The delay a `Retry-After` header asks for (RFC 9110 10.2.3): a number
/// of seconds, or an HTTP-date (a date in the past asks for no delay).
/// `None` without a header or with one that is neither. Not capped here:
/// the queue decides how long it is willing to wait.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// How a backoff delay is spread below its base.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the base (Prometheus' behaviour).
    None,
    /// Uniform in `[0, base]`: spreads retries most, may retry at once.
    Full,
    /// Uniform in `[base/2, base]`: spread, and never less than half.
    #[default]
    Equal,
}

impl Jitter {
    /// The delay for `base` at `fraction` in `[0, 1]` (out-of-range values
    /// and NaN are clamped): what [`Backoff::next`] returns for a random
    /// fraction, spelled out for tests.
    pub fn apply(self, base: Duration, fraction: f64) -> Duration {
        let fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
        match self {
            Jitter::None => base,
            Jitter::Full => base.mul_f64(fraction),
            Jitter::Equal => {
                let half = base / 2;
                half + (base - half).mul_f64(fraction)
            }
        }
    }
}

/// Exponential backoff with jitter: the base starts at `min`, doubles on
/// each [`next`](Self::next) up to `max`, and goes back to `min` on
/// [`reset`](Self::reset) (after a success). Every delay is within
/// `[0, max]`; with [`Jitter::Equal`] within `[min/2, max]`.
///
/// Deterministic with a seeded `rng` ([`Backoff::with_rng`]).
#[derive(Debug, Clone)]
pub struct Backoff<R = SmallRng> {
    min: Duration,
    max: Duration,
    base: Duration,
    jitter: Jitter,
    rng: R,
}

impl Backoff<SmallRng> {
    /// A backoff from `min` to `max` (`min` is lowered to `max` if above
    /// it), with a random generator seeded from the system.
    pub fn new(min: Duration, max: Duration, jitter: Jitter) -> Backoff<SmallRng> {
        Backoff::with_rng(min, max, jitter, rand::make_rng())
    }
}

impl<R: Rng> Backoff<R> {
    /// A backoff drawing its jitter from `rng`.
    pub fn with_rng(min: Duration, max: Duration, jitter: Jitter, rng: R) -> Backoff<R> {
        let min = min.min(max);
        Backoff { min, max, base: min, jitter, rng }
    }

    /// The delay before the next retry; doubles the base for the one after.
    #[allow(clippy::should_implement_trait)] // never ends: not an Iterator
    pub fn next(&mut self) -> Duration {
        let fraction: f64 = self.rng.random();
        let delay = self.jitter.apply(self.base, fraction);
        self.base = self.base.checked_mul(2).unwrap_or(self.max).min(self.max);
        delay
    }

    /// The delay before the next retry when the server asked for `after`:
    /// the larger of the two.
    pub fn next_after(&mut self, after: Option<Duration>) -> Duration {
        let delay = self.next();
        after.map_or(delay, |after| after.max(delay))
    }

    /// Back to `min`, after a success.
    pub fn reset(&mut self) {
        self.base = self.min;
    }

    /// The base of the next delay (before jitter).
    pub fn base(&self) -> Duration {
        self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use reqwest::header::HeaderValue;

    const NOW: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[track_caller]
    fn check(status: u16, retry_after: Option<&str>, retry_on_429: bool, want: RetryAction) {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        }
        assert_eq!(
            classify(status, &headers, retry_on_429, now()),
            want,
            "{status} {retry_after:?}"
        );
    }

    fn retry(secs: Option<u64>) -> RetryAction {
        RetryAction::Retry { after: secs.map(Duration::from_secs) }
    }

    fn drop(reason: DropReason) -> RetryAction {
        RetryAction::Drop { reason }
    }

    #[test]
    fn every_status_class_has_its_action() {
        for ok in [200, 201, 204, 299] {
            check(ok, None, true, RetryAction::Done);
        }
        // A Retry-After on a success means nothing.
        check(200, Some("5"), true, RetryAction::Done);
        for server in [500, 502, 503, 504, 599] {
            check(server, None, true, retry(None));
            check(server, None, false, retry(None));
        }
        check(503, Some("7"), true, retry(Some(7)));
        check(400, None, true, RetryAction::Split);
        check(413, None, true, RetryAction::Split);
        check(401, None, true, drop(DropReason::Unauthorized));
        check(403, None, true, drop(DropReason::Forbidden));
        check(404, None, true, drop(DropReason::Status(404)));
        check(409, Some("1"), true, drop(DropReason::Status(409)));
        check(422, None, true, drop(DropReason::Status(422)));
        check(499, None, true, drop(DropReason::Status(499)));
        // Not followed redirects and oddities are not retried either.
        check(302, None, true, drop(DropReason::Status(302)));
        check(100, None, true, drop(DropReason::Status(100)));
        check(600, None, true, drop(DropReason::Status(600)));
    }

    #[test]
    fn too_many_requests_is_retried_only_when_configured() {
        check(429, None, true, retry(None));
        check(429, Some("30"), true, retry(Some(30)));
        check(429, Some("30"), false, drop(DropReason::TooManyRequests));
        check(429, None, false, drop(DropReason::TooManyRequests));
    }

    #[test]
    fn retry_after_forms() {
        check(429, Some("0"), true, retry(Some(0)));
        check(429, Some(" 120 "), true, retry(Some(120)));
        // HTTP-date, all three forms RFC 9110 makes recipients accept.
        check(429, Some("Tue, 14 Nov 2023 22:14:00 GMT"), true, retry(Some(40)));
        check(429, Some("Tuesday, 14-Nov-23 22:14:00 GMT"), true, retry(Some(40)));
        check(429, Some("Tue Nov 14 22:14:00 2023"), true, retry(Some(40)));
        // A date in the past: no wait.
        check(429, Some("Tue, 14 Nov 2023 22:00:00 GMT"), true, retry(Some(0)));
        check(503, Some("Thu, 01 Jan 1970 00:00:00 GMT"), true, retry(Some(0)));
        // Garbage is ignored: the backoff alone applies.
        for garbage in ["", "soon", "-5", "1.5", "5s", "99999999999999999999999", "Tue, 99 Nov"] {
            check(429, Some(garbage), true, retry(None));
            check(500, Some(garbage), true, retry(None));
        }
    }

    #[test]
    fn drop_reasons_have_bounded_labels_and_precise_display() {
        assert_eq!(DropReason::from_status(400), DropReason::BadRequest);
        assert_eq!(DropReason::from_status(413), DropReason::PayloadTooLarge);
        assert_eq!(DropReason::BadRequest.to_string(), "bad_request");
        assert_eq!(DropReason::Status(418).to_string(), "http_status_418");
        assert_eq!(DropReason::Status(418).label(), "http_status");
    }

    #[test]
    fn jitter_bounds_at_the_extremes() {
        let base = Duration::from_millis(800);
        assert_eq!(Jitter::None.apply(base, 0.3), base);
        assert_eq!(Jitter::Full.apply(base, 0.0), Duration::ZERO);
        assert_eq!(Jitter::Full.apply(base, 1.0), base);
        assert_eq!(Jitter::Full.apply(base, 0.5), Duration::from_millis(400));
        assert_eq!(Jitter::Equal.apply(base, 0.0), Duration::from_millis(400));
        assert_eq!(Jitter::Equal.apply(base, 1.0), base);
        assert_eq!(Jitter::Equal.apply(base, f64::NAN), Duration::from_millis(400));
        assert_eq!(Jitter::Full.apply(base, 7.0), base);
    }

    #[test]
    fn without_jitter_the_base_doubles_to_max_as_prometheus() {
        let mut b = Backoff::with_rng(
            Duration::from_millis(30),
            Duration::from_secs(5),
            Jitter::None,
            SmallRng::seed_from_u64(1),
        );
        let ms: Vec<_> = (0..10).map(|_| b.next().as_millis()).collect();
        assert_eq!(ms, [30, 60, 120, 240, 480, 960, 1920, 3840, 5000, 5000]);
        b.reset();
        assert_eq!(b.next(), Duration::from_millis(30));
        assert_eq!(b.next_after(Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(b.next_after(Some(Duration::from_millis(1))), Duration::from_millis(120));
    }

    #[test]
    fn same_seed_same_delays() {
        let make = || {
            Backoff::with_rng(
                Duration::from_millis(10),
                Duration::from_secs(1),
                Jitter::Full,
                SmallRng::seed_from_u64(42),
            )
        };
        let (mut a, mut b) = (make(), make());
        for _ in 0..20 {
            assert_eq!(a.next(), b.next());
        }
    }

    #[test]
    fn min_above_max_is_lowered_and_huge_values_saturate() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(1), Jitter::None);
        assert_eq!(b.next(), Duration::from_secs(1));
        let mut b = Backoff::new(Duration::MAX / 3, Duration::MAX, Jitter::None);
        b.next();
        b.next();
        assert_eq!(b.base(), Duration::MAX);
    }

    fn jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal)]
    }

    proptest! {
        #[test]
        fn delays_stay_within_bounds_and_bases_never_decrease(
            min_ms in 0u64..10_000,
            max_ms in 0u64..100_000,
            jitter in jitter(),
            seed in any::<u64>(),
            steps in 1usize..40,
            reset_at in 0usize..40,
        ) {
            let (min, max) = (Duration::from_millis(min_ms), Duration::from_millis(max_ms));
            let mut b = Backoff::with_rng(min, max, jitter, SmallRng::seed_from_u64(seed));
            let floor = match jitter {
                Jitter::None => min.min(max),
                Jitter::Full => Duration::ZERO,
                Jitter::Equal => min.min(max) / 2,
            };
            let mut last_base = b.base();
            for step in 0..steps {
                if step == reset_at {
                    b.reset();
                    prop_assert_eq!(b.base(), min.min(max));
                    last_base = b.base();
                }
                let base = b.base();
                let delay = b.next();
                prop_assert!(delay <= base && base <= max, "{delay:?} {base:?} {max:?}");
                prop_assert!(delay >= floor, "{delay:?} below {floor:?}");
                prop_assert!(b.base() >= last_base);
                last_base = b.base();
            }
        }
    }
}
