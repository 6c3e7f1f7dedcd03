//! Public keys: parsing and checking PEM (RSA, at least 2048 bits, never a
//! private key), the primary key and extra keys by `kid`, and a directory of
//! extra keys.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};

use crate::Algorithm;

/// Clockify's key is RSA-2048; anything smaller is a misconfiguration.
const MIN_RSA_MODULUS_BITS: usize = 2048;

/// Which configured key an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyName {
    /// The primary (Clockify-published, kid-less) key.
    Primary,
    /// An extra rotation key, by its `kid`.
    Kid(String),
    /// A key file in the extra-keys directory.
    File(PathBuf),
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Primary => f.write_str("primary key"),
            Self::Kid(kid) => write!(f, "extra key `{kid}`"),
            Self::File(path) => write!(f, "key file {}", path.display()),
        }
    }
}

/// A configured public key could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{key} is not a usable RSA public key: {detail}")]
    Invalid { key: KeyName, detail: String },
    #[error("extra key id `{0}` is configured more than once")]
    DuplicateKid(String),
    #[error("key file {} has no usable key id (the file stem must be non-empty UTF-8)", .0.display())]
    BadKid(PathBuf),
}

/// Parsed public keys: the kid-less primary key and optional rotation keys.
#[derive(Clone)]
pub struct VerifierKeys {
    pub(crate) primary: DecodingKey,
    pub(crate) extra: Vec<(String, DecodingKey)>,
}

impl VerifierKeys {
    /// Parses the primary key and every `(kid, pem)` extra key, failing on
    /// the first one that is not an RSA public key (the error names it).
    pub fn from_pem(primary_pem: &[u8], extra: &[(String, Vec<u8>)]) -> Result<Self, KeyError> {
        let primary = parse_public_key(primary_pem, KeyName::Primary)?;
        let mut parsed: Vec<(String, DecodingKey)> = Vec::with_capacity(extra.len());
        for (kid, pem) in extra {
            if parsed.iter().any(|(k, _)| k == kid) {
                return Err(KeyError::DuplicateKid(kid.clone()));
            }
            let key = parse_public_key(pem, KeyName::Kid(kid.clone()))?;
            parsed.push((kid.clone(), key));
        }
        Ok(Self { primary, extra: parsed })
    }

    /// Clockify's published key (compiled in, see
    /// [`clockify_public_key_pem`](crate::clockify_public_key_pem)) as the
    /// primary key, plus `(kid, pem)` extra keys. Tokens without a `kid`
    /// (every token Clockify sends) are checked against Clockify's key; a
    /// token with a `kid` against the extra key of that id.
    pub fn clockify(extra: &[(String, Vec<u8>)]) -> Result<Self, KeyError> {
        Self::from_pem(crate::clockify_public_key_pem().as_bytes(), extra)
    }

    /// The configured extra key ids, for startup logging.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.extra.iter().map(|(kid, _)| kid.as_str())
    }
}

impl fmt::Debug for VerifierKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierKeys").field("extra_kids", &self.kids().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

fn parse_public_key(pem: &[u8], name: KeyName) -> Result<DecodingKey, KeyError> {
    let invalid = |detail: String| KeyError::Invalid { key: name.clone(), detail };
    // `from_rsa_pem` happily accepts private keys and certificates, and never
    // parses the RSA structure itself; a wrong file would then only show up
    // as every token failing `signature`. Check it all here, once.
    if pem.windows(b"PRIVATE KEY".len()).any(|w| w == b"PRIVATE KEY") {
        return Err(invalid("this is a private key; configure the public key".into()));
    }
    let key = DecodingKey::from_rsa_pem(pem).map_err(|e| invalid(e.to_string()))?;
    // Converting to a JWK makes the crypto backend parse n and e for real.
    let jwk = Jwk::from_decoding_key(&key, Some(Algorithm::RS256)).map_err(|e| invalid(e.to_string()))?;
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err(invalid("not an RSA key".into()));
    };
    let modulus = URL_SAFE_NO_PAD.decode(&rsa.n).map_err(|e| invalid(format!("bad modulus encoding: {e}")))?;
    let bits = modulus_bits(&modulus);
    if bits < MIN_RSA_MODULUS_BITS {
        return Err(invalid(format!("RSA modulus is {bits} bits, at least {MIN_RSA_MODULUS_BITS} required")));
    }
    Ok(key)
}

fn modulus_bits(be_bytes: &[u8]) -> usize {
    let significant = match be_bytes.iter().position(|&b| b != 0) {
        Some(i) => &be_bytes[i..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

/// Reads every `*.pem` file of `dir` as an extra key whose `kid` is the file
/// stem (`k2.pem` → `k2`), sorted by kid. Contents are checked here too, so a
/// bad file is reported by its path rather than by kid later.
pub fn load_extra_keys_dir(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, KeyError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Read { path, source }
    };
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let path = entry.map_err(read_err(dir))?.path();
        if path.extension().is_none_or(|ext| ext != "pem") || !path.is_file() {
            continue;
        }
        let kid = match path.file_stem().and_then(|s| s.to_str()) {
            Some(kid) if !kid.is_empty() => kid.to_owned(),
            _ => return Err(KeyError::BadKid(path)),
        };
        let pem = std::fs::read(&path).map_err(read_err(&path))?;
        parse_public_key(&pem, KeyName::File(path.clone()))?;
        keys.push((kid, pem));
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keys)
}
