//! The crate's own entry points: the verifier with Clockify's compiled-in key
//! and extra keys by `kid`. The full verification matrix (every kind, every
//! rejection, rotation keys, key files) is `gateway/tests/token_matrix.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use clockify_addon_auth::{
    ConfigError, Expectation, KeyError, KeyName, TokenKind, TokenRejection, TokenVerifier, VerifierConfig, VerifierKeys,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const ADDON_KEY: &str = "my-addon";
const PUBLIC_1: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../testkit/keys/test-rsa-public.pem"));
const PRIVATE_1: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../testkit/keys/test-rsa-private.pem"));
const PUBLIC_2: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../testkit/keys/test-rsa-public-2.pem"));
const PRIVATE_2: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../testkit/keys/test-rsa-private-2.pem"));

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

fn user_claims() -> Value {
    json!({
        "iss": "clockify", "type": "addon", "sub": ADDON_KEY,
        "workspaceId": "ws-1", "addonId": "addon-1",
        "user": "user-1", "workspaceRole": "OWNER", "language": "EN", "theme": "DEFAULT",
        "backendUrl": "https://api.clockify.me/api", "exp": now() + 1800,
    })
}

fn sign(private_pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(private_pem).expect("test private key")).expect("RSA signing")
}

fn user() -> Expectation<'static> {
    Expectation::of(TokenKind::User)
}

#[test]
fn the_compiled_in_clockify_key_builds_a_verifier_with_no_configuration() {
    let keys = VerifierKeys::clockify(&[]).expect("Clockify's key parses as an RSA-2048 public key");
    assert_eq!(keys.kids().count(), 0);
    let verifier = TokenVerifier::clockify(ADDON_KEY).expect("Clockify's verifier builds");
    assert_eq!(verifier.kids().count(), 0);
    assert!(matches!(TokenVerifier::clockify(""), Err(ConfigError::EmptyAddonKey)));
}

#[test]
fn clockify_verifier_refuses_tokens_signed_with_any_other_key() {
    let verifier = TokenVerifier::clockify(ADDON_KEY).unwrap();
    assert_eq!(verifier.verify(&sign(PRIVATE_1, None, &user_claims()), &user()), Err(TokenRejection::Signature));
    // With no extra keys configured, a `kid` selects nothing: still Clockify's key.
    assert_eq!(verifier.verify(&sign(PRIVATE_1, Some("k1"), &user_claims()), &user()), Err(TokenRejection::Signature));
}

#[test]
fn extra_keys_are_chosen_by_kid_beside_clockify_key() {
    let keys = VerifierKeys::clockify(&[("k1".to_owned(), PUBLIC_1.to_vec()), ("k2".to_owned(), PUBLIC_2.to_vec())]).unwrap();
    assert_eq!(keys.kids().collect::<Vec<_>>(), ["k1", "k2"]);
    let verifier = TokenVerifier::new(keys, VerifierConfig::new(ADDON_KEY)).unwrap();

    let claims = verifier.verify(&sign(PRIVATE_2, Some("k2"), &user_claims()), &user()).expect("k2's token verifies with k2");
    assert_eq!(claims.user.as_deref(), Some("user-1"));
    assert_eq!(claims.workspace_role.as_deref(), Some("OWNER"));
    assert_eq!(verifier.verify(&sign(PRIVATE_2, Some("k1"), &user_claims()), &user()), Err(TokenRejection::Signature));
    assert_eq!(verifier.verify(&sign(PRIVATE_1, Some("k3"), &user_claims()), &user()), Err(TokenRejection::UnknownKid));
    // No `kid`: Clockify's key, which did not sign it.
    assert_eq!(verifier.verify(&sign(PRIVATE_1, None, &user_claims()), &user()), Err(TokenRejection::Signature));
}

#[test]
fn a_user_token_binds_to_its_workspace_expires_and_passes_as_no_other_kind() {
    let verifier = TokenVerifier::from_pem(PUBLIC_1, &[], VerifierConfig::new(ADDON_KEY)).unwrap();
    let token = sign(PRIVATE_1, None, &user_claims());
    assert!(verifier.verify(&token, &user().for_workspace("ws-1").for_addon("addon-1")).is_ok());
    assert_eq!(verifier.verify(&token, &user().for_workspace("ws-2")), Err(TokenRejection::Workspace));
    for kind in TokenKind::ALL.into_iter().filter(|k| *k != TokenKind::User) {
        assert_eq!(verifier.verify(&token, &Expectation::of(kind)), Err(TokenRejection::Kind), "{kind}");
    }
    let mut expired = user_claims();
    expired["exp"] = json!(now() - 3600);
    assert_eq!(verifier.verify(&sign(PRIVATE_1, None, &expired), &user()), Err(TokenRejection::Expired));
}

#[test]
fn a_bad_extra_key_is_named_by_its_kid() {
    let err = VerifierKeys::clockify(&[("k1".to_owned(), PRIVATE_1.to_vec())]).unwrap_err();
    assert!(matches!(&err, KeyError::Invalid { key: KeyName::Kid(kid), .. } if kid == "k1"), "{err}");
}
