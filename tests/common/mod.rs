//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The private bootstrap directories of process `pid` still on disk.
pub fn socket_dirs(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("multiproc-{pid}-");
    [std::env::temp_dir(), "/tmp".into()]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}
