//! Test helpers that mint Clockify-style tokens, honest and hostile.
//!
//! For tests only: the helpers panic on bad fixtures, so a broken key file
//! fails the test at once instead of producing a confusing rejection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Signs claims with an RSA private key, as Clockify (or a rotated or wrong
/// signer) would.
pub struct TokenFactory {
    key: EncodingKey,
    kid: Option<String>,
}

impl TokenFactory {
    /// Panics if `private_pem` is not an RSA private key PEM.
    pub fn new(private_pem: &[u8]) -> Self {
        let key = EncodingKey::from_rsa_pem(private_pem).expect("test fixture must be an RSA private key PEM");
        Self { key, kid: None }
    }

    /// Sets (or clears) the `kid` header of the tokens this factory signs.
    #[must_use]
    pub fn kid(mut self, kid: Option<&str>) -> Self {
        self.kid = kid.map(str::to_owned);
        self
    }

    /// An RS256 token, like every token Clockify sends.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_alg(Algorithm::RS256, claims)
    }

    /// Panics unless `alg` is RS256, RS384 or RS512.
    pub fn sign_with_alg(&self, alg: Algorithm, claims: &Value) -> String {
        assert!(
            matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512),
            "TokenFactory signs with RSA PKCS#1 v1.5 only, not {alg:?}"
        );
        let mut header = Header::new(alg);
        header.kid.clone_from(&self.kid);
        jsonwebtoken::encode(&header, claims, &self.key).expect("RSA signing failed")
    }

    /// RS256-signs an arbitrary payload (bad JSON, duplicate keys, …), to
    /// test what happens to content that passes the signature check.
    pub fn sign_payload_bytes(&self, payload: &[u8]) -> String {
        let mut header = json!({ "alg": "RS256", "typ": "JWT" });
        if let Some(kid) = &self.kid {
            header["kid"] = json!(kid);
        }
        let message = format!("{}.{}", b64_json(&header), URL_SAFE_NO_PAD.encode(payload));
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, Algorithm::RS256).expect("RSA signing failed");
        format!("{message}.{signature}")
    }
}

/// Builds a compact token from raw parts, without signing anything.
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!("{}.{}.{}", b64_json(header), b64_json(claims), URL_SAFE_NO_PAD.encode(signature))
}

/// `alg: none` with an empty signature: the classic "unsigned" forgery.
pub fn unsigned_none_token(claims: &Value) -> String {
    raw_token(&json!({ "alg": "none", "typ": "JWT" }), claims, b"")
}

/// HS256 keyed with the public key's PEM bytes: the algorithm-confusion
/// forgery that works against verifiers that trust the header's `alg`.
pub fn hs256_with_key_as_secret(public_pem: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(public_pem)).expect("HMAC signing cannot fail")
}

/// Flips one bit of the signature, keeping it valid base64url of the same
/// length, so only the cryptographic check can catch it.
pub fn tamper_signature(token: &str) -> String {
    let (message, signature) = token.rsplit_once('.').expect("token has three segments");
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("signature is base64url");
    match bytes.first_mut() {
        Some(first) => *first ^= 0x01,
        None => bytes.push(0),
    }
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Swaps in new claims but keeps the original header and signature.
pub fn tamper_payload(token: &str, new_claims: &Value) -> String {
    let mut parts = token.splitn(3, '.');
    let (Some(header), Some(_), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("token has three segments");
    };
    format!("{header}.{}.{signature}", b64_json(new_claims))
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON values always serialize"))
}

/// The directory of this repository's test key pairs (`testkit/keys`).
pub fn keys_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keys")
}

/// A key file from [`keys_dir`], e.g. `test-rsa-private.pem`.
pub fn key(name: &str) -> Vec<u8> {
    let p = keys_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
