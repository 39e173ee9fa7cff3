//! Publishing flows while calls are live: watch, recompile off the call path, swap.
//!
//! ```text
//!  notify (flows dir) ─► debounce (quiet for 50 ms) ─┐
//!  SIGHUP / `centralino reload` ──────────────────────┼─► Deployment::reload (blocking thread)
//!                                                     │     load + compile ─┬─ errors: keep the old version,
//!                                                     │                     │          status = diagnostics
//!                                                     │                     └─ ok: Program::new, preload audio,
//!                                                     │                            swap `current`, keep history
//!  new calls read `current`; a call keeps the Arc<Program> it started with until it ends.
//! ```

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use centralino_compiler::{Sources, compile, load, render};
use jiff::Timestamp;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::engine::Program;
use crate::media::prompt::PromptCache;
use crate::store::{KeptVersion, SCHEMA_VERSION, Store};

/// How many published versions are kept for `rollback`.
pub const KEPT_VERSIONS: usize = 5;
/// An editor's save-rename-write is one change when the files are quiet this long after it.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// One published version.
#[derive(Clone)]
pub struct Published {
    pub id: String,
    pub at: Timestamp,
    pub program: Arc<Program>,
}

/// What `centralino versions` shows.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub id: String,
    pub published_at: Timestamp,
    pub current: bool,
    pub numbers: Vec<String>,
    pub nodes: usize,
}

/// What `centralino status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadStatus {
    /// The version serving new calls.
    pub current: String,
    /// The last reload attempt: `published`, `unchanged`, `failed`, `rolled back`.
    pub last: String,
    pub last_at: Timestamp,
    /// Rendered diagnostics of the last failed compile (the old version kept serving).
    pub diagnostics: Option<String>,
    /// Milliseconds the last successful publish took (compile + prompts + swap).
    pub publish_ms: Option<u64>,
}

/// The result of one reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Published { id: String },
    Unchanged,
    Failed { diagnostics: String },
}

/// The flows a server publishes, and their history.
pub struct Deployment {
    flows: PathBuf,
    current: Arc<RwLock<Arc<Program>>>,
    history: Mutex<VecDeque<Published>>,
    status: Mutex<ReloadStatus>,
    prompts: Arc<PromptCache>,
    /// Where each published version is kept (graph and sources) for the call log's replay.
    archive: Mutex<Option<Arc<dyn Store>>>,
}

impl Deployment {
    /// Start from an already compiled first version.
    pub fn new(flows: PathBuf, first: Arc<Program>, prompts: Arc<PromptCache>) -> Arc<Deployment> {
        let now = Timestamp::now();
        let id = first.version().to_owned();
        Arc::new(Deployment {
            flows,
            current: Arc::new(RwLock::new(first.clone())),
            history: Mutex::new(VecDeque::from([Published {
                id: id.clone(),
                at: now,
                program: first,
            }])),
            status: Mutex::new(ReloadStatus {
                current: id,
                last: String::from("published"),
                last_at: now,
                diagnostics: None,
                publish_ms: None,
            }),
            prompts,
            archive: Mutex::new(None),
        })
    }

    /// Keep every version published from now on in `store` (once per content hash), starting
    /// with the current one, compiled from `sources`. A failed write is a WARN: calls go on,
    /// only their replay will miss the version.
    pub fn keep_versions_in(&self, store: Arc<dyn Store>, sources: &Sources) {
        if let Ok(current) = self.current.read() {
            keep_version(&*store, &current.graph, sources);
        }
        if let Ok(mut archive) = self.archive.lock() {
            *archive = Some(store);
        }
    }

    /// The handle new calls read their version from.
    pub fn current(&self) -> Arc<RwLock<Arc<Program>>> {
        self.current.clone()
    }

    pub fn current_id(&self) -> String {
        self.current
            .read()
            .map(|p| p.version().to_owned())
            .unwrap_or_default()
    }

    pub fn status(&self) -> Option<ReloadStatus> {
        self.status.lock().ok().map(|s| s.clone())
    }

    pub fn versions(&self) -> Vec<VersionInfo> {
        let current = self.current_id();
        self.history
            .lock()
            .map(|h| {
                h.iter()
                    .rev()
                    .map(|p| VersionInfo {
                        id: p.id.clone(),
                        published_at: p.at,
                        current: p.id == current,
                        numbers: p.program.graph.numbers.keys().cloned().collect(),
                        nodes: p.program.graph.nodes.len(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The program of a kept version (by exact id), for pictures of it.
    pub fn kept_program(&self, id: &str) -> Option<Arc<Program>> {
        self.history
            .lock()
            .ok()?
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.program.clone())
    }

    fn set_status(&self, last: &str, diagnostics: Option<String>, publish_ms: Option<u64>) {
        let current = self.current_id();
        if let Ok(mut status) = self.status.lock() {
            *status = ReloadStatus {
                current,
                last: last.to_owned(),
                last_at: Timestamp::now(),
                diagnostics,
                publish_ms: publish_ms.or(status.publish_ms),
            };
        }
    }

    /// Compile the flows as they are on disk now and publish them if they are
    /// clean and different. Blocking: run it off the call path.
    pub fn reload(&self) -> Outcome {
        let started = Instant::now();
        let sources = match load::load(std::slice::from_ref(&self.flows)) {
            Ok(sources) => sources,
            Err(e) => {
                let diagnostics = format!("error: {e}\n");
                warn!(error = %e, "reload: the flows cannot be read; the current version keeps serving");
                self.set_status("failed", Some(diagnostics.clone()), None);
                return Outcome::Failed { diagnostics };
            }
        };
        let compiled = compile(&sources);
        let graph = match compiled.graph {
            Some(graph) if !compiled.diagnostics.has_errors() => graph,
            _ => {
                let diagnostics = render::human(&sources, &compiled.diagnostics, false);
                warn!(
                    errors = compiled.diagnostics.error_count(),
                    "reload: the flows have errors; the current version keeps serving\n{diagnostics}"
                );
                self.set_status("failed", Some(diagnostics.clone()), None);
                return Outcome::Failed { diagnostics };
            }
        };
        if graph.content_hash == self.current_id() {
            self.set_status("unchanged", None, None);
            return Outcome::Unchanged;
        }
        let program = match Program::new(graph) {
            Ok(p) => p,
            Err(e) => {
                let diagnostics = format!("error: {e}\n");
                self.set_status("failed", Some(diagnostics.clone()), None);
                return Outcome::Failed { diagnostics };
            }
        };
        // Audio first, so the first call of the new version finds its prompts ready.
        let report = self.prompts.preload(&program.graph);
        if !report.failed.is_empty() {
            warn!(
                failed = report.failed.len(),
                "reload: some audio prompts did not load"
            );
        }
        let archive = self.archive.lock().ok().and_then(|a| a.clone());
        if let Some(store) = archive {
            keep_version(&*store, &program.graph, &sources);
        }
        let id = self.publish(program);
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        info!(version = %id, publish_ms = ms, "published");
        self.set_status("published", None, Some(ms));
        Outcome::Published { id }
    }

    fn publish(&self, program: Arc<Program>) -> String {
        let id = program.version().to_owned();
        if let Ok(mut current) = self.current.write() {
            *current = program.clone();
        }
        if let Ok(mut history) = self.history.lock() {
            history.retain(|p| p.id != id);
            history.push_back(Published {
                id: id.clone(),
                at: Timestamp::now(),
                program,
            });
            while history.len() > KEPT_VERSIONS {
                history.pop_front();
            }
        }
        id
    }

    /// Go back to a kept version (by id, or a unique prefix of it).
    pub fn rollback(&self, wanted: &str) -> Result<String, String> {
        let wanted = wanted.trim().trim_start_matches("sha256:");
        let matches: Vec<Published> = self
            .history
            .lock()
            .map(|h| {
                h.iter()
                    .filter(|p| p.id.trim_start_matches("sha256:").starts_with(wanted))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        match matches.as_slice() {
            [one] => {
                let id = self.publish(one.program.clone());
                info!(version = %id, "rolled back");
                self.set_status("rolled back", None, None);
                Ok(id)
            }
            [] => Err(format!("no kept version starts with `{wanted}`")),
            _ => Err(format!(
                "`{wanted}` matches several versions: give more of the id"
            )),
        }
    }

    /// Watch the flows directory until `token` is cancelled; reload after each
    /// burst of changes. The watcher is owned by this future.
    pub async fn watch(self: Arc<Self>, token: CancellationToken) {
        let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event
                && !matches!(event.kind, notify::EventKind::Access(_))
            {
                let _ = sender.send(());
            }
        });
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                warn!(error = %e, "cannot watch the flows: reload with SIGHUP or `centralino reload`");
                return;
            }
        };
        if let Err(e) =
            notify::Watcher::watch(&mut watcher, &self.flows, notify::RecursiveMode::Recursive)
        {
            warn!(error = %e, dir = %self.flows.display(), "cannot watch the flows directory");
            return;
        }
        info!(dir = %self.flows.display(), "watching the flows for changes");
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                change = changes.recv() => {
                    if change.is_none() {
                        break;
                    }
                }
            }
            // Debounce: wait until the files have been quiet for a moment.
            loop {
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(DEBOUNCE) => break,
                    more = changes.recv() => if more.is_none() { return },
                }
            }
            let deployment = self.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || deployment.reload()).await {
                warn!(error = %e, "reload task failed");
            }
        }
        drop(watcher);
    }

    pub fn flows(&self) -> &Path {
        &self.flows
    }
}

/// Keeps `graph` and the text of its `sources` under the graph's content hash.
fn keep_version(store: &dyn Store, graph: &centralino_compiler::graph::Graph, sources: &Sources) {
    let kept = KeptVersion {
        schema: SCHEMA_VERSION,
        version: graph.content_hash.clone(),
        kept_at: Timestamp::now(),
        sources: sources
            .iter()
            .map(|(_, file)| (file.name(), file.text.clone()))
            .collect(),
        graph: graph.clone(),
    };
    match store.keep_version(kept) {
        Ok(true) => info!(version = %graph.content_hash, "version kept for the call log"),
        Ok(false) => {}
        Err(e) => {
            warn!(version = %graph.content_hash, error = %e, "the version could not be kept: calls it serves cannot be replayed")
        }
    }
}
