//! What every command shares: the failure type and its exit statuses, bounded reads of
//! files and standard input, `--at` instants, new and atomically replaced files, JSON
//! output.

use std::io::{Read as _, Write as _};
use std::path::Path;

use spid_sp::{Clock, SystemClock, Timestamp};

/// Exit status when standard output is closed before everything was written (e.g. piped
/// into `head`): what a shell reports for a tool killed by `SIGPIPE` (128 + 13), so
/// `set -o pipefail` scripts see the same status as with other Unix tools. Nothing is
/// printed. Never 0: the output was cut, and a verdict printed after the cut (exit 1)
/// must not turn into a success.
pub(crate) const BROKEN_PIPE: u8 = 141;

/// Largest file the tool reads (metadata aggregates are ~120 KB today).
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Why a command stopped: the exit status and a one-line message.
pub(crate) struct Failure {
    pub(crate) status: u8,
    pub(crate) message: String,
}

/// The command could not run (exit 2).
pub(crate) fn usage(message: impl std::fmt::Display) -> Failure {
    Failure {
        status: 2,
        message: message.to_string(),
    }
}

/// What was checked is not valid (exit 1).
pub(crate) fn invalid(message: impl std::fmt::Display) -> Failure {
    Failure {
        status: 1,
        message: message.to_string(),
    }
}

/// What a command returns.
pub(crate) type Outcome = Result<(), Failure>;

/// `cannot VERB PATH: REASON` (exit 2).
pub(crate) fn io_failure(verb: &str, path: &Path, e: &std::io::Error) -> Failure {
    usage(format!(
        "cannot {verb} {}: {}",
        path.display(),
        io_reason(e)
    ))
}

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, Failure> {
    let file = std::fs::File::open(path).map_err(|e| io_failure("read", path, &e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_failure("read", path, &e))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(usage(format!(
            "{} is larger than {MAX_FILE} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

pub(crate) fn read_text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|_| usage(format!("{} is not UTF-8 text", path.display())))
}

pub(crate) fn read_stdin() -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("cannot read standard input: {}", io_reason(&e))))?;
    Ok(text)
}

/// A text argument naming its source: `-` for standard input, else a file.
pub(crate) fn read_input(arg: &str) -> Result<String, Failure> {
    if arg == "-" {
        read_stdin()
    } else {
        read_text(Path::new(arg))
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::AlreadyExists => "already exists".to_owned(),
        _ => e.to_string().to_lowercase(),
    }
}

/// An `--at` style option: absent or `now` is the system clock, else an xs:dateTime.
pub(crate) fn instant(at: Option<&str>) -> Result<Timestamp, Failure> {
    match at {
        None | Some("now") => Ok(SystemClock.now()),
        Some(t) => Timestamp::parse(t).map_err(|_| {
            usage(format!(
                "invalid time {t:?}: expected e.g. 2026-01-15T10:00:00Z"
            ))
        }),
    }
}

/// Writes `bytes` to a new file (never replacing one); `private` files get mode 0600.
pub(crate) fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .map_err(|e| io_failure("create", path, &e))?;
    file.write_all(bytes)
        .map_err(|e| io_failure("write", path, &e))
}

/// Replaces `path` atomically (write a temporary file beside it, then rename).
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let name = path
        .file_name()
        .ok_or_else(|| usage(format!("{} is not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| io_failure("write", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_failure("write", path, &e)
    })
}

/// Prints `value` as pretty JSON on standard output.
pub(crate) fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Writes to standard output (the `println!` of every command, see `main.rs`). A closed
/// pipe exits quietly with [`BROKEN_PIPE`]; another write error exits 2 with one line.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(i32::from(BROKEN_PIPE));
        }
        write_stderr(format_args!(
            "spid-sp: cannot write standard output: {}\n",
            io_reason(&e)
        ));
        std::process::exit(2);
    }
}

/// Writes to standard error, ignoring errors (there is nowhere left to report them).
pub(crate) fn write_stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}
