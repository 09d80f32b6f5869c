//! Files only their owner may read (keys written by the gateway).

use std::path::Path;

/// Writes a file readable by its owner only (mode 0600 on Unix), creating its directory.
pub fn write_private_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_private(path, data)
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(data)
}
