//! Replays the committed fuzz corpus and every crash artifact through the same entry
//! points the fuzz targets call (`spid_sp::fuzzing`), on stable Rust: a crash once found
//! stays fixed. See fuzz/README.md for real fuzzing runs.
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seeds` (re)writes the hand-made seeds.

use std::path::{Path, PathBuf};

use spid_sp::fuzzing::{self, TARGETS};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    out.sort();
    out
}

#[test]
fn corpus_and_artifacts_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut total = 0;
    for (name, entry) in TARGETS {
        let corpus = files(&root.join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name} is empty");
        let artifacts = files(&root.join("artifacts").join(name));
        for path in corpus.iter().chain(&artifacts) {
            let data = std::fs::read(path).unwrap();
            let run = std::panic::catch_unwind(|| entry(&data));
            assert!(run.is_ok(), "{} panicked", path.display());
            total += 1;
        }
        eprintln!(
            "{name}: {} corpus inputs, {} artifacts",
            corpus.len(),
            artifacts.len()
        );
    }
    eprintln!("{total} inputs replayed");
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for (name, _) in TARGETS {
        let file = root.join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|_| panic!("missing {}", file.display()));
        assert!(
            text.contains(&format!("spid_sp::fuzzing::{name}(data)")),
            "{} does not call spid_sp::fuzzing::{name}",
            file.display()
        );
        assert!(manifest.contains(&format!("name = \"{name}\"")));
    }
}

#[test]
fn seeds_pass_or_fail_as_expected() {
    // The valid seeds really are valid: the response seeds verify, so mutations start
    // from the deepest path.
    let sp = fuzzing::service_provider();
    let mut checked = 0;
    for (target, name, data) in fuzzing::seeds() {
        let entry = TARGETS.iter().find(|(n, _)| *n == target).unwrap().1;
        entry(&data);
        match (target, name.as_str()) {
            ("response", "refusal-nr22.xml") => {
                let incoming = fuzzing::incoming(&data).unwrap();
                let err = sp.finish_login(&incoming, fuzzing::pending()).unwrap_err();
                assert!(matches!(err, spid_sp::LoginError::Refused(_)), "{err:?}");
                checked += 1;
            }
            ("response", _) => {
                let incoming = fuzzing::incoming(&data).unwrap();
                let login = sp.finish_login(&incoming, fuzzing::pending()).unwrap();
                assert_eq!(login.level(), spid_sp::SpidLevel::L2);
                checked += 1;
            }
            ("redirect", "logout-request.txt") => {
                let query = String::from_utf8(data).unwrap();
                let incoming = spid_sp::Incoming::Redirect { query };
                sp.handle_logout_request(&incoming, spid_sp::Binding::Redirect)
                    .unwrap();
                checked += 1;
            }
            _ => {}
        }
    }
    assert_eq!(checked, 5);
}

#[test]
#[ignore = "writes fuzz/corpus/*/seed-*; run by hand"]
fn write_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("fuzz/corpus");
    for (target, name, data) in fuzzing::seeds() {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    }
    for file in [
        "metadata/cie-idp-production.xml",
        "metadata/eidas-ficep-idp-production.xml",
        "metadata/testing/spid-sp-test-idp.xml",
    ] {
        let text = std::fs::read(root.join(file)).unwrap();
        let name = Path::new(file).file_name().unwrap().to_string_lossy();
        for target in ["metadata", "signature"] {
            let dir = corpus.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{name}")), &text).unwrap();
        }
    }
}
