//! The committed artifacts and the one function that produces all of them.

use std::path::Path;

use crate::addon::AddonDefinition;
use crate::contract::Contract;
use crate::error::{CodegenError, Result};

/// Paths (relative to the workspace root) of everything `generate` writes.
pub const ARTIFACT_PATHS: &[&str] = &[
    "client/src/generated/sdk.rs",
    "client/src/generated/multipart.rs",
    "client/src/generated/events.rs",
    "client/src/generated/catalog.rs",
    "client/src/generated/streams.rs",
    "client/src/generated/scopes.rs",
    "manifest.json",
    "gateway/src/generated/addon.rs",
    "explorer-dispatch/src/generated.rs",
];

/// Hand-written inputs besides the contract (relative to the workspace root).
pub const INPUT_PATHS: &[&str] = &["openapi.json", crate::addon::ADDON_FILE];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: &'static str,
    pub contents: String,
}

/// Generates every artifact from the normalized contract and the add-on definition.
pub fn generate(contract: &Contract, addon: &AddonDefinition) -> Result<Vec<Artifact>> {
    if let Err(problems) = crate::lint::lint(contract) {
        let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
        return Err(CodegenError::Other(format!(
            "the contract has {} problem(s) no patch handles:\n{}",
            problems.len(),
            list.join("\n")
        )));
    }
    let facts = crate::facts::collect(contract)?;
    let contents = [
        crate::sdk::generate(contract, &facts)?,
        crate::multipart::generate(contract, &facts)?,
        crate::events::generate(contract)?,
        crate::catalog::generate(&facts)?,
        crate::streams::generate(contract, &facts)?,
        crate::scopes::generate()?,
        crate::manifest::manifest_file(contract, addon)?,
        crate::manifest::gateway_module(contract, addon)?,
    ];
    let dispatch = crate::dispatch::generate(&contents[0], &facts)?;
    let out: Vec<Artifact> = ARTIFACT_PATHS
        .iter()
        .zip(contents.into_iter().chain([dispatch]))
        .map(|(path, contents)| Artifact { path, contents })
        .collect();
    check_operation_names(&out[0].contents, &facts)?;
    Ok(out)
}

/// Compares freshly generated artifacts with the files under `root`; returns
/// the paths that differ or are missing.
pub fn check_committed(root: &Path, artifacts: &[Artifact]) -> Vec<&'static str> {
    artifacts
        .iter()
        .filter(|a| std::fs::read_to_string(root.join(a.path)).ok().as_deref() != Some(a.contents.as_str()))
        .map(|a| a.path)
        .collect()
}

/// progenitor derives method names from operationIds on its own; the catalog
/// must agree with it, or the hooks could not find an operation at run time.
fn check_operation_names(sdk: &str, facts: &[crate::facts::OperationFacts]) -> Result<()> {
    let generated: std::collections::BTreeSet<&str> = sdk
        .split("operation_id: \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let expected: std::collections::BTreeSet<String> =
        facts.iter().filter(|f| !f.is_multipart()).map(|f| crate::catalog::rust_name(&f.id)).collect();
    let expected_refs: std::collections::BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    if generated != expected_refs {
        let missing: Vec<_> = expected_refs.difference(&generated).collect();
        let extra: Vec<_> = generated.difference(&expected_refs).collect();
        return Err(CodegenError::Other(format!(
            "progenitor's operation names disagree with the catalog: not generated {missing:?}, unexpected {extra:?}"
        )));
    }
    Ok(())
}
