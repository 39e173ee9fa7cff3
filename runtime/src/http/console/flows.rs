//! The flows in the console: versions and rollback, the graph as a picture, and the editor
//! that checks as you type, simulates a call and publishes.
//!
//! ```text
//!   GET  /flows                        versions, reload status (+ diagnostics), files, record
//!   GET  /flows/graph.svg              the current version as SVG        (supervisors, editors)
//!   GET  /flows/versions/{id}/graph.svg  a kept version as SVG
//!   POST /flows/rollback               version=ID ─► Deployment::rollback ─► record   (editors)
//!   GET  /flows/edit?file=NAME         the editor: saved text, its hash, diagnostics  (editors)
//!   POST /flows/check                  file, text ─► the deployment with the text in place
//!                                      ─► compile ─► diagnostics at their lines (fragment when
//!                                      the page's script asks with `x-fragment`)
//!   POST /flows/graph                  the edited version as SVG
//!   POST /flows/simulate               keys ─► a call in virtual time, temporary store
//!   POST /flows/tests                  the .test scenarios against the edited text
//!                                      (`centralino test` on a mirror of the folder)
//!   POST /flows/publish                hash still the disk's? ─► compile ─► errors: refused,
//!                                      nothing written │ clean: temp file + rename,
//!                                      Deployment::reload (as a file edit) ─► record
//! ```
//!
//! Supervisors may look (versions, pictures); flow editors change ([`flow_editors`]). A broken
//! text is never written: the editor keeps it in the page to fix, the file on disk and the
//! running version stay as they were (so a restart serves what runs now). If the reload after
//! a clean save still fails (another file on disk changed meanwhile), the saved file stays and
//! the old version keeps serving, as after a file edit. Publishes are one at a time.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};

use super::clock::Clock;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use centralino_compiler::{Diagnostics, Graph, Severity, Sources, compile};
use jiff::Timestamp;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::flows_files::{self as files, FileError, MAX_FLOW_BYTES};
use super::flows_record::{self as record, Change, Outcome};
use super::flows_sim::{self, Line, SimulateError};
use super::flows_svg::{self, svg_response};
use super::flows_tests;
use super::words::Lang;
use super::{Console, Nav, Page, Viewer, flow_editors, supervisors};
use crate::engine::Program;
use crate::reload;

pub const PAGE: Page = Page {
    routes,
    templates: &[
        ("flows.html", include_str!("flows.html")),
        ("flows_edit.html", include_str!("flows_edit.html")),
        (
            "flows_diagnostics.html",
            include_str!("flows_diagnostics.html"),
        ),
    ],
    words: WORDS,
    nav: Some(Nav {
        path: "/flows",
        label: "flows.title",
        allowed: supervisors,
    }),
};

/// The largest body of an editor's form: a flow file of [`MAX_FLOW_BYTES`], percent-encoded.
pub const MAX_EDIT_BODY_BYTES: usize = 3 * MAX_FLOW_BYTES;

/// One publish at a time: the hash check, the save and the reload are one step.
static PUBLISHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// One run of the flow tests at a time (each is a process).
static TESTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Changes of the record shown on the versions page.
const RECORD_SHOWN: usize = 30;

const WORDS: &[super::Word] = &[
    ("flows.title", "Flussi", "Flows"),
    (
        "flows.status",
        "Stato della pubblicazione",
        "Publishing status",
    ),
    ("flows.current", "Versione in servizio", "Version serving"),
    ("flows.last", "Ultimo ricaricamento", "Last reload"),
    (
        "flows.last.published",
        "riuscito, nuova versione",
        "published, a new version",
    ),
    (
        "flows.last.unchanged",
        "riuscito, grafo invariato",
        "unchanged graph",
    ),
    ("flows.last.failed", "non riuscito", "failed"),
    (
        "flows.last.rolled_back",
        "versione ripristinata",
        "rolled back",
    ),
    ("flows.publish_ms", "Durata", "Took"),
    (
        "flows.failed_diagnostics",
        "L'ultimo ricaricamento non è riuscito: resta in servizio la versione precedente. Problemi:",
        "The last reload failed: the previous version keeps serving. Problems:",
    ),
    ("flows.versions", "Versioni conservate", "Kept versions"),
    ("flows.version", "Versione", "Version"),
    ("flows.published_at", "Pubblicata il", "Published at"),
    ("flows.published_by", "Da", "By"),
    ("flows.numbers", "Numeri", "Numbers"),
    ("flows.states", "Stati", "States"),
    ("flows.graph", "Grafico", "Graph"),
    ("flows.in_service", "in servizio", "serving"),
    ("flows.rollback", "Ripristina", "Roll back"),
    ("flows.file_edit", "modifica di un file", "a file edit"),
    ("flows.files", "File dei flussi", "Flow files"),
    ("flows.edit", "Modifica", "Edit"),
    (
        "flows.record",
        "Registro delle modifiche",
        "Record of changes",
    ),
    (
        "flows.record_none",
        "Nessuna modifica dalla console.",
        "No changes from the console.",
    ),
    ("flows.when", "Quando", "When"),
    ("flows.who", "Chi", "Who"),
    ("flows.file", "File", "File"),
    ("flows.outcome", "Esito", "Outcome"),
    ("flows.outcome.published", "pubblicata", "published"),
    (
        "flows.outcome.unchanged",
        "salvata, nessuna modifica al grafo",
        "saved, graph unchanged",
    ),
    (
        "flows.outcome.refused",
        "rifiutata: errori",
        "refused: errors",
    ),
    (
        "flows.outcome.conflict",
        "rifiutata: il file era cambiato",
        "refused: the file had changed",
    ),
    (
        "flows.outcome.failed",
        "salvata, ricaricamento non riuscito",
        "saved, reload failed",
    ),
    ("flows.outcome.rolled_back", "ripristinata", "rolled back"),
    ("flows.editor", "Modifica del flusso", "Flow editor"),
    (
        "flows.editor_help",
        "Il controllo avviene mentre scrive, sull'intero servizio con questo testo al posto di quello salvato.",
        "Checked as you type: the whole deployment, with this text in place of the saved one.",
    ),
    ("flows.text", "Testo del file", "File text"),
    ("flows.check", "Controlla", "Check"),
    (
        "flows.graph_edited",
        "Grafico della modifica",
        "Graph of the edit",
    ),
    ("flows.publish", "Pubblica", "Publish"),
    ("flows.diagnostics", "Controllo", "Check"),
    ("flows.no_problems", "Nessun problema.", "No problems."),
    ("flows.errors", "errori", "errors"),
    ("flows.warnings", "avvisi", "warnings"),
    ("flows.line", "riga", "line"),
    ("flows.help", "Suggerimento", "Help"),
    ("flows.other_file", "in un altro file", "in another file"),
    ("flows.error", "errore", "error"),
    ("flows.warning", "avviso", "warning"),
    ("flows.simulate", "Chiamata simulata", "Simulated call"),
    ("flows.simulate_run", "Simula", "Simulate"),
    (
        "flows.simulate_help",
        "Tasti del chiamante in ordine (cifre, * e #, wait, hangup). Tempo virtuale; nulla viene scritto nell'archivio vero.",
        "The caller's keys in order (digits, * and #, wait, hangup). Virtual time; nothing is written to the real store.",
    ),
    ("flows.number", "Numero chiamato", "Number called"),
    ("flows.keys", "Tasti", "Keys"),
    ("flows.caller", "Chiamante", "Caller"),
    (
        "flows.simulate_errors",
        "Il testo ha errori: la chiamata non può essere simulata.",
        "The text has errors: the call cannot be simulated.",
    ),
    (
        "flows.published_notice",
        "Pubblicata: la nuova versione risponde alle nuove chiamate.",
        "Published: the new version answers new calls.",
    ),
    (
        "flows.unchanged_notice",
        "Salvata: il grafo è uguale a quello in servizio.",
        "Saved: the graph is the same as the one serving.",
    ),
    (
        "flows.refused_notice",
        "Non pubblicata: il testo ha errori. Il file non è stato salvato; resta in servizio la versione attuale.",
        "Not published: the text has errors. The file was not saved; the current version keeps serving.",
    ),
    (
        "flows.conflict_notice",
        "Non pubblicata: il file è stato cambiato da qualcun altro dopo l'apertura. Riapra il file e riporti le modifiche.",
        "Not published: someone else changed the file after you opened it. Open it again and redo your changes.",
    ),
    (
        "flows.failed_notice",
        "Il file è stato salvato, ma il ricaricamento non è riuscito: resta in servizio la versione precedente.",
        "The file was saved, but the reload failed: the previous version keeps serving.",
    ),
    (
        "flows.record_failed",
        "Attenzione: la modifica non è stata scritta nel registro.",
        "Warning: the change could not be written to the record.",
    ),
    (
        "flows.no_version",
        "Nessuna versione conservata corrisponde.",
        "No kept version matches.",
    ),
    (
        "flows.no_file",
        "File non disponibile",
        "File not available",
    ),
    (
        "flows.file_bad_name",
        "non è il nome di un file .flow della cartella dei flussi",
        "is not the name of a .flow file in the flows folder",
    ),
    (
        "flows.file_outside",
        "è fuori dalla cartella dei flussi (o dietro un collegamento)",
        "is outside the flows folder (or behind a symlink)",
    ),
    ("flows.file_not_found", "non esiste", "does not exist"),
    (
        "flows.file_too_large",
        "è troppo grande per l'editor (al massimo 512 KiB)",
        "is too large for the editor (at most 512 KiB)",
    ),
    (
        "flows.file_not_text",
        "non è testo UTF-8",
        "is not UTF-8 text",
    ),
    (
        "flows.file_unreadable",
        "non si può leggere",
        "cannot be read",
    ),
    (
        "flows.sim_keys",
        "Tasti non validi: usi cifre, * e #, wait o hangup.",
        "Keys not understood: use digits, * and #, wait or hangup.",
    ),
    (
        "flows.sim_too_many",
        "Troppi tasti per una chiamata (al massimo 200).",
        "Too many keys for one call (at most 200).",
    ),
    (
        "flows.sim_no_flow",
        "Nessun flusso risponde al numero",
        "No flow answers the number",
    ),
    (
        "flows.sim_failed",
        "La chiamata non può essere simulata",
        "The call cannot be simulated",
    ),
    (
        "flows.tests_unavailable",
        "I test dei flussi si eseguono solo dal programma centralino.",
        "The flow tests run only from the centralino program.",
    ),
    (
        "flows.tests_timeout",
        "I test dei flussi hanno superato i 2 minuti e sono stati fermati.",
        "The flow tests took longer than 2 minutes and were stopped.",
    ),
    (
        "flows.tests_not_run",
        "I test dei flussi non sono partiti",
        "The flow tests did not run",
    ),
    ("flows.tests", "Test dei flussi", "Flow tests"),
    ("flows.tests_run", "Esegui i test", "Run the tests"),
    (
        "flows.tests_help",
        "Gli scenari .test della cartella dei flussi, con questo testo al posto di quello salvato.",
        "The .test scenarios of the flows folder, with this text in place of the saved one.",
    ),
    (
        "flows.tests_passed",
        "Tutti i test sono superati.",
        "Every test passed.",
    ),
    (
        "flows.tests_failed",
        "Non tutti i test sono superati.",
        "Not every test passed.",
    ),
    (
        "flows.picture_failed",
        "Il grafico non può essere disegnato.",
        "The graph cannot be drawn.",
    ),
];

fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/flows", get(versions))
        .route("/flows/graph.svg", get(current_graph))
        .route("/flows/versions/{version}/graph.svg", get(kept_graph))
        .route("/flows/rollback", post(rollback))
        .route("/flows/edit", get(open_editor))
        .route("/flows/check", post(check))
        .route("/flows/graph", post(edited_graph))
        .route("/flows/simulate", post(simulate))
        .route("/flows/tests", post(flow_tests))
        .route("/flows/publish", post(publish))
        // The editor's forms carry a whole flow file (the other pages' forms stay small).
        .layer(DefaultBodyLimit::max(MAX_EDIT_BODY_BYTES))
}

/// The compiler's language for the page's.
fn compiler_lang(lang: Lang) -> centralino_compiler::Lang {
    match lang {
        Lang::It => centralino_compiler::Lang::It,
        Lang::En => centralino_compiler::Lang::En,
    }
}

use super::clock::short_version as short_id;

fn text_reply(status: StatusCode, text: String) -> Response {
    (status, text).into_response()
}

/// Run blocking work (compiling, laying out, file writes) off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::error!(error = %e, "console flows: a blocking task failed");
            None
        }
    }
}

// ------------------------------------------------------------------ versions

#[derive(Serialize)]
struct VersionRow {
    id: String,
    short: String,
    hex: String,
    published_at: String,
    current: bool,
    numbers: Vec<String>,
    nodes: usize,
    by: Option<String>,
}

#[derive(Serialize)]
struct ChangeRow {
    at: String,
    who: String,
    file: String,
    outcome: &'static str,
    version: Option<String>,
    /// The full id, for the short one's title.
    version_id: Option<String>,
    diagnostics: Option<String>,
}

fn change_row(change: &Change, clock: &Clock) -> ChangeRow {
    ChangeRow {
        at: clock.second(change.at),
        who: change.who.clone(),
        file: change.file.clone(),
        outcome: change.outcome.word(),
        version: change.version.as_deref().map(short_id),
        version_id: change.version.clone(),
        diagnostics: change.diagnostics.clone(),
    }
}

async fn versions(State(console): State<Arc<Console>>, viewer: Viewer) -> Response {
    if let Err(refused) = console.require(&viewer, supervisors) {
        return refused;
    }
    versions_page(&console, &viewer, StatusCode::OK, None).await
}

/// The last reload's outcome ([`reload::ReloadStatus::last`], a fixed English word) in the
/// page's language; one this page does not know is shown as it is.
fn last_reload_word(console: &Console, last: &str, lang: Lang) -> String {
    let key = match last {
        "published" => "flows.last.published",
        "unchanged" => "flows.last.unchanged",
        "failed" => "flows.last.failed",
        "rolled back" => "flows.last.rolled_back",
        other => return other.to_owned(),
    };
    console.word(key, lang)
}

async fn versions_page(
    console: &Arc<Console>,
    viewer: &Viewer,
    status: StatusCode,
    notice: Option<String>,
) -> Response {
    let server = console.server();
    let deployment = server.deployment.clone();
    let data = server.data_dir.clone();
    let gathered = blocking(move || {
        let changes = record::recent(&data, 200);
        let listed = files::list(deployment.flows()).unwrap_or_default();
        (changes, listed, deployment.versions(), deployment.status())
    })
    .await;
    let Some((changes, listed, kept, reload_status)) = gathered else {
        return text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new());
    };
    let clock = console.clock();
    let rows: Vec<VersionRow> = kept
        .iter()
        .map(|version: &reload::VersionInfo| VersionRow {
            id: version.id.clone(),
            short: short_id(&version.id),
            hex: version.id.trim_start_matches("sha256:").to_owned(),
            published_at: clock.second(version.published_at),
            current: version.current,
            numbers: version.numbers.clone(),
            nodes: version.nodes,
            by: changes
                .iter()
                .find(|change| {
                    change.version.as_deref() == Some(version.id.as_str())
                        && matches!(change.outcome, Outcome::Published)
                })
                .map(|change| change.who.clone()),
        })
        .collect();
    let shown: Vec<ChangeRow> = changes
        .iter()
        .take(RECORD_SHOWN)
        .map(|change| change_row(change, &clock))
        .collect();
    let listed: Vec<minijinja::Value> = listed
        .iter()
        .map(|name| {
            let query: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
            context! { name => name, query => query }
        })
        .collect();
    let status_view = reload_status.map(|s| {
        context! {
            current => short_id(&s.current),
            current_id => &s.current,
            last => last_reload_word(console, &s.last, viewer.lang),
            last_at => clock.second(s.last_at),
            diagnostics => s.diagnostics,
            publish_ms => s.publish_ms,
        }
    });
    let mut response = console.page(
        viewer,
        "flows.html",
        context! {
            path => "/flows",
            status => status_view,
            versions => minijinja::Value::from(minijinja::value::Serde(&rows)),
            changes => minijinja::Value::from(minijinja::value::Serde(&shown)),
            files => listed,
            can_edit => flow_editors(viewer.staff.role),
            notice => notice,
        },
    );
    *response.status_mut() = status;
    response
}

#[derive(Deserialize)]
struct RollbackForm {
    #[serde(default)]
    version: String,
}

async fn rollback(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Form(form): Form<RollbackForm>,
) -> Response {
    if let Err(refused) = console.require(&viewer, flow_editors) {
        return refused;
    }
    let wanted = form.version.trim().to_owned();
    if wanted.is_empty() || wanted.len() > 100 {
        let notice = console.word("flows.no_version", viewer.lang);
        return versions_page(&console, &viewer, StatusCode::BAD_REQUEST, Some(notice)).await;
    }
    let _one_at_a_time = PUBLISHING.lock().await;
    let server = console.server();
    let deployment = server.deployment.clone();
    let data = server.data_dir.clone();
    let who = viewer.staff.name.clone();
    let done = blocking(move || {
        let rolled = deployment.rollback(&wanted);
        if let Ok(id) = &rolled {
            let change = Change::new(&who, "", Outcome::RolledBack, Some(id.clone()));
            if let Err(e) = record::append(&data, &change) {
                tracing::warn!(error = %e, "console: the rollback could not be recorded");
            }
            tracing::info!(version = %id, by = %who, "console: rolled back");
        }
        rolled
    })
    .await;
    match done {
        Some(Ok(_)) => Redirect::to("/flows").into_response(),
        Some(Err(_)) => {
            let notice = console.word("flows.no_version", viewer.lang);
            versions_page(&console, &viewer, StatusCode::NOT_FOUND, Some(notice)).await
        }
        None => text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
}

// ------------------------------------------------------------------ pictures

/// Pictures of published versions already drawn, newest last: the versions page shows the
/// current one on every view, and laying out Perugia's graph takes about a second.
static PICTURES: std::sync::Mutex<VecDeque<(String, Arc<str>)>> =
    std::sync::Mutex::new(VecDeque::new());
/// How many pictures [`PICTURES`] keeps (the kept versions, and some to spare).
const PICTURES_KEPT: usize = 2 * reload::KEPT_VERSIONS;

fn drawn(version: &str) -> Option<Arc<str>> {
    PICTURES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(id, _)| id == version)
        .map(|(_, svg)| svg.clone())
}

fn keep_drawn(version: &str, svg: Arc<str>) {
    let mut pictures = PICTURES.lock().unwrap_or_else(PoisonError::into_inner);
    pictures.retain(|(id, _)| id != version);
    pictures.push_back((version.to_owned(), svg));
    while pictures.len() > PICTURES_KEPT {
        pictures.pop_front();
    }
}

/// The picture of a published version (drawn once, then kept).
async fn picture(console: &Console, viewer: &Viewer, program: Arc<Program>) -> Response {
    let version = program.version().to_owned();
    if let Some(svg) = drawn(&version) {
        return svg_response(svg.to_string());
    }
    match blocking(move || flows_svg::svg(&program.graph)).await {
        Some(Ok(svg)) => {
            keep_drawn(&version, Arc::from(svg.as_str()));
            svg_response(svg)
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "console: the flow graph could not be drawn");
            text_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                console.word("flows.picture_failed", viewer.lang),
            )
        }
        None => text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
}

async fn current_graph(State(console): State<Arc<Console>>, viewer: Viewer) -> Response {
    if let Err(refused) = console.require(&viewer, supervisors) {
        return refused;
    }
    let current = console.server().deployment.current();
    let program = match current.read() {
        Ok(program) => program.clone(),
        Err(_) => return text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    };
    picture(&console, &viewer, program).await
}

async fn kept_graph(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(version): UrlPath<String>,
) -> Response {
    if let Err(refused) = console.require(&viewer, supervisors) {
        return refused;
    }
    let wanted = format!("sha256:{}", version.trim_start_matches("sha256:"));
    match console.server().deployment.kept_program(&wanted) {
        Some(program) => picture(&console, &viewer, program).await,
        None => text_reply(
            StatusCode::NOT_FOUND,
            console.word("flows.no_version", viewer.lang),
        ),
    }
}

// ------------------------------------------------------------------ the editor

/// One diagnostic as the editor shows it.
#[derive(Debug, Clone, Serialize)]
struct DiagnosticRow {
    code: &'static str,
    error: bool,
    file: String,
    line: usize,
    column: usize,
    /// In the file being edited (its line can be shown in the text).
    here: bool,
    message: String,
    label: String,
    help: String,
    related: Vec<(String, usize, String)>,
}

/// The deployment compiled with an edited text in place of a file's saved one.
struct Checked {
    graph: Option<Graph>,
    rows: Vec<DiagnosticRow>,
    errors: usize,
    warnings: usize,
    /// The diagnostics as `centralino check` prints them (for the record).
    rendered: String,
}

fn check_edit(
    flows: &std::path::Path,
    path: &std::path::Path,
    text: &str,
    lang: Lang,
) -> Result<Checked, FileError> {
    let sources = files::sources_with(flows, path, text)?;
    let compiled = compile(&sources);
    let mut diagnostics: Diagnostics = compiled.diagnostics.in_language(compiler_lang(lang));
    diagnostics.sort();
    let rows = rows_of(&sources, &diagnostics, path);
    let graph = compiled.graph.filter(|_| !diagnostics.has_errors());
    Ok(Checked {
        graph,
        errors: diagnostics.error_count(),
        warnings: diagnostics.warning_count(),
        rendered: centralino_compiler::render::human(&sources, &diagnostics, false),
        rows,
    })
}

fn rows_of(
    sources: &Sources,
    diagnostics: &Diagnostics,
    edited: &std::path::Path,
) -> Vec<DiagnosticRow> {
    let edited_name = edited.to_string_lossy().replace('\\', "/");
    diagnostics
        .iter()
        .map(|diagnostic| {
            let located = diagnostic.located(sources);
            DiagnosticRow {
                code: located.code,
                error: located.severity == Severity::Error,
                here: located.location.file == edited_name,
                file: located.location.file.clone(),
                line: located.location.line,
                column: located.location.column,
                message: located.message.to_owned(),
                label: located.label.to_owned(),
                help: located.help.to_owned(),
                related: located
                    .related
                    .iter()
                    .map(|(location, message)| {
                        (location.file.clone(), location.line, (*message).to_owned())
                    })
                    .collect(),
            }
        })
        .collect()
}

/// What the editor's forms send.
#[derive(Deserialize, Default)]
struct EditForm {
    #[serde(default)]
    file: String,
    #[serde(default)]
    text: String,
    /// The hash of the saved text the editor was opened with.
    #[serde(default)]
    hash: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    keys: String,
    #[serde(default)]
    caller: String,
}

impl EditForm {
    /// The text as the file will hold it: browsers send a textarea's lines ended by CRLF.
    fn text(&self) -> String {
        self.text.replace("\r\n", "\n")
    }
}

/// What the editor page shows besides the text.
#[derive(Default)]
struct EditorView {
    checked: Option<Checked>,
    notice: Option<(&'static str, String)>,
    transcript: Option<Vec<Line>>,
    simulate_problem: Option<String>,
    /// The flow tests' run: whether all passed, and the report.
    tests: Option<(bool, String)>,
    tests_problem: Option<String>,
}

fn editor_page(
    console: &Console,
    viewer: &Viewer,
    status: StatusCode,
    form: &EditForm,
    text: &str,
    view: EditorView,
) -> Response {
    let server = console.server();
    let numbers: Vec<String> = server
        .deployment
        .current()
        .read()
        .map(|program| program.graph.numbers.keys().cloned().collect())
        .unwrap_or_default();
    let number = if form.number.trim().is_empty() {
        numbers.first().cloned().unwrap_or_default()
    } else {
        form.number.trim().to_owned()
    };
    let files = files::list(server.deployment.flows()).unwrap_or_default();
    let (rows, errors, warnings, checked) = match &view.checked {
        Some(checked) => (checked.rows.clone(), checked.errors, checked.warnings, true),
        None => (Vec::new(), 0, 0, false),
    };
    let mut response = console.page(
        viewer,
        "flows_edit.html",
        context! {
            path => "/flows",
            file => &form.file,
            text => text,
            hash => &form.hash,
            files => files,
            numbers => numbers,
            number => number,
            keys => &form.keys,
            caller => &form.caller,
            checked => checked,
            diagnostics => minijinja::Value::from(minijinja::value::Serde(&rows)),
            errors => errors,
            warnings => warnings,
            notice => view.notice.map(|(kind, text)| context! { kind => kind, text => text }),
            transcript => minijinja::Value::from(minijinja::value::Serde(&view.transcript)),
            simulate_problem => view.simulate_problem,
            tests => view.tests.map(|(passed, report)| context! { passed => passed, report => report }),
            tests_problem => view.tests_problem,
        },
    );
    *response.status_mut() = status;
    response
}

/// The refusal of a file the console may not open, in the page's language.
fn file_refused(console: &Console, viewer: &Viewer, error: &FileError) -> Response {
    let (status, key, name) = match error {
        FileError::NotFound(name) => (StatusCode::NOT_FOUND, "flows.file_not_found", name),
        FileError::BadName(name) => (StatusCode::FORBIDDEN, "flows.file_bad_name", name),
        FileError::Outside(name) => (StatusCode::FORBIDDEN, "flows.file_outside", name),
        FileError::TooLarge(name) => (StatusCode::PAYLOAD_TOO_LARGE, "flows.file_too_large", name),
        FileError::NotText(name) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "flows.file_not_text",
            name,
        ),
        FileError::Io { name, .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "flows.file_unreadable",
            name,
        ),
        FileError::Load(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "flows.file_unreadable",
            &String::new(),
        ),
    };
    tracing::warn!(name = %viewer.staff.name, error = %error, "console: flow file refused");
    let lang = viewer.lang;
    let mut text = format!(
        "{}: `{name}` {}",
        console.word("flows.no_file", lang),
        console.word(key, lang)
    );
    if matches!(error, FileError::Io { .. } | FileError::Load(_)) {
        // The system's own words, which say what to fix.
        text.push_str(&format!(" ({error})"));
    }
    text_reply(status, text)
}

async fn open_editor(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(refused) = console.require(&viewer, flow_editors) {
        return refused;
    }
    let wanted = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "file")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let flows = console.server().deployment.flows().to_path_buf();
    let name = wanted.clone();
    let lang = viewer.lang;
    let opened = blocking(move || -> Result<(String, Checked), FileError> {
        let path = files::resolve(&flows, &name)?;
        let text = files::read(&flows, &name)?;
        let checked = check_edit(&flows, &path, &text, lang)?;
        Ok((text, checked))
    })
    .await;
    match opened {
        Some(Ok((text, checked))) => {
            let form = EditForm {
                file: wanted,
                hash: files::text_hash(&text),
                ..EditForm::default()
            };
            let view = EditorView {
                checked: Some(checked),
                ..EditorView::default()
            };
            editor_page(&console, &viewer, StatusCode::OK, &form, &text, view)
        }
        Some(Err(e)) => file_refused(&console, &viewer, &e),
        None => text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
}

/// Check `form`'s text in place of its file: the path and the result.
async fn checked_form(
    console: &Console,
    viewer: &Viewer,
    form: &EditForm,
) -> Result<(PathBuf, Checked), Response> {
    console.require(viewer, flow_editors)?;
    let text = form.text();
    if text.len() > MAX_FLOW_BYTES {
        return Err(file_refused(
            console,
            viewer,
            &FileError::TooLarge(form.file.clone()),
        ));
    }
    let flows = console.server().deployment.flows().to_path_buf();
    let name = form.file.clone();
    let lang = viewer.lang;
    let done = blocking(move || -> Result<(PathBuf, Checked), FileError> {
        let path = files::resolve(&flows, &name)?;
        let checked = check_edit(&flows, &path, &text, lang)?;
        Ok((path, checked))
    })
    .await;
    match done {
        Some(Ok(done)) => Ok(done),
        Some(Err(e)) => Err(file_refused(console, viewer, &e)),
        None => Err(text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new())),
    }
}

async fn check(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<EditForm>,
) -> Response {
    let checked = match checked_form(&console, &viewer, &form).await {
        Ok((_, checked)) => checked,
        Err(refused) => return refused,
    };
    if headers.contains_key("x-fragment") {
        // The page's script replaces its diagnostics with this.
        return console.page(
            &viewer,
            "flows_diagnostics.html",
            context! {
                checked => true,
                diagnostics => minijinja::Value::from(minijinja::value::Serde(&checked.rows)),
                errors => checked.errors,
                warnings => checked.warnings,
            },
        );
    }
    let text = form.text();
    let view = EditorView {
        checked: Some(checked),
        ..EditorView::default()
    };
    editor_page(&console, &viewer, StatusCode::OK, &form, &text, view)
}

async fn edited_graph(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Form(form): Form<EditForm>,
) -> Response {
    let checked = match checked_form(&console, &viewer, &form).await {
        Ok((_, checked)) => checked,
        Err(refused) => return refused,
    };
    match checked.graph {
        Some(graph) => match blocking(move || flows_svg::svg(&graph)).await {
            Some(Ok(svg)) => svg_response(svg),
            _ => text_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                console.word("flows.picture_failed", viewer.lang),
            ),
        },
        None => {
            let text = form.text();
            let view = EditorView {
                checked: Some(checked),
                ..EditorView::default()
            };
            editor_page(
                &console,
                &viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &text,
                view,
            )
        }
    }
}

async fn simulate(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Form(form): Form<EditForm>,
) -> Response {
    let mut checked = match checked_form(&console, &viewer, &form).await {
        Ok((_, checked)) => checked,
        Err(refused) => return refused,
    };
    let text = form.text();
    let Some(graph) = checked.graph.take() else {
        let view = EditorView {
            simulate_problem: Some(console.word("flows.simulate_errors", viewer.lang)),
            checked: Some(checked),
            ..EditorView::default()
        };
        return editor_page(
            &console,
            &viewer,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            &text,
            view,
        );
    };
    let number = form.number.trim().to_owned();
    let caller = form.caller.clone();
    let keys = form.keys.clone();
    let lang = viewer.lang;
    let shown_number = number.clone();
    let ran = blocking(move || {
        let program = Program::new(graph).map_err(|e| SimulateError::Store(e.to_string()))?;
        flows_sim::simulate(program, &number, &caller, &keys, Timestamp::now(), lang)
    })
    .await;
    let ran = ran.map(|ran| {
        ran.map_err(|e| match e {
            SimulateError::Keys(_) => console.word("flows.sim_keys", lang),
            SimulateError::TooManyKeys => console.word("flows.sim_too_many", lang),
            SimulateError::NoFlow(_) => {
                format!(
                    "{} {shown_number}.",
                    console.word("flows.sim_no_flow", lang)
                )
            }
            SimulateError::Store(detail) => {
                format!("{}: {detail}", console.word("flows.sim_failed", lang))
            }
        })
    });
    let (status, view) = match ran {
        Some(Ok(lines)) => (
            StatusCode::OK,
            EditorView {
                transcript: Some(lines),
                checked: Some(checked),
                ..EditorView::default()
            },
        ),
        Some(Err(problem)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            EditorView {
                simulate_problem: Some(problem),
                checked: Some(checked),
                ..EditorView::default()
            },
        ),
        None => return text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    };
    editor_page(&console, &viewer, status, &form, &text, view)
}

async fn flow_tests(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Form(form): Form<EditForm>,
) -> Response {
    let checked = match checked_form(&console, &viewer, &form).await {
        Ok((_, checked)) => checked,
        Err(refused) => return refused,
    };
    let text = form.text();
    let _one_at_a_time = TESTING.lock().await;
    let flows = console.server().deployment.flows().to_path_buf();
    let name = form.file.clone();
    let lang = viewer.lang;
    let edited = text.clone();
    let ran = blocking(move || flows_tests::run(&flows, &name, &edited, lang)).await;
    let mut view = EditorView {
        checked: Some(checked),
        ..EditorView::default()
    };
    match ran {
        Some(Ok(run)) => view.tests = Some((run.passed, run.report)),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "console: the flow tests did not run");
            view.tests_problem = Some(match e {
                flows_tests::TestError::NotTheProgram => {
                    console.word("flows.tests_unavailable", viewer.lang)
                }
                flows_tests::TestError::TimedOut => {
                    console.word("flows.tests_timeout", viewer.lang)
                }
                flows_tests::TestError::Io(detail) => format!(
                    "{}: {detail}",
                    console.word("flows.tests_not_run", viewer.lang)
                ),
            });
        }
        None => return text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
    editor_page(&console, &viewer, StatusCode::OK, &form, &text, view)
}

/// What a publish did, before it is recorded.
struct Published {
    outcome: Outcome,
    version: Option<String>,
    /// Diagnostics to show and record (refused: the edit's; failed: the reload's).
    diagnostics: Option<String>,
    checked: Option<Checked>,
    /// The hash of the text now on disk (the editor continues from it).
    hash: String,
}

async fn publish(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Form(form): Form<EditForm>,
) -> Response {
    if let Err(refused) = console.require(&viewer, flow_editors) {
        return refused;
    }
    let text = form.text();
    if text.len() > MAX_FLOW_BYTES {
        return file_refused(&console, &viewer, &FileError::TooLarge(form.file.clone()));
    }
    let _one_at_a_time = PUBLISHING.lock().await;
    let server = console.server();
    let deployment = server.deployment.clone();
    let flows = deployment.flows().to_path_buf();
    let name = form.file.clone();
    let opened_hash = form.hash.clone();
    let lang = viewer.lang;
    let saved_text = text.clone();
    let done = blocking(move || -> Result<Published, FileError> {
        let path = files::resolve(&flows, &name)?;
        let on_disk = files::read(&flows, &name)?;
        let disk_hash = files::text_hash(&on_disk);
        if disk_hash != opened_hash {
            return Ok(Published {
                outcome: Outcome::Conflict,
                version: Some(deployment.current_id()),
                diagnostics: None,
                checked: None,
                hash: opened_hash,
            });
        }
        let checked = check_edit(&flows, &path, &saved_text, lang)?;
        let Some(expected) = checked.graph.as_ref().map(|g| g.content_hash.clone()) else {
            return Ok(Published {
                outcome: Outcome::Refused,
                version: Some(deployment.current_id()),
                diagnostics: Some(checked.rendered.clone()),
                checked: Some(checked),
                hash: disk_hash,
            });
        };
        let before = deployment.current_id();
        files::write_atomic(&path, &saved_text).map_err(|source| FileError::Io {
            name: name.clone(),
            source,
        })?;
        let hash = files::text_hash(&saved_text);
        // The same reload as a file edit (the watcher may run one too: whichever comes first
        // publishes, the other finds the version unchanged).
        let (outcome, diagnostics) = match deployment.reload() {
            reload::Outcome::Published { .. } => (Outcome::Published, None),
            reload::Outcome::Unchanged
                if before != expected && deployment.current_id() == expected =>
            {
                (Outcome::Published, None)
            }
            reload::Outcome::Unchanged => (Outcome::Unchanged, None),
            reload::Outcome::Failed { diagnostics } => (Outcome::Failed, Some(diagnostics)),
        };
        Ok(Published {
            outcome,
            version: Some(deployment.current_id()),
            diagnostics,
            checked: Some(checked),
            hash,
        })
    })
    .await;
    let published = match done {
        Some(Ok(published)) => published,
        Some(Err(e)) => return file_refused(&console, &viewer, &e),
        None => return text_reply(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    };
    let mut change = Change::new(
        &viewer.staff.name,
        &form.file,
        published.outcome,
        published.version.clone(),
    );
    if let Some(diagnostics) = &published.diagnostics {
        change = change.with_diagnostics(diagnostics);
    }
    let data = server.data_dir.clone();
    let recorded = blocking(move || record::append(&data, &change)).await;
    let record_failed = !matches!(recorded, Some(Ok(())));
    if record_failed {
        tracing::warn!(file = %form.file, "console: the publish could not be recorded");
    }
    tracing::info!(
        file = %form.file,
        by = %viewer.staff.name,
        outcome = ?published.outcome,
        version = published.version.as_deref().unwrap_or(""),
        "console: publish"
    );
    let (status, kind, key) = match published.outcome {
        Outcome::Published => (StatusCode::OK, "ok", "flows.published_notice"),
        Outcome::Unchanged => (StatusCode::OK, "ok", "flows.unchanged_notice"),
        Outcome::Refused => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "problem",
            "flows.refused_notice",
        ),
        Outcome::Conflict => (StatusCode::CONFLICT, "problem", "flows.conflict_notice"),
        Outcome::Failed => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "problem",
            "flows.failed_notice",
        ),
        Outcome::RolledBack => (StatusCode::OK, "ok", "flows.published_notice"),
    };
    let mut notice = console.word(key, viewer.lang);
    if let Some(version) = &published.version {
        notice.push_str(&format!(
            " ({} {})",
            console.word("flows.version", viewer.lang),
            short_id(version)
        ));
    }
    if published.outcome == Outcome::Failed
        && let Some(diagnostics) = &published.diagnostics
    {
        notice.push('\n');
        notice.push_str(diagnostics);
    }
    if record_failed {
        notice.push(' ');
        notice.push_str(&console.word("flows.record_failed", viewer.lang));
    }
    let form = EditForm {
        hash: published.hash,
        ..form
    };
    let view = EditorView {
        checked: published.checked,
        notice: Some((kind, notice)),
        ..EditorView::default()
    };
    editor_page(&console, &viewer, status, &form, &text, view)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::http::accounts::Role;
    use crate::http::session::Staff;

    fn viewer(role: Role, lang: Lang) -> Viewer {
        Viewer {
            staff: Staff {
                name: String::from("ed"),
                role,
                csrf: String::from("t"),
            },
            lang,
        }
    }

    async fn body(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// Every outcome the reload status names has its words; another is shown as it is.
    #[test]
    fn the_last_reload_is_said_in_the_page_language() {
        let console = super::super::tests::test_console();
        for (last, it, en) in [
            (
                "published",
                "riuscito, nuova versione",
                "published, a new version",
            ),
            ("unchanged", "riuscito, grafo invariato", "unchanged graph"),
            ("failed", "non riuscito", "failed"),
            ("rolled back", "versione ripristinata", "rolled back"),
            ("something new", "something new", "something new"),
        ] {
            assert_eq!(last_reload_word(&console, last, Lang::It), it);
            assert_eq!(last_reload_word(&console, last, Lang::En), en);
        }
    }

    #[test]
    fn pictures_are_kept_for_the_last_versions_drawn() {
        let ids: Vec<String> = (0..=PICTURES_KEPT)
            .map(|i| format!("sha256:picture-test-{i}"))
            .collect();
        for id in &ids {
            keep_drawn(id, Arc::from(format!("<svg>{id}</svg>").as_str()));
        }
        let last = ids.last().unwrap();
        assert_eq!(
            drawn(last).as_deref(),
            Some(format!("<svg>{last}</svg>").as_str())
        );
        assert_eq!(drawn(&ids[0]), None, "the oldest is forgotten");
    }

    /// Every page of the flows renders for each role and language, with what it shows.
    #[tokio::test]
    async fn the_pages_render_in_both_languages() {
        let console = Arc::new(super::super::tests::test_console());
        for lang in [Lang::It, Lang::En] {
            for role in [Role::Supervisor, Role::FlowEditor] {
                let (status, page) =
                    body(versions_page(&console, &viewer(role, lang), StatusCode::OK, None).await)
                        .await;
                assert_eq!(status, StatusCode::OK, "{page}");
                assert!(page.contains("id=\"versions\""), "{page}");
                assert!(page.contains("/flows/graph.svg"), "{page}");
            }
            let checked = Checked {
                graph: None,
                rows: vec![DiagnosticRow {
                    code: "E002",
                    error: true,
                    file: String::from("test.flow"),
                    line: 7,
                    column: 3,
                    here: true,
                    message: String::from("<b>unknown</b>"),
                    label: String::from("here"),
                    help: String::from("did you mean"),
                    related: vec![(String::from("test.flow"), 2, String::from("defined"))],
                }],
                errors: 1,
                warnings: 0,
                rendered: String::new(),
            };
            let form = EditForm {
                file: String::from("test.flow"),
                hash: String::from("abc"),
                ..EditForm::default()
            };
            let view = EditorView {
                checked: Some(checked),
                notice: Some(("problem", String::from("refused"))),
                transcript: Some(vec![Line {
                    time: String::from("10:00:00"),
                    state: true,
                    text: String::from("main.inizio"),
                }]),
                simulate_problem: None,
                tests: Some((false, String::from("1 passed, 1 failed"))),
                tests_problem: None,
            };
            let (status, page) = body(editor_page(
                &console,
                &viewer(Role::FlowEditor, lang),
                StatusCode::OK,
                &form,
                "\nflow <x>",
                view,
            ))
            .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert!(page.contains("data-line=\"7\""), "{page}");
            assert!(page.contains("&lt;b&gt;unknown"), "{page}");
            // The textarea keeps a first empty line (the parser drops one after the tag).
            assert!(
                page.contains("autocomplete=\"off\">\n\nflow &lt;x&gt;</textarea>"),
                "{page}"
            );
            assert!(page.contains("main.inizio"), "{page}");
            assert!(page.contains("1 passed, 1 failed"), "{page}");
        }
    }
}
