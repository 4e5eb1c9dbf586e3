//! Email over SMTP submission with STARTTLS (lettre): the alert's line as the subject, its
//! details and JSON in the body.

use super::{AlertSink, EmailConfig, Notification};
use crate::{AlertError, Result, SecretString};
use futures::future::BoxFuture;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// An email sink.
pub struct Email {
    id: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    host: String,
    port: u16,
    tls: TlsParameters,
    username: Option<String>,
    password: Option<SecretString>,
    timeout: Duration,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("id", &self.id)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl Email {
    /// Builds the sink: addresses are parsed and the CA file read now, so a mistake is a
    /// config error at start.
    pub fn new(id: String, c: &EmailConfig, data_dir: &std::path::Path) -> Result<Self> {
        let bad = |reason: String| AlertError::SinkConfig { sink: id.clone(), reason };
        let from: Mailbox = c.from.parse().map_err(|e| bad(format!("from {:?}: {e}", c.from)))?;
        if c.to.is_empty() {
            return Err(bad("to: give at least one recipient".into()));
        }
        let to =
            c.to.iter()
                .map(|t| t.parse::<Mailbox>().map_err(|e| bad(format!("to {t:?}: {e}"))))
                .collect::<Result<Vec<_>>>()?;
        if c.host.trim().is_empty() {
            return Err(bad("host is empty".into()));
        }
        let mut tls = TlsParameters::builder(c.host.clone());
        if let Some(ca) = &c.ca_file {
            let path = if ca.is_absolute() { ca.clone() } else { data_dir.join(ca) };
            let pem = std::fs::read(&path)
                .map_err(|e| bad(format!("ca_file {}: {e}", path.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| bad(format!("ca_file {}: {e}", path.display())))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build().map_err(|e| bad(format!("TLS: {e}")))?;
        if c.username.is_some() != c.password.is_some() {
            return Err(bad("give both username and password, or neither".into()));
        }
        Ok(Self {
            id,
            from,
            to,
            host: c.host.clone(),
            port: c.port,
            tls,
            username: c.username.clone(),
            password: c.password.clone(),
            timeout: Duration::from_millis(c.timeout_ms),
        })
    }

    fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(Tls::Required(self.tls.clone()))
            .timeout(Some(self.timeout));
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            b = b.credentials(Credentials::new(u.clone(), p.expose().to_string()));
        }
        b.build()
    }

    /// The message for a notification.
    pub fn message(&self, n: &Notification) -> Result<Message> {
        let f = &n.alert.finding;
        let subject: String = format!("[palisade] {}", n.line()).chars().take(200).collect();
        let details = serde_json::to_string_pretty(&n.payload()).unwrap_or_default();
        let body = format!(
            "{}\n\nchain     {}\nblock     {}\ndetector  {}\nseverity  {}\nstatus    {}\nkey       {}\n\n{}\n",
            n.text(),
            f.chain,
            f.anchor,
            f.detector,
            f.severity.as_str(),
            n.status(),
            f.key,
            details
        );
        let mut m = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            // Threads the messages about one alert together in mail clients.
            .references(format!("<{}@palisade>", f.key))
            .message_id(Some(format!(
                "<{}.{}@palisade>",
                n.idempotency_key().replace(':', "."),
                f.chain
            )));
        for t in &self.to {
            m = m.to(t.clone());
        }
        m.body(body).map_err(|e| AlertError::Sink { sink: self.id.clone(), reason: e.to_string() })
    }

    fn smtp_error(&self, e: lettre::transport::smtp::Error) -> AlertError {
        match e.status() {
            // A permanent refusal: bad credentials stop the sink (as HTTP 401 would); any other
            // (a recipient refused, a message too big) parks this notification.
            Some(code) if e.is_permanent() => {
                let c = u16::from(code.severity as u8) * 100
                    + u16::from(code.category as u8) * 10
                    + u16::from(code.detail as u8);
                AlertError::Refused {
                    sink: self.id.clone(),
                    status: if matches!(c, 530 | 534 | 535) { 401 } else { 400 },
                    said: format!("SMTP {c}: {e}").chars().take(200).collect(),
                }
            }
            _ => AlertError::Sink { sink: self.id.clone(), reason: cause(&e) },
        }
    }
}

/// An error with its causes.
fn cause(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

impl AlertSink for Email {
    fn id(&self) -> &str {
        &self.id
    }

    /// Connects, upgrades to TLS and logs in, without sending.
    fn healthcheck(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            match self.transport().test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err(AlertError::Sink {
                    sink: self.id.clone(),
                    reason: "the SMTP server did not answer NOOP".into(),
                }),
                Err(e) => Err(self.smtp_error(e)),
            }
        })
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let m = self.message(n)?;
            self.transport().send(m).await.map(|_| ()).map_err(|e| self.smtp_error(e))
        })
    }
}
