//! mapgov-prometheus as a scraper, an operator and an attacker meet it: the exposition checked
//! by promtool and by a real Prometheus server, the HTTP listener's routes and limits, and the
//! Grafana dashboard against the metrics it queries.
//!
//! Tests that need Debian's `prometheus` package (`promtool`, `prometheus`) say that they are
//! skipped when it is missing, except under CI (`CI` set), where they fail.

mod dashboard;
mod http;
mod prometheus;
mod promtool;
mod support;
