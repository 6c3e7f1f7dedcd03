//! Clockify's published token-signing key as a compiled-in default
//! (`addon-auth/src/generated/clockify_key.rs`), so the verifier (and the gateway) checks
//! real tokens with no configuration. Written by `cargo xtask regen --from`, from
//! the `clockify-public-key.pem` that sits beside the upstream spec; stored as
//! DER hex and turned back into PEM at run time.

use base64::Engine;

use crate::error::{CodegenError, Result};

pub const KEY_FILE: &str = "clockify-public-key.pem";
pub const ARTIFACT: &str = "addon-auth/src/generated/clockify_key.rs";

/// The DER bytes inside a `PUBLIC KEY` PEM.
pub fn der_of_pem(pem: &str) -> Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN PUBLIC KEY-----")
        .skip(1)
        .take_while(|l| *l != "-----END PUBLIC KEY-----")
        .collect();
    if body.is_empty() {
        return Err(CodegenError::Other(format!("{KEY_FILE}: no PUBLIC KEY block")));
    }
    base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| CodegenError::Other(format!("{KEY_FILE}: bad base64: {e}")))
}

pub fn generate(pem: &str) -> Result<String> {
    let der = der_of_pem(pem)?;
    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
    let tokens = quote::quote! {
        /// DER (SubjectPublicKeyInfo) of Clockify's published RSA key, in hex.
        pub const CLOCKIFY_PUBLIC_KEY_DER_HEX: &str = #hex;

        /// The key as PEM, for the token verifier's default.
        pub fn clockify_public_key_pem() -> String {
            use base64::Engine;
            let der: Vec<u8> = (0..CLOCKIFY_PUBLIC_KEY_DER_HEX.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&CLOCKIFY_PUBLIC_KEY_DER_HEX[i..i + 2], 16).ok())
                .collect();
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
            for chunk in b64.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                pem.push('\n');
            }
            pem.push_str("-----END PUBLIC KEY-----\n");
            pem
        }
    };
    crate::render::format_tokens("clockify_key.rs", tokens)
}
