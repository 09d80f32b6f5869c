//! The `spid-sp` binary as a shell pipeline and its documentation see it: output piped
//! into a reader that stops early (`| head`), and every flag the documents name.
#![cfg(feature = "cli")]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_spid-sp");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What a shell reports for a tool killed by SIGPIPE (128 + 13); documented in
/// docs/cli.md.
const BROKEN_PIPE_STATUS: i32 = 141;

/// Runs `args` with standard output on a real pipe whose reading end is already closed
/// (what `| head` leaves once it has read enough): the first write fails with EPIPE.
fn run_into_closed_pipe(args: &[&str]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn output_into_a_closed_pipe_exits_quietly() {
    for args in [
        &[
            "registry",
            "list",
            "--spid",
            "metadata/spid-entities-idps.xml",
            "--snapshot-pins",
            "--at",
            "2024-06-01T00:00:00Z",
        ][..],
        &[
            "inspect",
            "tests/data/responses/spt-26-status-code-invalid.xml",
        ][..],
    ] {
        let (status, stderr) = run_into_closed_pipe(args);
        assert_eq!(
            status, BROKEN_PIPE_STATUS,
            "{args:?}: exit status; stderr: {stderr}"
        );
        // Warnings the command prints anyway stay; nothing about the pipe, no panic.
        assert!(
            !stderr.contains("panicked")
                && !stderr.contains("pipe")
                && !stderr.contains("cannot write"),
            "{args:?}: {stderr}"
        );
    }
}

/// Every subcommand path (`["registry", "list"]`, …), from the `Commands:` sections of
/// `--help`.
fn subcommands(path: Vec<String>, out: &mut Vec<Vec<String>>) {
    let help = help(&path);
    out.push(path.clone());
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
        } else if in_commands {
            let Some(name) = line.split_whitespace().next() else {
                break;
            };
            if !line.starts_with("  ") {
                break;
            }
            if name != "help" {
                let mut p = path.clone();
                p.push(name.to_owned());
                subcommands(p, out);
            }
        }
    }
}

fn help(path: &[String]) -> String {
    let out = Command::new(BIN).args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "{path:?} --help");
    String::from_utf8(out.stdout).unwrap()
}

/// `--flag` words in a text.
fn flags(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        rest = &rest[i + 2..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            found.insert(format!("--{name}"));
        }
    }
    found
}

#[test]
fn every_documented_flag_exists() {
    let mut paths = Vec::new();
    subcommands(Vec::new(), &mut paths);
    assert!(paths.len() >= 10, "subcommands found: {paths:?}");
    let mut known = BTreeSet::new();
    for p in &paths {
        known.extend(flags(&help(p)));
    }
    // Cargo's own flags in the install instructions.
    for cargo in ["--features", "--path"] {
        known.insert(cargo.to_owned());
    }
    for doc in ["metadata/SOURCES.md", "docs/cli.md"] {
        let text = std::fs::read_to_string(Path::new(ROOT).join(doc)).unwrap();
        let missing: Vec<_> = flags(&text).difference(&known).cloned().collect();
        assert!(
            missing.is_empty(),
            "{doc} documents flags spid-sp does not have: {missing:?}"
        );
    }
}

/// `verify` on an old Response without `--at`: the check runs now, the rebuilt request
/// is 10 minutes old, so the Response was issued before it. The verdict says "expired"
/// with its own code and names the options, not "IssueInstant out of window".
#[test]
fn an_old_response_is_reported_as_expired() {
    let base = [
        "verify",
        "--response",
        "tests/data/responses/valid-both-signed.xml",
        "--idp-metadata",
        "tests/data/idp-metadata.xml",
        "--request-id",
        "_7d1f5ac0c8e9b6a4f2e1d3c5b7a9e8f60123456789",
        "--acs",
        "https://sp.test.example/spid/acs",
        "--sp-entity-id",
        "https://sp.test.example/spid",
    ];
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(base)
            .args(extra)
            .current_dir(ROOT)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("response expired") && stderr.contains("[response-expired]"),
        "{stderr}"
    );
    assert!(stderr.contains("--at"), "names the option: {stderr}");
    assert!(!stderr.contains("out of window"), "{stderr}");
    // At the time it was made, the same file verifies.
    let out = run(&[
        "--at",
        "2026-01-15T10:01:00Z",
        "--issued-at",
        "2026-01-15T10:00:00Z",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
