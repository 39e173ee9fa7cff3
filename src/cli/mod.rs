//! The command line: clap types, dispatch, and exit codes.
//!
//! ```text
//!  centralino check   [PATHS]...  --format human|json|github|sarif   diagnostics (--lang it|en)
//!  centralino compile [PATHS]...  -o graph.json                       the graph the runtime loads
//!  centralino graph   [PATHS]...  --format dot|mermaid|svg -o FILE    a picture of the flows
//!  centralino simulate [PATHS]... --number N [--input KEYS]           one call, as a transcript
//!  centralino tickets|callbacks|appointments list|show REF [--data DIR]  what calls stored
//!  centralino test    [PATHS]...  --format human|github --filter TEXT   run the .test scenarios
//!  centralino directory [SEARCH] [--flows DIR] [--contacts FILE] --format text|yealink|snom|vcard
//!  centralino calls [list|show ID]                                     live calls; the call log
//!  centralino replay ID [--with-current [FLOWS]]                      a logged call run again
//!  centralino report [--from DATE] [--to DATE] [--csv NAME]            reports (as /reports)
//!  centralino serve   [--flows DIR] [--data DIR] [--listen ADDR]        answer calls on SIP/RTP
//!  centralino registrations                                           staff phones registered
//!  centralino staff hash EXTENSION [--realm R]  < password             a [staff.accounts] line
//!  centralino lsp [--flows DIR]                                       the language server (stdio)
//! ```
//!
//! Exit codes: 0 clean (warnings allowed), 1 the flows have errors (or
//! warnings under `--deny-warnings`), 2 the command could not run (bad
//! usage, unreadable paths, output not written, Graphviz missing).

mod calls;
mod check;
mod clock;
mod compile;
mod control;
mod directory;
mod format;
mod graph;
mod lsp;
mod output;
mod records;
mod report;
mod serve;
mod simulate;
mod staff;
mod test;
mod tokens;
mod transcript;
mod users;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use centralino_compiler::load::load;
use centralino_compiler::{Lang, Sources};
use clap::{Parser, Subcommand, ValueEnum};

/// Run a city's citizen phone number from plain text flow files.
#[derive(Debug, Parser)]
#[command(name = "centralino", version, about, propagate_version = true)]
pub struct Cli {
    /// When to colour diagnostics: `auto` colours only a terminal (and honours NO_COLOR).
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,

    /// The language of diagnostics: `it` (Italian) or `en` (English). Without it, the locale
    /// decides (LC_ALL, LC_MESSAGES, LANG: `it_IT.UTF-8` is Italian); English otherwise.
    #[arg(long, value_enum, global = true)]
    lang: Option<LangArg>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check flow files and report every problem.
    Check(check::CheckArgs),
    /// Compile flow files into the graph (JSON) that the runtime loads.
    Compile(compile::CompileArgs),
    /// Draw the flows as a picture (Graphviz dot, Mermaid, or SVG).
    Graph(graph::GraphArgs),
    /// Simulate one call: a transcript of what the caller hears and what is stored.
    Simulate(simulate::SimulateArgs),
    /// Tickets opened by calls: `list`, or `show REF` [store: --data DIR, default ./data].
    Tickets(records::RecordsArgs),
    /// Call-backs asked for by callers: `list`, or `show REF`.
    Callbacks(records::RecordsArgs),
    /// Bookings (office appointments and services): `list`, or `show REF`.
    Appointments(records::RecordsArgs),
    /// Run the flow tests: the `.test` scenarios under the paths, each a simulated call.
    Test(test::TestArgs),
    /// What the running server serves, and its last reload (with diagnostics if it failed).
    Status(control::ControlArgs),
    /// The calls the running server has now (who, where in the flow, since when, which
    /// version); `list` / `show ID`: the call log of calls that ended.
    Calls(calls::CallsArgs),
    /// Run a logged call again on the version that served it and check the engine takes the
    /// same steps; `--with-current`: where the same caller would go with the flows now.
    Replay(calls::ReplayArgs),
    /// The versions the running server keeps (for rollback).
    Versions(control::ControlArgs),
    /// Ask the running server to recompile and publish the flows now.
    Reload(control::ControlArgs),
    /// Make the running server serve a kept version again.
    Rollback(control::RollbackArgs),
    /// The address book: offices, staff and external contacts, searched and printed.
    Directory(directory::DirectoryArgs),
    /// The staff phones registered with the running server: extension, contact, expiry.
    Registrations(control::ControlArgs),
    /// Staff accounts: `hash EXTENSION` prints the `[staff.accounts]` line for a password.
    Staff(staff::StaffArgs),
    /// Staff console accounts: add, passwd, role, remove, list (passwords as argon2id hashes).
    Users(users::UsersArgs),
    /// Reports for supervisors from the call log and the store (as the console's /reports):
    /// every report as text, or one as CSV with `--csv NAME`.
    Report(report::ReportArgs),
    /// Connectors API tokens: add NAME --scope ..., list, revoke NAME (stored hashed).
    Tokens(tokens::TokensArgs),
    /// Answer calls on SIP with the flows (default: flows/, store in ./data, SIP on 127.0.0.1:5060).
    Serve(serve::ServeArgs),
    /// The language server for editors, over stdin/stdout: diagnostics, definitions, hover, completion.
    Lsp(lsp::LspArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LangArg {
    It,
    En,
}

/// The language of diagnostics: `--lang`, else the locale of the environment, else English.
pub(crate) fn choose_lang(flag: Option<LangArg>) -> Lang {
    match flag {
        Some(LangArg::It) => Lang::It,
        Some(LangArg::En) => Lang::En,
        None => {
            let var = |name: &str| std::env::var(name).ok();
            let (all, messages, lang) = (var("LC_ALL"), var("LC_MESSAGES"), var("LANG"));
            Lang::from_locale([all.as_deref(), messages.as_deref(), lang.as_deref()])
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour output going to a stream that is (or is not) a terminal.
    fn enabled(self, terminal: bool) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn stdout(self) -> bool {
        self.enabled(std::io::stdout().is_terminal())
    }

    fn stderr(self) -> bool {
        self.enabled(std::io::stderr().is_terminal())
    }
}

/// The paths to read: those given, or `flows/`.
fn paths_or_default(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("flows")]
    } else {
        paths.to_vec()
    }
}

/// Read the deployment; a path that cannot be read makes the command fail (exit 2).
fn load_sources(paths: &[PathBuf]) -> anyhow::Result<Sources> {
    Ok(load(&paths_or_default(paths))?)
}

/// How a command ended, when it ran.
const CLEAN: u8 = 0;

/// A password from standard input: its first line (at most 4 KiB read), never from the
/// command line, where the process list shows it. `example` shows how to give one.
fn password_from_stdin(example: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .map_err(|e| anyhow::anyhow!("reading the password from standard input: {e}"))?;
    let password = input.lines().next().unwrap_or_default().to_string();
    if password.is_empty() {
        anyhow::bail!("no password on standard input (e.g. `{example}`)");
    }
    Ok(password)
}
const PROBLEMS: u8 = 1;
const FAILED: u8 = 2;

pub fn main() -> ExitCode {
    // Usage errors exit 2 (clap's own code); --help and --version exit 0.
    let cli = Cli::parse();
    let lang = choose_lang(cli.lang);
    let result = match &cli.command {
        Command::Check(args) => check::run(args, cli.color, lang),
        Command::Compile(args) => compile::run(args, cli.color, lang),
        Command::Graph(args) => graph::run(args, cli.color, lang),
        Command::Simulate(args) => simulate::run(args, cli.color, lang),
        Command::Tickets(args) => records::run(records::Kind::Tickets, args),
        Command::Callbacks(args) => records::run(records::Kind::Callbacks, args),
        Command::Appointments(args) => records::run(records::Kind::Appointments, args),
        Command::Test(args) => test::run(args, cli.color, lang),
        Command::Directory(args) => directory::run(args, cli.color, lang),
        Command::Serve(args) => serve::run(args, cli.color, lang),
        Command::Status(args) => control::status(args),
        Command::Calls(args) => calls::calls(args),
        Command::Replay(args) => calls::replay(args),
        Command::Versions(args) => control::versions(args),
        Command::Reload(args) => control::reload(args),
        Command::Rollback(args) => control::rollback(args),
        Command::Registrations(args) => control::registrations(args),
        Command::Staff(args) => staff::run(args),
        Command::Users(args) => users::run(args),
        Command::Report(args) => report::run(args),
        Command::Tokens(args) => tokens::run(args),
        Command::Lsp(args) => lsp::run(args, cli.lang.map(|_| lang)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn no_paths_means_flows() {
        assert_eq!(paths_or_default(&[]), vec![PathBuf::from("flows")]);
        let given = vec![PathBuf::from("a.flow")];
        assert_eq!(paths_or_default(&given), given);
    }
}
