//! `centralino lsp` driven as an editor drives it: real LSP JSON-RPC messages over the
//! process's stdin and stdout (Content-Length framing), against a deployment in a temporary
//! folder whose open buffer differs from the disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_centralino");
const WAIT: Duration = Duration::from_secs(20);

const PROMPTS: &str = "prompt benvenuto {\n  it \"Benvenuto nella Città di Perugia.\"\n}\n";

/// On disk: a clean flow.
const MAIN_ON_DISK: &str = r#"flow main answers "075075075" {
  inizio: say "Benvenuto." -> scelta
  scelta: menu "Prema 1." timeout 5s retries 2 {
    1 -> fine
    timeout, invalid -> fine
  }
  fine: say benvenuto -> hangup
}
"#;

/// In the editor, not saved: a misspelt target after accented text on the same line.
const MAIN_OPEN: &str = r#"// Centralino della Città di Perugia
flow main answers "075075075" {
  inizio: say "Benvenuto nella Città." -> sclta
  scelta: menu "Prema 1." timeout 5s retries 2 {
    1 -> fine
    timeout, invalid -> fine
  }
  fine: say benvenuto -> hangup
}
"#;

/// The language server as a child process, killed by PID if a test fails before `exit`.
struct Lsp {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    /// Reads the server's stdout; ends when the server closes it.
    reader: Option<std::thread::JoinHandle<()>>,
    /// Messages read but not yet asked for.
    pending: VecDeque<Value>,
    next_id: i64,
}

impl Lsp {
    fn start(dir: &Path) -> Lsp {
        Lsp::start_in_locale(dir, "C.UTF-8")
    }

    /// The server started with `LANG=lang` (and no other locale variable).
    fn start_in_locale(dir: &Path, lang: &str) -> Lsp {
        let mut child = Command::new(BIN)
            .arg("lsp")
            .current_dir(dir)
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", lang)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, incoming) = channel();
        // Ends when the server closes its stdout (it exits or is killed).
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        Lsp {
            child,
            stdin,
            incoming,
            reader: Some(reader),
            pending: VecDeque::new(),
            next_id: 1,
        }
    }

    fn send(&mut self, message: &Value) {
        let body = serde_json::to_string(message).unwrap();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Send a request and wait for its response's `result`.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let response = self.wait_for(&format!("the response to {method}"), |m| {
            m["id"] == json!(id) && m.get("method").is_none()
        });
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// The first message (already read or to come) that `wanted` accepts.
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return self.pending.remove(i).unwrap();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(message) if wanted(&message) => return message,
                Ok(message) => self.pending.push_back(message),
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within {WAIT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("the server closed before {what}"),
            }
        }
    }

    /// The next diagnostics published for a file.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let message = self.wait_for(&format!("diagnostics for {uri}"), |m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        });
        message["params"]["diagnostics"].as_array().unwrap().clone()
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-9", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// One `Content-Length`-framed JSON message; `None` at the end of the stream.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn position(line: u32, character: u32) -> Value {
    json!({"line": line, "character": character})
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": position(line, character)})
}

/// Line and UTF-16 column of the first `needle` in `text`, plus `extra` characters.
fn find(text: &str, needle: &str, extra: u32) -> (u32, u32) {
    let offset = text.find(needle).expect("needle in the text");
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..offset].matches('\n').count() as u32;
    let column = text[line_start..offset].encode_utf16().count() as u32;
    (line, column + extra)
}

fn labels(result: &Value) -> Vec<String> {
    let items = result.get("items").unwrap_or(result);
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["label"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_editor_session_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    // A folder of its own: the folder above it (the temporary directory's) has no flow files.
    let dir_path = dir.path().canonicalize().unwrap().join("flussi");
    std::fs::create_dir(&dir_path).unwrap();
    std::fs::write(dir_path.join("prompts.flow"), PROMPTS).unwrap();
    std::fs::write(dir_path.join("main.flow"), MAIN_ON_DISK).unwrap();
    let main = uri(&dir_path.join("main.flow"));
    let prompts = uri(&dir_path.join("prompts.flow"));

    let mut lsp = Lsp::start(&dir_path);
    let init = lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": uri(&dir_path), "capabilities": {}}),
    );
    let capabilities = &init["capabilities"];
    assert_eq!(capabilities["definitionProvider"], true, "{init}");
    assert_eq!(capabilities["referencesProvider"], true);
    assert_eq!(capabilities["hoverProvider"], true);
    assert_eq!(capabilities["textDocumentSync"], 1, "full sync");
    lsp.notify("initialized", json!({}));

    // Diagnostics of the unsaved buffer, as `check` gives them, UTF-16 columns.
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": main, "languageId": "centralino", "version": 1, "text": MAIN_OPEN}}),
    );
    let diagnostics = lsp.diagnostics(&main);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let unknown = &diagnostics[0];
    assert_eq!(unknown["code"], "E002");
    assert_eq!(unknown["severity"], 1);
    assert_eq!(unknown["source"], "centralino");
    // "  inizio: say \"Benvenuto nella Città.\" -> " is 42 UTF-16 units (43 bytes).
    assert_eq!(
        unknown["range"],
        json!({"start": position(2, 42), "end": position(2, 47)})
    );
    let message = unknown["message"].as_str().unwrap();
    assert!(message.contains("sclta"), "{message}");
    assert!(
        message.contains("help: did you mean `scelta`?"),
        "{message}"
    );
    // The other file of the deployment is clean, and said so.
    assert_eq!(lsp.diagnostics(&prompts), Vec::<Value>::new());

    // Go to definition: a state in the same flow, a prompt in another file.
    let (line, column) = find(MAIN_OPEN, "1 -> fine", 6);
    let definition = lsp.request("textDocument/definition", at(&main, line, column));
    let (def_line, def_column) = find(MAIN_OPEN, "fine: say", 0);
    assert_eq!(definition["uri"], main);
    assert_eq!(
        definition["range"],
        json!({"start": position(def_line, def_column), "end": position(def_line, def_column + 4)})
    );
    let (line, column) = find(MAIN_OPEN, "say benvenuto", 5);
    let definition = lsp.request("textDocument/definition", at(&main, line, column));
    assert_eq!(definition["uri"], prompts);
    assert_eq!(
        definition["range"],
        json!({"start": position(0, 7), "end": position(0, 16)})
    );
    // Nothing to go to on a keyword.
    let (line, column) = find(MAIN_OPEN, "menu", 1);
    let nothing = lsp.request("textDocument/definition", at(&main, line, column));
    assert_eq!(nothing, Value::Null);

    // Find references: both targets and the definition of `fine`.
    let mut params = at(&main, def_line, def_column + 1);
    params["context"] = json!({"includeDeclaration": true});
    let references = lsp.request("textDocument/references", params.clone());
    let lines: Vec<u64> = references
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [4, 5, 7], "{references}");
    params["context"] = json!({"includeDeclaration": false});
    let references = lsp.request("textDocument/references", params);
    assert_eq!(references.as_array().unwrap().len(), 2);

    // Hover: a keyword's doc, and what a name is.
    let hover = lsp.request("textDocument/hover", at(&main, line, column));
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("waits for one key"), "{text}");
    let (line, column) = find(MAIN_OPEN, "say benvenuto", 6);
    let hover = lsp.request("textDocument/hover", at(&main, line, column));
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.starts_with("**prompt** `benvenuto`"), "{text}");
    assert!(text.contains("prompt benvenuto {"), "{text}");

    // Typing: the target is deleted; the flow no longer parses, completion after `->`
    // still lists the flow's states.
    let typing = MAIN_OPEN.replace("-> sclta", "-> ");
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 2}, "contentChanges": [{"text": typing}]}),
    );
    let diagnostics = lsp.diagnostics(&main);
    let codes: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"E001"), "{diagnostics:#?}");
    let (line, column) = find(&typing, "-> \n", 3);
    let completion = lsp.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": main}, "position": position(line, column)}),
    );
    let offered = labels(&completion);
    for state in ["inizio", "scelta", "fine", "hangup"] {
        assert!(offered.contains(&state.to_owned()), "{offered:?}");
    }
    assert!(!offered.contains(&"benvenuto".to_owned()), "{offered:?}");
    // After `say`: the prompts.
    let (line, column) = find(&typing, "say benvenuto", 4);
    let completion = lsp.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": main}, "position": position(line, column)}),
    );
    assert_eq!(labels(&completion), ["benvenuto"]);

    // Closing the buffer goes back to the disk's text, which is clean.
    lsp.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": main}}),
    );
    assert_eq!(lsp.diagnostics(&main), Vec::<Value>::new());

    // Shutdown, then exit: the process ends by itself, successfully.
    let result = lsp.request("shutdown", Value::Null);
    assert_eq!(result, Value::Null);
    lsp.notify("exit", Value::Null);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = lsp.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn an_unknown_request_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut lsp = Lsp::start(dir.path());
    lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    lsp.notify("initialized", json!({}));
    lsp.send(
        &json!({"jsonrpc": "2.0", "id": 99, "method": "textDocument/formatting", "params": {}}),
    );
    let response = lsp.wait_for("the error", |m| m["id"] == 99);
    assert_eq!(response["error"]["code"], -32601);
    // A request about a file that is not there answers null.
    let missing = uri(&dir.path().join("nowhere.flow"));
    let nothing = lsp.request("textDocument/hover", at(&missing, 0, 0));
    assert_eq!(nothing, Value::Null);
}

/// The diagnostics speak the language of the `lang` initialization option, else of the locale.
#[test]
fn diagnostics_in_the_language_the_editor_or_the_locale_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap().join("flussi");
    std::fs::create_dir(&dir_path).unwrap();
    std::fs::write(dir_path.join("prompts.flow"), PROMPTS).unwrap();
    std::fs::write(dir_path.join("main.flow"), MAIN_ON_DISK).unwrap();
    let main = uri(&dir_path.join("main.flow"));
    for (locale, options, italian) in [
        ("C.UTF-8", json!({"lang": "it"}), true),
        ("it_IT.UTF-8", json!({}), true),
        ("it_IT.UTF-8", json!({"lang": "en"}), false),
    ] {
        let mut lsp = Lsp::start_in_locale(&dir_path, locale);
        lsp.request(
            "initialize",
            json!({"processId": null, "rootUri": uri(&dir_path), "capabilities": {},
                   "initializationOptions": options}),
        );
        lsp.notify("initialized", json!({}));
        lsp.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": main, "languageId": "centralino", "version": 1, "text": MAIN_OPEN}}),
        );
        let diagnostics = lsp.diagnostics(&main);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        assert_eq!(diagnostics[0]["code"], "E002");
        let message = diagnostics[0]["message"].as_str().unwrap();
        let expected = if italian {
            "stato `sclta` sconosciuto"
        } else {
            "unknown state `sclta`"
        };
        assert!(message.contains(expected), "{locale} {options}: {message}");
    }
}
