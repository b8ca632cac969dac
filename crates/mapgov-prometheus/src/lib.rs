#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod collector;
#[cfg(feature = "http-listener")]
mod server;

use std::sync::LazyLock;

use prometheus_client::encoding::{DescriptorEncoder, prometheus_text, text};
use prometheus_client::registry::Registry;

pub use collector::{DEFAULT_MAX_SITES, MapgovCollector, OTHER_SITE};
#[cfg(feature = "http-listener")]
pub use server::{
    DEFAULT_ADDR, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_READ_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT, Error, Server, ServerBuilder, serve,
};

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// The Prometheus text format, version 0.0.4 (what [`render`] returns).
    Prometheus,
    /// The OpenMetrics text format, version 1.0.0 (ends with `# EOF`).
    OpenMetrics,
}

impl Format {
    /// The HTTP `Content-Type` of this format.
    ///
    /// # Examples
    ///
    /// ```
    /// use mapgov_prometheus::Format;
    /// assert_eq!(Format::Prometheus.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    /// ```
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The process-wide collector behind [`render`], [`render_as`] and a default [`serve`].
static GLOBAL: LazyLock<MapgovCollector> = LazyLock::new(MapgovCollector::new);

/// A registry holding only the process-wide collector.
static GLOBAL_REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Global));
    registry
});

/// Delegates to [`GLOBAL`], so that every user of the default shares one cardinality cap.
#[derive(Debug)]
struct Global;

impl prometheus_client::collector::Collector for Global {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        prometheus_client::collector::Collector::encode(&*GLOBAL, encoder)
    }
}

/// Every governed map of the process, as metrics in the Prometheus text format (0.0.4).
///
/// Takes one [`mapgov::snapshot()`] and encodes it with the process-wide collector (cap:
/// [`DEFAULT_MAX_SITES`]). For users who serve metrics themselves; to add mapgov's metrics to
/// an existing `prometheus-client` registry, register a [`MapgovCollector`] instead.
///
/// # Examples
///
/// ```
/// let mut sessions: mapgov::HashMap<u64, u64> = mapgov::HashMap::new().named("sessions");
/// sessions.insert(7, 42);
///
/// let text = mapgov_prometheus::render();
/// assert!(text.contains("# TYPE mapgov_entries gauge\n"));
/// assert!(text.contains("name=\"sessions\"} 1\n"));
/// ```
pub fn render() -> String {
    render_as(Format::Prometheus)
}

/// [`render`] in a chosen format.
///
/// # Examples
///
/// ```
/// use mapgov_prometheus::{Format, render_as};
/// assert!(render_as(Format::OpenMetrics).ends_with("# EOF\n"));
/// ```
pub fn render_as(format: Format) -> String {
    encode_registry(&GLOBAL_REGISTRY, format)
}

/// Encodes a registry; encoding into a `String` cannot fail, but stay valid if it ever does.
pub(crate) fn encode_registry(registry: &Registry, format: Format) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let result = match format {
        Format::Prometheus => prometheus_text::encode(&mut out, registry),
        Format::OpenMetrics => text::encode(&mut out, registry),
    };
    if result.is_err() {
        out.clear();
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
    }
    out
}

/// The registry the default listener serves.
#[cfg(feature = "http-listener")]
pub(crate) fn global_registry() -> &'static Registry {
    &GLOBAL_REGISTRY
}
