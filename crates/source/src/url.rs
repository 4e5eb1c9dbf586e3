use std::fmt;

/// A URL whose path, query and credentials are hidden when displayed or debug-printed, because
/// RPC providers put API keys there.
#[derive(Clone, PartialEq, Eq)]
pub struct SensitiveUrl {
    full: String,
    redacted: String,
}

impl SensitiveUrl {
    /// Parses and redacts a URL (`http`, `https`, `ws`, `wss`). An error never repeats any part
    /// of the text: a URL that does not parse may still carry a key or a password.
    pub fn parse(s: &str) -> Result<Self, String> {
        const NOT_SHOWN: &str = "(the value is not shown: it may hold a secret)";
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            format!(
                "not a URL: it does not start with http://, https://, ws:// or wss:// {NOT_SHOWN}"
            )
        })?;
        if !matches!(scheme, "http" | "https" | "ws" | "wss") {
            return Err(format!(
                "unsupported URL scheme: use http://, https://, ws:// or wss:// {NOT_SHOWN}"
            ));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or("");
        if host.is_empty() {
            return Err(format!("URL has no host {NOT_SHOWN}"));
        }
        let bad_host = host.chars().any(|c| c.is_whitespace() || c.is_control())
            || host.starts_with(':')
            || host.rsplit_once(':').is_some_and(|(_, port)| {
                !port.ends_with(']') && (port.is_empty() || port.parse::<u16>().is_err())
            });
        if bad_host {
            return Err(format!("URL has a malformed host or port {NOT_SHOWN}"));
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

    /// Issue 11, defect 8: a URL that fails to parse is never echoed, not even in part.
    #[test]
    fn errors_never_show_any_part_of_the_url() {
        for bad in [
            "rpcpath983ae1c0ffee/v2/KEY",
            "alice:hunter2pass@rpc.example.com/v2/KEY",
            "alice:hunter2pass@rpc.example.com:8545",
            "user:secretpw://host",
            "https://",
            "https://alice:hunter2pass@:8545/KEY",
            "https://rpc.example.com:port1234/KEY",
        ] {
            let e = SensitiveUrl::parse(bad).unwrap_err();
            for part in ["rpcpath", "alice", "hunter2", "KEY", "secretpw", "example", "port1234"] {
                assert!(!e.contains(part), "{bad:?} -> {e}");
            }
        }
    }
}
