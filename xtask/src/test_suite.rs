//! `cargo xtask test`: the whole test suite on a fresh machine.
//!
//! Some tests drive tools that are not Rust crates: headless Chromium through
//! chromedriver (the web pages) and schemathesis (fuzzing the gateway's own
//! OpenAPI). This command installs what is missing, builds the client with
//! one tag feature only, then runs `cargo test --workspace` with the tools'
//! paths in the environment and `GATEWAY_TEST_REQUIRE_TOOLS=1`, so a test
//! that cannot find its tool fails instead of skipping. A plain `cargo test`
//! without the variables skips those tests and says so loudly.
//!
//! Before all of it, the lint gate: `cargo fmt --all --check` and
//! `cargo clippy --workspace --all-targets -- -D warnings`; either failing
//! fails the suite without running it. Then the dependency gate: the token
//! crate (`clockify-addon-auth`) must keep poem, sqlx and tokio out of its
//! normal dependency tree (`cargo tree -e normal`), or apps that only verify
//! tokens would compile the gateway's stack. After the one-tag client build,
//! the example add-ons are checked without their tests, so without the
//! gateway's `internals` feature: they must build on its public API alone.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Pinned so the fuzzing run is reproducible.
const SCHEMATHESIS_VERSION: &str = "3.39.16";
/// schemathesis 3.39 breaks on newer Hypothesis releases (`'many' object has
/// no attribute 'more'`; fixed upstream in schemathesis 4, PR #2832).
const HYPOTHESIS_VERSION: &str = "6.131.14";

use clockify_testkit::tools::{ENV_CHROMEDRIVER, ENV_CHROMIUM, ENV_REQUIRE_TOOLS, ENV_SCHEMATHESIS};

/// The tag feature the suite builds the client with alone.
const ONE_TAG: &str = "project";

/// The example add-ons built as an add-on author's crate is: their binaries
/// and libraries only. No test target means no dev-dependency, so nothing
/// turns on the gateway's `internals` feature (the root crate's and the
/// gateway's own dev-dependencies do, for every build `cargo test
/// --workspace` makes); an example that uses an internal item fails here.
const EXAMPLES_PUBLIC_API: [&str; 7] = ["check", "-p", "time-entry-guard", "-p", "project-budget", "--bins", "--lib"];

/// Crates (and their `-` families: `sqlx-core`, `poem-openapi`, ...) that
/// must not be in the token crate's normal dependency tree.
const ADDON_AUTH_FORBIDDEN: [&str; 3] = ["poem", "sqlx", "tokio"];

pub fn run(root: &Path, args: &[String]) -> Result<ExitCode, String> {
    let cargo = env_or("CARGO", "cargo");
    for gate in [&["fmt", "--all", "--check"][..], &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"][..]] {
        println!("lint gate: cargo {}", gate.join(" "));
        let status =
            Command::new(&cargo).current_dir(root).args(gate).status().map_err(|e| format!("cannot run cargo {}: {e}", gate[0]))?;
        if !status.success() {
            eprintln!("error: `cargo {}` failed; fix it (`cargo fmt --all` formats the tree) and run the suite again", gate.join(" "));
            return Ok(ExitCode::FAILURE);
        }
    }
    println!("dependency gate: clockify-addon-auth without {}", ADDON_AUTH_FORBIDDEN.join(", "));
    let tree = Command::new(&cargo)
        .current_dir(root)
        .args(["tree", "-p", "clockify-addon-auth", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !tree.status.success() {
        return Err(format!("cargo tree -p clockify-addon-auth failed: {}", String::from_utf8_lossy(&tree.stderr)));
    }
    let found = forbidden_crates(&String::from_utf8_lossy(&tree.stdout));
    if !found.is_empty() {
        eprintln!(
            "error: clockify-addon-auth depends on {} (`cargo tree -p clockify-addon-auth -e normal -i <crate>` shows through what)",
            found.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    let (chromium, chromedriver) = ensure_chromium()?;
    let schemathesis = ensure_schemathesis(root)?;
    println!("tools: chromium {}, chromedriver {}, schemathesis {}", chromium.display(), chromedriver.display(), schemathesis.display());
    // The client with one tag feature only: hand-written code that names an
    // operation or type of another tag stops compiling here. One build (a few
    // seconds: only the client crate) rather than one per tag; codegen's
    // unit tests check that every generated item has the right gate.
    println!("building clockify-client with the `{ONE_TAG}` feature only");
    let status = Command::new(&cargo)
        .current_dir(root)
        .args(["build", "-p", "clockify-client", "--no-default-features", "--features", ONE_TAG])
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        eprintln!("clockify-client does not build with only the `{ONE_TAG}` feature");
        return Ok(ExitCode::FAILURE);
    }
    println!("checking the example add-ons against the gateway's public API: cargo {}", EXAMPLES_PUBLIC_API.join(" "));
    let status =
        Command::new(&cargo).current_dir(root).args(EXAMPLES_PUBLIC_API).status().map_err(|e| format!("cannot run cargo check: {e}"))?;
    if !status.success() {
        eprintln!("the example add-ons do not build without the gateway's `internals` feature: use only its public API");
        return Ok(ExitCode::FAILURE);
    }
    let status = Command::new(&cargo)
        .current_dir(root)
        // Every test binary runs even after one fails, so one run reports every failure.
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(args)
        .env(ENV_CHROMIUM, &chromium)
        .env(ENV_CHROMEDRIVER, &chromedriver)
        .env(ENV_SCHEMATHESIS, &schemathesis)
        .env(ENV_REQUIRE_TOOLS, "1")
        .status()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The crates of `cargo tree --prefix none --format {p}` output (one
/// `name vX.Y.Z ...` a line) that [`ADDON_AUTH_FORBIDDEN`] names, sorted, once each.
fn forbidden_crates(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| {
            ADDON_AUTH_FORBIDDEN.iter().any(|f| name.strip_prefix(f).is_some_and(|rest| rest.is_empty() || rest.starts_with('-')))
        })
        .map(str::to_owned)
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Debian's `chromium` and `chromium-driver`, installed with apt when absent.
fn ensure_chromium() -> Result<(PathBuf, PathBuf), String> {
    let found = || Some((which("chromium")?, which("chromedriver")?));
    if let Some(paths) = found() {
        return Ok(paths);
    }
    println!("installing chromium and chromium-driver (Debian packages) for the browser tests");
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    for step in [&["apt-get", "update", "-qq"][..], &["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"][..]] {
        let argv: Vec<&str> = sudo.iter().chain(step).copied().collect();
        let status = Command::new(argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run {}: {e}", argv.join(" ")))?;
        if !status.success() {
            return Err(format!("`{}` failed; install chromium and chromium-driver by hand", argv.join(" ")));
        }
    }
    found().ok_or_else(|| "chromium or chromedriver still not on PATH after installing".to_owned())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"))
}

/// schemathesis in a virtualenv under `target/tools/venv`, created once.
fn ensure_schemathesis(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target/tools/venv");
    let st = venv.join("bin/st");
    let marker = venv.join(format!("schemathesis-{SCHEMATHESIS_VERSION}-hypothesis-{HYPOTHESIS_VERSION}"));
    if st.is_file() && marker.is_file() {
        return Ok(st);
    }
    println!("creating {} with schemathesis {SCHEMATHESIS_VERSION}", venv.display());
    let python = which("python3").ok_or("python3 is needed for schemathesis and is not on PATH")?;
    run_checked(Command::new(&python).args(["-m", "venv"]).arg(&venv))?;
    run_checked(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}"))
            .arg(format!("hypothesis=={HYPOTHESIS_VERSION}")),
    )?;
    std::fs::write(&marker, b"").map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(st)
}

fn run_checked(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{shown} failed with {status}")) }
}

#[cfg(test)]
mod tests {
    use super::forbidden_crates;

    #[test]
    fn the_dependency_gate_names_each_forbidden_family_once() {
        let tree = "clockify-addon-auth v0.1.0 (/w/addon-auth)\njsonwebtoken v11.1.0\ntokio v1.47.0\ntokio-util v0.7.0\nsqlx-core v0.8.6\n\
                    poem-openapi v5.1.0\ntokio v1.47.0 (*)\ntokenizers v0.1.0\npoems v1.0.0\n";
        assert_eq!(forbidden_crates(tree), ["poem-openapi", "sqlx-core", "tokio", "tokio-util"]);
        assert!(forbidden_crates("clockify-addon-auth v0.1.0\nserde v1.0.0\n").is_empty());
    }
}
