//! What a 401 or 403 from an AWS endpoint means, and keeping secrets out of
//! the response text that the queue logs.
//!
//! AWS services name their errors with a code: in the `x-amzn-ErrorType`
//! header (`ExpiredTokenException:http://internal.amazon.com/...`, the
//! REST-JSON protocols, Amazon Managed Service for Prometheus among them), in
//! the JSON body (`"__type": "com.amazon.coral.service#ExpiredTokenException"`)
//! or in an XML `<Code>` (the query protocols). [`classify`] reads the code
//! from those places, header first, and falls back to the fixed messages AWS
//! sends without a code ("The security token included in the request is
//! expired"). The codes are AWS's wire protocol, not prose.
//!
//! | code(s)                                                       | rejection |
//! |---------------------------------------------------------------|-----------|
//! | `ExpiredToken`, `ExpiredTokenException`, `RequestExpired`     | [`Rejection::Credentials`] ([`Problem::ExpiredToken`]) |
//! | `InvalidSignatureException`, `SignatureDoesNotMatch`          | [`Rejection::Credentials`] ([`Problem::InvalidSignature`]) |
//! | `UnrecognizedClientException`, `InvalidClientTokenId`, `InvalidAccessKeyId` | [`Rejection::Credentials`] ([`Problem::UnrecognizedClient`]) |
//! | `AccessDeniedException`, `AccessDenied`                       | [`Rejection::AccessDenied`] |
//! | anything else                                                 | `None`: the status decides, as without SigV4 |

use reqwest::header::HeaderMap;

/// Why an AWS endpoint refused a signed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The credentials or the signature were refused: refresh the
    /// credentials and send again.
    Credentials(Problem),
    /// The signature was good, but the identity may not write here: an
    /// operator must grant `aps:RemoteWrite`.
    AccessDenied,
}

/// What was wrong with the credentials or the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The session token (or the request's date) expired.
    ExpiredToken,
    /// The signature did not match: a wrong secret key, or a request
    /// signed with a clock far off.
    InvalidSignature,
    /// The access key id or the token is unknown: rotated away.
    UnrecognizedClient,
}

impl Problem {
    /// A metric label value.
    pub fn label(self) -> &'static str {
        match self {
            Problem::ExpiredToken => "expired_token",
            Problem::InvalidSignature => "invalid_signature",
            Problem::UnrecognizedClient => "unrecognized_client",
        }
    }
}

impl Rejection {
    /// A metric label value.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::Credentials(p) => p.label(),
            Rejection::AccessDenied => "access_denied",
        }
    }
}

/// The header AWS's JSON protocols name the error in.
const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// Messages AWS sends for these errors, for bodies without a code
/// (compared in lower case).
const MESSAGES: [(&str, Rejection); 5] = [
    (
        "security token included in the request is expired",
        Rejection::Credentials(Problem::ExpiredToken),
    ),
    ("signature expired", Rejection::Credentials(Problem::InvalidSignature)),
    (
        "security token included in the request is invalid",
        Rejection::Credentials(Problem::UnrecognizedClient),
    ),
    ("signature we calculated does not match", Rejection::Credentials(Problem::InvalidSignature)),
    ("is not authorized to perform", Rejection::AccessDenied),
];

/// The rejection an AWS error code stands for.
fn from_code(code: &str) -> Option<Rejection> {
    let r = match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            Rejection::Credentials(Problem::ExpiredToken)
        }
        "InvalidSignatureException" | "SignatureDoesNotMatch" => {
            Rejection::Credentials(Problem::InvalidSignature)
        }
        "UnrecognizedClientException" | "InvalidClientTokenId" | "InvalidAccessKeyId" => {
            Rejection::Credentials(Problem::UnrecognizedClient)
        }
        "AccessDeniedException" | "AccessDenied" => Rejection::AccessDenied,
        _ => return None,
    };
    Some(r)
}

/// What a response with `status`, `headers` and (the start of) `body` says
/// about the signed request; `None` for anything but a recognised 401/403.
pub fn classify(status: u16, headers: &HeaderMap, body: &str) -> Option<Rejection> {
    if status != 401 && status != 403 {
        return None;
    }
    let header_code = headers
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or_default().trim());
    if let Some(r) = header_code.and_then(from_code) {
        return Some(r);
    }
    // `"__type":"com.amazon.coral.service#ExpiredTokenException"`,
    // `<Code>ExpiredToken</Code>`, `"code":"AccessDeniedException"`: the code
    // is one word of the body.
    let words = body.split(|c: char| !c.is_ascii_alphanumeric());
    if let Some(r) = words.filter_map(from_code).next() {
        return Some(r);
    }
    let lower = body.to_ascii_lowercase();
    MESSAGES.iter().find(|(m, _)| lower.contains(m)).map(|(_, r)| *r)
}

/// Markers after which AWS error messages quote the canonical request or
/// the string to sign, which hold every signed header's value, the session
/// token among them (compared in lower case).
const CANONICAL_MARKERS: [&str; 4] = [
    "the canonical string for this request",
    "canonical request",
    "string-to-sign",
    "stringtosign",
];

/// The shortest tail of `text` that is taken for a cut-off secret.
const MIN_SECRET_PREFIX: usize = 6;

/// Removes from `text` (a response body's start, to be logged) any quoted
/// canonical request, every occurrence of each of `secrets`, and a trailing
/// beginning of one (the snippet may stop in the middle of a secret).
pub fn scrub(text: &mut String, secrets: &[&str]) {
    let lower = text.to_ascii_lowercase();
    if let Some(at) = CANONICAL_MARKERS.iter().filter_map(|m| lower.find(m)).min() {
        text.truncate(at);
        text.push_str("[canonical request omitted]");
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret) {
            *text = text.replace(secret, "<redacted>");
        }
        let longest = (MIN_SECRET_PREFIX..secret.len())
            .rev()
            .find(|&n| secret.is_char_boundary(n) && text.ends_with(&secret[..n]));
        if let Some(n) = longest {
            text.truncate(text.len() - n);
            text.push_str("<redacted>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[track_caller]
    fn check(status: u16, header: Option<&str>, body: &str, want: Option<Rejection>) {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert(ERROR_TYPE_HEADER, HeaderValue::from_str(h).unwrap());
        }
        assert_eq!(classify(status, &headers, body), want, "{status} {header:?} {body:?}");
    }

    const EXPIRED: Option<Rejection> = Some(Rejection::Credentials(Problem::ExpiredToken));
    const SIGNATURE: Option<Rejection> = Some(Rejection::Credentials(Problem::InvalidSignature));
    const UNRECOGNIZED: Option<Rejection> =
        Some(Rejection::Credentials(Problem::UnrecognizedClient));
    const DENIED: Option<Rejection> = Some(Rejection::AccessDenied);

    #[test]
    fn codes_in_the_header_decide_first() {
        let coral = ":http://internal.amazon.com/coral/com.amazon.coral.service/";
        check(403, Some(&format!("ExpiredTokenException{coral}")), "", EXPIRED);
        check(403, Some("InvalidSignatureException"), "{}", SIGNATURE);
        check(403, Some("UnrecognizedClientException"), "", UNRECOGNIZED);
        check(401, Some("AccessDeniedException"), "", DENIED);
        // The header wins over a body that says something else.
        check(403, Some("AccessDeniedException"), "ExpiredToken", DENIED);
        // An unknown code in the header: the body is read.
        check(403, Some("ThrottlingException"), r#"{"__type":"ExpiredToken"}"#, EXPIRED);
    }

    #[test]
    fn codes_and_messages_in_the_body() {
        check(
            403,
            None,
            r#"{"__type":"com.amazon.coral.service#ExpiredTokenException","message":"x"}"#,
            EXPIRED,
        );
        check(403, None, "<Error><Code>ExpiredToken</Code></Error>", EXPIRED);
        check(403, None, "<Error><Code>InvalidClientTokenId</Code></Error>", UNRECOGNIZED);
        check(403, None, "<Error><Code>SignatureDoesNotMatch</Code></Error>", SIGNATURE);
        check(403, None, r#"{"code":"AccessDenied"}"#, DENIED);
        check(
            403,
            None,
            r#"{"message":"The security token included in the request is expired"}"#,
            EXPIRED,
        );
        check(
            403,
            None,
            r#"{"message":"The security token included in the request is invalid."}"#,
            UNRECOGNIZED,
        );
        check(
            403,
            None,
            r#"{"message":"The request signature we calculated does not match the signature you provided."}"#,
            SIGNATURE,
        );
        check(
            403,
            None,
            r#"{"Message":"User: arn:aws:sts::1:assumed-role/r/i is not authorized to perform: aps:RemoteWrite"}"#,
            DENIED,
        );
        check(403, None, "Signature expired: 20231114T221320Z is now earlier than ...", SIGNATURE);
    }

    #[test]
    fn other_answers_are_left_to_the_status() {
        check(403, None, "forbidden by the proxy", None);
        check(401, None, "", None);
        // A code in a body of another status means nothing here.
        check(400, Some("ExpiredTokenException"), "ExpiredToken", None);
        check(500, None, "The security token included in the request is expired", None);
        // Codes are whole words: no match inside a longer word.
        check(403, None, "NotExpiredTokenAtAll AccessDeniedish", None);
    }

    #[test]
    fn scrub_removes_canonical_requests_and_secrets() {
        let token = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";
        let mut text = format!(
            "{{\"message\":\"The request signature we calculated does not match. \
             The Canonical String for this request should have been\\n'POST\\n/\\n\\nx-amz-security-token:{token}'\"}}"
        );
        scrub(&mut text, &["secret", token]);
        assert!(!text.contains(token) && !text.contains("IQoJ"), "{text}");
        assert!(text.ends_with("[canonical request omitted]"), "{text}");

        let mut text = format!("token {token} again {token}");
        scrub(&mut text, &[token]);
        assert_eq!(text, "token <redacted> again <redacted>");

        // Cut off in the middle of the secret.
        let mut text = format!("ends with {}", &token[..10]);
        scrub(&mut text, &[token]);
        assert_eq!(text, "ends with <redacted>");

        // Short tails are ordinary text; empty secrets change nothing.
        let mut text = "ends with IQo".to_owned();
        scrub(&mut text, &[token, ""]);
        assert_eq!(text, "ends with IQo");
    }
}
