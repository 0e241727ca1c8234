//! The OFREP server behind `flagstone serve`: [`ofrep`]'s evaluation over HTTP/1.1, on a
//! published directory's bundle, hot-reloaded by a [`Watcher`].
//!
//! Every request is bounded: its headers must arrive within [`Config::header_timeout`] (which
//! also closes idle keep-alive connections), its body within [`Config::body_timeout`] and
//! [`Config::max_body_bytes`]; at most [`Config::max_connections`] connections are served at
//! once (the others wait in the listen queue). Evaluation itself is a few microseconds and
//! runs on the connection's task. docs/openfeature.md documents the endpoints.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};

use crate::eval::watch::Watcher;
use crate::exposure::{self, Recorder};
use crate::ofrep;

/// The bulk evaluation endpoint; a flag's is under it.
const FLAGS_PATH: &str = "/ofrep/v1/evaluate/flags";
const HEALTH_PATH: &str = "/healthz";

/// How the server listens and what it tolerates.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Accepted bearer tokens (`Authorization: Bearer …` or `X-API-Key: …`); empty: no
    /// authentication.
    pub tokens: Vec<String>,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    /// For a request's headers to arrive, and for an idle keep-alive connection.
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// How long requests in progress may take to finish once shutdown begins.
    pub shutdown_grace: Duration,
    /// Worker threads; 0: one per core.
    pub threads: usize,
    pub ofrep: ofrep::Options,
    /// Origins whose browser pages may call the server (CORS); `*`: any. Empty: none.
    pub cors_origins: Vec<String>,
}

impl Config {
    /// Loopback port 8016 (flagd's OFREP port), no tokens, 64 KiB bodies in 10 s, headers in
    /// 30 s, 4,096 connections, 10 s to finish at shutdown.
    pub fn new(listen: SocketAddr) -> Config {
        Config {
            listen,
            tokens: Vec::new(),
            max_body_bytes: 64 << 10,
            body_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(10),
            threads: 0,
            ofrep: ofrep::Options::default(),
            cors_origins: Vec::new(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub enum ServeError {
    Runtime(io::Error),
    Bind {
        address: SocketAddr,
        error: io::Error,
    },
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Runtime(error) => write!(f, "cannot start the server's threads: {error}"),
            ServeError::Bind { address, error } => write!(f, "cannot listen on {address}: {error}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Runtime(error) | ServeError::Bind { error, .. } => Some(error),
        }
    }
}

/// What the server did, once stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub requests: u64,
    /// Connections still busy when the shutdown grace ran out, and cut.
    pub cut: usize,
    /// The recorder's final counts, after its last write.
    pub exposures: Option<exposure::Stats>,
}

/// Stops a running server from another thread.
#[derive(Clone, Debug)]
pub struct Stopper(Arc<watch::Sender<bool>>);

impl Stopper {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// A bound server, not yet serving.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    address: SocketAddr,
    state: Arc<State>,
    stop: Arc<watch::Sender<bool>>,
}

struct State {
    /// The tokens' hashes: comparing hashes takes the same time whatever a token's length.
    tokens: Vec<blake3::Hash>,
    watcher: Arc<Watcher>,
    recorder: Option<Recorder>,
    config: Config,
    requests: AtomicU64,
}

type Reply = Response<Full<Bytes>>;

impl Server {
    /// Starts the worker threads and binds the address; nothing is served until [`run`].
    ///
    /// [`run`]: Server::run
    pub fn bind(
        watcher: Arc<Watcher>,
        recorder: Option<Recorder>,
        config: Config,
    ) -> Result<Server, ServeError> {
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        if config.threads > 0 {
            runtime.worker_threads(config.threads);
        }
        let runtime = runtime
            .thread_name("flagstone-serve")
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        let address = config.listen;
        let bind_error = |error| ServeError::Bind { address, error };
        let listener = {
            let _context = runtime.enter();
            let socket = if address.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(bind_error)?;
            // A restarted server can listen again while its old connections linger.
            socket.set_reuseaddr(true).map_err(bind_error)?;
            socket.bind(address).map_err(bind_error)?;
            socket.listen(1024).map_err(bind_error)?
        };
        let address = listener.local_addr().map_err(bind_error)?;
        let state = Arc::new(State {
            tokens: config
                .tokens
                .iter()
                .map(|t| blake3::hash(t.as_bytes()))
                .collect(),
            watcher,
            recorder,
            config,
            requests: AtomicU64::new(0),
        });
        Ok(Server {
            runtime,
            listener,
            address,
            state,
            stop: Arc::new(watch::channel(false).0),
        })
    }

    /// The address bound (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.stop))
    }

    /// Serves until SIGINT or SIGTERM (or [`Stopper::stop`]), then stops accepting, lets the
    /// requests in progress finish within [`Config::shutdown_grace`], and flushes the
    /// exposures. SIGHUP reads the published pointer at once.
    pub fn run(self) -> Report {
        let Server {
            runtime,
            listener,
            state,
            stop,
            ..
        } = self;
        let cut = runtime.block_on(serve(listener, Arc::clone(&state), stop));
        // Connections cut at the deadline end with the runtime; then the state is ours.
        runtime.shutdown_timeout(Duration::from_secs(1));
        let requests = state.requests.load(Ordering::Relaxed);
        let exposures = Arc::into_inner(state)
            .and_then(|state| state.recorder)
            .map(Recorder::shutdown);
        Report {
            requests,
            cut,
            exposures,
        }
    }
}

/// Accepts connections until told to stop; returns how many were cut at the deadline.
async fn serve(listener: TcpListener, state: Arc<State>, stop: Arc<watch::Sender<bool>>) -> usize {
    listen_for_signals(&stop, &state.watcher);
    let mut stopped = stop.subscribe();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.header_timeout)
        // Headers must fit the read buffer; bodies stream through it.
        .max_buf_size(64 << 10);
    let graceful = GracefulShutdown::new();
    let connections = state
        .config
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(connections));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors, or a connection reset before it was accepted: the
            // server goes on, after a breath so that a persistent error does not spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Responses are small and written whole: send them at once.
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let service = hyper::service::service_fn(move |request| {
            let state = Arc::clone(&state);
            async move { Ok::<_, Infallible>(handle(&state, request).await) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that goes away or breaks the protocol ends only its own connection.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => 0,
        () = tokio::time::sleep(state.config.shutdown_grace) => {
            connections - permits.available_permits()
        }
    }
}

#[cfg(unix)]
fn listen_for_signals(stop: &Arc<watch::Sender<bool>>, watcher: &Arc<Watcher>) {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [SignalKind::interrupt(), SignalKind::terminate()];
    for mut stream in kinds.into_iter().filter_map(|kind| signal(kind).ok()) {
        let stop = Arc::clone(stop);
        tokio::spawn(async move {
            if stream.recv().await.is_some() {
                stop.send_replace(true);
            }
        });
    }
    if let Ok(mut hangup) = signal(SignalKind::hangup()) {
        let watcher = Arc::clone(watcher);
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                let watcher = Arc::clone(&watcher);
                // A poll reads files: off the request threads.
                let _ = tokio::task::spawn_blocking(move || watcher.refresh()).await;
            }
        });
    }
}

#[cfg(not(unix))]
fn listen_for_signals(stop: &Arc<watch::Sender<bool>>, _watcher: &Arc<Watcher>) {
    let stop = Arc::clone(stop);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.send_replace(true);
        }
    });
}

async fn handle(state: &State, request: Request<Incoming>) -> Reply {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let origin = allowed_origin(&state.config.cors_origins, request.headers());
    let mut reply = if request.method() == Method::OPTIONS && is_ofrep(request.uri().path()) {
        preflight(origin.is_some())
    } else {
        answer(state, request).await
    };
    if let Some(origin) = origin {
        let headers = reply.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        // Web providers keep the bulk answer's tag for If-None-Match.
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("ETag"),
        );
    }
    reply
}

fn is_ofrep(path: &str) -> bool {
    path.strip_prefix(FLAGS_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The `Access-Control-Allow-Origin` for a request from a browser page of an allowed origin.
fn allowed_origin(allowed: &[String], headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    if allowed.iter().any(|a| a == "*") {
        return Some(HeaderValue::from_static("*"));
    }
    let text = origin.to_str().ok()?;
    allowed.iter().any(|a| a == text).then(|| origin.clone())
}

/// A browser's CORS preflight: the methods and headers a page may use, for ten minutes.
fn preflight(allowed: bool) -> Reply {
    let mut reply = Response::new(Full::default());
    *reply.status_mut() = StatusCode::NO_CONTENT;
    let headers = reply.headers_mut();
    headers.insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    if allowed {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, if-none-match, x-api-key"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    reply
}

async fn answer(state: &State, request: Request<Incoming>) -> Reply {
    let path = request.uri().path();
    if path == HEALTH_PATH {
        return match *request.method() {
            Method::GET | Method::HEAD => health(state),
            _ => not_allowed("GET, HEAD"),
        };
    }
    let flag = match path.strip_prefix(FLAGS_PATH) {
        Some("" | "/") => None,
        Some(rest) => match rest.strip_prefix('/').map(percent_decode) {
            Some(Some(key)) => Some(key),
            Some(None) => {
                return transport_error(StatusCode::BAD_REQUEST, "the flag key is not UTF-8");
            }
            None => return transport_error(StatusCode::NOT_FOUND, "no such endpoint"),
        },
        None => return transport_error(StatusCode::NOT_FOUND, "no such endpoint"),
    };
    if request.method() != Method::POST {
        return not_allowed("POST, OPTIONS");
    }
    if !state.tokens.is_empty() && !authorized(request.headers(), &state.tokens) {
        let mut reply = transport_error(StatusCode::UNAUTHORIZED, "a valid token is required");
        reply
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return reply;
    }
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let body = match read_body(&state.config, request).await {
        Ok(body) => body,
        Err(error) => return body_error(&state.config, error),
    };
    let evaluator = state.watcher.current();
    let now = crate::literal::now_millis();
    let recorder = state.recorder.as_ref();
    let options = state.config.ofrep;
    // The evaluator does not panic; if it ever did, this request fails, not the server.
    let evaluated = std::panic::catch_unwind(AssertUnwindSafe(|| match &flag {
        Some(key) => ofrep::evaluate_flag(&evaluator, key, &body, options, recorder, now),
        None => ofrep::evaluate_flags(&evaluator, &body, options, recorder, now),
    }));
    let Ok(reply) = evaluated else {
        return transport_error(StatusCode::INTERNAL_SERVER_ERROR, "the evaluation failed");
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if flag.is_some() || status != StatusCode::OK {
        return json(status, reply.body);
    }
    let etag = ofrep::etag(&reply.body);
    let etag_value = HeaderValue::from_str(&etag).expect("an entity tag is a header value");
    let unchanged = if_none_match
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| ofrep::if_none_match(value, &etag));
    let mut response = if unchanged {
        let mut response = Response::new(Full::default());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        json(StatusCode::OK, reply.body)
    };
    response.headers_mut().insert(header::ETAG, etag_value);
    response
}

/// Why a body was not read.
enum BodyError {
    TooLarge,
    Unreadable,
    Late,
}

/// The body, whole, within the size and time limits.
async fn read_body(config: &Config, request: Request<Incoming>) -> Result<Bytes, BodyError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > config.max_body_bytes as u64) {
        return Err(BodyError::TooLarge);
    }
    let body = Limited::new(request.into_body(), config.max_body_bytes);
    match tokio::time::timeout(config.body_timeout, body.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            Err(BodyError::TooLarge)
        }
        Ok(Err(_)) => Err(BodyError::Unreadable),
        Err(_) => Err(BodyError::Late),
    }
}

fn body_error(config: &Config, error: BodyError) -> Reply {
    match error {
        BodyError::TooLarge => {
            let details = format!("the body is larger than {} bytes", config.max_body_bytes);
            transport_error(StatusCode::PAYLOAD_TOO_LARGE, &details)
        }
        BodyError::Unreadable => {
            transport_error(StatusCode::BAD_REQUEST, "the body could not be read")
        }
        BodyError::Late => {
            let details = format!(
                "the body did not arrive within {} ms",
                config.body_timeout.as_millis()
            );
            let mut reply = transport_error(StatusCode::REQUEST_TIMEOUT, &details);
            // The rest of a late body would be read as the next request.
            reply
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            reply
        }
    }
}

/// Whether the request carries one of the tokens. `blake3::Hash` compares in constant time,
/// and every token is compared, so the time says nothing about which one, or how much of it,
/// a guess got right.
fn authorized(headers: &HeaderMap, tokens: &[blake3::Hash]) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let api_key = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim);
    [bearer, api_key].into_iter().flatten().any(|presented| {
        let presented = blake3::hash(presented.as_bytes());
        tokens
            .iter()
            .fold(false, |found, token| found | (presented == *token))
    })
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    environment: &'a str,
    bundle: &'a str,
    reloads: u64,
    /// Why the bundle the pointer names now is not the one served.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn health(state: &State) -> Reply {
    let status = state.watcher.status();
    let evaluator = state.watcher.current();
    let health = Health {
        status: if status.error.is_some() {
            "stale"
        } else {
            "serving"
        },
        environment: evaluator.environment(),
        bundle: evaluator.hash(),
        reloads: status.reloads,
        error: status.error.map(|error| error.to_string()),
    };
    let body = serde_json::to_vec(&health).expect("the health report serializes");
    json(StatusCode::OK, body)
}

fn json(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An error found before evaluating: `{"errorDetails": …}`, OFREP's general error shape.
fn transport_error(status: StatusCode, details: &str) -> Reply {
    #[derive(Serialize)]
    struct General<'a> {
        #[serde(rename = "errorDetails")]
        error_details: &'a str,
    }
    let body = serde_json::to_vec(&General {
        error_details: details,
    })
    .expect("an error serializes");
    json(status, body)
}

fn not_allowed(allow: &'static str) -> Reply {
    let mut reply = transport_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    reply
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    reply
}

/// A path segment's `%XX` escapes decoded (clients escape `/` in flag keys, or not); `None`
/// when the result is not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&high), Some(&low)) if hex(high).is_some() && hex(low).is_some() => {
                out.push((hex(high).unwrap_or(0) * 16 + hex(low).unwrap_or(0)) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_keys_are_percent_decoded() {
        assert_eq!(
            percent_decode("api%2Fv3-endpoints").unwrap(),
            "api/v3-endpoints"
        );
        assert_eq!(percent_decode("api/v3").unwrap(), "api/v3");
        assert_eq!(percent_decode("a%2").unwrap(), "a%2");
        assert_eq!(percent_decode("%C3%A9").unwrap(), "é");
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn tokens_are_accepted_as_bearer_or_api_key() {
        let tokens = [blake3::hash(b"s3cret"), blake3::hash(b"other")];
        let with = |name: &'static str, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_str(value).unwrap());
            authorized(&headers, &tokens)
        };
        assert!(with("authorization", "Bearer s3cret"));
        assert!(with("authorization", "bearer other"));
        assert!(with("x-api-key", "s3cret"));
        assert!(!with("authorization", "Bearer s3cre"));
        assert!(!with("authorization", "Basic s3cret"));
        assert!(!with("authorization", "s3cret"));
        assert!(!authorized(&HeaderMap::new(), &tokens));
    }
}
