//! tern: a Prometheus-compatible scrape-and-remote-write agent.
//!
//! The pipeline and module layout are described in `DESIGN.md` (shared with
//! the project); each stage is a module with one job.

pub mod app;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod exposition;
pub mod hostmetrics;
pub mod http_client;
pub mod labels;
pub mod relabel;
pub mod remote;
pub mod scrape;
pub mod server;
pub mod wal;
