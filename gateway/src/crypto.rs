//! Secrets at rest: installation and webhook tokens are sealed with
//! XChaCha20-Poly1305 before they reach the database. The workspace and the
//! purpose are bound in as associated data, so a sealed token copied into
//! another row or column does not open.
//!
//! A sealed secret starts with the id of the key that sealed it (the first
//! 8 bytes of a SHA-256 of the key), so keys can be rotated: the current
//! key (`ENCRYPTION_KEY`) seals, old keys (`ENCRYPTION_KEYS`) only open,
//! and the re-encryption job moves every secret to the current key. Secrets
//! sealed before key ids existed (no prefix) are opened by trying the keys.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::config::EncryptionKey;

const NONCE_LEN: usize = 24;
/// Marks a sealed secret that names its key.
const MAGIC: &[u8; 4] = b"ck2\0";
const KID_LEN: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("a stored secret does not decrypt (wrong ENCRYPTION_KEY, or the row was tampered with)")]
    Open,
    #[error("a stored secret is sealed with key id {kid}, which neither ENCRYPTION_KEY nor ENCRYPTION_KEYS holds (key ids: {known})")]
    UnknownKey { kid: String, known: String },
    #[error("cannot encrypt a secret")]
    Seal,
    #[error("encryption key file {path}: {problem}")]
    KeyFile { path: PathBuf, problem: String },
}

/// One key and its id.
#[derive(Clone)]
struct Keyed {
    kid: [u8; KID_LEN],
    cipher: XChaCha20Poly1305,
}

impl Keyed {
    fn new(key: &EncryptionKey) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest([b"clockify-gateway key id\0".as_slice(), &key.0].concat());
        let mut kid = [0u8; KID_LEN];
        kid.copy_from_slice(&digest[..KID_LEN]);
        Self { kid, cipher: XChaCha20Poly1305::new((&key.0).into()) }
    }

    fn open(&self, nonce_and_ct: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if nonce_and_ct.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = nonce_and_ct.split_at(NONCE_LEN);
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad }).ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The id of `key` as sealed secrets and logs name it (16 hex digits).
pub fn key_id(key: &EncryptionKey) -> String {
    hex(&Keyed::new(key).kid)
}

#[derive(Clone)]
pub struct SecretBox {
    current: Keyed,
    old: Vec<Keyed>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn new(key: &EncryptionKey) -> Self {
        Self::with_old_keys(key, &[])
    }

    /// Seals with `current`; opens what `current` or any of `old` sealed.
    pub fn with_old_keys(current: &EncryptionKey, old: &[EncryptionKey]) -> Self {
        let current = Keyed::new(current);
        let old = old.iter().map(Keyed::new).filter(|k| k.kid != current.kid).collect();
        Self { current, old }
    }

    /// The current key's id.
    pub fn key_id(&self) -> String {
        hex(&self.current.kid)
    }

    /// `MAGIC || key id || nonce || ciphertext`.
    pub fn seal(&self, plaintext: &str, workspace_id: &str, purpose: &str) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::Seal)?;
        let aad = aad(workspace_id, purpose);
        let ct = self
            .current
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: &aad })
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(MAGIC.len() + KID_LEN + NONCE_LEN + ct.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.current.kid);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], workspace_id: &str, purpose: &str) -> Result<String, CryptoError> {
        let aad = aad(workspace_id, purpose);
        let keys = || std::iter::once(&self.current).chain(&self.old);
        if let Some(rest) = sealed.strip_prefix(MAGIC.as_slice())
            && rest.len() >= KID_LEN
        {
            let (kid, nonce_and_ct) = rest.split_at(KID_LEN);
            let Some(key) = keys().find(|k| k.kid == kid) else {
                return Err(CryptoError::UnknownKey { kid: hex(kid), known: keys().map(|k| hex(&k.kid)).collect::<Vec<_>>().join(", ") });
            };
            let pt = key.open(nonce_and_ct, &aad).ok_or(CryptoError::Open)?;
            return String::from_utf8(pt).map_err(|_| CryptoError::Open);
        }
        // Sealed before key ids: whichever key opens it.
        let pt = keys().find_map(|k| k.open(sealed, &aad)).ok_or(CryptoError::Open)?;
        String::from_utf8(pt).map_err(|_| CryptoError::Open)
    }

    /// Whether `sealed` is sealed with the current key (nothing to re-encrypt).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.strip_prefix(MAGIC.as_slice()).is_some_and(|rest| rest.starts_with(&self.current.kid))
    }
}

fn aad(workspace_id: &str, purpose: &str) -> Vec<u8> {
    format!("clockify-gateway/v1\0{workspace_id}\0{purpose}").into_bytes()
}

/// The key file used beside an SQLite database when no ENCRYPTION_KEY is set.
pub fn key_file_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".key");
    db.with_file_name(name)
}

/// Reads the key file, or creates it (mode 0600) with a fresh random key.
pub fn load_or_create_key_file(path: &Path) -> Result<EncryptionKey, CryptoError> {
    use base64::Engine;
    let err = |problem: String| CryptoError::KeyFile { path: path.to_owned(), problem };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_private(path)?;
            return text.parse::<EncryptionKey>().map_err(err);
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e.to_string())),
        Err(_) => {}
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| err(e.to_string()))?;
    let text = base64::engine::general_purpose::STANDARD.encode(key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(mut f) => {
            std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| err(e.to_string()))?;
            Ok(EncryptionKey(key))
        }
        // Another instance created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            check_private(path)?;
            text.parse().map_err(err)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// An existing key file must be its owner's alone: a key others can read
/// opens every sealed token. Startup stops, naming the file, its mode and the fix.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), CryptoError> {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        std::fs::metadata(path).map_err(|e| CryptoError::KeyFile { path: path.to_owned(), problem: e.to_string() })?.permissions().mode()
            & 0o777;
    if mode & 0o077 != 0 {
        return Err(CryptoError::KeyFile {
            path: path.to_owned(),
            problem: format!("mode {mode:04o} lets group or others read or change the key; run `chmod 600 {}`", path.display()),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), CryptoError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> SecretBox {
        SecretBox::new(&EncryptionKey([7; 32]))
    }

    #[test]
    fn seal_then_open_and_nothing_readable_in_between() {
        let sealed = sb().seal("eyJ.secret.token", "ws1", "installation").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(sb().open(&sealed, "ws1", "installation").unwrap(), "eyJ.secret.token");
    }

    #[test]
    fn another_workspace_purpose_or_key_does_not_open() {
        let sealed = sb().seal("t", "ws1", "installation").unwrap();
        assert!(sb().open(&sealed, "ws2", "installation").is_err());
        assert!(sb().open(&sealed, "ws1", "webhook:NEW_TAG").is_err());
        assert!(SecretBox::new(&EncryptionKey([8; 32])).open(&sealed, "ws1", "installation").is_err());
        assert!(sb().open(&sealed[..10], "ws1", "installation").is_err());
    }

    #[test]
    fn old_keys_open_the_current_key_seals_and_an_unknown_key_is_named() {
        let (a, b, c) = (EncryptionKey([1; 32]), EncryptionKey([2; 32]), EncryptionKey([3; 32]));
        let under_a = SecretBox::new(&a).seal("t", "ws1", "installation").unwrap();
        let rotated = SecretBox::with_old_keys(&b, std::slice::from_ref(&a));
        assert!(!rotated.is_current(&under_a));
        assert_eq!(rotated.open(&under_a, "ws1", "installation").unwrap(), "t");
        let under_b = rotated.seal("t", "ws1", "installation").unwrap();
        assert!(rotated.is_current(&under_b));
        assert_eq!(rotated.open(&under_b, "ws1", "installation").unwrap(), "t");

        let err = SecretBox::new(&c).open(&under_a, "ws1", "installation").unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&key_id(&a)) && message.contains(&key_id(&c)), "{message}");
        assert!(matches!(err, CryptoError::UnknownKey { .. }));
    }

    #[test]
    fn secrets_sealed_before_key_ids_still_open_with_any_listed_key() {
        let a = EncryptionKey([1; 32]);
        let keyed = Keyed::new(&a);
        let nonce = [9u8; NONCE_LEN];
        let aad = aad("ws1", "installation");
        let ct = keyed.cipher.encrypt(XNonce::from_slice(&nonce), Payload { msg: b"legacy", aad: &aad }).unwrap();
        let legacy = [nonce.as_slice(), &ct].concat();
        let rotated = SecretBox::with_old_keys(&EncryptionKey([2; 32]), &[a]);
        assert_eq!(rotated.open(&legacy, "ws1", "installation").unwrap(), "legacy");
        assert!(!rotated.is_current(&legacy), "a legacy secret is re-encrypted");
        assert!(SecretBox::new(&EncryptionKey([2; 32])).open(&legacy, "ws1", "installation").is_err());
    }

    #[test]
    fn the_generated_key_file_is_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("gw-key-{}", uuid::Uuid::new_v4()));
        let path = key_file_for(&dir.join("gateway.db"));
        assert!(path.ends_with("gateway.db.key"));
        let a = load_or_create_key_file(&path).unwrap();
        let b = load_or_create_key_file(&path).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_key_file_others_can_read_stops_startup_naming_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gw-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.db.key");
        std::fs::write(&path, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create_key_file(&path).unwrap_err().to_string();
        let shown = path.display().to_string();
        assert!(e.contains(&shown) && e.contains("0644") && e.contains(&format!("chmod 600 {shown}")), "{e}");
        for open in [0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(open)).unwrap();
            assert!(load_or_create_key_file(&path).is_err(), "{open:o}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_or_create_key_file(&path).unwrap(), EncryptionKey([0; 32]));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(load_or_create_key_file(&path).unwrap(), EncryptionKey([0; 32]), "read-only for its owner is fine");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
