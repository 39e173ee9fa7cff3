//! `centralino tokens add NAME --scope ...|list|revoke NAME`: the connectors API's tokens, one
//! per connected system, kept hashed in `DATA/tokens.toml` (see
//! `centralino_runtime::http::api::tokens`). The token is printed once, when it is made; a
//! running server reads the file again when it changes, so no restart is needed.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use centralino_runtime::http::api::tokens::{Scope, TokenError, Tokens};

use super::CLEAN;

#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    command: TokensCommand,
    /// The data directory holding `tokens.toml` (the server's `--data`).
    #[arg(long, value_name = "DIR", default_value = "data", global = true)]
    data: PathBuf,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Make a token for a connected system; it is printed once, only its hash is kept.
    Add {
        /// The system's name (it is recorded as the author of every change it makes).
        name: String,
        /// What it may do, comma-separated: tickets:read, tickets:write, callbacks:read,
        /// callbacks:write, bookings:read, bookings:write, directory:read, calls:read.
        #[arg(long, value_delimiter = ',', value_parser = parse_scope, required = true)]
        scope: Vec<Scope>,
    },
    /// List the tokens' names, scopes and when they were made (never the tokens).
    List,
    /// Revoke a token: it is refused from the next request on.
    Revoke { name: String },
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text.trim()).ok_or_else(|| {
        let all: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        format!("`{text}` is not a scope: {}", all.join(", "))
    })
}

pub fn run(args: &TokensArgs) -> anyhow::Result<u8> {
    let path = Tokens::path_in(&args.data);
    match &args.command {
        TokensCommand::List => {
            let tokens = Tokens::load(&path)?;
            if tokens.tokens.is_empty() {
                println!(
                    "no tokens (add one with `centralino tokens add NAME --scope tickets:read`)"
                );
            }
            for (name, token) in &tokens.tokens {
                let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
                println!("{name}\t{}\t{}", scopes.join(","), token.created_at);
            }
        }
        TokensCommand::Add { name, scope } => {
            let mut token = String::new();
            edit(&path, |tokens| {
                token = tokens.add(name, scope, jiff::Timestamp::now())?;
                Ok(())
            })?;
            eprintln!(
                "token `{name}` added in {} (shown only now; keep it secret):",
                path.display()
            );
            println!("{token}");
        }
        TokensCommand::Revoke { name } => {
            edit(&path, |tokens| tokens.revoke(name))?;
            println!("token `{name}` revoked in {}", path.display());
        }
    }
    Ok(CLEAN)
}

/// Read the tokens file, change it, write it back whole (the old file stays on any error).
fn edit(
    path: &std::path::Path,
    change: impl FnOnce(&mut Tokens) -> Result<(), TokenError>,
) -> anyhow::Result<()> {
    let mut tokens = Tokens::load(path)?;
    change(&mut tokens)?;
    tokens.save(path)?;
    Ok(())
}
