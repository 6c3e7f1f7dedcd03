//! The example add-ons under `examples/`: each crate with an `addon.toml`
//! gets its own `manifest.json` and `src/generated/addon.rs` (its `ADDON`
//! and, with structured settings, its `Settings`), generated like the stock
//! gateway's and checked by the same `cargo xtask regen --check`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::addon::{ADDON_FILE, AddonDefinition};
use crate::contract::Contract;
use crate::error::{CodegenError, Result};
use crate::manifest::ModuleTarget;

/// The folder (relative to the workspace root) holding the example crates.
pub const EXAMPLES_DIR: &str = "examples";

/// An example crate's module: `src/generated/addon.rs`, naming the gateway
/// as `clockify_gateway` and its manifest at the crate root.
pub const EXAMPLE_MODULE: ModuleTarget = ModuleTarget { gateway_crate: "clockify_gateway", manifest_include: "../../manifest.json" };

/// The files an example's `addon.toml` yields, relative to its crate.
pub const EXAMPLE_FILES: [&str; 2] = ["manifest.json", "src/generated/addon.rs"];

/// One generated file of an example, its path relative to the workspace root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleArtifact {
    pub path: String,
    pub contents: String,
}

/// `examples/<name>` for every folder under `root/examples` holding an
/// `addon.toml`, sorted; none without the folder.
pub fn example_dirs(root: &Path) -> Result<Vec<String>> {
    let dir = root.join(EXAMPLES_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CodegenError::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CodegenError::Io { path: dir.clone(), source })?;
        if entry.path().join(ADDON_FILE).is_file() {
            out.push(format!("{EXAMPLES_DIR}/{}", entry.file_name().to_string_lossy()));
        }
    }
    out.sort();
    Ok(out)
}

/// The two files of the example at `dir` (relative to the workspace root).
pub fn generate_example(contract: &Contract, dir: &str, addon: &AddonDefinition) -> Result<Vec<ExampleArtifact>> {
    let in_dir = |e: CodegenError| CodegenError::Other(format!("{dir}/{e}"));
    let manifest = crate::manifest::manifest_file(contract, addon).map_err(in_dir)?;
    let module = crate::manifest::gateway_module(contract, addon, EXAMPLE_MODULE).map_err(in_dir)?;
    Ok(EXAMPLE_FILES
        .iter()
        .zip([manifest, module])
        .map(|(file, contents)| ExampleArtifact { path: format!("{dir}/{file}"), contents })
        .collect())
}

/// Every example's files. Each example's key must differ from the stock
/// gateway's (`stock`) and from every other example's: tokens name the
/// add-on by its key.
pub fn generate_examples(contract: &Contract, root: &Path, stock: &AddonDefinition) -> Result<Vec<ExampleArtifact>> {
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    keys.insert(stock.key.clone(), ADDON_FILE.to_owned());
    let mut out = Vec::new();
    for dir in example_dirs(root)? {
        let file = format!("{dir}/{ADDON_FILE}");
        let text = std::fs::read_to_string(root.join(&file)).map_err(|source| CodegenError::Io { path: root.join(&file), source })?;
        let addon = AddonDefinition::parse(&text).map_err(|e| CodegenError::Other(format!("{file}: {e}")))?;
        if let Some(other) = keys.insert(addon.key.clone(), file.clone()) {
            return Err(CodegenError::Other(format!(
                "{file}: `key`: `{}` is already the key of {other}; every add-on needs its own",
                addon.key
            )));
        }
        out.extend(generate_example(contract, &dir, &addon)?);
    }
    Ok(out)
}

/// The paths of `artifacts` that differ from (or are missing under) `root`.
pub fn stale_examples(root: &Path, artifacts: &[ExampleArtifact]) -> Vec<String> {
    artifacts
        .iter()
        .filter(|a| std::fs::read_to_string(root.join(&a.path)).ok().as_deref() != Some(a.contents.as_str()))
        .map(|a| a.path.clone())
        .collect()
}
