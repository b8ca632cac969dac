//! The HTTP listener: `/metrics` and `/debug/mapgov` on a thread of its own.
//!
//! The server owns a single-threaded tokio runtime on a dedicated thread, so it works the same
//! in programs with or without an async runtime of their own, and never competes with their
//! tasks. HTTP is hyper's (HTTP/1.1 only); this module only routes, negotiates the format and
//! bounds what a client can hold: the request head's size, the time between bytes in either
//! direction, the time to send a whole request head, and the number of open connections.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use mapgov::{Report, SnapshotDocument};
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio::sync::{Semaphore, watch};
use tokio_io_timeout::TimeoutStream;

use crate::{Format, MapgovCollector, encode_registry};

/// The address the examples and `mapgov demo --serve` suggest: loopback, port 9464 (the port
/// conventionally used by OpenTelemetry's Prometheus exporters).
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9464));
/// Default cap on open connections; further clients wait in the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;
/// Default limit on a request head (request line and headers), in bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 * 1024;
/// Default time a connection may stay silent while the server waits to read (also the time a
/// client has to send a whole request head).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a write may wait for a client that does not read.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a shutdown waits for responses in flight before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Why the listener could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The address is not a loopback address, and binding elsewhere was not allowed.
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address could not be bound (in use, not local, not permitted).
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The server thread or its runtime could not start.
    Start(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoopback { addr } => write!(
                f,
                "refusing to serve map metrics on {addr}: not a loopback address (bind \
                 127.0.0.1, or allow other interfaces explicitly with \
                 ServerBuilder::allow_non_loopback)"
            ),
            Error::Bind { addr, source } => {
                write!(f, "cannot listen on {addr}: {source}")?;
                match source.kind() {
                    io::ErrorKind::AddrInUse => f.write_str(
                        " (another process listens there: choose another port, or port 0 for \
                         any free one)",
                    ),
                    io::ErrorKind::PermissionDenied => {
                        f.write_str(" (ports below 1024 need privileges: choose a higher port)")
                    }
                    io::ErrorKind::AddrNotAvailable => {
                        f.write_str(" (no interface of this machine has that address)")
                    }
                    _ => Ok(()),
                }
            }
            Error::Start(e) => write!(f, "cannot start the metrics server thread: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } => Some(source),
            Error::Start(e) => Some(e),
            Error::NotLoopback { .. } => None,
        }
    }
}

/// Serves `GET /metrics` and `GET /debug/mapgov` on `addr`, from a background thread, with the
/// default limits.
///
/// `addr` must be a loopback address (`127.0.0.1:9464`, `[::1]:9464`; port 0 picks a free
/// port, see [`Server::local_addr`]). To listen on other interfaces, say so with
/// [`ServerBuilder::allow_non_loopback`].
///
/// The server runs until [`Server::shutdown`] or until the [`Server`] is dropped: keep it.
///
/// # Errors
///
/// [`Error::NotLoopback`] for another address, [`Error::Bind`] when the address cannot be
/// bound (for example when the port is taken), [`Error::Start`] if the thread cannot start.
///
/// # Examples
///
/// ```
/// let server = mapgov_prometheus::serve("127.0.0.1:0".parse().unwrap())?;
/// println!("metrics on http://{}/metrics", server.local_addr());
/// server.shutdown();
/// # Ok::<(), mapgov_prometheus::Error>(())
/// ```
pub fn serve(addr: SocketAddr) -> Result<Server, Error> {
    ServerBuilder::new(addr).start()
}

/// Configures and starts a [`Server`]. [`serve`] is `ServerBuilder::new(addr).start()`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use mapgov_prometheus::ServerBuilder;
///
/// let server = ServerBuilder::new("127.0.0.1:0".parse().unwrap())
///     .max_connections(4)
///     .read_timeout(Duration::from_secs(5))
///     .max_sites(50)
///     .start()?;
/// # drop(server);
/// # Ok::<(), mapgov_prometheus::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until start() is called"]
pub struct ServerBuilder {
    addr: SocketAddr,
    allow_non_loopback: bool,
    max_connections: usize,
    max_header_bytes: usize,
    read_timeout: Duration,
    write_timeout: Duration,
    max_sites: Option<usize>,
}

impl ServerBuilder {
    /// A server for `addr` with the default limits.
    pub fn new(addr: SocketAddr) -> ServerBuilder {
        ServerBuilder {
            addr,
            allow_non_loopback: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            read_timeout: DEFAULT_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_sites: None,
        }
    }

    /// Allows an address that is not loopback (`0.0.0.0`, a LAN address): the metrics and the
    /// snapshot (site file names, map names, type names) become readable by anyone who can
    /// reach that interface. Off by default.
    pub fn allow_non_loopback(mut self, allow: bool) -> ServerBuilder {
        self.allow_non_loopback = allow;
        self
    }

    /// How many connections may be open at once (at least 1). Further clients wait in the
    /// listen backlog until a connection closes. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub fn max_connections(mut self, n: usize) -> ServerBuilder {
        self.max_connections = n.max(1);
        self
    }

    /// The largest request head (request line and headers) accepted, in bytes; larger ones get
    /// `431 Request Header Fields Too Large`. Default [`DEFAULT_MAX_HEADER_BYTES`].
    pub fn max_header_bytes(mut self, n: usize) -> ServerBuilder {
        self.max_header_bytes = n.max(256);
        self
    }

    /// How long a connection may stay silent while the server waits for bytes, and how long
    /// a client has to send a whole request head; then the connection is closed (this also
    /// closes idle keep-alive connections). Default [`DEFAULT_READ_TIMEOUT`].
    pub fn read_timeout(mut self, timeout: Duration) -> ServerBuilder {
        self.read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a write may wait for a client that does not read; then the connection is
    /// closed. Default [`DEFAULT_WRITE_TIMEOUT`].
    pub fn write_timeout(mut self, timeout: Duration) -> ServerBuilder {
        self.write_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Serves `/metrics` from a collector of its own with this cardinality cap, instead of the
    /// process-wide collector that [`render`](crate::render) uses (cap
    /// [`DEFAULT_MAX_SITES`](crate::DEFAULT_MAX_SITES)).
    pub fn max_sites(mut self, max_sites: usize) -> ServerBuilder {
        self.max_sites = Some(max_sites);
        self
    }

    /// Binds the address and starts the server thread.
    ///
    /// The address is bound before this returns, so a client may connect as soon as it has
    /// the [`Server`].
    ///
    /// # Errors
    ///
    /// See [`serve`].
    pub fn start(self) -> Result<Server, Error> {
        let addr = self.addr;
        if !addr.ip().is_loopback() && !self.allow_non_loopback {
            return Err(Error::NotLoopback { addr });
        }
        let bind = |source| Error::Bind { addr, source };
        let std_listener = std::net::TcpListener::bind(addr).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let local_addr = std_listener.local_addr().map_err(bind)?;

        let shared = Arc::new(Shared {
            registry: match self.max_sites {
                None => Source::Global,
                Some(n) => {
                    let mut registry = Registry::default();
                    registry.register_collector(Box::new(MapgovCollector::new().max_sites(n)));
                    Source::Own(registry)
                }
            },
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
        let limits = self.clone();
        let thread = std::thread::Builder::new()
            .name("mapgov-prometheus".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let listener = {
                    let _context = runtime.enter();
                    tokio::net::TcpListener::from_std(std_listener)
                };
                match listener {
                    Ok(listener) => {
                        let _ = ready_tx.send(Ok(()));
                        runtime.block_on(accept_loop(listener, limits, shared, shutdown_rx));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
                // Dropping the runtime here cancels whatever connection outlived the grace.
            })
            .map_err(Error::Start)?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Server {
                local_addr,
                shutdown: shutdown_tx,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(Error::Start(e))
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::Start(io::Error::other(
                    "the server thread exited early",
                )))
            }
        }
    }
}

/// A running listener. It stops on [`Server::shutdown`] or when dropped.
///
/// Stopping closes the listening socket at once, gives responses in flight up to a second to
/// finish, closes every connection and joins the server thread.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// A builder for a server on `addr`.
    pub fn builder(addr: SocketAddr) -> ServerBuilder {
        ServerBuilder::new(addr)
    }

    /// The address the server listens on (with the actual port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the server and waits (at most about a second) for its thread to finish.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where `/metrics` comes from.
#[derive(Debug)]
enum Source {
    /// The process-wide collector.
    Global,
    /// A registry with a collector of the server's own.
    Own(Registry),
}

#[derive(Debug)]
struct Shared {
    registry: Source,
}

impl Shared {
    fn registry(&self) -> &Registry {
        match &self.registry {
            Source::Global => crate::global_registry(),
            Source::Own(r) => r,
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    limits: ServerBuilder,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_headers(64)
        .keep_alive(true);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        // At the cap, stop accepting: new clients wait in the backlog, and a stalled client
        // frees its slot after the read timeout.
        let permit = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(_) => {
                    // Out of file descriptors or a connection reset before accept: pause
                    // briefly instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_read_timeout(Some(limits.read_timeout));
        stream.set_write_timeout(Some(limits.write_timeout));
        let io = TokioIo::new(Box::pin(stream));
        let shared = shared.clone();
        let conn = http.serve_connection(
            io,
            service_fn(move |req| {
                let response = respond(&req, &shared);
                async move { Ok::<_, Infallible>(response) }
            }),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors are the client's (reset, timeout, malformed request): nothing to do.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// The JSON served at `/debug/mapgov`: a `mapgov-snapshot` document with one snapshot, plus
/// that snapshot's report (readers of the snapshot format ignore the extra field).
#[derive(Serialize)]
struct DebugDocument<'a> {
    #[serde(flatten)]
    document: &'a SnapshotDocument,
    report: &'a Report,
}

const INDEX: &str = "mapgov exporter\n\
    /metrics        map metrics (Prometheus text, or OpenMetrics when asked for)\n\
    /debug/mapgov   the snapshot and its report as JSON (mapgov-snapshot format, version 1)\n";

fn respond(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    #[derive(Clone, Copy)]
    enum Route {
        Index,
        Metrics,
        Debug,
    }
    let route = match req.uri().path() {
        "/" => Route::Index,
        "/metrics" => Route::Metrics,
        "/debug/mapgov" => Route::Debug,
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                "not found: this server serves /metrics and /debug/mapgov\n",
            );
        }
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use GET or HEAD\n",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if !req.body().is_end_stream() {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request bodies are not accepted\n",
        );
    }
    match route {
        Route::Index => text(StatusCode::OK, INDEX),
        Route::Metrics => match negotiate(req) {
            Ok(format) => {
                let body = encode_registry(shared.registry(), format);
                with_type(StatusCode::OK, format.content_type(), body.into())
            }
            Err(message) => text(StatusCode::BAD_REQUEST, &message),
        },
        Route::Debug => {
            let document = SnapshotDocument::new(vec![mapgov::snapshot()]);
            let report = document
                .snapshots
                .first()
                .map(|s| s.report())
                .unwrap_or_default();
            match serde_json::to_vec(&DebugDocument {
                document: &document,
                report: &report,
            }) {
                Ok(body) => with_type(StatusCode::OK, "application/json", body.into()),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("cannot serialize the snapshot: {e}\n"),
                ),
            }
        }
    }
}

/// The format of a `/metrics` response: `?format=prometheus|openmetrics` if given, else the
/// `Accept` header's choice.
fn negotiate(req: &Request<Incoming>) -> Result<Format, String> {
    if let Some(query) = req.uri().query() {
        for pair in query.split('&') {
            if let Some(value) = pair.strip_prefix("format=") {
                return match value {
                    "prometheus" | "text" => Ok(Format::Prometheus),
                    "openmetrics" => Ok(Format::OpenMetrics),
                    other => Err(format!(
                        "unknown format {other:?}: use format=prometheus or format=openmetrics\n"
                    )),
                };
            }
        }
    }
    let accept = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok());
    Ok(format_for_accept(accept))
}

/// OpenMetrics when the client lists `application/openmetrics-text` with a quality at least as
/// high as `text/plain`'s; the Prometheus text format otherwise (also for `*/*` and no header).
pub(crate) fn format_for_accept<'a>(values: impl Iterator<Item = &'a str>) -> Format {
    let (mut openmetrics, mut plain) = (0.0f32, 0.0f32);
    for range in values.flat_map(|v| v.split(',')) {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        for param in parts {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            openmetrics = openmetrics.max(q);
        } else if media.eq_ignore_ascii_case("text/plain") {
            plain = plain.max(q);
        }
    }
    if openmetrics > 0.0 && openmetrics >= plain {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    with_type(
        status,
        "text/plain; charset=utf-8",
        Bytes::copy_from_slice(body.as_bytes()),
    )
}

fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_the_format_prometheus_asks_for() {
        let om = |s: &str| format_for_accept([s].into_iter());
        // What Prometheus 2.x sends.
        assert_eq!(
            om(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            ),
            Format::OpenMetrics
        );
        assert_eq!(om("text/plain;version=0.0.4"), Format::Prometheus);
        assert_eq!(om("*/*"), Format::Prometheus);
        assert_eq!(om(""), Format::Prometheus);
        assert_eq!(
            om("application/openmetrics-text;q=0.2, text/plain"),
            Format::Prometheus
        );
        assert_eq!(om("application/openmetrics-text;q=0"), Format::Prometheus);
        assert_eq!(om("Application/OpenMetrics-Text"), Format::OpenMetrics);
        assert_eq!(format_for_accept(std::iter::empty()), Format::Prometheus);
    }

    #[test]
    fn errors_say_what_to_do() {
        let addr: SocketAddr = "0.0.0.0:9464".parse().unwrap();
        let e = Error::NotLoopback { addr };
        assert!(e.to_string().contains("allow_non_loopback"), "{e}");
        let e = Error::Bind {
            addr,
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert!(
            e.to_string().starts_with("cannot listen on 0.0.0.0:9464"),
            "{e}"
        );
        assert!(e.to_string().contains("port 0"), "{e}");
    }
}
