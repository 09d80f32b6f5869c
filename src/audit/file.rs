//! The embedded backend: append-only JSON Lines in one directory, one file per UTC day
//! and writer (`YYYY-MM-DD.WRITER.jsonl`). Each batch is one `write`; a failed write is
//! cut back so no partial line stays (if that fails too, the store refuses every later
//! write: fail closed). `fdatasync` runs apart ([`EntryStore::sync`]), several at once,
//! each on a file descriptor of its own opened with the day file, so that each sees
//! every write-back error of the file (Linux reports an error once per open file);
//! a failed sync makes the store refuse everything after it. The latest checkpoint is
//! kept apart in `head.WRITER.json` (replaced atomically) so a cut log is told from a
//! complete one; retention leaves signed statements in `pruned.jsonl`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead as _, BufReader, IoSlice, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use super::chain::{valid_writer, Entry, EntryStore, Pruned, StoredEntry, MAX_SYNCS};
use super::keys::{CheckpointKey, CheckpointVerifier};
use super::verify::{ChainVerifier, Line, VerifyReport};
use super::AuditError;
use crate::time::{Date, Timestamp};

/// The statements retention leaves.
const PRUNED: &str = "pruned.jsonl";
/// Longest line read back (a record with a large payload stays well below).
const MAX_LINE: usize = 8 * 1024 * 1024;

fn io_err(what: &str, e: &std::io::Error) -> AuditError {
    AuditError(format!("{what}: {}", e.kind()))
}

/// Descriptors of one day file kept for `fdatasync` only, one per sync in flight.
struct SyncFds {
    free: Mutex<Vec<File>>,
    returned: Condvar,
}

impl SyncFds {
    fn sync(&self) -> Result<(), AuditError> {
        let lost = || AuditError("audit sync lock poisoned".into());
        let mut free = self.free.lock().map_err(|_| lost())?;
        let file = loop {
            match free.pop() {
                Some(f) => break f,
                None => free = self.returned.wait(free).map_err(|_| lost())?,
            }
        };
        drop(free);
        let synced = file.sync_data();
        self.free.lock().map_err(|_| lost())?.push(file);
        self.returned.notify_one();
        synced.map_err(|e| io_err("cannot sync the audit file", &e))
    }
}

struct Open {
    day: String,
    file: File,
    len: u64,
    syncs: Arc<SyncFds>,
}

struct Inner {
    open: Option<Open>,
    /// After a failed sync or cut-back: every later call fails.
    poisoned: bool,
}

/// The append-only file backend of one writer.
pub struct FileStore {
    dir: PathBuf,
    writer: String,
    state: Mutex<Inner>,
    /// The sequence number of the checkpoint in the head file.
    head: Mutex<Option<u64>>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync the audit directory", &e))
}

impl FileStore {
    /// Opens `dir` (created if missing) for a new writer. Refuses a writer ID that already
    /// has files: chains are never resumed, each process is a new writer.
    pub fn open(dir: &Path, writer: &str) -> Result<FileStore, AuditError> {
        if !valid_writer(writer) {
            return Err(AuditError("writer ID must be 1-64 of [A-Za-z0-9_-]".into()));
        }
        fs::create_dir_all(dir).map_err(|e| io_err("cannot create the audit directory", &e))?;
        let contents = scan_dir(dir)?;
        if contents.writers.contains_key(writer) || contents.heads.contains_key(writer) {
            return Err(AuditError(format!("writer {writer} already has entries")));
        }
        Ok(FileStore {
            dir: dir.to_path_buf(),
            writer: writer.into(),
            state: Mutex::new(Inner {
                open: None,
                poisoned: false,
            }),
            head: Mutex::new(None),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_for(&self, day: &str) -> PathBuf {
        self.dir.join(format!("{day}.{}.jsonl", self.writer))
    }

    fn write_day(
        &self,
        open: &mut Option<Open>,
        day: &str,
        lines: &[&str],
    ) -> Result<(), AuditError> {
        if open.as_ref().is_none_or(|o| o.day != day) {
            if let Some(old) = open.take() {
                // Later syncs cover the new day's file only: finish the old one now.
                old.file
                    .sync_data()
                    .map_err(|e| io_err("cannot sync the audit file", &e))?;
            }
            let path = self.file_for(day);
            let options = || {
                let mut o = OpenOptions::new();
                o.create(true).append(true);
                o
            };
            let file = options()
                .open(&path)
                .map_err(|e| io_err("cannot open the audit file", &e))?;
            // Opened before anything is written through `file`: each sees every
            // write-back error from then on.
            let fds = (0..MAX_SYNCS)
                .map(|_| options().open(&path))
                .collect::<Result<Vec<File>, _>>()
                .map_err(|e| io_err("cannot open the audit file", &e))?;
            let len = file
                .metadata()
                .map_err(|e| io_err("cannot read the audit file", &e))?
                .len();
            sync_dir(&self.dir)?;
            *open = Some(Open {
                day: day.into(),
                file,
                len,
                syncs: Arc::new(SyncFds {
                    free: Mutex::new(fds),
                    returned: Condvar::new(),
                }),
            });
        }
        let Some(o) = open.as_mut() else {
            return Err(AuditError("audit file not open".into()));
        };
        let written =
            write_lines(&mut o.file, lines).map_err(|e| io_err("cannot write the audit file", &e));
        match written {
            Ok(n) => {
                o.len += n;
                Ok(())
            }
            Err(e) => {
                // Cut back to the last complete batch; if even that fails, the caller
                // poisons the store.
                o.file
                    .set_len(o.len)
                    .and_then(|()| o.file.sync_data())
                    .map_err(|e2| io_err("cannot cut back the audit file", &e2))?;
                Err(e)
            }
        }
    }
}

/// Writes each line and a newline with `writev` (no copy into a buffer first); the
/// number of bytes written.
fn write_lines(file: &mut File, lines: &[&str]) -> std::io::Result<u64> {
    let mut slices = Vec::with_capacity(lines.len() * 2);
    let mut total = 0u64;
    for line in lines {
        slices.push(IoSlice::new(line.as_bytes()));
        slices.push(IoSlice::new(b"\n"));
        total += line.len() as u64 + 1;
    }
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

fn refused() -> AuditError {
    AuditError(
        "audit file in an unknown state after a failed write or sync: restart the writer".into(),
    )
}

impl EntryStore for FileStore {
    fn store(&self, entries: &[StoredEntry]) -> Result<(), AuditError> {
        self.write(entries)?;
        self.sync()
    }

    fn sync(&self) -> Result<(), AuditError> {
        let lock = || AuditError("audit file lock poisoned".into());
        let syncs = {
            let inner = self.state.lock().map_err(|_| lock())?;
            if inner.poisoned {
                return Err(refused());
            }
            match &inner.open {
                Some(o) => o.syncs.clone(),
                None => return Ok(()),
            }
        };
        let synced = syncs.sync();
        if synced.is_err() {
            // What the failed sync covered may be lost: acknowledge nothing more.
            self.state.lock().map_err(|_| lock())?.poisoned = true;
        }
        synced
    }

    fn write(&self, entries: &[StoredEntry]) -> Result<(), AuditError> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| AuditError("audit file lock poisoned".into()))?;
        let Inner { open, poisoned } = &mut *guard;
        if *poisoned {
            return Err(refused());
        }
        // Group by day: a batch may cross midnight.
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for e in entries {
            let day = e.time.get(..10).unwrap_or("0000-00-00");
            match groups.last_mut() {
                Some((d, lines)) if *d == day => lines.push(&e.line),
                _ => groups.push((day, vec![&e.line])),
            }
        }
        for (i, (day, lines)) in groups.iter().enumerate() {
            if let Err(e) = self.write_day(open, day, lines) {
                // Cut back or a sync failed, or an earlier day of this batch is written.
                if i > 0 || e.0.starts_with("cannot cut back") || e.0.starts_with("cannot sync") {
                    *poisoned = true;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn sealed(&self, checkpoint: &StoredEntry) {
        let Ok(mut head) = self.head.lock() else {
            return;
        };
        if head.is_some_and(|seq| seq >= checkpoint.seq) {
            return;
        }
        *head = Some(checkpoint.seq);
        let line = &checkpoint.line;
        let path = self.dir.join(format!("head.{}.json", self.writer));
        let tmp = self.dir.join(format!(".head.{}.json.tmp", self.writer));
        let _ = File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(line.as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, &path));
    }
}

/// The files of an audit directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirContents {
    /// Each writer's day files, oldest first, with their day.
    pub writers: BTreeMap<String, Vec<(String, PathBuf)>>,
    /// Each writer's head file.
    pub heads: BTreeMap<String, PathBuf>,
    /// The "pruned up to" statements, if any.
    pub pruned: Option<PathBuf>,
}

/// Lists an audit directory (other files are ignored).
pub fn scan_dir(dir: &Path) -> Result<DirContents, AuditError> {
    let mut c = DirContents::default();
    let read = fs::read_dir(dir).map_err(|e| io_err("cannot read the audit directory", &e))?;
    for item in read {
        let item = item.map_err(|e| io_err("cannot read the audit directory", &e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        if name == PRUNED {
            c.pruned = Some(path);
        } else if let Some(w) = name
            .strip_prefix("head.")
            .and_then(|n| n.strip_suffix(".json"))
        {
            if valid_writer(w) {
                c.heads.insert(w.into(), path);
            }
        } else if let Some(rest) = name.strip_suffix(".jsonl") {
            let (day, writer) = rest.split_at_checked(10).unwrap_or(("", ""));
            let writer = writer.strip_prefix('.').unwrap_or("");
            if Date::parse(day).is_ok() && valid_writer(writer) {
                c.writers
                    .entry(writer.into())
                    .or_default()
                    .push((day.into(), path));
            }
        }
    }
    for files in c.writers.values_mut() {
        files.sort();
    }
    Ok(c)
}

/// Calls `f` with each line of `path`, in order; the last one is marked incomplete when
/// the file does not end with a newline (a torn write).
pub fn for_each_line(path: &Path, mut f: impl FnMut(Line)) -> Result<(), AuditError> {
    let file = File::open(path).map_err(|e| io_err("cannot open an audit file", &e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let read = std::io::Read::take(&mut reader, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| io_err("cannot read an audit file", &e))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        let complete = buf.last() == Some(&b'\n');
        if complete {
            buf.pop();
        }
        f(Line {
            location: format!("{name}:{n}"),
            text: String::from_utf8_lossy(&buf).into_owned(),
            complete,
        });
    }
}

/// Verifies every chain of an audit directory (streaming).
pub fn verify_dir(dir: &Path, key: &CheckpointVerifier) -> Result<VerifyReport, AuditError> {
    let contents = scan_dir(dir)?;
    let mut v = ChainVerifier::new(key);
    if let Some(p) = &contents.pruned {
        for_each_line(p, |l| v.pruned(&l))?;
    }
    for (writer, path) in &contents.heads {
        for_each_line(path, |l| v.head(writer, &l))?;
    }
    for (writer, files) in &contents.writers {
        for (_, path) in files {
            for_each_line(path, |l| v.line(writer, &l))?;
        }
    }
    Ok(v.finish())
}

/// The first day kept by a retention of `months` months on `today`: the same day of the
/// month, `months` earlier (the last day of that month when it is shorter).
pub fn cutoff_date(today: Date, months: u32) -> Date {
    let total = i64::from(today.year()) * 12 + i64::from(today.month()) - 1 - i64::from(months);
    let year = i32::try_from(total.div_euclid(12)).unwrap_or(0);
    let month = u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1);
    let mut day = today.day();
    loop {
        if let Some(d) = Date::new(year, month, day) {
            return d;
        }
        if day <= 1 {
            return today;
        }
        day -= 1;
    }
}

/// What [`prune_dir`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// The files deleted.
    pub deleted: Vec<PathBuf>,
    /// The signed statements appended to `pruned.jsonl`.
    pub statements: usize,
}

/// Deletes every day file older than `before`, after verifying the whole directory
/// (a registry that does not verify is not pruned: evidence is kept). For each writer
/// concerned, first appends a signed "pruned up to" statement naming the first sequence
/// number kept and the hash it chains to, so the rest still verifies.
pub fn prune_dir(
    dir: &Path,
    key: &CheckpointKey,
    before: Date,
    now: Timestamp,
) -> Result<PruneReport, AuditError> {
    let report = verify_dir(dir, &key.verifier()?)?;
    if let Some(p) = report.problems.first() {
        return Err(AuditError(format!(
            "the registry does not verify, not pruned: {p}"
        )));
    }
    let contents = scan_dir(dir)?;
    let cutoff = before.to_string();
    let mut statements = Vec::new();
    let mut doomed = Vec::new();
    for (writer, files) in &contents.writers {
        let old: Vec<&PathBuf> = files
            .iter()
            .filter(|(day, _)| *day < cutoff)
            .map(|(_, p)| p)
            .collect();
        let Some(last_file) = old.last() else {
            continue;
        };
        let mut last: Option<(u64, String)> = None;
        for_each_line(last_file, |l| {
            if let Some(e) = serde_json::from_str::<Entry>(&l.text)
                .ok()
                .filter(|_| l.complete)
            {
                last = Some((e.seq, e.hash));
            }
        })?;
        if let Some((seq, hash)) = last {
            statements.push(Pruned::signed(writer, seq + 1, &hash, &cutoff, now, key)?);
        }
        doomed.extend(old.into_iter().cloned());
    }
    if !statements.is_empty() {
        let mut text = String::new();
        for s in &statements {
            text.push_str(
                &serde_json::to_string(s).map_err(|_| AuditError("cannot serialise".into()))?,
            );
            text.push('\n');
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(PRUNED))
            .map_err(|e| io_err("cannot open pruned.jsonl", &e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err("cannot write pruned.jsonl", &e))?;
    }
    for p in &doomed {
        fs::remove_file(p).map_err(|e| io_err("cannot delete an old audit file", &e))?;
    }
    sync_dir(dir)?;
    Ok(PruneReport {
        deleted: doomed,
        statements: statements.len(),
    })
}
