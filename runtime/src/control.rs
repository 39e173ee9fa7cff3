//! The control socket of a running server: `status`, `versions`, `reload`, `rollback ID`.
//!
//! A Unix socket in the data directory (`control.sock`), one request line and
//! one JSON answer line per connection, so `centralino status` and friends
//! talk to the server that owns the store without touching the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::reload::{Deployment, Outcome};

/// The socket's name inside the data directory.
pub const SOCKET: &str = "control.sock";

pub fn socket_path(data: &Path) -> PathBuf {
    data.join(SOCKET)
}

/// Serve control requests until `token` is cancelled; removes the socket file at the end.
pub async fn serve(path: PathBuf, deployment: Arc<Deployment>, token: CancellationToken) {
    // A socket left by a killed server is in the way; a live server still holds
    // the store lock, so this one would not have started.
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, path = %path.display(), "no control socket: status/versions/rollback unavailable");
            return;
        }
    };
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let deployment = deployment.clone();
                    connections.spawn(async move {
                        if let Err(e) = answer(stream, deployment).await {
                            debug!(error = %e, "control connection");
                        }
                    });
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    let _ = std::fs::remove_file(&path);
}

async fn answer(stream: UnixStream, deployment: Arc<Deployment>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(4096);
    reader.read_line(&mut line).await?;
    let mut words = line.split_whitespace();
    let reply = match (words.next(), words.next()) {
        (Some("status"), None) => json!({"ok": true, "status": deployment.status()}),
        (Some("versions"), None) => json!({"ok": true, "versions": deployment.versions()}),
        (Some("reload"), None) => {
            let d = deployment.clone();
            match tokio::task::spawn_blocking(move || d.reload()).await {
                Ok(Outcome::Published { id }) => json!({"ok": true, "published": id}),
                Ok(Outcome::Unchanged) => json!({"ok": true, "unchanged": deployment.current_id()}),
                Ok(Outcome::Failed { diagnostics }) => {
                    json!({"ok": false, "error": "the flows have errors; the current version keeps serving", "diagnostics": diagnostics})
                }
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            }
        }
        (Some("rollback"), Some(id)) => match deployment.rollback(id) {
            Ok(id) => json!({"ok": true, "current": id}),
            Err(e) => json!({"ok": false, "error": e}),
        },
        _ => json!({"ok": false, "error": "requests are: status, versions, reload, rollback ID"}),
    };
    let mut text = reply.to_string();
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}
