//! `cargo xtask bench explorer` (also part of `cargo xtask bench`): the API explorer's added latency (validation
//! against the contract plus the generated dispatch) over calling the typed
//! client directly, against the fake Clockify on loopback, from a release
//! build (`gateway/examples/explorer_bench.rs`). Prints p50/p99 and writes
//! `target/bench/explorer.json`. Targets: p50 under 200 µs, p99 under 1 ms.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::bench::{Row, row};

const TARGET_P50_US: f64 = 200.0;
const TARGET_P99_US: f64 = 1000.0;

pub fn run(root: &Path, rows: &mut Vec<Row>) -> Result<Value, String> {
    println!("building and running the explorer benchmark (release) ...");
    let out = Command::new(env!("CARGO"))
        .args(["run", "--release", "--quiet", "-p", "clockify-gateway", "--example", "explorer_bench"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("the explorer benchmark failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).ok_or("the benchmark printed no result")?;
    let result: Value = serde_json::from_str(line).map_err(|e| format!("the benchmark's result is not JSON: {e}"))?;
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!("explorer overhead, {}:", result["operation"].as_str().unwrap_or("?"));
    println!("  {:<34} {:>10} {:>10}", "", "p50 µs", "p99 µs");
    for (label, key) in [
        ("typed client directly", "direct_typed_client"),
        ("through the explorer", "through_explorer"),
        ("explorer dry run (no network)", "explorer_dry_run_no_network"),
    ] {
        println!("  {:<34} {:>10.1} {:>10.1}", label, f(&result[key], "p50_us"), f(&result[key], "p99_us"));
    }
    let (p50, p99) = (f(&result, "added_p50_us"), f(&result, "added_p99_us"));
    let verdict = |v: f64, t: f64| if v <= t { "within target" } else { "OVER target" };
    println!("  added p50 {p50:.1} µs ({}, {TARGET_P50_US} µs)", verdict(p50, TARGET_P50_US));
    println!("  added p99 {p99:.1} µs ({}, {TARGET_P99_US} µs)", verdict(p99, TARGET_P99_US));
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("explorer.json"), serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    println!("written to target/bench/explorer.json");
    rows.push(row("explorer overhead (getTags)", "added p50, µs", format!("{p50:.1}"), "< 200"));
    rows.push(row("explorer overhead (getTags)", "added p99, µs", format!("{p99:.1}"), "< 1000"));
    Ok(result)
}
