//! `centralino lsp`: the language server editors start, speaking LSP over stdin/stdout.
//!
//! ```text
//!  editor ──stdin──► lsp-server reader thread ─► main loop ─► Server (state: open buffers)
//!         ◄─stdout── lsp-server writer thread ◄─ responses, publishDiagnostics
//!                                                  │
//!                          deployment of a file ───┤  its folder's .flow files (and their
//!                                                  │  imports), open buffers over disk text
//!                          compile(&Sources) ──────┤  the same diagnostics as `check`
//!                          Index::of_sources ──────┘  definitions, references, completion
//! ```
//!
//! A file's deployment is the folder given by `--flows` (or the `flows` initialization
//! option) when the file is inside it, otherwise the file's own folder (or the highest
//! parent reached through folders that hold `.flow` files), searched recursively as
//! `check DIR` does. Every change recompiles that deployment and publishes
//! the diagnostics of each of its files (full-document sync). Requests read the buffers
//! as they are, saved or not.

mod complete;
mod docs;
mod keywords;
mod position;
mod uri;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use centralino_compiler::diagnostic::NameKind;
use centralino_compiler::index::{Index, Role, Symbol};
use centralino_compiler::load::{flow_files, normalize, read_source};
use centralino_compiler::{Lang, Severity, SourceId, Sources, compile, syntax};
use clap::Args;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{Completion, GotoDefinition, HoverRequest, References, Request as _};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionOptions, CompletionParams, CompletionResponse,
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, GotoDefinitionParams,
    GotoDefinitionResponse, Hover, HoverContents, HoverParams, HoverProviderCapability,
    InitializeParams, Location, MarkupContent, MarkupKind, NumberOrString, OneOf,
    PublishDiagnosticsParams, ReferenceParams, ServerCapabilities, TextDocumentPositionParams,
    TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};

use self::position::LineIndex;
use super::CLEAN;

#[derive(Debug, Args)]
pub struct LspArgs {
    /// The deployment folder: files inside it are checked together [default: each file's folder]
    #[arg(long)]
    flows: Option<PathBuf>,

    /// Talk over stdin/stdout (the only way; accepted because editors pass it).
    #[arg(long)]
    stdio: bool,
}

/// `lang` is `--lang` when given; otherwise the editor's `initializationOptions.lang` (`"it"`,
/// `"en"`), otherwise the locale of the environment, as for `check`.
pub fn run(args: &LspArgs, lang: Option<Lang>) -> anyhow::Result<u8> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = serde_json::to_value(capabilities())?;
    let params = connection
        .initialize(capabilities)
        .context("the editor did not initialize the language server")?;
    let params: InitializeParams =
        serde_json::from_value(params).context("initialize parameters")?;
    let from_editor = params
        .initialization_options
        .as_ref()
        .and_then(|options| options.get("flows"))
        .and_then(|flows| flows.as_str())
        .map(PathBuf::from);
    let flows = args.flows.clone().or(from_editor).map(|dir| absolute(&dir));
    let lang_from_editor = params
        .initialization_options
        .as_ref()
        .and_then(|options| options.get("lang"))
        .and_then(|lang| lang.as_str())
        .and_then(Lang::from_tag);
    let lang = lang
        .or(lang_from_editor)
        .unwrap_or_else(|| super::choose_lang(None));
    let mut server = Server {
        flows,
        lang,
        open: BTreeMap::new(),
    };
    main_loop(&connection, &mut server)?;
    drop(connection);
    io_threads.join().context("the editor's connection")?;
    Ok(CLEAN)
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![">".into(), " ".into(), "(".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

fn main_loop(connection: &Connection, server: &mut Server) -> anyhow::Result<()> {
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                let response = server.request(request);
                connection.sender.send(response.into())?;
            }
            Message::Notification(notification) => {
                for out in server.notification(notification) {
                    connection.sender.send(out.into())?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// A path made absolute against the working directory, and normalized.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        normalize(&cwd.join(path))
    }
}

/// The folder of a file, or the highest of its parents reached through folders that each
/// hold `.flow` files themselves (`flows/uffici/x.flow` belongs to `flows/` when `flows/`
/// has flow files of its own).
fn deployment_around(path: &Path) -> PathBuf {
    let has_flow_files = |dir: &Path| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|entry| {
                let path = entry.path();
                centralino_compiler::load::is_flow_file(&path) && path.is_file()
            })
        })
    };
    let mut dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    while let Some(up) = dir.parent() {
        if up.as_os_str().is_empty() || !has_flow_files(up) {
            break;
        }
        dir = up.to_path_buf();
    }
    dir
}

/// What the editor has open, and where deployments are.
struct Server {
    flows: Option<PathBuf>,
    /// The language of the diagnostics.
    lang: Lang,
    /// Open `.flow` buffers by path, with their text as the editor has it.
    open: BTreeMap<PathBuf, String>,
}

/// One deployment read for a request: its sources and which one is the file asked about.
struct Snapshot {
    sources: Sources,
    file: SourceId,
}

impl Server {
    fn notification(&mut self, notification: Notification) -> Vec<Notification> {
        let changed = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                extract::<lsp_types::DidOpenTextDocumentParams>(notification).and_then(|p| {
                    let path = uri::to_path(&p.text_document.uri)?;
                    self.open.insert(path.clone(), p.text_document.text);
                    Some(path)
                })
            }
            DidChangeTextDocument::METHOD => {
                extract::<lsp_types::DidChangeTextDocumentParams>(notification).and_then(|p| {
                    let path = uri::to_path(&p.text_document.uri)?;
                    // Full sync: the last change is the whole text.
                    let text = p.content_changes.into_iter().last()?.text;
                    self.open.insert(path.clone(), text);
                    Some(path)
                })
            }
            DidSaveTextDocument::METHOD => {
                extract::<lsp_types::DidSaveTextDocumentParams>(notification)
                    .and_then(|p| uri::to_path(&p.text_document.uri))
            }
            DidCloseTextDocument::METHOD => {
                extract::<lsp_types::DidCloseTextDocumentParams>(notification).and_then(|p| {
                    let path = uri::to_path(&p.text_document.uri)?;
                    self.open.remove(&path);
                    Some(path)
                })
            }
            _ => None,
        };
        match changed {
            Some(path) if centralino_compiler::load::is_flow_file(&path) => self.diagnostics(&path),
            Some(_) | None => Vec::new(),
        }
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            GotoDefinition::METHOD => request
                .extract::<GotoDefinitionParams>(GotoDefinition::METHOD)
                .map(|(_, p)| to_json(self.definition(&p.text_document_position_params))),
            References::METHOD => request
                .extract::<ReferenceParams>(References::METHOD)
                .map(|(_, p)| to_json(self.references(&p))),
            HoverRequest::METHOD => request
                .extract::<HoverParams>(HoverRequest::METHOD)
                .map(|(_, p)| to_json(self.hover(&p.text_document_position_params))),
            Completion::METHOD => request
                .extract::<CompletionParams>(Completion::METHOD)
                .map(|(_, p)| to_json(self.completion(&p))),
            _ => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("not supported: {}", request.method),
                );
            }
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(error) => invalid_params(id, &error),
        }
    }

    /// The deployment folder of a file.
    fn deployment(&self, path: &Path) -> PathBuf {
        match &self.flows {
            Some(flows) if path.starts_with(flows) => flows.clone(),
            Some(_) | None => deployment_around(path),
        }
    }

    /// The text of a file: the editor's buffer when open, the disk's otherwise.
    fn text(&self, path: &Path) -> Option<String> {
        match self.open.get(path) {
            Some(text) => Some(text.clone()),
            None => read_source(path).ok(),
        }
    }

    /// The deployment around a file, as `centralino check DIR` reads it, with open buffers
    /// over the disk's text (and open files not saved yet included).
    fn snapshot(&self, path: &Path) -> Option<Snapshot> {
        let dir = self.deployment(path);
        let mut queue: Vec<PathBuf> = flow_files(std::slice::from_ref(&dir)).unwrap_or_default();
        queue.extend(self.open.keys().filter(|p| p.starts_with(&dir)).cloned());
        queue.push(path.to_path_buf());
        queue.sort();
        queue.dedup();
        queue.reverse();
        let mut sources = Sources::new();
        while let Some(next) = queue.pop() {
            if sources.find(&next).is_some() {
                continue;
            }
            let Some(text) = self.text(&next) else {
                continue;
            };
            let base = next.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut imports: Vec<PathBuf> = syntax::imports(&text)
                .into_iter()
                .map(|import| normalize(&base.join(import)))
                .filter(|p| self.open.contains_key(p) || p.is_file())
                .collect();
            sources.add(next, text);
            imports.reverse();
            queue.extend(imports);
        }
        let file = sources.find(path)?;
        Some(Snapshot { sources, file })
    }

    /// `textDocument/publishDiagnostics` for every file of the deployment around `path`.
    fn diagnostics(&self, path: &Path) -> Vec<Notification> {
        let Some(snapshot) = self.snapshot(path) else {
            // Closed and gone from disk: clear what was shown.
            return uri::from_path(path)
                .map(|uri| publish(uri, Vec::new()))
                .into_iter()
                .collect();
        };
        let sources = &snapshot.sources;
        let diagnostics = compile(sources).diagnostics.in_language(self.lang);
        let mut by_file: BTreeMap<SourceId, Vec<Diagnostic>> =
            sources.iter().map(|(id, _)| (id, Vec::new())).collect();
        for diagnostic in diagnostics.iter() {
            if let Some(converted) = to_lsp(sources, diagnostic)
                && let Some(list) = by_file.get_mut(&diagnostic.span.source)
            {
                list.push(converted);
            }
        }
        by_file
            .into_iter()
            .filter_map(|(id, list)| {
                let uri = uri::from_path(&sources.get(id)?.path)?;
                Some(publish(uri, list))
            })
            .collect()
    }

    /// The snapshot, index and byte offset a position request is about.
    fn locate(&self, at: &TextDocumentPositionParams) -> Option<(Snapshot, Index, usize)> {
        let path = uri::to_path(&at.text_document.uri)?;
        let snapshot = self.snapshot(&path)?;
        let text = &snapshot.sources.get(snapshot.file)?.text;
        let offset = LineIndex::new(text).offset(at.position);
        let index = Index::of_sources(&snapshot.sources);
        Some((snapshot, index, offset))
    }

    fn definition(&self, at: &TextDocumentPositionParams) -> Option<GotoDefinitionResponse> {
        let (snapshot, index, offset) = self.locate(at)?;
        let symbol = index.at(snapshot.file, offset)?;
        let definition = index.definition(symbol)?;
        let location = location(&snapshot.sources, definition)?;
        Some(GotoDefinitionResponse::Scalar(location))
    }

    fn references(&self, params: &ReferenceParams) -> Option<Vec<Location>> {
        let (snapshot, index, offset) = self.locate(&params.text_document_position)?;
        let symbol = index.at(snapshot.file, offset)?;
        let with_definitions = params.context.include_declaration;
        Some(
            index
                .references(symbol)
                .filter(|s| with_definitions || s.role == Role::Reference)
                .filter_map(|s| location(&snapshot.sources, s))
                .collect(),
        )
    }

    fn hover(&self, at: &TextDocumentPositionParams) -> Option<Hover> {
        let (snapshot, index, offset) = self.locate(at)?;
        let text = &snapshot.sources.get(snapshot.file)?.text;
        let lines = LineIndex::new(text);
        if let Some(symbol) = index.at(snapshot.file, offset) {
            let mut doc = format!("**{}** `{}`", symbol.kind.describe(), symbol.name);
            if let Some(flow) = &symbol.flow {
                doc.push_str(&format!(" of flow `{flow}`"));
            }
            let about = docs::kind(symbol.kind);
            if !about.is_empty() {
                doc.push_str(&format!("\n\n{about}"));
            }
            match index.definition(symbol) {
                Some(definition) => {
                    if let Some(line) = definition_line(&snapshot.sources, definition) {
                        doc.push_str(&format!("\n\n```centralino\n{line}\n```"));
                    }
                }
                None => doc.push_str("\n\nNot defined anywhere in this deployment."),
            }
            let range = lines.range(symbol.span.start as usize, symbol.span.end as usize);
            return Some(markdown(doc, Some(range)));
        }
        let (start, end) = word_at(text, offset)?;
        if in_text_or_comment(text, start) {
            return None;
        }
        let doc = docs::keyword(text.get(start..end)?)?;
        Some(markdown(doc.to_owned(), Some(lines.range(start, end))))
    }

    fn completion(&self, params: &CompletionParams) -> Option<CompletionResponse> {
        let (snapshot, index, offset) = self.locate(&params.text_document_position)?;
        let text = &snapshot.sources.get(snapshot.file)?.text;
        let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
        let line_before = text.get(line_start..offset)?;
        let mut items = Vec::new();
        let names = |kind: NameKind, items: &mut Vec<CompletionItem>| {
            let found: Vec<String> = match kind {
                NameKind::State => match index.flow_at(snapshot.file, offset) {
                    Some(flow) => flow.states.clone(),
                    None => complete::states_around(text, offset),
                },
                _ => index.names(kind).into_iter().map(str::to_owned).collect(),
            };
            items.extend(found.into_iter().map(|name| CompletionItem {
                label: name,
                kind: Some(item_kind(kind)),
                detail: Some(kind.describe().to_owned()),
                ..CompletionItem::default()
            }));
        };
        match complete::wanted(line_before) {
            complete::Wanted::Name(NameKind::State) => {
                names(NameKind::State, &mut items);
                for builtin in ["hangup", "return"] {
                    items.push(keyword_item(builtin));
                }
            }
            complete::Wanted::Name(kind) => names(kind, &mut items),
            complete::Wanted::Action => {
                items.extend(keywords::ACTIONS.iter().map(|word| keyword_item(word)));
                items.push(keyword_item("hangup"));
            }
            complete::Wanted::Anything => {
                for kind in [
                    NameKind::Prompt,
                    NameKind::Office,
                    NameKind::Calendar,
                    NameKind::Category,
                    NameKind::Service,
                    NameKind::Flow,
                ] {
                    names(kind, &mut items);
                }
                items.extend(keywords::KEYWORDS.iter().map(|word| keyword_item(word)));
            }
        }
        Some(CompletionResponse::Array(items))
    }
}

fn keyword_item(word: &str) -> CompletionItem {
    CompletionItem {
        label: word.to_owned(),
        kind: Some(CompletionItemKind::KEYWORD),
        detail: docs::keyword(word).map(str::to_owned),
        ..CompletionItem::default()
    }
}

fn item_kind(kind: NameKind) -> CompletionItemKind {
    match kind {
        NameKind::State => CompletionItemKind::ENUM_MEMBER,
        NameKind::Flow => CompletionItemKind::MODULE,
        NameKind::Calendar | NameKind::Office | NameKind::Category | NameKind::Service => {
            CompletionItemKind::CLASS
        }
        NameKind::Prompt => CompletionItemKind::TEXT,
        NameKind::Function => CompletionItemKind::FUNCTION,
        NameKind::Variable => CompletionItemKind::VARIABLE,
        NameKind::Language | NameKind::HolidaySet | NameKind::Priority => {
            CompletionItemKind::CONSTANT
        }
    }
}

/// The identifier-like word around a byte offset.
fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let offset = offset.min(text.len());
    let start = text
        .get(..offset)?
        .char_indices()
        .rev()
        .find(|(_, c)| !complete::is_ident_char(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let end = text
        .get(offset..)?
        .char_indices()
        .find(|(_, c)| !complete::is_ident_char(*c))
        .map_or(text.len(), |(i, _)| offset + i);
    (start < end).then_some((start, end))
}

/// Whether a byte offset is inside a quoted text or a `//` comment of its line.
fn in_text_or_comment(text: &str, offset: usize) -> bool {
    let line_start = text
        .get(..offset)
        .and_then(|head| head.rfind('\n'))
        .map_or(0, |i| i + 1);
    let before = text.get(line_start..offset).unwrap_or_default();
    let mut quoted = false;
    let mut chars = before.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                chars.next();
            }
            '"' => quoted = !quoted,
            '/' if !quoted && chars.peek() == Some(&'/') => return true,
            _ => {}
        }
    }
    quoted
}

/// The line a definition is written on, trimmed.
fn definition_line(sources: &Sources, symbol: &Symbol) -> Option<String> {
    let text = &sources.get(symbol.span.source)?.text;
    let start = symbol.span.start as usize;
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?.trim();
    Some(line.to_owned())
}

fn location(sources: &Sources, symbol: &Symbol) -> Option<Location> {
    let file = sources.get(symbol.span.source)?;
    let range =
        LineIndex::new(&file.text).range(symbol.span.start as usize, symbol.span.end as usize);
    Some(Location::new(uri::from_path(&file.path)?, range))
}

/// A compiler diagnostic as the editor shows it: the code in `code`, the primary label and
/// the help line in the message, secondary labels as related information.
fn to_lsp(sources: &Sources, diagnostic: &centralino_compiler::Diagnostic) -> Option<Diagnostic> {
    let file = sources.get(diagnostic.span.source)?;
    let range = LineIndex::new(&file.text)
        .range(diagnostic.span.start as usize, diagnostic.span.end as usize);
    let mut message = diagnostic.message.clone();
    if !diagnostic.label.is_empty() {
        message.push_str(&format!("\n{}", diagnostic.label));
    }
    if !diagnostic.help.is_empty() {
        message.push_str(&format!("\nhelp: {}", diagnostic.help));
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .secondary
        .iter()
        .filter_map(|label| {
            let other = sources.get(label.span.source)?;
            let range = LineIndex::new(&other.text)
                .range(label.span.start as usize, label.span.end as usize);
            Some(DiagnosticRelatedInformation {
                location: Location::new(uri::from_path(&other.path)?, range),
                message: label.message.clone(),
            })
        })
        .collect();
    Some(Diagnostic {
        range,
        severity: Some(match diagnostic.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.to_owned())),
        source: Some("centralino".to_owned()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Diagnostic::default()
    })
}

fn publish(uri: Uri, diagnostics: Vec<Diagnostic>) -> Notification {
    Notification::new(
        PublishDiagnostics::METHOD.to_owned(),
        PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        },
    )
}

fn markdown(value: String, range: Option<lsp_types::Range>) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range,
    }
}

fn extract<P: serde::de::DeserializeOwned>(notification: Notification) -> Option<P> {
    serde_json::from_value(notification.params).ok()
}

fn to_json<T: serde::Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn invalid_params(id: RequestId, error: &lsp_server::ExtractError<Request>) -> Response {
    Response::new_err(
        id,
        ErrorCode::InvalidParams as i32,
        format!("invalid parameters: {error:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secondary_labels_become_related_information_in_the_other_file() {
        let mut sources = Sources::new();
        sources.add(
            "/deploy/a.flow",
            "// Città\nprompt ciao \"Ciao\"\nflow f answers \"1\" {\n  s: say ciao -> hangup\n}\n",
        );
        sources.add("/deploy/b.flow", "prompt ciao \"Salve\"\n");
        let compiled = compile(&sources);
        let duplicate = compiled
            .diagnostics
            .iter()
            .find(|d| d.code == "E003")
            .expect("a duplicate prompt");
        let converted = to_lsp(&sources, duplicate).expect("converted");
        assert_eq!(converted.code, Some(NumberOrString::String("E003".into())));
        assert_eq!(converted.severity, Some(DiagnosticSeverity::ERROR));
        assert_eq!(
            converted.range,
            lsp_types::Range::new(
                lsp_types::Position::new(0, 7),
                lsp_types::Position::new(0, 11)
            )
        );
        assert!(converted.message.starts_with(&duplicate.message));
        assert!(converted.message.contains(&duplicate.label));
        let related = converted.related_information.expect("the first definition");
        assert_eq!(related.len(), duplicate.secondary.len());
        let first = related.first().expect("one");
        assert_eq!(first.location.uri.as_str(), "file:///deploy/a.flow");
        assert_eq!(
            first.location.range,
            lsp_types::Range::new(
                lsp_types::Position::new(1, 7),
                lsp_types::Position::new(1, 11)
            )
        );
    }

    #[test]
    fn a_deployment_reaches_up_through_folders_with_flow_files() {
        let root = tempfile::tempdir().unwrap();
        let flows = root.path().join("flows");
        let offices = flows.join("uffici");
        std::fs::create_dir_all(&offices).unwrap();
        std::fs::write(offices.join("anagrafe.flow"), "").unwrap();
        // `flows/` has no flow file of its own yet: the file's folder is the deployment.
        assert_eq!(deployment_around(&offices.join("anagrafe.flow")), offices);
        std::fs::write(flows.join("main.flow"), "").unwrap();
        assert_eq!(deployment_around(&offices.join("anagrafe.flow")), flows);
        assert_eq!(deployment_around(&flows.join("main.flow")), flows);
    }

    #[test]
    fn the_word_under_the_cursor() {
        let text = "  s: say ciao -> fine";
        assert_eq!(word_at(text, 6), Some((5, 8)));
        assert_eq!(word_at(text, 8), Some((5, 8)));
        assert_eq!(word_at(text, 15), None);
        assert_eq!(word_at(text, 100), Some((17, 21)));
    }

    #[test]
    fn keywords_in_texts_and_comments_are_words() {
        let text = "a: say \"menu \\\" say\" -> b // menu\nc: menu";
        let at = |needle: &str, nth: usize| text.match_indices(needle).nth(nth).unwrap().0;
        assert!(!in_text_or_comment(text, at("say", 0)));
        assert!(in_text_or_comment(text, at("menu", 0)));
        assert!(in_text_or_comment(text, at("say", 1)));
        assert!(!in_text_or_comment(text, at("-> b", 0) + 3));
        assert!(in_text_or_comment(text, at("menu", 1)));
        assert!(!in_text_or_comment(text, at("menu", 2)));
    }
}
