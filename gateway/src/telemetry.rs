//! Tracing setup.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Filter used when `RUST_LOG` is unset or invalid.
const DEFAULT_FILTER: &str = "info";

/// Installs the global tracing subscriber.
///
/// Idempotent: a global subscriber can only be set once per process, and
/// tests (or an embedding binary) may call this repeatedly, so an
/// "already set" error is deliberately ignored.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colour codes only help a human at a terminal; in files and log
    // collectors they are noise.
    let builder = fmt().with_env_filter(filter).with_ansi(std::io::stdout().is_terminal());
    let _ = match format {
        // The current span (the request id) on each line; not the list of
        // every enclosing span, which repeated it at a cost on every line.
        LogFormat::Json => builder.json().with_span_list(false).try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
    };
}
