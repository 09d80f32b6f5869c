//! The verifier: walks each writer's entries in order and names the first bad one —
//! altered (the hash, or the exact canonical text, does not match), removed (a gap in the
//! sequence), reordered (the missing entry comes later), a checkpoint whose signature
//! fails, a log truncated before its last known checkpoint (the head) — and reports what
//! cannot be verified as such: a torn last line (a crash mid-write) and entries after the
//! last checkpoint (the unsigned tail).
//!
//! It works on the lines a backend reads back ([`Line`]), streaming: memory does not grow
//! with the size of the registry.

use std::collections::BTreeMap;

use super::chain::{Entry, EntryBody, Pruned, GENESIS};
use super::keys::CheckpointVerifier;

/// One stored line, as a backend reads it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Where it is (`FILE:LINE`, a row ID).
    pub location: String,
    /// The text, without the line end.
    pub text: String,
    /// Whether the line was complete (ended with a newline); a torn write is not.
    pub complete: bool,
}

/// What is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The entry's content does not match its hash or the chain (or is not an entry).
    Altered,
    /// Entries are missing before this one.
    Removed,
    /// Entries are out of order.
    Reordered,
    /// A checkpoint or "pruned up to" statement whose signature does not verify.
    BadSignature,
    /// The log ends before its last known checkpoint (the head).
    Truncated,
    /// An incomplete line that is not the last one.
    Corrupt,
}

impl ProblemKind {
    /// A stable name.
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::Altered => "altered",
            ProblemKind::Removed => "removed",
            ProblemKind::Reordered => "reordered",
            ProblemKind::BadSignature => "bad-signature",
            ProblemKind::Truncated => "truncated",
            ProblemKind::Corrupt => "corrupt",
        }
    }
}

/// The first bad entry of a writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// The writer.
    pub writer: String,
    /// The sequence number concerned, when known.
    pub seq: Option<u64>,
    /// Where.
    pub location: String,
    /// A one-line explanation.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} writer {}",
            self.kind.code(),
            self.location,
            self.writer
        )?;
        if let Some(s) = self.seq {
            write!(f, " seq {s}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// What the verifier found for one writer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterReport {
    /// The writer.
    pub writer: String,
    /// Entries read (complete lines).
    pub entries: u64,
    /// Of which records.
    pub records: u64,
    /// Of which checkpoints that verified.
    pub checkpoints: u64,
    /// The last sequence number sealed by a verified checkpoint.
    pub sealed_through: Option<u64>,
    /// Entries after the last checkpoint: verified against the chain, but not signed
    /// (`first..=last`): a cut there cannot be detected.
    pub unsigned_tail: Option<(u64, u64)>,
    /// A torn last line (a crash during a write): its location.
    pub torn_tail: Option<String>,
    /// The first sequence number after a signed "pruned up to" statement.
    pub pruned_before: Option<u64>,
}

/// The verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// One report per writer, by writer ID.
    pub writers: Vec<WriterReport>,
    /// The first problem of each writer (empty: the registry verifies).
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether every complete entry verified.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Default)]
struct WriterState {
    report: WriterReport,
    expected: u64,
    prev: String,
    prev_location: String,
    last_seq: Option<u64>,
    problem: Option<Problem>,
    /// A gap seen at (expected seq, location of the entry after the gap): `Removed`,
    /// unless the missing entry turns up later (`Reordered`).
    gap: Option<(u64, u64, String)>,
    /// A torn line was seen: anything after it makes it a corruption.
    torn: Option<String>,
    head: Option<Entry>,
    head_location: String,
}

/// The streaming verifier. Feed it the "pruned up to" statements first, then each
/// writer's lines in order, and the heads; `finish` gives the report.
pub struct ChainVerifier<'k> {
    key: &'k CheckpointVerifier,
    writers: BTreeMap<String, WriterState>,
    extra: Vec<Problem>,
}

impl std::fmt::Debug for ChainVerifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainVerifier").finish_non_exhaustive()
    }
}

fn problem(kind: ProblemKind, writer: &str, seq: Option<u64>, loc: &str, detail: &str) -> Problem {
    Problem {
        kind,
        writer: writer.into(),
        seq,
        location: loc.into(),
        detail: detail.into(),
    }
}

impl<'k> ChainVerifier<'k> {
    /// A verifier trusting checkpoints signed by `key`.
    pub fn new(key: &'k CheckpointVerifier) -> ChainVerifier<'k> {
        ChainVerifier {
            key,
            writers: BTreeMap::new(),
            extra: Vec::new(),
        }
    }

    fn state(&mut self, writer: &str) -> &mut WriterState {
        self.writers
            .entry(writer.to_owned())
            .or_insert_with(|| WriterState {
                report: WriterReport {
                    writer: writer.into(),
                    ..WriterReport::default()
                },
                prev: GENESIS.into(),
                ..WriterState::default()
            })
    }

    /// A line of the "pruned up to" statements.
    pub fn pruned(&mut self, line: &Line) {
        let Some(p) = serde_json::from_str::<Pruned>(&line.text)
            .ok()
            .filter(|_| line.complete)
        else {
            self.extra.push(problem(
                ProblemKind::Altered,
                "-",
                None,
                &line.location,
                "not a pruned-up-to statement",
            ));
            return;
        };
        if !p.verify(self.key) {
            self.extra.push(problem(
                ProblemKind::BadSignature,
                &p.writer,
                Some(p.next_seq),
                &line.location,
                "pruned-up-to statement signature does not verify",
            ));
            return;
        }
        let st = self.state(&p.writer);
        if p.next_seq >= st.expected {
            st.expected = p.next_seq;
            st.prev = p.prev;
            st.prev_location = line.location.clone();
            st.report.pruned_before = Some(p.next_seq);
        }
    }

    /// The latest checkpoint kept apart by the backend (the head) for `writer`.
    pub fn head(&mut self, writer: &str, line: &Line) {
        let entry = serde_json::from_str::<Entry>(&line.text).ok();
        let good = entry.as_ref().is_some_and(|e| {
            e.writer == writer
                && e.checkpoint_verifies(self.key)
                && e.compute_hash().ok() == Some(e.hash.clone())
        });
        if !good {
            self.extra.push(problem(
                ProblemKind::BadSignature,
                writer,
                None,
                &line.location,
                "head checkpoint does not verify",
            ));
            return;
        }
        let st = self.state(writer);
        st.head = entry;
        st.head_location = line.location.clone();
    }

    /// The next line of `writer`'s chain.
    pub fn line(&mut self, writer: &str, line: &Line) {
        let key = self.key;
        let st = self.state(writer);
        if let Some((missing, _, _)) = &st.gap {
            // Looking for the missing entry only.
            let missing = *missing;
            if let Ok(e) = serde_json::from_str::<Entry>(&line.text) {
                if e.seq == missing && st.problem.is_none() {
                    if let Some((_, after, loc)) = st.gap.take() {
                        st.problem = Some(problem(
                            ProblemKind::Reordered,
                            writer,
                            Some(missing),
                            &line.location,
                            &format!("entry found after entry seq {after} ({loc})"),
                        ));
                    }
                }
            }
            return;
        }
        if st.problem.is_some() {
            return;
        }
        if let Some(torn) = st.torn.take() {
            st.problem = Some(problem(
                ProblemKind::Corrupt,
                writer,
                Some(st.expected),
                &torn,
                "incomplete line followed by more entries",
            ));
            return;
        }
        if !line.complete {
            st.torn = Some(line.location.clone());
            return;
        }
        st.report.entries += 1;
        let entry = match serde_json::from_str::<Entry>(&line.text) {
            Ok(e) => e,
            Err(_) => {
                st.problem = Some(problem(
                    ProblemKind::Altered,
                    writer,
                    Some(st.expected),
                    &line.location,
                    "not a valid entry",
                ));
                return;
            }
        };
        let canonical = entry.to_line().ok();
        let hash = entry.compute_hash().ok();
        if canonical.as_deref() != Some(line.text.as_str())
            || hash.as_deref() != Some(entry.hash.as_str())
            || entry.writer != writer
        {
            st.problem = Some(problem(
                ProblemKind::Altered,
                writer,
                Some(entry.seq),
                &line.location,
                "content does not match its hash",
            ));
            return;
        }
        if entry.seq < st.expected && st.report.pruned_before.is_some() && st.last_seq.is_none() {
            // Left over by an interrupted prune: already accounted for.
            st.report.entries -= 1;
            return;
        }
        if entry.seq > st.expected {
            st.gap = Some((st.expected, entry.seq, line.location.clone()));
            return;
        }
        if entry.seq < st.expected {
            st.problem = Some(problem(
                ProblemKind::Reordered,
                writer,
                Some(entry.seq),
                &line.location,
                &format!("expected seq {}", st.expected),
            ));
            return;
        }
        if entry.prev != st.prev {
            let (seq, loc) = match entry.seq.checked_sub(1) {
                Some(s) if !st.prev_location.is_empty() => (Some(s), st.prev_location.clone()),
                _ => (Some(entry.seq), line.location.clone()),
            };
            st.problem = Some(problem(
                ProblemKind::Altered,
                writer,
                seq,
                &loc,
                &format!("entry seq {} does not chain to it", entry.seq),
            ));
            return;
        }
        match &entry.body {
            EntryBody::Record { .. } => st.report.records += 1,
            EntryBody::Checkpoint { .. } => {
                if !entry.checkpoint_verifies(key) {
                    st.problem = Some(problem(
                        ProblemKind::BadSignature,
                        writer,
                        Some(entry.seq),
                        &line.location,
                        "checkpoint signature does not verify",
                    ));
                    return;
                }
                st.report.checkpoints += 1;
                st.report.sealed_through = Some(entry.seq);
            }
        }
        if let Some(head) = &st.head {
            if head.seq == entry.seq && head.hash != entry.hash {
                st.problem = Some(problem(
                    ProblemKind::Altered,
                    writer,
                    Some(entry.seq),
                    &line.location,
                    "differs from the head checkpoint",
                ));
                return;
            }
        }
        st.expected = entry.seq + 1;
        st.prev = entry.hash;
        st.prev_location = line.location.clone();
        st.last_seq = Some(entry.seq);
    }

    /// The verdict.
    pub fn finish(self) -> VerifyReport {
        let mut report = VerifyReport {
            problems: self.extra,
            ..VerifyReport::default()
        };
        for (writer, mut st) in self.writers {
            if let Some((missing, after, loc)) = st.gap.take() {
                st.problem.get_or_insert_with(|| {
                    problem(
                        ProblemKind::Removed,
                        &writer,
                        Some(after),
                        &loc,
                        &format!("entries from seq {missing} to {} are missing", after - 1),
                    )
                });
            }
            if st.problem.is_none() {
                if let Some(head) = &st.head {
                    let pruned = st.report.pruned_before.is_some_and(|p| head.seq < p);
                    if !pruned && st.last_seq.is_none_or(|last| last < head.seq) {
                        st.problem = Some(problem(
                            ProblemKind::Truncated,
                            &writer,
                            Some(st.last_seq.map_or(0, |s| s + 1)),
                            &st.head_location,
                            &format!(
                                "the log ends before seq {}, sealed by the head checkpoint",
                                head.seq
                            ),
                        ));
                    }
                }
            }
            st.report.torn_tail = st.torn.take();
            if let Some(last) = st.last_seq {
                let first_unsigned = st
                    .report
                    .sealed_through
                    .map_or(st.report.pruned_before.unwrap_or(0), |s| s + 1);
                if first_unsigned <= last {
                    st.report.unsigned_tail = Some((first_unsigned, last));
                }
            }
            if let Some(p) = st.problem {
                report.problems.push(p);
            }
            report.writers.push(st.report);
        }
        report
    }
}

/// Verifies lines already in memory: `pruned` statements, then `(writer, lines)` chains,
/// then `(writer, head)` lines.
pub fn verify_entries(
    key: &CheckpointVerifier,
    pruned: &[Line],
    chains: &[(String, Vec<Line>)],
    heads: &[(String, Line)],
) -> VerifyReport {
    let mut v = ChainVerifier::new(key);
    for p in pruned {
        v.pruned(p);
    }
    for (w, h) in heads {
        v.head(w, h);
    }
    for (w, lines) in chains {
        for l in lines {
            v.line(w, l);
        }
    }
    v.finish()
}
