//! `centralino staff hash EXTENSION [--realm R]`: the `[staff.accounts]` line for a staff
//! member, from a password read on standard input. The configuration keeps only these hashes
//! (`H(extension:realm:password)`, MD5 and SHA-256), never the password.

use clap::{Args, Subcommand};

use centralino_runtime::people::digest::{HashKind, ha1};
use centralino_runtime::people::registrar::is_valid_extension;

use super::CLEAN;
use super::serve::config::DEFAULT_REALM;

#[derive(Debug, Args)]
pub struct StaffArgs {
    #[command(subcommand)]
    command: StaffCommand,
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// Read a password on standard input; print the line to paste under `[staff.accounts]`.
    Hash(HashArgs),
}

#[derive(Debug, Args)]
struct HashArgs {
    /// The extension (the user part of the staff address, e.g. 201).
    #[arg(value_name = "EXTENSION")]
    extension: String,
    /// The realm of `[staff] realm` (the hashes are only good for it).
    #[arg(long, default_value = DEFAULT_REALM)]
    realm: String,
}

pub fn run(args: &StaffArgs) -> anyhow::Result<u8> {
    match &args.command {
        StaffCommand::Hash(hash) => run_hash(hash),
    }
}

fn run_hash(args: &HashArgs) -> anyhow::Result<u8> {
    if !is_valid_extension(&args.extension) {
        anyhow::bail!(
            "`{}` is not an extension: 1 to 32 letters, digits, `.`, `-`, `_`, `+`",
            args.extension
        );
    }
    let password = super::password_from_stdin("echo 'secret' | centralino staff hash 201")?;
    println!("{}", account_line(&args.extension, &args.realm, &password));
    Ok(CLEAN)
}

/// `"201" = { ha1_md5 = "…", ha1_sha256 = "…" }`
fn account_line(extension: &str, realm: &str, password: &str) -> String {
    format!(
        "\"{extension}\" = {{ ha1_md5 = \"{}\", ha1_sha256 = \"{}\" }}",
        ha1(HashKind::Md5, extension, realm, password),
        ha1(HashKind::Sha256, extension, realm, password)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_holds_both_hashes_of_extension_realm_password() {
        let line = account_line("201", "centralino", "pw201");
        let expected_md5 = HashKind::Md5.hex(b"201:centralino:pw201");
        assert!(line.starts_with("\"201\" = { ha1_md5 = \""), "{line}");
        assert!(line.contains(&expected_md5), "{line}");
        assert!(line.contains(&HashKind::Sha256.hex(b"201:centralino:pw201")));
    }
}
