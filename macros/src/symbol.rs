//! Every keyword the attributes accept.

/// `crate = path`: where the `multiproc` crate is, for code that renames it.
pub const CRATE: &str = "crate";
/// `key = "..."`: the registration key, instead of module path and fn name.
pub const KEY: &str = "key";

/// All accepted arguments, for "expected ..." messages.
pub const ALL: &[&str] = &[CRATE, KEY];
