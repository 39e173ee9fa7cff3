//! The `centralino` command: check, compile and draw a city's call flows.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
