//! Who may do what: API tokens with `read` and `operate` scopes (from the config's
//! `[[api.tokens]]`, whose values come from the environment, and from
//! `PALISADE_API_OPERATE_TOKEN` / `PALISADE_API_READ_TOKEN`), and the public read-only mode.

use super::{ApiError, ApiState};
use crate::config::{ApiConfig, ApiScope};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use palisade_alert::SecretString;

/// The tokens and the mode, built once at start.
#[derive(Debug, Default)]
pub(crate) struct Access {
    /// Public read-only mode: nothing can be changed.
    pub(crate) read_only: bool,
    tokens: Vec<(String, ApiScope, SecretString)>,
}

impl Access {
    /// From `[api]` and the environment. Tokens whose variable is unset are left out (and said).
    pub(crate) fn from_config(c: &ApiConfig) -> Self {
        let mut tokens = Vec::new();
        for t in &c.tokens {
            if let Some(var) = t.token.unset_env() {
                tracing::warn!(target: "palisade::api", token = %t.name, variable = %var, "API token variable is not set; that token is off.");
                continue;
            }
            if t.token.expose().len() < 16 {
                tracing::warn!(target: "palisade::api", token = %t.name, "API token is shorter than 16 characters; that token is off.");
                continue;
            }
            tokens.push((t.name.clone(), t.scope, t.token.clone()));
        }
        for (var, name, scope) in [
            ("PALISADE_API_OPERATE_TOKEN", "operator", ApiScope::Operate),
            ("PALISADE_API_READ_TOKEN", "reader", ApiScope::Read),
        ] {
            if let Ok(v) = std::env::var(var) {
                if v.len() >= 16 {
                    tokens.push((name.to_string(), scope, SecretString::new(v)));
                } else {
                    tracing::warn!(target: "palisade::api", variable = %var, "API token is shorter than 16 characters; it is off.");
                }
            }
        }
        Self { read_only: c.read_only, tokens }
    }

    /// Reads need a token when a `read` token is configured (and not in public read-only mode).
    pub(crate) fn reads_need_token(&self) -> bool {
        !self.read_only && self.tokens.iter().any(|(_, s, _)| *s == ApiScope::Read)
    }

    /// Changes are possible at all: not read-only, and an `operate` token exists.
    pub(crate) fn writes_enabled(&self) -> bool {
        !self.read_only && self.tokens.iter().any(|(_, s, _)| *s == ApiScope::Operate)
    }

    /// The token `given` matches, compared in constant time per token.
    fn find(&self, given: &str) -> Option<(&str, ApiScope)> {
        let mut found = None;
        for (name, scope, t) in &self.tokens {
            if ct_eq(t.expose().as_bytes(), given.as_bytes()) && found.is_none() {
                found = Some((name.as_str(), *scope));
            }
        }
        found
    }

    /// Who changes something: the caller's token name, when it may.
    pub(crate) fn may_change(&self, c: &Caller) -> Result<String, ApiError> {
        if self.read_only {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "read-only mode: nothing can be changed through this API".into(),
            ));
        }
        if !self.writes_enabled() {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "changes are off: no operate token is configured ([[api.tokens]] or PALISADE_API_OPERATE_TOKEN)".into(),
            ));
        }
        match (&c.name, c.scope) {
            (Some(n), Some(ApiScope::Operate)) => Ok(n.clone()),
            (Some(_), _) => Err(ApiError(
                StatusCode::FORBIDDEN,
                "this token has the read scope; changes need an operate token".into(),
            )),
            (None, _) => Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "changes need an operate token: Authorization: Bearer TOKEN".into(),
            )),
        }
    }
}

/// Constant-time equality (no early exit on the first differing byte).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// The caller, from `Authorization: Bearer TOKEN` (or `access_token=` in the query, for the
/// browser's EventSource, which cannot set headers). Refused with 401 when a token is given
/// and unknown, or when reads need one and none is given.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    /// The token's name.
    pub(crate) name: Option<String>,
    /// Its scope.
    pub(crate) scope: Option<ApiScope>,
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &ApiState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string());
        let query = parts.uri.query().and_then(|q| {
            q.split('&').find_map(|kv| kv.strip_prefix("access_token=").map(str::to_string))
        });
        let given = header.or(query).filter(|t| !t.is_empty());
        let Some(given) = given else {
            if s.access.reads_need_token() {
                return Err(ApiError(
                    StatusCode::UNAUTHORIZED,
                    "this API needs a token: Authorization: Bearer TOKEN".into(),
                ));
            }
            return Ok(Self::default());
        };
        match s.access.find(&given) {
            Some((name, scope)) => Ok(Self { name: Some(name.to_string()), scope: Some(scope) }),
            None => Err(ApiError(StatusCode::UNAUTHORIZED, "unknown token".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(ct_eq(b"abcdefgh", b"abcdefgh"));
        assert!(!ct_eq(b"abcdefgh", b"abcdefgx"));
        assert!(!ct_eq(b"abcdefgh", b"abcdefg"));
        assert!(!ct_eq(b"abc", b"abcdefgh"));
        assert!(!ct_eq(b"", b"a"));
        assert!(ct_eq(b"", b""));
    }
}
