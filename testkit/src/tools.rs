//! External tools some tests drive (chromedriver, schemathesis), found
//! through the variables `cargo xtask test` sets.
//!
//! Under `GATEWAY_TEST_REQUIRE_TOOLS=1` (CI, through `cargo xtask test`) a
//! missing tool fails the test. Otherwise the test is skipped with a loud
//! line on stderr, so a plain `cargo test` still runs on a machine without
//! them and nobody mistakes the skip for a pass.

use std::path::PathBuf;

pub const ENV_CHROMIUM: &str = "GATEWAY_TEST_CHROMIUM";
pub const ENV_CHROMEDRIVER: &str = "GATEWAY_TEST_CHROMEDRIVER";
pub const ENV_SCHEMATHESIS: &str = "GATEWAY_TEST_SCHEMATHESIS";
pub const ENV_REQUIRE_TOOLS: &str = "GATEWAY_TEST_REQUIRE_TOOLS";

/// The path in `var` when it names an existing file; `None` (after saying
/// `SKIPPED` loudly) when it does not and tools are optional.
///
/// # Panics
/// When tools are required and `var` is unset or names no file.
pub fn tool(var: &str, test: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_file());
    if path.is_none() {
        let required = std::env::var(ENV_REQUIRE_TOOLS).is_ok_and(|v| v == "1");
        assert!(!required, "{test}: {var} is not set to an existing file, and {ENV_REQUIRE_TOOLS}=1 forbids skipping");
        eprintln!("\n*** SKIPPED {test}: {var} is not set; run `cargo xtask test` to install the tool and run it ***\n");
    }
    path
}
