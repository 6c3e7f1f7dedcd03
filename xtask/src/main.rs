//! Developer tasks: `cargo xtask regen [--from <upstream spec>] [--check]`,
//! `cargo xtask test`, `cargo xtask bench`, `cargo xtask fake-clockify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clockify_codegen::changelog::Changelog;
use clockify_codegen::examples::{generate_examples, stale_examples};
use clockify_codegen::manifest::validate_against_schema;
use clockify_codegen::{AddonDefinition, Contract, check_committed, generate, normalize};

const USAGE: &str = "\
usage: cargo xtask regen [--from <upstream openapi.json>] [--check] [--manifest-schemas <dir>]

  regen                 regenerate the Rust artifacts and manifest.json from the
                        committed openapi.json and addon.toml, and each example
                        add-on's manifest.json and src/generated/addon.rs from
                        its examples/<name>/addon.toml
  regen --from <spec>   normalize an upstream Clockify spec into openapi.json first,
                        print the patches applied and the API changelog
  --check               generate in memory only; exit 1 naming every stale file
  test [args]           the whole test suite: installs chromium, chromedriver and
                        schemathesis when missing, then runs cargo test --workspace
  bench [webhooks|instances|lifecycle|bootstrap|explorer|unsigned|flows|build|client-build] [--clean-build]
                        release build; one table of figures (webhook ingest on SQLite
                        and PostgreSQL, INSTALLED latency, bootstrap against the fake's
                        50 rps, explorer overhead, RSS, binary size, build times;
                        unsigned: 64 concurrent 5 MB webhook bodies with bad
                        signatures, answered before the body? peak RSS;
                        flows: deliveries/s through the inbox with 10 enabled flows
                        that do not match, and with one matching read-only flow;
                        client-build, also part of build: cold builds of a tiny app
                        using the client with one tag and in full), written to
                        target/bench/*.json; no part = all;
                        --clean-build adds a clean build (many minutes)
  --manifest-schemas    directory holding manifest-schema-1.3.json and -1.4.json
                        (default ../shared/clockify); manifest.json is validated
                        against both; when the directory is absent that step is
                        skipped with a note and every artifact is still checked
  fake-clockify [--addon <url>] [--port <n>] [--workspace <id>] ...
                        install a running add-on on a fake Clockify and send it
                        lifecycle calls and webhooks (`fake-clockify --help`)";

mod bench;
mod bench_client;
mod bench_explorer;
mod bench_flows;
mod bench_payloads;
mod bench_unsigned;
mod bench_webhooks;
mod disk_probe;
mod fake_clockify;
mod test_suite;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("regen") => match regen(&args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Some("test") => match test_suite::run(&workspace_root(), &args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Some("bench") => match bench::run(&workspace_root(), &args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Some("fake-clockify") => fake_clockify::run(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits inside the workspace").to_path_buf()
}

fn regen(args: &[String]) -> Result<ExitCode, String> {
    let mut opts = RegenOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => opts.check = true,
            "--from" => opts.from = Some(it.next().ok_or("--from needs a path")?.into()),
            "--manifest-schemas" => opts.schemas = Some(it.next().ok_or("--manifest-schemas needs a directory")?.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let outcome = regen_in(&workspace_root(), &opts)?;
    if let Some(note) = &outcome.schema_note {
        eprintln!("{note}");
    }
    let stale = outcome.stale;
    if opts.check {
        if stale.is_empty() {
            println!("All generated files are up to date.");
            return Ok(ExitCode::SUCCESS);
        }
        for s in &stale {
            eprintln!("stale: {s}");
        }
        eprintln!("run `cargo xtask regen{}` and commit the result", if opts.from.is_some() { " --from <spec>" } else { "" });
        return Ok(ExitCode::FAILURE);
    }
    if stale.is_empty() {
        println!("Nothing changed.");
    } else {
        for s in &stale {
            println!("wrote {s}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Default)]
struct RegenOptions {
    from: Option<PathBuf>,
    check: bool,
    schemas: Option<PathBuf>,
}

#[derive(Debug)]
struct RegenOutcome {
    /// Files that differ from what was generated (written unless checking).
    stale: Vec<String>,
    /// Set when the manifest schemas were absent and their check was skipped.
    schema_note: Option<String>,
}

fn regen_in(root: &Path, opts: &RegenOptions) -> Result<RegenOutcome, String> {
    let check = opts.check;
    let contract_path = root.join("openapi.json");
    let committed = Contract::load(&contract_path).ok();
    let mut stale: Vec<String> = Vec::new();

    let contract = match &opts.from {
        Some(upstream_path) => {
            let upstream = Contract::load(upstream_path).map_err(|e| e.to_string())?;
            let (normalized, applied) = normalize(&upstream).map_err(|e| e.to_string())?;
            println!("Normalization patches applied to {}:", upstream_path.display());
            for p in &applied {
                println!("  {:>5} x {:<32} {}", p.places, p.name, p.reason);
            }
            let changelog = match &committed {
                Some(old) => Changelog::between(old, &normalized),
                None => Changelog::default(),
            };
            println!("\nAPI changes against the committed openapi.json:\n{changelog}");
            if committed.as_ref() != Some(&normalized) || std::fs::read_to_string(&contract_path).ok() != Some(normalized.to_json()) {
                stale.push("openapi.json".into());
                if !check {
                    std::fs::write(&contract_path, normalized.to_json()).map_err(|e| format!("writing openapi.json: {e}"))?;
                }
            }
            let key = upstream_path.with_file_name(clockify_codegen::clockify_key::KEY_FILE);
            match std::fs::read_to_string(&key) {
                Ok(pem) => {
                    let text = clockify_codegen::clockify_key::generate(&pem).map_err(|e| e.to_string())?;
                    let out = root.join(clockify_codegen::clockify_key::ARTIFACT);
                    if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
                        stale.push(clockify_codegen::clockify_key::ARTIFACT.into());
                        if !check {
                            std::fs::write(&out, text).map_err(|e| format!("writing {}: {e}", out.display()))?;
                        }
                    }
                }
                Err(e) => println!("note: {} not read ({e}); the embedded Clockify key is left as is", key.display()),
            }
            normalized
        }
        None => committed.ok_or_else(|| format!("cannot read {}; pass --from <upstream spec>", contract_path.display()))?,
    };

    let addon = AddonDefinition::load(&root.join(clockify_codegen::addon::ADDON_FILE)).map_err(|e| e.to_string())?;
    let artifacts = generate(&contract, &addon).map_err(|e| e.to_string())?;
    let manifest = artifacts.iter().find(|a| a.path == "manifest.json").ok_or("codegen wrote no manifest.json")?;
    let schemas = opts.schemas.clone().unwrap_or_else(|| root.join("../shared/clockify"));
    let schema_note = validate_manifest("manifest.json", &manifest.contents, &schemas)?;
    // The example add-ons under examples/, each from its own addon.toml.
    let examples = generate_examples(&contract, root, &addon).map_err(|e| e.to_string())?;
    if schema_note.is_none() {
        for a in examples.iter().filter(|a| a.path.ends_with("/manifest.json")) {
            validate_manifest(&a.path, &a.contents, &schemas)?;
        }
    }
    for path in check_committed(root, &artifacts) {
        stale.push(path.into());
    }
    let stale_examples = stale_examples(root, &examples);
    if !check {
        for a in &artifacts {
            if stale.iter().any(|s| s == a.path) {
                let path = root.join(a.path);
                let text = a.spliced_into(std::fs::read_to_string(&path).ok().as_deref()).map_err(|e| e.to_string())?;
                std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
            }
        }
        for a in examples.iter().filter(|a| stale_examples.contains(&a.path)) {
            let path = root.join(&a.path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            std::fs::write(&path, &a.contents).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
    }
    stale.extend(stale_examples);
    Ok(RegenOutcome { stale, schema_note })
}

/// The generated manifest must satisfy the official schemas 1.4 and 1.3.
/// Without their directory (a checkout without `../shared`) the check is
/// skipped, not failed: checking the committed artifacts does not need them.
/// Returns the note saying so.
fn validate_manifest(name: &str, manifest: &str, dir: &Path) -> Result<Option<String>, String> {
    if !dir.is_dir() {
        return Ok(Some(format!("note: manifest schemas not found at {}; schema validation skipped", dir.display())));
    }
    let manifest: serde_json::Value = serde_json::from_str(manifest).map_err(|e| format!("{name}: {e}"))?;
    for version in ["1.4", "1.3"] {
        let path = dir.join(format!("manifest-schema-{version}.json"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}; pass --manifest-schemas <dir> holding the official schemas", path.display()))?;
        let schema: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Err(errors) = validate_against_schema(&manifest, &schema) {
            return Err(format!("{name} does not satisfy manifest schema {version}:\n  {}", errors.join("\n  ")));
        }
        println!("{name} satisfies manifest schema {version}.");
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn without_schemas() -> RegenOptions {
        RegenOptions { check: true, schemas: Some(PathBuf::from("/nonexistent/manifest-schemas")), ..Default::default() }
    }

    #[test]
    fn check_without_the_schemas_skips_only_their_validation() {
        let outcome = regen_in(&workspace_root(), &without_schemas()).expect("the check runs without the schemas");
        assert_eq!(
            outcome.schema_note.as_deref(),
            Some("note: manifest schemas not found at /nonexistent/manifest-schemas; schema validation skipped")
        );
        assert!(
            outcome.stale.is_empty(),
            "stale generated files (the examples' included) {:?}: run `cargo xtask regen` and commit the result",
            outcome.stale
        );
    }

    #[test]
    fn an_example_addon_is_generated_and_a_stale_one_is_named() {
        let dir = std::env::temp_dir().join(format!("xtask-regen-example-{}", std::process::id()));
        let example = dir.join("examples/demo");
        std::fs::create_dir_all(&example).expect("temp dir");
        // The inputs and the committed artifacts: only the example is new.
        for file in clockify_codegen::INPUT_PATHS.iter().chain(clockify_codegen::ARTIFACT_PATHS) {
            std::fs::create_dir_all(dir.join(file).parent().expect("a parent")).expect("temp dir");
            std::fs::copy(workspace_root().join(file), dir.join(file)).expect("copy");
        }
        std::fs::write(
            example.join("addon.toml"),
            "key = \"demo-addon\"\nname = \"Demo\"\nscopes = [\"TAG_READ\"]\nsubscribe = [\"NEW_TAG\"]\n\n[settings]\n\
             tabs = [{ id = \"t\", name = \"T\", settings = [{ id = \"tagName\", name = \"Tag\", type = \"TXT\", value = \"x\", accessLevel = \"ADMINS\" }] }]\n",
        )
        .expect("addon.toml");
        let run = |check: bool| regen_in(&dir, &RegenOptions { check, ..without_schemas() });
        let first = run(true);
        let written = run(false);
        let fresh = run(true);
        let manifest = example.join("manifest.json");
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        std::fs::write(&manifest, text.replace("\"Demo\"", "\"Edited by hand\"")).expect("edit");
        let edited = run(true);
        let module = std::fs::read_to_string(example.join("src/generated/addon.rs")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);

        let first = first.expect("check runs").stale;
        assert_eq!(first, vec!["examples/demo/manifest.json".to_owned(), "examples/demo/src/generated/addon.rs".to_owned()]);
        written.expect("regen writes");
        assert!(fresh.expect("check runs").stale.is_empty(), "written, then fresh");
        assert_eq!(edited.expect("check runs").stale, vec!["examples/demo/manifest.json".to_owned()], "a hand edit is stale");
        assert!(text.contains("\"key\": \"demo-addon\""), "{text}");
        assert!(module.contains("pub struct Settings") && module.contains("pub tag_name: String"), "{module}");
        assert!(module.contains("use clockify_gateway::AddonManifest;"), "{module}");
    }

    #[test]
    fn an_example_with_the_stock_key_is_refused() {
        let dir = std::env::temp_dir().join(format!("xtask-regen-example-key-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("examples/copy")).expect("temp dir");
        for input in clockify_codegen::INPUT_PATHS {
            std::fs::copy(workspace_root().join(input), dir.join(input)).expect("copy input");
        }
        std::fs::write(dir.join("examples/copy/addon.toml"), "key = \"clockify-rust-gateway\"\n").expect("addon.toml");
        let err = regen_in(&dir, &without_schemas()).expect_err("refused");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(err.contains("examples/copy/addon.toml") && err.contains("already the key of addon.toml"), "{err}");
    }

    #[test]
    fn check_without_the_schemas_still_names_every_stale_artifact() {
        // A tree with the inputs but none of the generated files.
        let dir = std::env::temp_dir().join(format!("xtask-regen-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for input in clockify_codegen::INPUT_PATHS {
            std::fs::copy(workspace_root().join(input), dir.join(input)).expect("copy input");
        }
        let outcome = regen_in(&dir, &without_schemas());
        let _ = std::fs::remove_dir_all(&dir);
        let outcome = outcome.expect("the check runs without the schemas");
        assert!(outcome.schema_note.is_some());
        let expected: Vec<String> = clockify_codegen::ARTIFACT_PATHS.iter().map(|p| p.to_string()).collect();
        assert_eq!(outcome.stale, expected);
    }
}
