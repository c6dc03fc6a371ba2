//! Serving kernels and initramfs images to LAVA's dispatcher.
//!
//! [`ArtifactServer`] serves one directory, read-only, over HTTP (GET and HEAD): a request's
//! path is decoded and checked segment by segment (no `..`, no `.`-files, no NUL, no
//! separators inside a segment), then resolved and required to stay inside the directory
//! after symbolic links are followed, and to be a regular file. Nothing else is ever answered
//! but 404 (or 405 for other methods).
//!
//! When the dispatcher runs on the same machine, [`file_url`] gives a `file://` URL instead
//! (LAVA downloads those too) and no server is needed.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, io};

/// A running artifact server; stopped when dropped (or by [`ArtifactServer::shutdown`]).
#[derive(Debug)]
pub struct ArtifactServer {
    root: PathBuf,
    base_url: String,
    local: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ArtifactServer {
    /// Serves `root` on `listen` (port 0: any free port). `base_url` is how the dispatcher
    /// reaches it (`http://ci-host:8099/`); by default `http://<the address listened on>/`.
    pub async fn start(
        root: &Path,
        listen: SocketAddr,
        base_url: Option<&str>,
    ) -> Result<ArtifactServer, Error> {
        let root = std::fs::canonicalize(root)
            .map_err(io(format!("artifact directory {}", root.display())))?;
        if !root.is_dir() {
            return Err(Error::Config(format!(
                "artifact directory {} is not a directory",
                root.display()
            )));
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(io(format!("listening on {listen} for the artifact server")))?;
        let local = listener
            .local_addr()
            .map_err(io("the artifact server's address"))?;
        let base_url = match base_url {
            Some(url) => format!("{}/", url.trim_end_matches('/')),
            None => format!("http://{local}/"),
        };
        let app = Router::new()
            .route("/{*path}", get(serve))
            .with_state(root.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::warn!(error = %e, "artifact server stopped");
            }
        });
        tracing::debug!(%local, root = %root.display(), "artifact server listening");
        Ok(ArtifactServer {
            root,
            base_url,
            local,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The URL of a file under the root.
    pub fn url_for(&self, path: &Path) -> Result<String, Error> {
        let absolute =
            std::fs::canonicalize(path).map_err(io(format!("artifact {}", path.display())))?;
        let relative = absolute.strip_prefix(&self.root).map_err(|_| {
            Error::Config(format!(
                "artifact {} is not under the served directory {}",
                path.display(),
                self.root.display()
            ))
        })?;
        let mut url = self.base_url.clone();
        let mut first = true;
        for component in relative.components() {
            let Component::Normal(name) = component else {
                continue;
            };
            if !first {
                url.push('/');
            }
            first = false;
            url.push_str(&percent_encode(&name.to_string_lossy()));
        }
        Ok(url)
    }

    /// Stops serving (waits for the requests in progress).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ArtifactServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A `file://` URL for a dispatcher on this machine. Paths LAVA would not read back as written
/// (spaces, `%`, `#`, `?`, control characters) are refused.
pub fn file_url(path: &Path) -> Result<String, Error> {
    let absolute =
        std::fs::canonicalize(path).map_err(io(format!("artifact {}", path.display())))?;
    let text = absolute.to_str().ok_or_else(|| {
        Error::Config(format!("artifact path {} is not UTF-8", absolute.display()))
    })?;
    if text
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '%' | '#' | '?'))
    {
        return Err(Error::Config(format!(
            "artifact path {text} cannot be a file:// URL (spaces, %, # or ?): serve it over HTTP"
        )));
    }
    Ok(format!("file://{text}"))
}

fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(segment: &str) -> Option<Vec<u8>> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The file a request path names, if it is a regular file inside `root`.
fn resolve(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    let mut any = false;
    for raw in uri_path.split('/').filter(|s| !s.is_empty()) {
        let decoded = String::from_utf8(percent_decode(raw)?).ok()?;
        if decoded.starts_with('.') || decoded.contains(['/', '\\', '\0']) || decoded.len() > 255 {
            return None;
        }
        path.push(decoded);
        any = true;
    }
    if !any {
        return None;
    }
    let real = std::fs::canonicalize(&path).ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

async fn serve(State(root): State<PathBuf>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    let found = tokio::task::spawn_blocking(move || resolve(&root, &path))
        .await
        .ok()
        .flatten();
    let Some(file) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(handle) = tokio::fs::File::open(&file).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(meta) = handle.metadata().await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let len = meta.len();
    tracing::debug!(file = %file.display(), len, "artifact server: serving");
    let stream = futures::stream::unfold(Some(handle), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; 64 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed();
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&len.to_string()) {
        headers.insert(header::CONTENT_LENGTH, value);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response
}
