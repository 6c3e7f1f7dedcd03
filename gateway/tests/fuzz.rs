//! Property-based fuzzing (issue 9) of the two parsers that see untrusted
//! input first: token verification and webhook body decoding. Bounded case
//! counts keep it a few seconds in CI; a failure prints its minimal input.
//! The explorer's input validation and path resolution see untrusted input
//! too, and are fuzzed the same way. (`cargo fuzz` needs a nightly
//! toolchain; this workspace builds on stable.)

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clockify_addon_auth::{Expectation, MAX_TOKEN_LEN, TokenKind, TokenVerifier, VerifierConfig};
use clockify_client::WebhookEvent;
use clockify_gateway::events::{BodyError, Change, WebhookPayload, decode, decode_text, workspace_of_text};
use clockify_gateway::inbox::mirror_change;
use clockify_gateway::store::MirrorChange;
use clockify_testkit::tokens::{TokenFactory, key};
use proptest::prelude::*;
use serde_json::{Value, json};

const ADDON_KEY: &str = "fuzz-addon";

fn verifier() -> &'static TokenVerifier {
    static V: OnceLock<TokenVerifier> = OnceLock::new();
    V.get_or_init(|| TokenVerifier::from_pem(&key("test-rsa-public.pem"), &[], VerifierConfig::new(ADDON_KEY)).expect("test key loads"))
}

fn valid_token() -> &'static str {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| {
        TokenFactory::new(&key("test-rsa-private.pem")).sign(&json!({
            "iss": "clockify", "type": "addon", "sub": ADDON_KEY, "workspaceId": "ws-fuzz", "addonId": "a-fuzz",
        }))
    })
}

fn expectations() -> [Expectation<'static>; 3] {
    [
        Expectation::of(TokenKind::Lifecycle),
        Expectation::of(TokenKind::RestWebhook),
        Expectation::of(TokenKind::Lifecycle).for_workspace("ws-fuzz"),
    ]
}

/// Three dot-separated base64url segments of arbitrary bytes: gets past the
/// shape check into header and claim parsing.
fn jwt_shaped() -> impl Strategy<Value = String> {
    let seg = || prop::collection::vec(any::<u8>(), 0..96).prop_map(|b| URL_SAFE_NO_PAD.encode(b));
    let json_header = prop_oneof![
        Just(r#"{"alg":"RS256","typ":"JWT"}"#.to_owned()),
        Just(r#"{"alg":"none"}"#.to_owned()),
        Just(r#"{"alg":"HS256","kid":"x"}"#.to_owned()),
        ".{0,40}",
    ]
    .prop_map(|h| URL_SAFE_NO_PAD.encode(h));
    let claims = prop::collection::vec((".{0,8}", ".{0,12}"), 0..5).prop_map(|kv| {
        let o: serde_json::Map<String, Value> = kv.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        URL_SAFE_NO_PAD.encode(Value::Object(o).to_string())
    });
    (json_header, prop_oneof![claims, seg()], seg()).prop_map(|(h, c, s)| format!("{h}.{c}.{s}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary text, including oversized and non-ASCII, is refused with a reason and never panics.
    #[test]
    fn arbitrary_strings_are_refused_not_panicked_on(s in prop_oneof![".{0,300}", "[A-Za-z0-9_.-]{0,600}"]) {
        for e in expectations() {
            prop_assert!(verifier().verify(&s, &e).is_err());
        }
    }

    #[test]
    fn jwt_shaped_garbage_is_refused(t in jwt_shaped()) {
        for e in expectations() {
            prop_assert!(verifier().verify(&t, &e).is_err());
        }
    }

    /// Any single-character change, cut or insertion in a valid token makes it invalid.
    #[test]
    fn a_changed_valid_token_is_refused(pos in any::<prop::sample::Index>(), c in "[A-Za-z0-9_.=+/ -]", op in 0u8..3) {
        let good = valid_token();
        let i = pos.index(good.len());
        let changed = match op {
            0 => { let mut s = good.to_owned(); s.replace_range(i..=i, &c); s }
            1 => good[..i].to_owned(),
            _ => { let mut s = good.to_owned(); s.insert_str(i, &c); s }
        };
        prop_assume!(changed != good);
        prop_assert!(verifier().verify(&changed, &Expectation::of(TokenKind::Lifecycle)).is_err(), "accepted: {changed}");
    }
}

#[test]
fn the_unchanged_token_passes_and_an_oversized_one_does_not() {
    assert!(verifier().verify(valid_token(), &Expectation::of(TokenKind::Lifecycle)).is_ok());
    let huge = format!("{}{}", valid_token(), "A".repeat(MAX_TOKEN_LEN));
    assert!(verifier().verify(&huge, &Expectation::of(TokenKind::Lifecycle)).is_err());
}

/// Any JSON scalar: null, booleans, integers, finite floats, short strings.
fn json_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
    ]
}

/// JSON values, biased towards entity-shaped objects (the field names
/// webhook bodies use) with values of any type.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![json_scalar(), Just(json!("2025-01-31T10:00:00Z")), Just(json!("68adfddad138cb5a4b2b4d2e")),];
    let key = prop_oneof![
        Just("id"),
        Just("workspaceId"),
        Just("name"),
        Just("projectId"),
        Just("userId"),
        Just("timeInterval"),
        Just("start"),
        Just("end"),
        Just("archived"),
        Just("billable"),
        Just("tagIds"),
        Just("status"),
        Just("email"),
        Just("amount"),
        Just("hourlyRate"),
        Just("memberships"),
        Just("x"),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..10)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every event decodes any JSON without panicking; a body that does not
    /// fit is kept unchanged as raw JSON, and a mirror change names the
    /// body's own id.
    #[test]
    fn every_event_decodes_any_json(body in json_value(), which in any::<prop::sample::Index>()) {
        let event = WebhookEvent::ALL[which.index(WebhookEvent::ALL.len())].clone();
        let decoded = decode(&event, &body);
        if let Some(change) = mirror_change(&decoded.payload, decoded.change, &body.to_string()) {
            let (MirrorChange::Upsert { entity_id, .. } | MirrorChange::Delete { entity_id, .. }) = &change;
            prop_assert_eq!(Some(entity_id.as_str()), body.get("id").and_then(Value::as_str));
            prop_assert!(decoded.change != Change::Other);
        }
        let text = body.to_string();
        let from_text = decode_text(&event, &text);
        prop_assert_eq!(from_text.payload.is_typed(), decoded.payload.is_typed(), "decoding the text agrees with decoding the value");
        prop_assert_eq!(from_text.change, decoded.change);
        if let WebhookPayload::Raw(raw) = &decoded.payload {
            prop_assert_eq!(raw, &body, "a raw payload is the body unchanged");
        }
        let ws = body.get("workspaceId").and_then(Value::as_str);
        // What the ingest reads of the text agrees with the parsed value.
        let read = workspace_of_text(&text);
        if body.is_object() {
            let named = read.expect("an object");
            prop_assert_eq!(named.as_deref(), ws);
        } else {
            prop_assert_eq!(read, Err(BodyError::NotAnObject));
        }
    }

    /// Bytes off the wire: whatever parses as JSON decodes for every event,
    /// and the ingest's reading of the text accepts exactly the JSON objects.
    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let parsed = serde_json::from_str::<Value>(text);
            let read = workspace_of_text(text);
            prop_assert_eq!(read.is_ok(), parsed.as_ref().is_ok_and(Value::is_object), "{:?} / {:?}", read, parsed);
            if let (Ok(v), Ok(ws)) = (&parsed, &read) {
                prop_assert_eq!(ws.as_deref(), v.get("workspaceId").and_then(Value::as_str));
            }
        }
        if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
            for event in WebhookEvent::ALL.iter() {
                let _ = decode(event, &body);
            }
        }
    }
}

/// Arbitrary JSON: scalars, arrays and objects a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    json_scalar().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z-]{0,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_map() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::btree_map(prop_oneof!["[a-zA-Z-]{1,16}", ".{0,10}"], any_json(), 0..6).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any input for any operation is either accepted or refused with
    /// violations that each carry a pointer into the input; never a panic,
    /// never a schema that does not compile.
    #[test]
    fn explorer_validation_accepts_or_names_every_violation(
        op in 0..clockify_client::catalog::OPERATIONS.len(),
        path in any_map(),
        query in any_map(),
        body in prop::option::of(any_json()),
    ) {
        use clockify_gateway::explorer::validate::{Input, Invalid, validate};
        match validate(op, Input { path, query, body }, "ws-fuzz") {
            Ok(_) => {}
            Err(Invalid::Violations(v)) => {
                prop_assert!(!v.is_empty());
                for violation in v {
                    prop_assert!(violation.pointer.starts_with('/'), "{:?}", violation);
                }
            }
            Err(Invalid::Internal(e)) => prop_assert!(false, "a contract schema failed: {e}"),
        }
    }

    /// Any method and path resolves to an operation of the contract or is
    /// refused; a resolved path never carries a value that could change it.
    #[test]
    fn explorer_paths_resolve_or_are_refused(method in prop_oneof![Just("GET".to_owned()), Just("post".to_owned()), "[A-Z]{0,7}"], path in prop_oneof![".{0,80}", "(/[a-zA-Z0-9{}%.-]{0,12}){0,8}", "/v1/workspaces/[a-z0-9./%?#]{0,12}/(projects|tags|clients)(/[a-z0-9./%]{0,8})?"]) {
        if let Ok((_, params)) = clockify_gateway::explorer::by_method_and_path(&method, &path) {
            for (name, value) in params {
                let v = value.as_str().unwrap_or_default();
                prop_assert!(!v.contains(['/', '?', '#']) && v != "." && v != "..", "{name} = {v:?} from {path:?}");
            }
        }
    }
}
