//! What a child is given before its work, as `std::process::Command` gives
//! a program: environment variables, a working directory, and where its
//! stdout and stderr go. Applied in the child, the same way under every
//! start method, before the lifeline or anything else of the child starts.

use std::ffi::OsString;
use std::io::PipeReader;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::sys::process;

/// Where a child's stdout or stderr goes.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use multiproc::{process, Stdio};
///
/// #[process]
/// fn greet() {
///     println!("hello from a child");
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let mut child = greet.builder().stdout(Stdio::piped()).spawn()?;
/// let mut said = String::new();
/// child.take_stdout().unwrap().read_to_string(&mut said).unwrap();
/// child.join()?;
/// assert_eq!(said, "hello from a child\n");
/// # Ok(())
/// # }
/// ```
///
/// Python: none in `multiprocessing` (a child redirects its own
/// `sys.stdout`); `subprocess`'s `stdout=` / `stderr=` arguments.
#[derive(Clone, Debug, Default)]
pub struct Stdio(Sink);

#[derive(Clone, Debug, Default)]
enum Sink {
    #[default]
    Inherit,
    Null,
    File(Arc<std::fs::File>),
    Piped,
}

impl Stdio {
    /// The parent's own stream, the default.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{process, Stdio};
    /// # #[process] fn noop() {}
    /// noop.builder().stdout(Stdio::inherit()).spawn()?.join()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `subprocess.Popen(stdout=None)`.
    pub fn inherit() -> Stdio {
        Stdio(Sink::Inherit)
    }

    /// Nowhere: what the child writes is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{process, Stdio};
    /// # #[process] fn noisy() { eprintln!("never seen") }
    /// noisy.builder().stderr(Stdio::null()).spawn()?.join()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `subprocess.DEVNULL`.
    pub fn null() -> Stdio {
        Stdio(Sink::Null)
    }

    /// A pipe whose reading end the parent takes with
    /// [`Process::take_stdout`](crate::Process::take_stdout) or
    /// [`take_stderr`](crate::Process::take_stderr). Read it while the
    /// child runs: a child that fills the pipe waits for the reader.
    ///
    /// # Examples
    ///
    /// See [`Stdio`].
    ///
    /// Python: `subprocess.PIPE`.
    pub fn piped() -> Stdio {
        Stdio(Sink::Piped)
    }
}

/// A file the child writes to, at its current offset (opened for
/// appending, each write goes to its end).
///
/// # Examples
///
/// ```
/// # use multiproc::{process, Stdio};
/// # #[process] fn greet() { println!("hello") }
/// let path = std::env::temp_dir().join(format!("multiproc-doc-{}", std::process::id()));
/// let file = std::fs::File::create(&path).unwrap();
/// greet.builder().stdout(Stdio::from(file)).spawn()?.join()?;
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), multiproc::Error>(())
/// ```
///
/// Python: `subprocess.Popen(stdout=file)`.
impl From<std::fs::File> for Stdio {
    fn from(file: std::fs::File) -> Stdio {
        Stdio(Sink::File(Arc::new(file)))
    }
}

/// What a builder asks for every child it starts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Setup {
    /// In order: a value sets the variable, `None` removes it.
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) env_clear: bool,
    pub(crate) current_dir: Option<PathBuf>,
    pub(crate) stdout: Stdio,
    pub(crate) stderr: Stdio,
}

/// A setup as it crosses to one child; the descriptors of its streams go
/// last among the job's.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Given {
    env: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    env_clear: bool,
    current_dir: Option<Vec<u8>>,
    stdout: Slot,
    stderr: Slot,
}

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
enum Slot {
    #[default]
    Inherit,
    Null,
    /// The next of the descriptors at the end of the job's.
    Passed,
}

/// The parent's reading ends of a child's piped streams.
#[derive(Debug, Default)]
pub(crate) struct Pipes {
    pub(crate) stdout: Option<PipeReader>,
    pub(crate) stderr: Option<PipeReader>,
}

impl Setup {
    /// What one child is given: the setup to send, the descriptors to send
    /// after the job's, and the pipes to keep.
    pub(crate) fn prepare(&self) -> Result<(Given, Vec<OwnedFd>, Pipes), Error> {
        let invalid = |reason: &'static str| Error::InvalidArgument {
            argument: "env",
            reason,
        };
        for (key, value) in &self.env {
            let bytes = key.as_bytes();
            if bytes.is_empty() || bytes.contains(&b'=') || bytes.contains(&0) {
                return Err(invalid("a variable's name must be non-empty, without '=' or NUL"));
            }
            if value.as_ref().is_some_and(|v| v.as_bytes().contains(&0)) {
                return Err(invalid("a variable's value must not hold NUL"));
            }
        }
        // Absolute: a fork server's child starts in the server's directory.
        let current_dir = match &self.current_dir {
            Some(dir) => match std::fs::canonicalize(dir) {
                Ok(dir) if dir.is_dir() => Some(dir),
                _ => {
                    return Err(Error::InvalidArgument {
                        argument: "current_dir",
                        reason: "no such directory",
                    });
                }
            },
            None => None,
        };
        let mut fds = Vec::new();
        let mut pipes = Pipes::default();
        let mut slot = |stdio: &Stdio, reader: &mut Option<PipeReader>| -> Result<Slot, Error> {
            Ok(match &stdio.0 {
                Sink::Inherit => Slot::Inherit,
                Sink::Null => Slot::Null,
                Sink::File(file) => {
                    let copy = file.try_clone().map_err(Error::io("passing a file"))?;
                    fds.push(OwnedFd::from(copy));
                    Slot::Passed
                }
                Sink::Piped => {
                    let (read, write) = std::io::pipe().map_err(Error::io("creating a pipe"))?;
                    *reader = Some(read);
                    fds.push(OwnedFd::from(write));
                    Slot::Passed
                }
            })
        };
        let stdout = slot(&self.stdout, &mut pipes.stdout)?;
        let stderr = slot(&self.stderr, &mut pipes.stderr)?;
        let given = Given {
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_ref().map(|v| v.as_bytes().to_vec())))
                .collect(),
            env_clear: self.env_clear,
            current_dir: current_dir.map(|d| d.into_os_string().into_vec()),
            stdout,
            stderr,
        };
        Ok((given, fds, pipes))
    }
}

impl Given {
    /// How many of the job's descriptors, at its end, are this setup's.
    pub(crate) fn fds(&self) -> usize {
        [self.stdout, self.stderr]
            .iter()
            .filter(|slot| matches!(slot, Slot::Passed))
            .count()
    }

    /// Applies the setup in the child, taking its descriptors from the end
    /// of `fds`. Runs while the child has no other thread.
    pub(crate) fn apply(self, fds: &mut Vec<OwnedFd>) -> Result<(), String> {
        let mut own = fds.split_off(fds.len().saturating_sub(self.fds())).into_iter();
        for (slot, target) in [(self.stdout, 1), (self.stderr, 2)] {
            match slot {
                Slot::Inherit => {}
                Slot::Null => {
                    let null = std::fs::OpenOptions::new()
                        .write(true)
                        .open("/dev/null")
                        .map_err(|e| format!("opening /dev/null: {e}"))?;
                    process::replace_fd(OwnedFd::from(null), target)
                        .map_err(|e| format!("redirecting a stream: {e}"))?;
                }
                Slot::Passed => {
                    let fd = own.next().ok_or("a stream's descriptor did not arrive")?;
                    process::replace_fd(fd, target)
                        .map_err(|e| format!("redirecting a stream: {e}"))?;
                }
            }
        }
        // Not through `std::env`, whose lock a forked child may find held.
        if self.env_clear {
            // SAFETY: the child has no other thread yet.
            unsafe { process::clear_env() };
        }
        for (key, value) in self.env {
            // SAFETY: as above.
            unsafe { process::set_env(&key, value.as_deref()) }
                .map_err(|e| format!("setting {}: {e}", String::from_utf8_lossy(&key)))?;
        }
        if let Some(dir) = self.current_dir {
            let dir = PathBuf::from(OsString::from_vec(dir));
            std::env::set_current_dir(&dir)
                .map_err(|e| format!("entering {}: {e}", dir.display()))?;
        }
        Ok(())
    }
}
