//! The SP description file shared by `keygen --config` and `metadata --config`.

use std::path::Path;

use spid_sp::{DescriptionError, SpDescription};

use crate::io::{usage, Failure};

/// The SP description file ([`SpDescription`]: JSON, or TOML when the name ends in
/// `.toml`; paths are relative to the file).
pub(crate) fn load_config(path: &Path) -> Result<SpDescription, Failure> {
    SpDescription::load(path).map_err(|e| config_failure(path, e))
}

/// The exit-2 failure for an error in the description file at `path`.
pub(crate) fn config_failure(path: &Path, e: DescriptionError) -> Failure {
    match e {
        DescriptionError::Syntax {
            line,
            column,
            message,
            ..
        } => usage(format!(
            "{}: invalid config at line {line} column {column}: {message}",
            path.display()
        )),
        e @ (DescriptionError::Read { .. } | DescriptionError::Key { .. }) => usage(e),
        e => usage(format!("invalid config: {e}")),
    }
}
