//! WebSocket subscriptions shared by the followers (heads, CometBFT blocks, pending
//! transactions): connect within a timeout and subscribe, with the URL redacted in errors.

use crate::{SensitiveUrl, SourceError};
use futures::SinkExt;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A connected WebSocket.
pub(crate) type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An error about `ws`, naming it redacted.
pub(crate) fn transport(ws: &SensitiveUrl, reason: String) -> SourceError {
    SourceError::Transport { url: ws.to_string(), reason }
}

/// Connects to `ws` within `timeout` and sends `subscribe`.
pub(crate) async fn subscribe(
    ws: &SensitiveUrl,
    timeout: Duration,
    subscribe: &Value,
) -> Result<WsStream, SourceError> {
    let (mut stream, _) =
        tokio::time::timeout(timeout, tokio_tungstenite::connect_async(ws.expose()))
            .await
            .map_err(|_| transport(ws, "connect timed out".into()))?
            .map_err(|e| {
                // The library's message may carry the URL: keep only its redacted form.
                transport(
                    ws,
                    format!(
                        "connect failed: {}",
                        e.to_string().replace(ws.expose(), &ws.to_string())
                    ),
                )
            })?;
    stream
        .send(Message::text(subscribe.to_string()))
        .await
        .map_err(|e| transport(ws, e.to_string()))?;
    Ok(stream)
}

/// Re-arms TCP quick acknowledgements on the connection (Linux; nothing elsewhere): called after
/// each message, so that the next one is acknowledged at once. A node whose WebSocket writes a
/// message in two segments with Nagle's algorithm on holds the second until the first is
/// acknowledged, and a delayed acknowledgement (40 ms on Linux) then delays the whole message:
/// the 36-44 ms outliers of the pending-transaction benchmark on anvil.
pub(crate) fn quickack(stream: &WsStream) {
    #[cfg(target_os = "linux")]
    {
        let tcp = match stream.get_ref() {
            tokio_tungstenite::MaybeTlsStream::Plain(s) => Some(s),
            tokio_tungstenite::MaybeTlsStream::Rustls(s) => Some(s.get_ref().0),
            _ => None,
        };
        if let Some(t) = tcp {
            let _ = t.set_quickack(true);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}
