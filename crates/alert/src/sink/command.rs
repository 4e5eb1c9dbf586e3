//! The command sink: runs a program for each notification with its JSON (the webhook payload)
//! on standard input, like OpenZeppelin Monitor's scripts. The program is run directly from its
//! argument list, never through a shell; it must exit 0 within the timeout.

use super::{AlertSink, Notification};
use crate::{AlertError, Result};
use futures::future::BoxFuture;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Runs `command` with the notification's JSON on stdin.
#[derive(Debug)]
pub struct Command {
    id: String,
    argv: Vec<String>,
    timeout: Duration,
}

impl Command {
    /// Builds the sink; `argv` is the program and its arguments.
    pub fn new(id: String, argv: Vec<String>, timeout_ms: u64) -> Result<Self> {
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(AlertError::SinkConfig {
                sink: id,
                reason: "command must name a program: [\"/path/to/program\", \"arg\", ...]".into(),
            });
        }
        Ok(Self { id, argv, timeout: Duration::from_millis(timeout_ms.max(1)) })
    }

    fn err(&self, reason: impl Into<String>) -> AlertError {
        AlertError::Sink { sink: self.id.clone(), reason: reason.into() }
    }

    async fn run(&self, input: Vec<u8>) -> Result<()> {
        let mut child = tokio::process::Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.err(format!("cannot run {}: {e}", self.argv[0])))?;
        let mut stdin = child.stdin.take();
        let work = async {
            if let Some(s) = stdin.as_mut() {
                // A program that does not read its input is fine.
                let _ = s.write_all(&input).await;
                let _ = s.shutdown().await;
            }
            drop(stdin);
            child.wait_with_output().await
        };
        let out = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| {
                self.err(format!(
                    "{} did not finish within {} ms",
                    self.argv[0],
                    self.timeout.as_millis()
                ))
            })?
            .map_err(|e| self.err(format!("{}: {e}", self.argv[0])))?;
        if out.status.success() {
            Ok(())
        } else {
            let said = String::from_utf8_lossy(&out.stderr);
            let said: String = said.trim().chars().take(200).collect();
            Err(self.err(format!("{} exited with {}: {said}", self.argv[0], out.status)))
        }
    }
}

impl AlertSink for Command {
    fn id(&self) -> &str {
        &self.id
    }

    fn healthcheck(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let p = std::path::Path::new(&self.argv[0]);
            let found = if p.components().count() > 1 {
                p.exists()
            } else {
                std::env::var_os("PATH")
                    .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).exists()))
            };
            if found {
                Ok(())
            } else {
                Err(self.err(format!("program {} not found", self.argv[0])))
            }
        })
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut body = serde_json::to_vec(&n.payload()).map_err(|e| self.err(e.to_string()))?;
            body.push(b'\n');
            self.run(body).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64) -> Command {
        Command::new("cmd".into(), vec!["sh".into(), "-c".into(), script.into()], timeout_ms)
            .unwrap()
    }

    /// The alert reaches the program as JSON on stdin; a failure quotes its stderr; a program
    /// that hangs is stopped at the timeout; a missing program fails the start-up check.
    #[tokio::test]
    async fn runs_the_program_with_the_alert_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("got.json");
        let n = Notification::test();
        sh(&format!("cat > '{}'", out.display()), 5000).deliver(&n).await.unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(v["detector"], "palisade:test");
        assert_eq!(v["action"], "alert");
        let e = sh("echo 'pager down' >&2; exit 3", 5000).deliver(&n).await.unwrap_err();
        assert!(e.to_string().contains("pager down") && e.to_string().contains('3'), "{e}");
        let t = std::time::Instant::now();
        let e = sh("sleep 5", 300).deliver(&n).await.unwrap_err();
        assert!(e.to_string().contains("300 ms"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
        let missing = Command::new("cmd".into(), vec!["/nonexistent/notify".into()], 1000).unwrap();
        assert!(missing.healthcheck().await.is_err());
        assert!(sh("true", 1000).healthcheck().await.is_ok());
        assert!(Command::new("cmd".into(), vec![], 1000).is_err());
    }
}
