//! Verification matrix for `clockify_addon_auth::TokenVerifier`, using the repository's
//! test key pairs (read from disk) and the `signing` helpers.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use clockify_addon_auth::{
    Algorithm, ConfigError, Expectation, KeyError, KeyName, MAX_TOKEN_LEN, TokenKind, TokenRejection, TokenVerifier, VerifierConfig,
    VerifierKeys, load_extra_keys_dir,
};
use clockify_testkit::tokens::{TokenFactory, hs256_with_key_as_secret, raw_token, tamper_payload, tamper_signature, unsigned_none_token};
use serde_json::{Value, json};

const ADDON_KEY: &str = "poem-addon";
const WORKSPACE: &str = "68adfddad138cb5a4b2b4d2e";
const ADDON_ID: &str = "68ae0e2bd138cb5a4b2b5a11";
const LEEWAY: u64 = 60;
/// Fixed clock for `verify_at`, so time cases are exact.
const NOW: u64 = 1_750_000_000;

const CLOCKIFY_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/clockify/clockify-public-key.pem");

fn keys_dir() -> PathBuf {
    clockify_testkit::tokens::keys_dir()
}

fn read_key(name: &str) -> Vec<u8> {
    let path = keys_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

struct Keys {
    public1: Vec<u8>,
    public2: Vec<u8>,
    private1: Vec<u8>,
    private2: Vec<u8>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        public1: read_key("test-rsa-public.pem"),
        public2: read_key("test-rsa-public-2.pem"),
        private1: read_key("test-rsa-private.pem"),
        private2: read_key("test-rsa-private-2.pem"),
    })
}

fn signer1() -> TokenFactory {
    TokenFactory::new(&keys().private1)
}

fn signer2() -> TokenFactory {
    TokenFactory::new(&keys().private2)
}

fn config() -> VerifierConfig {
    VerifierConfig { leeway_seconds: LEEWAY, ..VerifierConfig::new(ADDON_KEY) }
}

/// Key 1 only, RS256 only: the production shape.
fn verifier() -> TokenVerifier {
    TokenVerifier::from_pem(&keys().public1, &[], config()).expect("key 1 loads")
}

/// Key 1 as primary plus key 2 as rotation key `k2`.
fn rotating_verifier() -> TokenVerifier {
    let extra = vec![("k2".to_owned(), keys().public2.clone())];
    TokenVerifier::from_pem(&keys().public1, &extra, config()).expect("keys load")
}

/// An installation token: full add-on claims, no `exp`.
fn addon_claims() -> Value {
    json!({
        "iss": "clockify",
        "type": "addon",
        "sub": ADDON_KEY,
        "workspaceId": WORKSPACE,
        "addonId": ADDON_ID,
        "user": "68adfddad138cb5a4b2b4d2f",
        "backendUrl": "https://api.clockify.me/api",
        "reportsUrl": "https://reports.api.clockify.me",
        "locationsUrl": "https://locations.api.clockify.me",
        "screenshotsUrl": "https://screenshots.api.clockify.me",
        "iat": NOW - 10,
    })
}

/// `addon_claims()` with fields replaced (`null` removes a field).
fn with(overrides: Value) -> Value {
    let mut claims = addon_claims();
    let (Value::Object(base), Value::Object(changes)) = (&mut claims, overrides) else {
        panic!("objects only");
    };
    for (k, v) in changes {
        if v.is_null() {
            base.remove(&k);
        } else {
            base.insert(k, v);
        }
    }
    claims
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `addon_claims()` is an installation token's.
const ADDON: Expectation<'static> = Expectation::of(TokenKind::Installation);
const USER: Expectation<'static> = Expectation::of(TokenKind::User);
/// REST-webhook tokens: any Clockify-signed token without user claims.
const ANY: Expectation<'static> = Expectation::of(TokenKind::RestWebhook);

struct Case {
    name: &'static str,
    token: String,
    expect: Expectation<'static>,
    /// `None` = must pass; `Some(reason)` = must be rejected with it.
    want: Option<&'static str>,
}

fn case(name: &'static str, token: String, want: Option<&'static str>) -> Case {
    Case { name, token, expect: ADDON, want }
}

/// Runs every case, reports all mismatches at once, and checks that no
/// rejection's Display or Debug leaks any part of the token.
fn run(verifier: &TokenVerifier, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in &cases {
        let got = verifier.verify_at(&c.token, &c.expect, NOW);
        match (&got, c.want) {
            (Ok(_), None) => {}
            (Err(e), Some(want)) if e.reason() == want => {}
            _ => failures.push(format!(
                "{}: want {:?}, got {:?}",
                c.name,
                c.want.unwrap_or("ok"),
                got.as_ref().map(|_| "ok").map_err(|e| e.reason())
            )),
        }
        if let Err(e) = got {
            for text in [e.to_string(), format!("{e:?}")] {
                for segment in c.token.split('.').filter(|s| s.len() >= 4) {
                    assert!(!text.contains(segment), "{}: error text leaks the token", c.name);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn valid_tokens_pass_with_typed_claims() {
    let v = verifier();
    let user_token = signer1().sign(&with(json!({
        "language": "EN",
        "theme": "DARK",
        "workspaceRole": "WORKSPACE_ADMIN",
        "ptoUrl": "https://pto.api.clockify.me",
        "exp": NOW + 1800,
        "nbf": NOW - 5,
        "someFutureClaim": {"nested": true},
    })));
    let claims = v.verify_at(&user_token, &USER.for_workspace(WORKSPACE).for_addon(ADDON_ID), NOW).expect("valid user token");
    assert_eq!(claims.iss.as_deref(), Some("clockify"));
    assert_eq!(claims.kind.as_deref(), Some("addon"));
    assert_eq!(claims.sub.as_deref(), Some(ADDON_KEY));
    assert_eq!(claims.workspace_id.as_deref(), Some(WORKSPACE));
    assert_eq!(claims.addon_id.as_deref(), Some(ADDON_ID));
    assert_eq!(claims.backend_url.as_deref(), Some("https://api.clockify.me/api"));
    assert_eq!(claims.reports_url.as_deref(), Some("https://reports.api.clockify.me"));
    assert_eq!(claims.pto_url.as_deref(), Some("https://pto.api.clockify.me"));
    assert_eq!(claims.workspace_role.as_deref(), Some("WORKSPACE_ADMIN"));
    assert_eq!(claims.language.as_deref(), Some("EN"));
    assert_eq!(claims.theme.as_deref(), Some("DARK"));
    assert_eq!(claims.exp, Some(NOW + 1800));
    assert_eq!(claims.nbf, Some(NOW - 5));
    assert_eq!(claims.iat, Some(NOW - 10));
    assert_eq!(claims.extra.get("someFutureClaim"), Some(&json!({"nested": true})));
    assert!(!claims.extra.contains_key("workspaceId"), "known claims are not duplicated into extra");

    // The wall-clock entry point, with `exp` relative to the real time.
    let now = jsonwebtoken::get_current_timestamp();
    let fresh = signer1().sign(&with(json!({ "exp": now + 600 })));
    assert!(v.verify(&fresh, &ADDON).is_ok());
    let stale_within_leeway = signer1().sign(&with(json!({ "exp": now - LEEWAY / 2 })));
    assert!(v.verify(&stale_within_leeway, &ADDON).is_ok());
    let stale = signer1().sign(&with(json!({ "exp": now - LEEWAY - 120 })));
    assert_eq!(v.verify(&stale, &ADDON), Err(TokenRejection::Expired));
}

#[test]
fn rejection_matrix() {
    let s1 = signer1();
    let good = s1.sign(&addon_claims());
    let header_only_sig = |token: &str| token.rsplit_once('.').map(|(m, _)| format!("{m}.")).unwrap();
    let junk_sig = vec![0x5a; 256];

    let cases = vec![
        // Passing controls.
        case("installation token, no exp", good.clone(), None),
        case("exp within leeway", s1.sign(&with(json!({ "exp": NOW - LEEWAY / 2 }))), None),
        case("exp just inside leeway", s1.sign(&with(json!({ "exp": NOW - LEEWAY + 1 }))), None),
        case("nbf within leeway", s1.sign(&with(json!({ "nbf": NOW + LEEWAY / 2 }))), None),
        case("kid ignored without extra keys", signer1().kid(Some("anything")).sign(&addon_claims()), None),
        Case {
            name: "bound to the right workspace and add-on",
            token: good.clone(),
            expect: ADDON.for_workspace(WORKSPACE).for_addon(ADDON_ID),
            want: None,
        },
        // Algorithm attacks.
        case("alg none", unsigned_none_token(&addon_claims()), Some("algorithm")),
        case("alg None (case variant)", raw_token(&json!({"alg": "None"}), &addon_claims(), b""), Some("algorithm")),
        case("HS256 keyed with the public key", hs256_with_key_as_secret(&keys().public1, &addon_claims()), Some("algorithm")),
        case("RS384 not configured", s1.sign_with_alg(Algorithm::RS384, &addon_claims()), Some("algorithm")),
        case("RS512 not configured", s1.sign_with_alg(Algorithm::RS512, &addon_claims()), Some("algorithm")),
        case("PS256 header", raw_token(&json!({"alg": "PS256"}), &addon_claims(), &junk_sig), Some("algorithm")),
        case("alg missing", raw_token(&json!({"typ": "JWT"}), &addon_claims(), &junk_sig), Some("malformed")),
        case("crit header", raw_token(&json!({"alg": "RS256", "crit": ["exp"], "exp": 1}), &addon_claims(), &junk_sig), Some("malformed")),
        // Signature attacks.
        case("tampered signature", tamper_signature(&good), Some("signature")),
        case("tampered payload (workspace)", tamper_payload(&good, &with(json!({ "workspaceId": "other" }))), Some("signature")),
        case("tampered payload (role escalation)", tamper_payload(&good, &with(json!({ "workspaceRole": "OWNER" }))), Some("signature")),
        case("signature stripped", header_only_sig(&good), Some("signature")),
        case("signed by key 2", signer2().sign(&addon_claims()), Some("signature")),
        case("signed by key 2 with kid", signer2().kid(Some("k2")).sign(&addon_claims()), Some("signature")),
        case("junk signature", raw_token(&json!({"alg": "RS256"}), &addon_claims(), &junk_sig), Some("signature")),
        // Claims.
        case("wrong issuer", s1.sign(&with(json!({ "iss": "clockify.evil" }))), Some("issuer")),
        case("missing issuer", s1.sign(&with(json!({ "iss": null }))), Some("issuer")),
        case("wrong type", s1.sign(&with(json!({ "type": "access" }))), Some("type")),
        case("missing type", s1.sign(&with(json!({ "type": null }))), Some("type")),
        case("wrong subject", s1.sign(&with(json!({ "sub": "other-addon" }))), Some("subject")),
        case("missing subject", s1.sign(&with(json!({ "sub": null }))), Some("subject")),
        case("expired beyond leeway", s1.sign(&with(json!({ "exp": NOW - LEEWAY - 1 }))), Some("expired")),
        case("expired exactly at leeway", s1.sign(&with(json!({ "exp": NOW - LEEWAY }))), Some("expired")),
        case("expired long ago", s1.sign(&with(json!({ "exp": 1 }))), Some("expired")),
        case("nbf beyond leeway", s1.sign(&with(json!({ "nbf": NOW + LEEWAY + 1 }))), Some("not_yet_valid")),
        case("nbf absurd", s1.sign(&with(json!({ "nbf": u64::MAX }))), Some("not_yet_valid")),
        case("exp absurd is fine", s1.sign(&with(json!({ "exp": u64::MAX }))), None),
        case("exp not a number", s1.sign(&with(json!({ "exp": "tomorrow" }))), Some("malformed")),
        case("exp negative", s1.sign(&with(json!({ "exp": -5 }))), Some("malformed")),
        Case { name: "wrong workspace", token: good.clone(), expect: ADDON.for_workspace("other-workspace"), want: Some("workspace") },
        Case {
            name: "workspace binding but claim missing",
            token: s1.sign(&with(json!({ "workspaceId": null }))),
            expect: ADDON.for_workspace(WORKSPACE),
            want: Some("workspace"),
        },
        Case {
            name: "empty workspace never matches",
            token: s1.sign(&with(json!({ "workspaceId": "" }))),
            expect: ADDON.for_workspace(""),
            want: Some("workspace"),
        },
        Case {
            name: "wrong add-on",
            token: good.clone(),
            expect: ADDON.for_workspace(WORKSPACE).for_addon("other-installation"),
            want: Some("addon"),
        },
        // Content that passes the signature but is not claims.
        case("payload is a JSON string", s1.sign(&json!("clockify")), Some("malformed")),
        case("payload is not JSON", s1.sign_payload_bytes(b"{\"iss\":"), Some("malformed")),
        case(
            "duplicate claim keys",
            s1.sign_payload_bytes(br#"{"iss":"evil","iss":"clockify","type":"addon","sub":"poem-addon"}"#),
            Some("malformed"),
        ),
        case("claim of wrong type", s1.sign(&with(json!({ "workspaceId": 42 }))), Some("malformed")),
        // Shape.
        case("empty string", String::new(), Some("malformed")),
        case("one segment", "abc".into(), Some("malformed")),
        case("two segments", "abc.def".into(), Some("malformed")),
        case("four segments", format!("{good}.AAAA"), Some("malformed")),
        case("dots only", "..".into(), Some("malformed")),
        case("bad base64", "!!!.@@@.###".into(), Some("malformed")),
        case("padded base64", good.replacen('.', "=.", 1), Some("malformed")),
        case("whitespace", format!(" {good}"), Some("malformed")),
        case("header not JSON", format!("{}.{}.", b64(b"{\"alg\":"), b64(b"{}")), Some("malformed")),
        case("header is an array", format!("{}.{}.", b64(b"[\"RS256\"]"), b64(b"{}")), Some("malformed")),
        case("duplicate alg in header", format!("{}.{}.", b64(br#"{"alg":"none","alg":"RS256"}"#), b64(b"{}")), Some("malformed")),
        case("truncated in payload", good[..good.len() / 2].to_owned(), Some("malformed")),
        case("truncated by one char", good[..good.len() - 1].to_owned(), Some("malformed")),
        case("too long", "a".repeat(MAX_TOKEN_LEN + 1), Some("too_long")),
        case("valid token padded past the cap", format!("{good}{}", "A".repeat(MAX_TOKEN_LEN)), Some("too_long")),
        case("exactly at the cap", "a".repeat(MAX_TOKEN_LEN), Some("malformed")),
    ];
    run(&verifier(), cases);
}

#[test]
fn rotation_keys_select_by_kid() {
    let claims = addon_claims();
    let cases = vec![
        case("kid k2 signed by key 2", signer2().kid(Some("k2")).sign(&claims), None),
        case("no kid signed by key 1 (Clockify)", signer1().sign(&claims), None),
        case("unknown kid", signer2().kid(Some("nope")).sign(&claims), Some("unknown_kid")),
        case("unknown kid even if signed by key 1", signer1().kid(Some("nope")).sign(&claims), Some("unknown_kid")),
        case("empty kid", signer1().kid(Some("")).sign(&claims), Some("unknown_kid")),
        case("no kid signed by key 2", signer2().sign(&claims), Some("signature")),
        case("kid k2 signed by key 1", signer1().kid(Some("k2")).sign(&claims), Some("signature")),
    ];
    let v = rotating_verifier();
    assert_eq!(v.kids().collect::<Vec<_>>(), ["k2"]);
    run(&v, cases);
}

#[test]
fn any_clockify_token_checks_issuer_signature_and_time_only() {
    // Shape of a REST-API webhook token: other type and subject, no addonId.
    let access = json!({
        "iss": "clockify",
        "type": "access",
        "sub": "68adfddad138cb5a4b2b4d2f",
        "workspaceId": WORKSPACE,
        "jti": "abc",
    });
    let with_access = |changes: Value| {
        let mut c = access.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let s1 = signer1();
    let token = s1.sign(&access);
    let claims = verifier().verify_at(&token, &ANY, NOW).expect("access token passes");
    assert_eq!(claims.kind.as_deref(), Some("access"));
    assert_eq!(claims.addon_id, None);
    assert_eq!(claims.extra.get("jti"), Some(&json!("abc")));

    let any = |name, token, want| Case { name, token, expect: ANY, want };
    let cases = vec![
        any("add-on token also passes", s1.sign(&addon_claims()), None),
        Case { name: "workspace binding holds", token: token.clone(), expect: ANY.for_workspace(WORKSPACE), want: None },
        Case { name: "workspace binding fails", token: token.clone(), expect: ANY.for_workspace("x"), want: Some("workspace") },
        Case { name: "addon binding needs the claim", token: token.clone(), expect: ANY.for_addon(ADDON_ID), want: Some("addon") },
        any("wrong issuer", s1.sign(&with_access(json!({ "iss": "someone" }))), Some("issuer")),
        any("bad signature", tamper_signature(&token), Some("signature")),
        any("signed by key 2", signer2().sign(&access), Some("signature")),
        any("alg none", unsigned_none_token(&access), Some("algorithm")),
        any("expired", s1.sign(&with_access(json!({ "exp": NOW - LEEWAY - 1 }))), Some("expired")),
        any("not yet valid", s1.sign(&with_access(json!({ "nbf": NOW + LEEWAY + 1 }))), Some("not_yet_valid")),
        // The same token is refused where an add-on token is required.
        case("access token on an add-on route", token.clone(), Some("type")),
    ];
    run(&verifier(), cases);
}

#[test]
fn rs384_and_rs512_only_when_configured() {
    let config = VerifierConfig { algorithms: vec![Algorithm::RS256, Algorithm::RS384], ..config() };
    let v = TokenVerifier::from_pem(&keys().public1, &[], config).unwrap();
    let s1 = signer1();
    run(
        &v,
        vec![
            case("RS256", s1.sign(&addon_claims()), None),
            case("RS384 configured", s1.sign_with_alg(Algorithm::RS384, &addon_claims()), None),
            case("RS512 not configured", s1.sign_with_alg(Algorithm::RS512, &addon_claims()), Some("algorithm")),
            case(
                "RS384 header on an RS256 signature",
                s1.sign(&addon_claims()).replacen(&b64(br#"{"typ":"JWT","alg":"RS256"}"#), &b64(br#"{"typ":"JWT","alg":"RS384"}"#), 1),
                Some("signature"),
            ),
        ],
    );
    let all = VerifierConfig { algorithms: vec![Algorithm::RS512], ..VerifierConfig::new(ADDON_KEY) };
    let v = TokenVerifier::from_pem(&keys().public1, &[], all).unwrap();
    assert!(v.verify_at(&s1.sign_with_alg(Algorithm::RS512, &addon_claims()), &ADDON, NOW).is_ok());
    assert_eq!(v.verify_at(&s1.sign(&addon_claims()), &ADDON, NOW), Err(TokenRejection::Algorithm));
}

#[test]
fn clockify_published_key_loads_as_primary() {
    let pem = std::fs::read(CLOCKIFY_KEY).expect("Clockify key present");
    let v = TokenVerifier::from_pem(&pem, &[], VerifierConfig::new(ADDON_KEY)).expect("loads");
    // Our test signer is not Clockify.
    assert_eq!(v.verify(&signer1().sign(&addon_claims()), &ADDON), Err(TokenRejection::Signature));
}

#[test]
fn bad_configuration_is_a_typed_error_naming_the_key() {
    let k = keys();
    let err = VerifierKeys::from_pem(&k.private1, &[]).unwrap_err();
    assert!(matches!(&err, KeyError::Invalid { key: KeyName::Primary, .. }), "{err}");
    assert!(err.to_string().contains("private key"), "{err}");

    let err = VerifierKeys::from_pem(b"not a pem", &[]).unwrap_err();
    assert!(matches!(&err, KeyError::Invalid { key: KeyName::Primary, .. }), "{err}");
    assert!(err.to_string().starts_with("primary key"), "{err}");

    let extra = vec![
        ("k2".to_owned(), k.public2.clone()),
        ("broken".to_owned(), b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec()),
    ];
    let err = VerifierKeys::from_pem(&k.public1, &extra).unwrap_err();
    assert!(matches!(&err, KeyError::Invalid { key: KeyName::Kid(kid), .. } if kid == "broken"), "{err}");
    assert!(err.to_string().contains("`broken`"), "{err}");

    let dup = vec![("k2".to_owned(), k.public2.clone()), ("k2".to_owned(), k.public1.clone())];
    assert!(matches!(VerifierKeys::from_pem(&k.public1, &dup), Err(KeyError::DuplicateKid(kid)) if kid == "k2"));

    let keys = || VerifierKeys::from_pem(&k.public1, &[]).unwrap();
    let bad = |config: VerifierConfig| TokenVerifier::new(keys(), config).unwrap_err();
    assert!(matches!(bad(VerifierConfig::new("")), ConfigError::EmptyAddonKey));
    assert!(matches!(bad(VerifierConfig { algorithms: vec![], ..config() }), ConfigError::NoAlgorithm));
    for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::PS256, Algorithm::EdDSA] {
        assert!(matches!(
            bad(VerifierConfig { algorithms: vec![Algorithm::RS256, alg], ..config() }),
            ConfigError::UnsupportedAlgorithm(a) if a == alg
        ));
    }
    // A key error surfaces through the one-step constructor too.
    assert!(matches!(TokenVerifier::from_pem(b"", &[], config()), Err(ConfigError::Key(KeyError::Invalid { key: KeyName::Primary, .. }))));
}

#[test]
fn extra_keys_dir_reads_pem_files_by_stem() {
    let dir = std::env::temp_dir().join(format!("token-verify-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nested.pem")).unwrap(); // a directory: skipped
    std::fs::write(dir.join("k3.pem"), &keys().public1).unwrap();
    std::fs::write(dir.join("k2.pem"), &keys().public2).unwrap();
    std::fs::write(dir.join("README.txt"), b"not a key").unwrap();
    std::fs::write(dir.join("k2.pem.bak"), b"not a key").unwrap();

    let extra = load_extra_keys_dir(&dir).expect("dir loads");
    let kids: Vec<&str> = extra.iter().map(|(kid, _)| kid.as_str()).collect();
    assert_eq!(kids, ["k2", "k3"]);
    assert_eq!(extra[0].1, keys().public2);
    let v = TokenVerifier::from_pem(&keys().public1, &extra, config()).unwrap();
    assert!(v.verify_at(&signer2().kid(Some("k2")).sign(&addon_claims()), &ADDON, NOW).is_ok());

    std::fs::write(dir.join("zz-bad.pem"), b"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n").unwrap();
    let err = load_extra_keys_dir(&dir).unwrap_err();
    assert!(matches!(&err, KeyError::Invalid { key: KeyName::File(p), .. } if p.ends_with("zz-bad.pem")));
    assert!(err.to_string().contains("zz-bad.pem"), "{err}");
    std::fs::remove_file(dir.join("zz-bad.pem")).unwrap();

    std::fs::write(dir.join("private.pem"), &keys().private2).unwrap();
    let err = load_extra_keys_dir(&dir).unwrap_err();
    assert!(err.to_string().contains("private.pem"), "{err}");

    let missing = dir.join("does-not-exist");
    let err = load_extra_keys_dir(&missing).unwrap_err();
    assert!(matches!(&err, KeyError::Read { path, .. } if path == &missing), "{err}");
    assert!(err.to_string().contains("does-not-exist"), "{err}");

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reasons_are_stable_unique_snake_case_labels() {
    let reasons: Vec<&str> = TokenRejection::ALL.iter().map(TokenRejection::reason).collect();
    assert_eq!(
        reasons,
        [
            "too_long",
            "malformed",
            "algorithm",
            "unknown_kid",
            "signature",
            "expired",
            "not_yet_valid",
            "issuer",
            "type",
            "subject",
            "kind",
            "workspace",
            "addon",
        ]
    );
    for r in &TokenRejection::ALL {
        assert!(!r.to_string().is_empty());
    }
}

#[test]
fn verifier_is_shared_across_threads() {
    let v = Arc::new(rotating_verifier());
    let token = Arc::new(signer2().kid(Some("k2")).sign(&addon_claims()));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (v, token) = (Arc::clone(&v), Arc::clone(&token));
            std::thread::spawn(move || (0..20).all(|_| v.verify_at(&token, &ADDON, NOW).is_ok()))
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
    // Debug output names the configuration, never key material.
    let debug = format!("{v:?}");
    assert!(debug.contains("k2") && debug.contains(ADDON_KEY), "{debug}");
    assert_eq!(TokenKind::Installation, ADDON.kind);
}

/// xorshift64*: deterministic, so a failure reproduces exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[test]
fn garbage_never_panics_and_never_passes() {
    let v = rotating_verifier();
    let good = signer1().sign(&addon_claims());
    let headers = [
        json!({"alg": "RS256"}),
        json!({"alg": "RS256", "kid": "k2"}),
        json!({"alg": "RS256", "kid": "nope"}),
        json!({"alg": "none"}),
        json!({"alg": "HS256"}),
        json!({"alg": 7}),
        json!({"alg": "RS256", "jwk": "x"}),
        json!(null),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut tokens: Vec<String> = Vec::new();
    for i in 0..600 {
        let token = match i % 5 {
            // Arbitrary bytes, lossily made UTF-8.
            0 => String::from_utf8_lossy(&rng.bytes(400)).into_owned(),
            // base64url alphabet with a few dots sprinkled in.
            1 => {
                let len = rng.below(600);
                (0..len).map(|_| if rng.below(40) == 0 { '.' } else { B64URL[rng.below(64)] as char }).collect()
            }
            // Structurally valid, with hostile headers and random payloads/signatures.
            2 => {
                let header = &headers[rng.below(headers.len())];
                let payload = if rng.below(2) == 0 { addon_claims() } else { json!(rng.next()) };
                let sig = rng.bytes(300);
                let mut t = raw_token(header, &payload, &sig);
                if rng.below(3) == 0 {
                    t = format!("{}.{}.{}", b64(&rng.bytes(64)), b64(&rng.bytes(200)), b64(&sig));
                }
                t
            }
            // One character of a valid token replaced.
            3 => {
                let mut bytes = good.clone().into_bytes();
                let at = rng.below(bytes.len());
                let replacement = match rng.below(4) {
                    0 => b'.',
                    1 => rng.next() as u8 & 0x7f,
                    _ => B64URL[rng.below(64)],
                };
                if bytes[at] == replacement {
                    continue;
                }
                bytes[at] = replacement;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            // A valid token truncated or extended.
            _ => {
                let cut = rng.below(good.len());
                let mut t = good[..cut].to_owned();
                if rng.below(2) == 0 {
                    t.extend((0..rng.below(8)).map(|_| B64URL[rng.below(64)] as char));
                }
                t
            }
        };
        tokens.push(token);
    }
    // Every proper prefix of a valid token, too.
    tokens.extend((0..good.len()).map(|n| good[..n].to_owned()));

    let bound = ADDON.for_workspace(WORKSPACE).for_addon(ADDON_ID);
    for token in &tokens {
        if token == &good {
            continue;
        }
        for expect in [ADDON, ANY, bound] {
            let got = v.verify_at(token, &expect, NOW);
            assert!(got.is_err(), "garbage accepted: {token:?}");
        }
    }
    assert!(v.verify_at(&good, &bound, NOW).is_ok(), "control still passes");
}

/// Every kind of token Clockify issues, as it would sign it, against every
/// kind a route can take: user claims pass only as a user token; an
/// installation token needs `backendUrl`; a webhook token carries neither
/// the installation's nor a user's claims; a REST-webhook token is any
/// Clockify token without user claims. Lifecycle and manifest-webhook tokens
/// have the same documented claims: routes tell them apart by the header
/// they come in and (webhooks) the token stored for the event.
#[test]
fn every_kind_of_token_passes_only_as_the_kinds_it_can_be() {
    let s1 = signer1();
    let five = json!({ "iss": "clockify", "type": "addon", "sub": ADDON_KEY, "workspaceId": WORKSPACE, "addonId": ADDON_ID });
    let mut user = addon_claims();
    for (k, v) in [("workspaceRole", json!("OWNER")), ("language", json!("EN")), ("theme", json!("DEFAULT")), ("exp", json!(NOW + 1800))] {
        user[k] = v;
    }
    let rest = json!({ "iss": "clockify", "type": "access", "sub": "webhook", "workspaceId": WORKSPACE, "exp": NOW + 3600 });
    let tokens = [
        ("lifecycle", s1.sign(&five)),
        ("installation", s1.sign(&addon_claims())),
        ("webhook", s1.sign(&five)),
        ("rest_webhook", s1.sign(&rest)),
        ("user", s1.sign(&user)),
    ];
    // (token, route kind) -> passes
    let passes = |token: &str, kind: TokenKind| match (token, kind) {
        (_, TokenKind::RestWebhook) => token != "user",
        ("lifecycle" | "webhook", TokenKind::Lifecycle | TokenKind::Webhook) => true,
        ("installation", TokenKind::Lifecycle | TokenKind::Installation) => true,
        ("user", TokenKind::User) => true,
        _ => false,
    };
    let v = verifier();
    let mut wrong = Vec::new();
    for (name, token) in &tokens {
        for kind in TokenKind::ALL {
            let got = v.verify_at(token, &Expectation::of(kind).for_workspace(WORKSPACE), NOW);
            let want = passes(name, kind);
            if got.is_ok() != want {
                wrong.push(format!("{name} token as {kind}: want {}, got {got:?}", if want { "pass" } else { "refusal" }));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A user token of every role, and with any one user claim, is never a lifecycle or webhook token.
    for claim in ["workspaceRole", "language", "theme"] {
        let mut c = five.clone();
        c[claim] = json!("X");
        let token = s1.sign(&c);
        for kind in [TokenKind::Lifecycle, TokenKind::Installation, TokenKind::Webhook, TokenKind::RestWebhook] {
            assert_eq!(v.verify_at(&token, &Expectation::of(kind), NOW).map(|_| ()), Err(TokenRejection::Kind), "{claim} as {kind}");
        }
    }
}
