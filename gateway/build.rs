//! Build-time parity between `manifest.json` and the routes this crate
//! defines: every lifecycle and webhook path the manifest gives Clockify must
//! be a POST route of the gateway, or the build stops naming the entry. The
//! routes are read from the `#[oai(path = ..., method = ...)]` attributes
//! under `src/` (each part's `routes.rs`), the only way routes are declared.

use std::path::Path;

fn main() {
    // Read when the script runs, not when it was compiled: a build directory
    // shared by two checkouts reuses the compiled script.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
    let root = Path::new(&manifest_dir);
    contract_hash(&root.join("../openapi.json"));
    let manifest_path = root.join("../manifest.json");
    println!("cargo:rerun-if-changed={}", manifest_path.display());
    println!("cargo:rerun-if-changed=src");
    let routes = routes_in(&root.join("src"));
    for r in &routes {
        println!("cargo:rerun-if-changed={}", r.2);
    }
    let text = match std::fs::read_to_string(&manifest_path) {
        Ok(t) => t,
        Err(e) => fail(&format!("cannot read {}: {e}", manifest_path.display())),
    };
    let manifest: serde_json::Value = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => fail(&format!("manifest.json is not JSON: {e}; run `cargo xtask regen`")),
    };
    let mut missing = Vec::new();
    for section in ["lifecycle", "webhooks"] {
        for entry in manifest[section].as_array().into_iter().flatten() {
            let path = entry["path"].as_str().unwrap_or_default();
            let name = entry.get("type").or_else(|| entry.get("event")).and_then(|v| v.as_str()).unwrap_or("?");
            if !routes.iter().any(|(method, template, _)| method == "post" && matches(template, path)) {
                missing.push(format!("manifest.json {section} entry {name}: POST {path} is not a gateway route"));
            }
        }
    }
    if !missing.is_empty() {
        let defined: Vec<String> = routes.iter().map(|(m, p, _)| format!("{} {p}", m.to_uppercase())).collect();
        missing.push(format!("routes defined in gateway/src/api: {}", defined.join(", ")));
        fail(&missing.join("\n"));
    }
}

/// `CONTRACT_SHA256`: the SHA-256 of the `openapi.json` this build used,
/// which `/health` and `--version` report.
fn contract_hash(path: &Path) {
    use sha2::{Digest, Sha256};
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = std::fs::read(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=CONTRACT_SHA256={hex}");
}

/// `(method, path template, file)` of every `#[oai(path = "...", method = "...")]`.
fn routes_in(dir: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(routes_in(&p));
            continue;
        }
        if p.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let Ok(src) = std::fs::read_to_string(&p) else { continue };
        for attr in src.split("#[oai(").skip(1) {
            let attr = attr.split(")]").next().unwrap_or_default();
            if let (Some(path), Some(method)) = (value_of(attr, "path"), value_of(attr, "method")) {
                out.push((method.to_ascii_lowercase(), path, p.display().to_string()));
            }
        }
    }
    out
}

fn value_of(attr: &str, key: &str) -> Option<String> {
    let start = attr.find(&format!("{key} = \""))? + key.len() + 4;
    let rest = &attr[start..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Segment-wise match; `:name` and `{name}` segments match any one segment.
fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with(':') || t.starts_with('{') || t == p)
}

fn fail(message: &str) -> ! {
    for line in message.lines() {
        println!("cargo::error={line}");
    }
    std::process::exit(1);
}
