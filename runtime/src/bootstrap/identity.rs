//! Who this process is: its name, its place among its siblings, and its
//! parent, set in a child before its job runs (and before `main` would).

use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// Who this process is: set once in a child, before `main` would have run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Identity {
    name: String,
    /// Python's `_identity`: the position among the siblings at each level.
    ident: Vec<u32>,
    parent: Option<ProcessInfo>,
}

/// Set in a child before its job runs; `None` in the main process. A forked
/// child replaces the copy it inherited.
static IDENTITY: RwLock<Option<Identity>> = RwLock::new(None);

/// Held (for writing, which excludes every reader) across a fork, so that
/// no other thread holds it in the child.
fn lock_identity() -> std::sync::RwLockWriteGuard<'static, Option<Identity>> {
    IDENTITY.write().unwrap_or_else(|e| e.into_inner())
}

/// Makes `identity` this process's: in a child, before its job runs.
pub(crate) fn set_identity(identity: Identity) {
    *IDENTITY.write().unwrap_or_else(|e| e.into_inner()) = Some(identity);
}

fn identity() -> Identity {
    let identity = IDENTITY.read().unwrap_or_else(|e| e.into_inner());
    identity.clone().unwrap_or_else(|| Identity {
        name: "MainProcess".into(),
        ident: Vec::new(),
        parent: None,
    })
}

// The child is given its own identity once forked.
crate::forking::fork_hook!(
    IDENTITY_FORK,
    order: 70,
    holds: std::sync::RwLockWriteGuard<'static, Option<Identity>> = lock_identity(),
    forget: || {},
);

impl Identity {
    /// The identity of a helper process (a tracker, a fork server) started by this one.
    pub(crate) fn helper(name: &str) -> Identity {
        Identity {
            name: name.into(),
            ident: identity().ident,
            parent: Some(current()),
        }
    }

    /// The identity of the `n`th child this process starts: named `name`,
    /// or `<prefix>-<n>` (with its ancestors' numbers) as in Python.
    pub(crate) fn child(name: Option<String>, prefix: &str, n: u32) -> Identity {
        let mut ident = identity().ident;
        ident.push(n);
        let name = name.unwrap_or_else(|| {
            let ident: Vec<String> = ident.iter().map(ToString::to_string).collect();
            format!("{prefix}-{}", ident.join(":"))
        });
        Identity {
            name,
            ident,
            parent: Some(current()),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// This process.
pub(crate) fn current() -> ProcessInfo {
    ProcessInfo {
        name: identity().name,
        pid: std::process::id(),
    }
}

/// The process that started this one, if any.
pub(crate) fn parent() -> Option<ProcessInfo> {
    identity().parent
}

/// The name and pid of a process.
///
/// # Examples
///
/// ```
/// let me = multiproc::current_process();
/// assert_eq!(me.name(), "MainProcess");
/// assert_eq!(me.pid(), std::process::id());
/// ```
///
/// Python: the `name` and `pid` of a `multiprocessing.Process` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    name: String,
    pid: u32,
}

impl ProcessInfo {
    pub(crate) fn new(name: String, pid: u32) -> ProcessInfo {
        ProcessInfo { name, pid }
    }

    /// The process's name, such as `"MainProcess"` or `"Process-1"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::current_process().name(), "MainProcess");
    /// ```
    ///
    /// Python: `multiprocessing.current_process().name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::current_process().pid(), std::process::id());
    /// ```
    ///
    /// Python: `multiprocessing.current_process().pid`.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}
