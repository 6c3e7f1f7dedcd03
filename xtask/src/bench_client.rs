//! `cargo xtask bench client-build` (also part of `build`): what an app pays
//! to compile `clockify-client`. A tiny app outside the workspace (one list
//! call, `getProjects`) depends on the client by path, once with one tag
//! feature (`project`, `default-features = false`) and once with the full
//! client. Each is built cold in a fresh `CARGO_TARGET_DIR` under
//! `target/bench/client-app/`, so every dependency is compiled too: a debug
//! build (timed) and a release build (its binary's size). A third app has the
//! client's dependencies with the same features but not the client: the
//! floor no tag selection can go below. The apps use cargo's default
//! profiles, as a real app would, and the workspace's `Cargo.lock`, so the
//! versions are those the workspace tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

use crate::bench::{Row, row};

/// The tag the one-tag app enables.
const TAG: &str = "project";
/// The issue's target for a cold debug build of an app using one tag.
const TARGET_ONE_TAG_SECONDS: &str = "<= 30";

/// The app: one list call against the base URL given as its argument.
const MAIN: &str = r#"use clockify_client::{Auth, ClientBuilder, Hosts};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:9/api".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = ClientBuilder::new(Auth::ApiKey("key".into())).hosts(Hosts::explicit(&base, &base, Some(&base))?).build()?;
    let projects = runtime.block_on(client.get_projects().workspace_id("ws").send());
    println!("{:?}", projects.map(|p| p.into_inner().len()));
    Ok(())
}
"#;

/// The app's own dependency besides the client: a runtime to block on.
const APP_TOKIO: &str = r#"tokio = { version = "1", default-features = false, features = ["rt"] }"#;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Writes an app (its own workspace, the workspace's lock file) into `dir`.
fn write_app(root: &Path, dir: &Path, dependencies: &str, main: &str) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let manifest = format!(
        "[package]\nname = \"client-app\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         # Not a member of the repository's workspace.\n[workspace]\n\n[dependencies]\n{dependencies}\n"
    );
    let write = |path: PathBuf, text: &str| std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()));
    write(dir.join("Cargo.toml"), &manifest)?;
    write(dir.join("src/main.rs"), main)?;
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).map_err(|e| format!("copying Cargo.lock: {e}"))?;
    Ok(())
}

/// User plus system CPU seconds of this process's finished children (cargo
/// and, waited for by it, every rustc and build script).
fn children_cpu_seconds() -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(13)?.parse::<f64>().ok()? + f.get(14)?.parse::<f64>().ok()?) / ticks_per_second)
        })
        .unwrap_or(f64::NAN)
}

/// Wall and CPU seconds of a build. The machine's cores are shared, so wall
/// time moves with other builds; CPU time much less.
#[derive(Debug, Clone, Copy)]
struct Timed {
    wall: f64,
    cpu: f64,
}

/// A cold build of the app in `dir` with its own fresh target dir.
fn cold_build(dir: &Path, target: &Path, release: bool) -> Result<Timed, String> {
    let _ = std::fs::remove_dir_all(target);
    let mut cmd = cargo();
    cmd.arg("build").current_dir(dir).env("CARGO_TARGET_DIR", target);
    if release {
        cmd.arg("--release");
    }
    let (t, cpu) = (Instant::now(), children_cpu_seconds());
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building {} failed", dir.display()));
    }
    Ok(Timed { wall: t.elapsed().as_secs_f64(), cpu: children_cpu_seconds() - cpu })
}

/// The client's normal dependencies as `name = { version, features }` lines,
/// with the features the resolver enabled for them in the app in `dir`.
fn client_dependencies(dir: &Path) -> Result<String, String> {
    let out = cargo()
        .args(["metadata", "--format-version", "1"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let meta: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages = meta["packages"].as_array().ok_or("cargo metadata: no packages")?;
    let package = |id: &str| packages.iter().find(|p| p["id"] == id);
    let nodes = meta["resolve"]["nodes"].as_array().ok_or("cargo metadata: no resolve graph")?;
    let node = |id: &str| nodes.iter().find(|n| n["id"] == id);
    let client = packages.iter().find(|p| p["name"] == "clockify-client").ok_or("cargo metadata: no clockify-client")?;
    let client_id = client["id"].as_str().unwrap_or_default();
    let mut lines = Vec::new();
    for dep in node(client_id).and_then(|n| n["deps"].as_array()).ok_or("cargo metadata: clockify-client has no deps")? {
        let normal = dep["dep_kinds"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()));
        if !normal {
            continue;
        }
        let id = dep["pkg"].as_str().unwrap_or_default();
        let p = package(id).ok_or_else(|| format!("cargo metadata: no package {id}"))?;
        let features: Vec<String> = node(id)
            .and_then(|n| n["features"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(|f| format!("\"{f}\"")))
            .collect();
        lines.push(format!(
            "{} = {{ version = \"={}\", default-features = false, features = [{}] }}",
            p["name"].as_str().unwrap_or_default(),
            p["version"].as_str().unwrap_or_default(),
            features.join(", ")
        ));
    }
    lines.sort();
    Ok(lines.join("\n"))
}

fn megabytes(path: &Path) -> Result<f64, String> {
    let bytes = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    Ok(bytes as f64 / 1_048_576.0)
}

pub fn run(root: &Path, rows: &mut Vec<Row>) -> Result<Value, String> {
    let base = root.join("target/bench/client-app");
    let client = root.join("client");
    let client = client.to_str().ok_or("the client's path is not UTF-8")?;
    let variants = [
        (
            format!("one tag ({TAG})"),
            "one-tag",
            format!("clockify-client = {{ path = {client:?}, default-features = false, features = [\"{TAG}\"] }}"),
        ),
        ("full client".to_owned(), "full", format!("clockify-client = {{ path = {client:?} }}")),
    ];
    let mut results = Vec::new();
    let mut dependencies = None;
    for (label, name, dependency) in &variants {
        let dir = base.join(name);
        let target = base.join(format!("{name}-target"));
        write_app(root, &dir, &format!("{dependency}\n{APP_TOKIO}"), MAIN)?;
        if dependencies.is_none() {
            dependencies = Some(client_dependencies(&dir)?);
        }
        println!("client app, {label}: cold debug build ...");
        let debug = cold_build(&dir, &target, false)?;
        // The release build reuses nothing of the debug one (other profile).
        println!("client app, {label}: cold release build ...");
        let release = cold_build(&dir, &target, true)?;
        let size = megabytes(&target.join("release/client-app"))?;
        let _ = std::fs::remove_dir_all(&target);
        let bench = format!("client app, {label}");
        let target_secs = if *name == "one-tag" { TARGET_ONE_TAG_SECONDS } else { "" };
        rows.push(row(&bench, "cold debug build, s", format!("{:.1}", debug.wall), target_secs));
        rows.push(row(&bench, "cold debug build, CPU s", format!("{:.1}", debug.cpu), ""));
        rows.push(row(&bench, "release binary size, MB", format!("{size:.1}"), ""));
        results.push(json!({
            "variant": label,
            "cold_debug_seconds": debug.wall,
            "cold_debug_cpu_seconds": debug.cpu,
            "cold_release_seconds": release.wall,
            "cold_release_cpu_seconds": release.cpu,
            "release_binary_mb": size,
        }));
    }

    // The floor: the client's dependencies, same versions and features, no client.
    let dependencies = dependencies.ok_or("no dependencies found")?;
    let dir = base.join("dependencies-only");
    let target = base.join("dependencies-only-target");
    // The resolved features include the app's own (tokio's `rt`), so its
    // tokio line is already among them.
    write_app(root, &dir, &dependencies, "fn main() {}\n")?;
    println!("client app, dependencies alone: cold debug build ...");
    let floor = cold_build(&dir, &target, false)?;
    let _ = std::fs::remove_dir_all(&target);
    rows.push(row("client app, dependencies alone", "cold debug build, s", format!("{:.1}", floor.wall), ""));
    rows.push(row("client app, dependencies alone", "cold debug build, CPU s", format!("{:.1}", floor.cpu), ""));
    Ok(json!({
        "apps": results,
        "dependencies_only_cold_debug_seconds": floor.wall,
        "dependencies_only_cold_debug_cpu_seconds": floor.cpu,
        "dependencies": dependencies,
    }))
}
