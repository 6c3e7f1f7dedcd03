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
    crate::features::CARGO_TOML,
];

/// Hand-written inputs besides the contract (relative to the workspace root).
pub const INPUT_PATHS: &[&str] = &["openapi.json", crate::addon::ADDON_FILE];

/// An artifact is a whole file, or (for `client/Cargo.toml`'s features) the
/// region of a hand-written file between two marker lines, markers included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: &'static str,
    pub contents: String,
}

impl Artifact {
    /// The begin and end marker lines when this artifact is a region of its file.
    pub fn markers(&self) -> Option<(&'static str, &'static str)> {
        (self.path == crate::features::CARGO_TOML).then_some((crate::features::TABLE_BEGIN, crate::features::TABLE_END))
    }

    /// Byte range of the region in `file`, end marker line included.
    fn region(file: &str, (begin, end): (&str, &str)) -> Option<std::ops::Range<usize>> {
        let start = file.match_indices(begin).map(|(i, _)| i).find(|&i| i == 0 || file[..i].ends_with('\n'))?;
        let end_at = start + file[start..].find(&format!("\n{end}"))? + 1 + end.len();
        let stop = if file[end_at..].starts_with('\n') { end_at + 1 } else { end_at };
        Some(start..stop)
    }

    /// Whether `file` (the file on disk, if any) holds exactly this artifact.
    pub fn is_current_in(&self, file: Option<&str>) -> bool {
        match (file, self.markers()) {
            (None, _) => false,
            (Some(file), None) => file == self.contents,
            (Some(file), Some(markers)) => Self::region(file, markers).is_some_and(|r| file[r] == self.contents),
        }
    }

    /// The file to write: the artifact, or the file on disk with its region replaced.
    pub fn spliced_into(&self, file: Option<&str>) -> Result<String> {
        let Some((begin, end)) = self.markers() else { return Ok(self.contents.clone()) };
        let missing = || {
            CodegenError::Other(format!(
                "{} has no generated region; put the two lines `{begin}` and `{end}` where it belongs, then run regen again",
                self.path
            ))
        };
        let file = file.ok_or_else(missing)?;
        let range = Self::region(file, (begin, end)).ok_or_else(missing)?;
        Ok(format!("{}{}{}", &file[..range.start], self.contents, &file[range.end..]))
    }
}

/// Generates every artifact from the normalized contract and the add-on definition.
pub fn generate(contract: &Contract, addon: &AddonDefinition) -> Result<Vec<Artifact>> {
    if let Err(problems) = crate::lint::lint(contract) {
        let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
        return Err(CodegenError::Other(format!("the contract has {} problem(s) no patch handles:\n{}", problems.len(), list.join("\n"))));
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
        crate::manifest::gateway_module(contract, addon, crate::manifest::GATEWAY_MODULE)?,
    ];
    let dispatch = crate::dispatch::generate(&contents[0], &facts)?;
    let features = crate::features::TagFeatures::new(&facts)?.cargo_table();
    let out: Vec<Artifact> = ARTIFACT_PATHS
        .iter()
        .zip(contents.into_iter().chain([dispatch, features]))
        .map(|(path, contents)| Artifact { path, contents })
        .collect();
    check_operation_names(&out[0].contents, &facts)?;
    Ok(out)
}

/// Compares freshly generated artifacts with the files under `root`; returns
/// the paths that differ or are missing.
pub fn check_committed(root: &Path, artifacts: &[Artifact]) -> Vec<&'static str> {
    artifacts.iter().filter(|a| !a.is_current_in(std::fs::read_to_string(root.join(a.path)).ok().as_deref())).map(|a| a.path).collect()
}

/// progenitor derives method names from operationIds on its own; the catalog
/// must agree with it, or the hooks could not find an operation at run time.
fn check_operation_names(sdk: &str, facts: &[crate::facts::OperationFacts]) -> Result<()> {
    let generated: std::collections::BTreeSet<&str> =
        sdk.split("operation_id: \"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{CARGO_TOML, TABLE_BEGIN, TABLE_END};

    #[test]
    fn the_features_table_is_compared_and_written_between_its_markers_only() {
        let region = format!("{TABLE_BEGIN}\n[features]\nfull = []\n{TABLE_END}\n");
        let artifact = Artifact { path: CARGO_TOML, contents: region.clone() };
        let file = format!("[package]\nname = \"x\"\n\n{region}\n[dev-dependencies]\n");
        assert!(artifact.is_current_in(Some(&file)));
        // Hand-written lines around the table are not the generator's.
        assert!(artifact.is_current_in(Some(&file.replace("name = \"x\"", "name = \"y\""))));

        let edited = file.replace("full = []", "full = [\"x\"]");
        assert!(!artifact.is_current_in(Some(&edited)), "a hand edit of the table is stale");
        assert_eq!(artifact.spliced_into(Some(&edited)).expect("splices"), file);

        let without = "[package]\nname = \"x\"\n";
        assert!(!artifact.is_current_in(Some(without)));
        assert!(!artifact.is_current_in(None));
        let err = artifact.spliced_into(Some(without)).expect_err("no region to write into").to_string();
        assert!(err.contains(CARGO_TOML) && err.contains(TABLE_BEGIN), "{err}");
    }
}
