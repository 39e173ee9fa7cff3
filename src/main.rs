//! The `centralino` command.
fn main() {}
