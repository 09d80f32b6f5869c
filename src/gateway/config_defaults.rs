//! The defaults of the gateway file's optional keys (named by `#[serde(default = ...)]`).

use super::{DEFAULT_HEADER_PREFIX, DEFAULT_JWT_HEADER};

pub(super) fn yes() -> bool {
    true
}
pub(super) fn default_level() -> u8 {
    2
}
pub(super) fn default_binding() -> String {
    "post".into()
}
pub(super) fn default_store() -> String {
    "memory".into()
}
pub(super) fn default_access() -> String {
    "login".into()
}
pub(super) fn default_idle() -> i64 {
    1800
}
pub(super) fn default_lifetime() -> i64 {
    8 * 3600
}
pub(super) fn default_reload() -> u64 {
    300
}
pub(super) fn default_prefix() -> String {
    DEFAULT_HEADER_PREFIX.into()
}
pub(super) fn default_alg() -> String {
    "ES256".into()
}
pub(super) fn default_jwt_lifetime() -> i64 {
    60
}
pub(super) fn default_jwt_header() -> String {
    DEFAULT_JWT_HEADER.into()
}
pub(super) fn default_root() -> String {
    "/".into()
}
pub(super) fn default_connect_ms() -> u64 {
    5000
}
pub(super) fn default_response_ms() -> u64 {
    30_000
}
