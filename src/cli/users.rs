//! `centralino users add|passwd|role|extension|offices|remove|list|hash`: the staff console's accounts, kept in
//! `DATA/accounts.toml` as argon2id hashes (see `centralino_runtime::http::accounts`). A
//! running server reads the file again when it changes, so no restart is needed.
//!
//! Passwords are read on standard input (one line), never from the command line, where other
//! users of the machine could read them in the process list.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use centralino_runtime::http::accounts::{AccountError, Accounts, Role, hash_password};

use super::CLEAN;

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
    /// The data directory holding `accounts.toml` (the server's `--data`).
    #[arg(long, value_name = "DIR", default_value = "data", global = true)]
    data: PathBuf,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add an account; its password is read on standard input.
    Add {
        name: String,
        /// operator, office-staff, supervisor or flow-editor.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The staff extension this person answers on (`201`): the console sets its
        /// presence (away / back) as `*21` / `*20` do.
        #[arg(long, value_name = "EXTENSION")]
        extension: Option<String>,
        /// An office this person works (office staff; repeat for several), besides those
        /// whose staff list in the flows names their extension.
        #[arg(long = "office", value_name = "OFFICE")]
        offices: Vec<String>,
    },
    /// Change an account's password, read on standard input.
    Passwd { name: String },
    /// Change an account's role (its open sessions end).
    Role {
        name: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Set the staff extension an account answers on; without EXTENSION, remove it.
    Extension {
        name: String,
        extension: Option<String>,
    },
    /// Set the offices an account works; without OFFICE, only those whose staff list in the
    /// flows names its extension.
    Offices { name: String, offices: Vec<String> },
    /// Remove an account (its open sessions end).
    Remove { name: String },
    /// List the accounts and their roles.
    List,
    /// Print the argon2id hash of a password read on standard input (for `[console] first_account`).
    Hash,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| {
        format!("`{text}` is not a role: operator, office-staff, supervisor or flow-editor")
    })
}

fn read_password() -> anyhow::Result<String> {
    super::password_from_stdin("echo 'the password' | centralino users add anna --role operator")
}

pub fn run(args: &UsersArgs) -> anyhow::Result<u8> {
    let path = Accounts::path_in(&args.data);
    match &args.command {
        UsersCommand::Hash => println!("{}", hash_password(&read_password()?)?),
        UsersCommand::List => {
            let accounts = Accounts::load(&path)?;
            if accounts.accounts.is_empty() {
                println!(
                    "no accounts (add one with `centralino users add NAME --role supervisor`)"
                );
            }
            for (name, account) in &accounts.accounts {
                let mut line = format!("{name}\t{}", account.role);
                if let Some(extension) = &account.extension {
                    line.push_str(&format!("\t{extension}"));
                }
                if !account.offices.is_empty() {
                    line.push_str(&format!("\toffices: {}", account.offices.join(", ")));
                }
                println!("{line}");
            }
        }
        UsersCommand::Add {
            name,
            role,
            extension,
            offices,
        } => {
            let password = read_password()?;
            edit(&path, |accounts| {
                accounts.add(name, *role, &password)?;
                accounts.set_extension(name, extension.as_deref())?;
                accounts.set_offices(name, offices)
            })?;
            match extension {
                Some(extension) => println!(
                    "account `{name}` added ({role}, extension {extension}) in {}",
                    path.display()
                ),
                None => println!("account `{name}` added ({role}) in {}", path.display()),
            }
        }
        UsersCommand::Passwd { name } => {
            let password = read_password()?;
            edit(&path, |accounts| accounts.set_password(name, &password))?;
            println!("password of `{name}` changed in {}", path.display());
        }
        UsersCommand::Role { name, role } => {
            edit(&path, |accounts| accounts.set_role(name, *role))?;
            println!("`{name}` is now {role} in {}", path.display());
        }
        UsersCommand::Extension { name, extension } => {
            edit(&path, |accounts| {
                accounts.set_extension(name, extension.as_deref())
            })?;
            match extension {
                Some(extension) => println!(
                    "`{name}` answers on extension {extension} in {}",
                    path.display()
                ),
                None => println!("`{name}` has no extension in {}", path.display()),
            }
        }
        UsersCommand::Offices { name, offices } => {
            edit(&path, |accounts| accounts.set_offices(name, offices))?;
            if offices.is_empty() {
                println!(
                    "`{name}` works the offices of its extension only, in {}",
                    path.display()
                );
            } else {
                println!(
                    "`{name}` works {} in {}",
                    offices.join(", "),
                    path.display()
                );
            }
        }
        UsersCommand::Remove { name } => {
            edit(&path, |accounts| accounts.remove(name))?;
            println!("account `{name}` removed from {}", path.display());
        }
    }
    Ok(CLEAN)
}

/// Read the accounts file, change it, write it back whole (the old file stays on any error).
fn edit(
    path: &std::path::Path,
    change: impl FnOnce(&mut Accounts) -> Result<(), AccountError>,
) -> anyhow::Result<()> {
    let mut accounts = Accounts::load(path)?;
    change(&mut accounts)?;
    accounts.save(path)?;
    Ok(())
}
