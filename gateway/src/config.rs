//! Runtime configuration, read from flags or environment variables.

use std::net::{Ipv4Addr, SocketAddr};

/// Gateway configuration.
///
/// Every field can come from an environment variable so the gateway runs
/// unchanged in containers, while flags stay handy for local runs. Values are
/// parsed into their real types by clap, so a bad value is rejected at startup
/// with a message naming the offending flag or variable.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "clockify-gateway",
    version,
    about = "HTTP gateway for Clockify add-ons.",
    long_about = None
)]
pub struct Config {
    /// Socket address to listen on; use port 0 to let the OS pick one.
    #[arg(long = "addr", env = "GATEWAY_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Log output format: `json` for log shippers, `pretty` for humans.
    #[arg(
        long = "log-format",
        env = "LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Json
    )]
    pub log_format: LogFormat,
}

impl Config {
    /// Configuration for tests: an ephemeral loopback port, so parallel tests
    /// never fight over a fixed port.
    pub fn for_tests() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            log_format: LogFormat::Pretty,
        }
    }
}

/// How log lines are rendered.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable, multi-field lines.
    Pretty,
}
