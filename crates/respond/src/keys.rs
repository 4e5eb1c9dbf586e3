//! Signing keys of responders: an encrypted JSON keystore (Web3 Secret Storage) with its password
//! in an environment variable; a plaintext key only on a chain flagged as a local test chain.
//!
//! Neither the password nor the key is ever logged, printed, stored or put in an error: errors
//! name the file and the variable, never their content.

use crate::RespondError;
use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where a responder's key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// An encrypted JSON keystore (Web3 Secret Storage, as written by geth, cast or clef).
    #[serde(default)]
    pub keystore: Option<PathBuf>,
    /// The environment variable holding the keystore's password (required with `keystore`).
    #[serde(default)]
    pub password_env: Option<String>,
    /// The environment variable holding a plaintext private key: refused unless
    /// `local_test_chain` is set.
    #[serde(default)]
    pub private_key_env: Option<String>,
    /// Says the chain is a local test chain (anvil, a devnet), where a plaintext key is allowed.
    #[serde(default)]
    pub local_test_chain: bool,
}

/// A loaded key: signs, and says its address; its `Debug` shows only the address.
#[derive(Clone)]
pub struct Key {
    signer: std::sync::Arc<PrivateKeySigner>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.signer.address())
    }
}

impl Key {
    /// The key's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    pub(crate) fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }
}

impl KeyConfig {
    /// Checks the config without reading secrets: exactly one source, a password variable for a
    /// keystore, a plaintext key only on a local test chain.
    pub fn check(&self, responder: &str) -> Result<(), RespondError> {
        let err = |field: &str, reason: &str| RespondError::Config {
            responder: responder.into(),
            field: field.into(),
            reason: reason.into(),
        };
        match (&self.keystore, &self.private_key_env) {
            (Some(_), Some(_)) => Err(err("key.keystore", "give a keystore or a private_key_env, not both")),
            (None, None) => Err(err("key.keystore", "a pause_tx responder needs a keystore")),
            (Some(_), None) if self.password_env.is_none() => {
                Err(err("key.password_env", "name the environment variable that holds the keystore's password"))
            }
            (None, Some(_)) if !self.local_test_chain => Err(err(
                "key.private_key_env",
                "a plaintext private key is refused: use an encrypted keystore, or set local_test_chain = true on a local test chain",
            )),
            _ => Ok(()),
        }
    }

    /// Loads the key (decrypting the keystore with the password from the environment).
    pub fn load(&self, responder: &str) -> Result<Key, RespondError> {
        self.check(responder)?;
        let key_err = |reason: String| RespondError::Key { responder: responder.into(), reason };
        let env = |var: &str| {
            std::env::var(var)
                .map_err(|_| key_err(format!("environment variable {var} is not set")))
        };
        let signer = if let Some(path) = &self.keystore {
            let var = self.password_env.as_deref().unwrap_or_default();
            let password = env(var)?;
            PrivateKeySigner::decrypt_keystore(path, password.as_bytes()).map_err(|e| {
                // The error names the file; the keystore library's message carries no secret
                // (a MAC mismatch, a parse error), but keep only its kind to be sure.
                let kind = match e {
                    alloy_signer_local::LocalSignerError::EthKeystoreError(
                        eth_keystore::KeystoreError::MacMismatch,
                    ) => "wrong password (MAC mismatch)".to_string(),
                    alloy_signer_local::LocalSignerError::EthKeystoreError(
                        eth_keystore::KeystoreError::StdIo(io),
                    ) => format!("cannot read the file: {io}"),
                    alloy_signer_local::LocalSignerError::EthKeystoreError(
                        eth_keystore::KeystoreError::SerdeJson(_),
                    ) => "not a JSON keystore".to_string(),
                    _ => "cannot decrypt the keystore".to_string(),
                };
                key_err(format!("keystore {}: {kind}", path.display()))
            })?
        } else {
            let var = self.private_key_env.as_deref().unwrap_or_default();
            let hex = env(var)?;
            hex.trim().parse::<PrivateKeySigner>().map_err(|_| {
                key_err(format!("environment variable {var} does not hold a private key"))
            })?
        };
        Ok(Key { signer: std::sync::Arc::new(signer) })
    }
}

/// A random keystore password (24 bytes from the OS's generator, hex).
pub fn random_password() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    alloy_primitives::hex::encode(b)
}

/// Writes `secret` as an encrypted JSON keystore named `name` in `dir` (scrypt, as geth
/// writes them) and returns its path. For tests and the demo: production keys are made with
/// geth, cast or clef.
pub fn write_keystore(
    dir: &std::path::Path,
    secret: &[u8],
    password: &str,
    name: &str,
) -> Result<PathBuf, RespondError> {
    PrivateKeySigner::encrypt_keystore(dir, &mut rand::thread_rng(), secret, password, Some(name))
        .map_err(|_| RespondError::Key {
            responder: "keystore".into(),
            reason: format!("cannot write {}", dir.join(name).display()),
        })?;
    Ok(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

    #[test]
    fn a_plaintext_key_needs_the_local_test_chain_flag() {
        std::env::set_var("PALISADE_TEST_PLAIN_KEY", TEST_KEY);
        let mut k = KeyConfig {
            keystore: None,
            password_env: None,
            private_key_env: Some("PALISADE_TEST_PLAIN_KEY".into()),
            local_test_chain: false,
        };
        let e = k.load("pause").unwrap_err().to_string();
        assert!(e.contains("refused"), "{e}");
        assert!(!e.contains(&TEST_KEY[2..]), "the key leaked: {e}");
        k.local_test_chain = true;
        let key = k.load("pause").unwrap();
        assert_eq!(
            key.address(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse::<Address>().unwrap()
        );
        assert!(!format!("{key:?}").contains(&TEST_KEY[2..]));
    }

    #[test]
    fn a_keystore_decrypts_with_its_password_and_errors_never_show_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let password = "correct horse battery staple";
        let secret = alloy_primitives::hex::decode(TEST_KEY).unwrap();
        let path = write_keystore(dir.path(), &secret, password, "guardian.json").unwrap();
        std::env::set_var("PALISADE_TEST_KS_PASSWORD", password);
        let k = KeyConfig {
            keystore: Some(path.clone()),
            password_env: Some("PALISADE_TEST_KS_PASSWORD".into()),
            private_key_env: None,
            local_test_chain: false,
        };
        assert_eq!(
            k.load("pause").unwrap().address(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse::<Address>().unwrap()
        );
        std::env::set_var("PALISADE_TEST_KS_WRONG", "hunter2");
        let wrong = KeyConfig { password_env: Some("PALISADE_TEST_KS_WRONG".into()), ..k.clone() };
        let e = wrong.load("pause").unwrap_err().to_string();
        assert!(e.contains("wrong password") && e.contains("guardian.json"), "{e}");
        assert!(!e.contains("hunter2") && !e.contains(password), "{e}");
        let unset = KeyConfig { password_env: Some("PALISADE_TEST_KS_UNSET".into()), ..k };
        assert!(unset
            .load("pause")
            .unwrap_err()
            .to_string()
            .contains("PALISADE_TEST_KS_UNSET is not set"));
    }
}
