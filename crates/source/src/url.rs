use std::fmt;

/// A URL whose path, query and credentials are hidden when displayed or debug-printed, because
/// RPC providers put API keys there.
#[derive(Clone, PartialEq, Eq)]
pub struct SensitiveUrl {
    full: String,
    redacted: String,
}

impl SensitiveUrl {
    /// Parses and redacts a URL (`http`, `https`, `ws`, `wss`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (scheme, rest) =
            s.split_once("://").ok_or_else(|| format!("not a URL (no scheme): {}", redact(s)))?;
        if !matches!(scheme, "http" | "https" | "ws" | "wss") {
            return Err(format!("unsupported URL scheme {scheme:?}"));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or("");
        if host.is_empty() {
            return Err("URL has no host".into());
        }
        let hidden = rest.len() > authority.len() + 1 || authority.contains('@');
        let redacted = format!("{scheme}://{host}{}", if hidden { "/<redacted>" } else { "" });
        Ok(Self { full: s.to_string(), redacted })
    }

    /// The full URL, for making requests only. Never log it.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// The scheme.
    pub fn scheme(&self) -> &str {
        self.full.split("://").next().unwrap_or("")
    }
}

fn redact(s: &str) -> String {
    s.chars().take(12).collect::<String>() + "…"
}

impl fmt::Display for SensitiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for SensitiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SensitiveUrl({})", self.redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_keys() {
        let u = SensitiveUrl::parse("https://user:pw@eth.example.com/v2/SECRETKEY?x=1").unwrap();
        assert_eq!(u.to_string(), "https://eth.example.com/<redacted>");
        assert!(!format!("{u:?}").contains("SECRET"));
        assert!(!format!("{u:?}").contains("pw"));
        assert_eq!(
            SensitiveUrl::parse("http://127.0.0.1:8545").unwrap().to_string(),
            "http://127.0.0.1:8545"
        );
        assert!(SensitiveUrl::parse("ftp://x").is_err());
        assert!(SensitiveUrl::parse("nonsense").is_err());
    }
}
