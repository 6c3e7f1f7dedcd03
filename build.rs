//! Runs the code generator in check mode: when `openapi.json` (or the
//! generator) changed but the committed artifacts were not regenerated, the
//! build stops here with the command that fixes it, instead of compiling stale
//! code that silently disagrees with the contract.

use std::path::Path;

use clockify_codegen::{ARTIFACT_PATHS, AddonDefinition, Contract, INPUT_PATHS, check_committed, generate};

fn main() {
    // Read when the script runs, not when it was compiled: a build directory
    // shared by two checkouts reuses the compiled script.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
    let root = Path::new(&manifest_dir);
    for path in INPUT_PATHS.iter().chain(ARTIFACT_PATHS) {
        println!("cargo:rerun-if-changed={path}");
    }
    let contract = match Contract::load(&root.join("openapi.json")) {
        Ok(c) => c,
        Err(e) => fail(&format!("openapi.json: {e}")),
    };
    let addon = match AddonDefinition::load(&root.join(clockify_codegen::addon::ADDON_FILE)) {
        Ok(a) => a,
        Err(e) => fail(&e.to_string()),
    };
    let artifacts = match generate(&contract, &addon) {
        Ok(a) => a,
        Err(e) => fail(&format!("openapi.json cannot be generated: {e}")),
    };
    let stale = check_committed(root, &artifacts);
    if !stale.is_empty() {
        fail(&format!(
            "generated files are stale against openapi.json and addon.toml: {}; run `cargo xtask regen` and commit the result",
            stale.join(", ")
        ));
    }
}

fn fail(message: &str) -> ! {
    for line in message.lines() {
        println!("cargo::error={line}");
    }
    std::process::exit(1);
}
