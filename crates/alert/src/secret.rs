use serde::{Deserialize, Serialize};
use std::fmt;

/// A secret (webhook URL with a token, HMAC key): never printed by `Debug`, `Display` or
/// serialization. In config files it is a literal string or `{ env = "VAR" }`.
///
/// A variable that is not set does not fail the parse: commands that never use the secret
/// (`status`, `alerts`, `record`) read the config without it, and [`SecretString::unset_env`]
/// lets `run` and `validate` refuse it with the variable's name.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString {
    value: String,
    unset_env: Option<String>,
}

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self { value: s.into(), unset_env: None }
    }

    /// The secret itself, for use (never for logging). Empty when its variable is unset.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The environment variable it names, when that variable was not set at load.
    pub fn unset_env(&self) -> Option<&str> {
        self.unset_env.as_deref()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Literal(String),
            Env { env: String },
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a string or { env = \"VARIABLE\" }"))?
        {
            Raw::Literal(s) => Ok(Self::new(s)),
            Raw::Env { env } => Ok(match std::env::var(&env) {
                Ok(v) => Self::new(v),
                Err(_) => Self { value: String::new(), unset_env: Some(env) },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_secret() {
        let s = SecretString::new("hunter2");
        assert!(!format!("{s:?}{s}").contains("hunter2"));
        assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
    }

    #[test]
    fn an_unset_variable_is_named_not_failed() {
        let s: SecretString =
            serde_json::from_str(r#"{"env": "PALISADE_TEST_SURELY_UNSET_VAR"}"#).unwrap();
        assert_eq!(s.unset_env(), Some("PALISADE_TEST_SURELY_UNSET_VAR"));
        assert_eq!(s.expose(), "");
        let s: SecretString = serde_json::from_str(r#"{"env": "PATH"}"#).unwrap();
        assert_eq!(s.unset_env(), None);
        assert!(!s.expose().is_empty());
    }
}
