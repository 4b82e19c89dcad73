//! Plain-HTTP scrapes over a connection each target keeps between scrapes,
//! as Prometheus keeps them: no TCP handshake per scrape, and nothing held in
//! memory while the connection is idle (the HTTP state, buffers included,
//! lives only for the request; between scrapes a target holds just its
//! socket).
//!
//! Used for `http` targets without a proxy; `https`, proxies, and redirects
//! (when followed) go through the job's reqwest client. A kept connection the
//! server has closed meanwhile (an idle timeout) fails before any response
//! arrives; the request is then sent once more on a new connection, as Go's
//! client does for a GET.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, CONNECTION, CONTENT_ENCODING, CONTENT_TYPE, HOST,
};
use hyper::{Request, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::fetch::error_chain;

/// A target's URL, split once for direct requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectUrl {
    /// `host[:port]` as the URL spells it: the `Host` header.
    authority: String,
    /// The host without IPv6 brackets, for the connection.
    host: String,
    port: u16,
    /// Path and query: the request target.
    path: String,
}

impl DirectUrl {
    /// `url` split, or `None` when it is not a plain `http` URL a direct
    /// request can serve (another scheme, credentials in the URL).
    pub fn parse(url: &str) -> Option<DirectUrl> {
        let uri: Uri = url.parse().ok()?;
        if uri.scheme_str() != Some("http") {
            return None;
        }
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = authority.host();
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        Some(DirectUrl {
            authority: authority.as_str().to_owned(),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        })
    }
}

/// A target's kept connection (none until the first scrape, or after one
/// that could not keep it).
#[derive(Debug, Default)]
pub struct KeptConn(Option<TcpStream>);

/// What a direct request ended with.
#[derive(Debug)]
pub enum Reply {
    /// A 200 whose body is in the buffer (decoded from gzip when it was).
    Ok { content_type: String },
    /// Another status; the body was not read.
    Status(StatusCode),
}

/// Why a direct request failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error("{0}")]
    Transport(String),
    #[error("body size limit exceeded")]
    BodySizeLimit,
    #[error("gzip: {0}")]
    Gzip(String),
}

/// GETs `url` with `headers` (`Host` is added, and `Accept-Encoding: gzip`
/// with `gzip`) into `buf`, on the kept connection when there is one.
/// `limit`: the body's size limit (0: none), checked while reading, after
/// decoding. The connection is kept for the next scrape only after a
/// complete 200 the server did not close.
pub async fn get(
    url: &DirectUrl,
    headers: &HeaderMap,
    gzip: bool,
    conn: &mut KeptConn,
    limit: usize,
    buf: &mut Vec<u8>,
) -> Result<Reply, DirectError> {
    let host = HeaderValue::from_str(&url.authority)
        .map_err(|_| DirectError::Transport("invalid host".into()))?;
    let head = Head { url, headers, host, gzip };
    if let Some(stream) = conn.0.take() {
        match exchange(&head, stream, limit, buf).await {
            // Closed by the server while idle: nothing came back.
            Err(Failure::BeforeResponse(_)) => {}
            Err(Failure::After(e)) => return Err(e),
            Ok((reply, kept)) => {
                conn.0 = kept;
                return Ok(reply);
            }
        }
    }
    let stream = connect(url).await?;
    match exchange(&head, stream, limit, buf).await {
        Ok((reply, kept)) => {
            conn.0 = kept;
            Ok(reply)
        }
        Err(Failure::BeforeResponse(e) | Failure::After(e)) => Err(e),
    }
}

/// What every attempt of one GET sends.
struct Head<'a> {
    url: &'a DirectUrl,
    /// The scrape's headers, shared with the general client's requests.
    headers: &'a HeaderMap,
    host: HeaderValue,
    gzip: bool,
}

impl Head<'_> {
    fn request(&self) -> Result<Request<Empty<Bytes>>, DirectError> {
        let mut request = Request::get(self.url.path.as_str())
            .body(Empty::new())
            .map_err(|e| DirectError::Transport(e.to_string()))?;
        let headers = request.headers_mut();
        headers.clone_from(self.headers);
        headers.insert(HOST, self.host.clone());
        if self.gzip {
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(request)
    }
}

enum Failure {
    /// No response head arrived: the request may be sent again.
    BeforeResponse(DirectError),
    After(DirectError),
}

async fn connect(url: &DirectUrl) -> Result<TcpStream, DirectError> {
    let transport = |e: std::io::Error| DirectError::Transport(e.to_string());
    let stream = match url.host.parse::<IpAddr>() {
        Ok(ip) => TcpStream::connect(SocketAddr::new(ip, url.port)).await.map_err(transport)?,
        Err(_) => TcpStream::connect((url.host.as_str(), url.port)).await.map_err(transport)?,
    };
    stream.set_nodelay(true).map_err(transport)?;
    Ok(stream)
}

/// One request on `stream`; returns the reply and the stream when it can be
/// kept.
async fn exchange(
    head: &Head<'_>,
    stream: TcpStream,
    limit: usize,
    buf: &mut Vec<u8>,
) -> Result<(Reply, Option<TcpStream>), Failure> {
    let transport = |e: hyper::Error| DirectError::Transport(error_chain(&e));
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::BeforeResponse(transport(e)))?;
    let request = head.request().map_err(Failure::BeforeResponse)?;
    // The connection runs beside the request; dropping the sender at the
    // end of the request lets it finish without closing the socket.
    let connection = connection.without_shutdown();
    tokio::pin!(connection);
    let request = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Failure::BeforeResponse(transport(e)))?;
        drop(sender);
        read_response(response, limit, buf).await.map_err(Failure::After)
    };
    tokio::pin!(request);
    let mut ended = None;
    let (reply, reusable) = loop {
        tokio::select! {
            r = &mut request => break r?,
            c = &mut connection, if ended.is_none() => ended = Some(c),
        }
    };
    if !reusable {
        return Ok((reply, None));
    }
    let parts = match ended {
        Some(parts) => parts,
        None => connection.await,
    };
    let kept = parts.ok().filter(|p| p.read_buf.is_empty()).map(|p| p.io.into_inner());
    Ok((reply, kept))
}

/// Reads a 200's body into `buf`; returns the reply and whether the
/// connection may serve another request.
async fn read_response(
    response: hyper::Response<hyper::body::Incoming>,
    limit: usize,
    buf: &mut Vec<u8>,
) -> Result<(Reply, bool), DirectError> {
    let status = response.status();
    if status != StatusCode::OK {
        return Ok((Reply::Status(status), false));
    }
    let headers = response.headers();
    let content_type =
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let gzip = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let reusable = keeps_alive(response.version(), headers);
    let mut body = response.into_body();
    let mut raw = Vec::new();
    let out = if gzip { &mut raw } else { &mut *buf };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| DirectError::Transport(error_chain(&e)))?;
        if let Ok(data) = frame.into_data() {
            if limit > 0 && out.len() + data.len() > limit {
                return Err(DirectError::BodySizeLimit);
            }
            out.extend_from_slice(&data);
        }
    }
    if gzip {
        gunzip(&raw, limit, buf)?;
    }
    Ok((Reply::Ok { content_type }, reusable))
}

/// Whether the server keeps the connection open after this response.
fn keeps_alive(version: Version, headers: &HeaderMap) -> bool {
    let has = |token: &str| {
        headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    match version {
        Version::HTTP_11 => !has("close"),
        Version::HTTP_10 => has("keep-alive"),
        _ => false,
    }
}

/// Decodes a gzip body into `out`, never past `limit` (0: none).
fn gunzip(raw: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), DirectError> {
    use std::io::Read;
    let decoder = flate2::read::MultiGzDecoder::new(raw);
    let cap = if limit > 0 { limit as u64 + 1 } else { u64::MAX };
    decoder.take(cap).read_to_end(out).map_err(|e| DirectError::Gzip(e.to_string()))?;
    if limit > 0 && out.len() > limit {
        return Err(DirectError::BodySizeLimit);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_for_direct_requests() {
        let u = DirectUrl::parse("http://127.0.0.1:9100/metrics?a=b").unwrap();
        assert_eq!(
            u,
            DirectUrl {
                authority: "127.0.0.1:9100".into(),
                host: "127.0.0.1".into(),
                port: 9100,
                path: "/metrics?a=b".into()
            }
        );
        let v6 = DirectUrl::parse("http://[::1]:8080/m").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.authority.as_str()), ("::1", 8080, "[::1]:8080"));
        assert_eq!(DirectUrl::parse("http://example.org").unwrap().port, 80);
        assert_eq!(DirectUrl::parse("http://example.org").unwrap().path, "/");
        assert_eq!(DirectUrl::parse("https://example.org/metrics"), None);
        assert_eq!(DirectUrl::parse("http://u:p@example.org/metrics"), None);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_header() {
        let mut h = HeaderMap::new();
        assert!(keeps_alive(Version::HTTP_11, &h));
        assert!(!keeps_alive(Version::HTTP_10, &h));
        h.insert(CONNECTION, HeaderValue::from_static("Keep-Alive"));
        assert!(keeps_alive(Version::HTTP_10, &h));
        h.insert(CONNECTION, HeaderValue::from_static("foo, close"));
        assert!(!keeps_alive(Version::HTTP_11, &h));
    }

    #[test]
    fn gzip_bodies_are_decoded_within_the_limit() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&[b'a'; 1000]).unwrap();
        let raw = e.finish().unwrap();
        let mut out = Vec::new();
        gunzip(&raw, 0, &mut out).unwrap();
        assert_eq!(out, vec![b'a'; 1000]);
        out.clear();
        assert!(matches!(gunzip(&raw, 999, &mut out), Err(DirectError::BodySizeLimit)));
        out.clear();
        assert!(matches!(gunzip(b"not gzip", 0, &mut out), Err(DirectError::Gzip(_))));
    }
}
