//! The `spid-sp` command-line tool (work in progress).
fn main() {}
