//! The registry of annotated functions, and running one call of one of them.
//!
//! A call's arguments arrive as the postcard encoding of their tuple; its
//! outcome leaves as the postcard encoding of [`Outcome<R>`], appended to an
//! output buffer so that a pool chunk of many calls needs one allocation.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::__private::Portable;
use crate::error::Error;

/// The generated shim of one annotated function: decodes the arguments from
/// `args`, calls the function and appends the encoding of its value to `out`.
pub type Call = fn(args: &mut Args<'_>, out: &mut Vec<u8>) -> Result<(), String>;

/// One annotated function, as the macros register it.
#[derive(Debug)]
pub struct Entry {
    /// The key: the attribute's `key`, or the module path, the function's
    /// name, and after an `@` the line and column of its attribute.
    pub key: &'static str,
    /// The generated shim.
    pub call: Call,
}

/// Every annotated function linked into this executable.
#[linkme::distributed_slice]
pub static REGISTRY: [Entry];

/// Finds the one function registered under `key`.
pub(crate) fn lookup(key: &str) -> Result<&'static Entry, Error> {
    let found = |matches: &dyn Fn(&str) -> bool| -> Vec<&'static Entry> {
        REGISTRY.iter().filter(|e| matches(e.key)).collect()
    };
    let mut entries = found(&|k| k == key);
    if entries.is_empty() {
        // A key made by another build of the same code (an `executable`)
        // may name another line: the path and name decide, if no other
        // function shares them.
        entries = found(&|k| without_place(k) == without_place(key));
    }
    match entries[..] {
        [entry] => Ok(entry),
        [] => Err(Error::NotRegistered { key: key.into() }),
        _ => Err(Error::DuplicateKey {
            key: key.into(),
            count: entries.len(),
        }),
    }
}

/// A default key without the `@line:column` that ends it; any other key as it is.
fn without_place(key: &str) -> &str {
    match key.rsplit_once('@') {
        Some((path, place))
            if place
                .split_once(':')
                .is_some_and(|(l, c)| [l, c].iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))) =>
        {
            path
        }
        _ => key,
    }
}

/// What one call produced. Its encoding is what crosses back to the parent.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Outcome<R> {
    /// The function returned this value. Must stay the first variant: `run`
    /// writes its tag ([`RETURNED`]) before encoding the value in place.
    Returned(R),
    /// The function panicked.
    Panicked { message: String, location: String },
    /// The call never completed (undecodable arguments, unencodable value).
    Failed(String),
}

/// The encoded tag of [`Outcome::Returned`], written by hand before a value
/// encoded in place, and read by hand on the fast path of pool results.
pub(crate) const RETURNED: u8 = 0;

/// An outcome to fall back on should even a failure not encode: `Failed("")`.
const FAILED_EMPTY: [u8; 2] = [2, 0];

impl<R> Outcome<R> {
    /// Turns the outcome into the function's typed result.
    pub(crate) fn into_result(self, process: &str) -> Result<R, Error> {
        match self {
            Outcome::Returned(value) => Ok(value),
            Outcome::Panicked { message, location } => Err(Error::Panicked {
                process: process.into(),
                message,
                location,
            }),
            Outcome::Failed(reason) => Err(Error::Codec {
                what: format!("run the call in process `{process}`"),
                reason,
            }),
        }
    }
}

/// Runs one call of `entry` on `input`, appending its [`Outcome`] to `out`.
/// Returns whether the function returned (rather than panicked or failed).
pub(crate) fn run(entry: &Entry, input: &[u8], out: &mut Vec<u8>) -> bool {
    run_with(input, out, entry.call)
}

/// Runs `call` on the arguments in `input` as [`run`] runs a registered function.
pub(crate) fn run_with(
    input: &[u8],
    out: &mut Vec<u8>,
    call: impl FnOnce(&mut Args<'_>, &mut Vec<u8>) -> Result<(), String>,
) -> bool {
    let mark = out.len();
    out.push(RETURNED);
    let mut args = Args { rest: input };
    // No need to clear the last panic's location first: the hook records
    // every panic's, so after a panic it is that panic's.
    let caught = crate::scoped::with_flag(&IN_CALL, || {
        panic::catch_unwind(AssertUnwindSafe(|| call(&mut args, out)))
    });
    let failure = match caught {
        Ok(Ok(())) => return true,
        Ok(Err(reason)) => Outcome::<()>::Failed(reason),
        Err(payload) => {
            let location = LAST_PANIC_LOCATION
                .with(|l| l.borrow_mut().take())
                .unwrap_or_else(|| "an unknown location".into());
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "Box<dyn Any>".into());
            Outcome::Panicked { message, location }
        }
    };
    out.truncate(mark);
    push_outcome(out, &failure);
    false
}

/// Appends the encoding of a call that could not run because of `reason`.
pub(crate) fn push_failed(out: &mut Vec<u8>, reason: &str) {
    push_outcome(out, &Outcome::<()>::Failed(reason.into()));
}

fn push_outcome(out: &mut Vec<u8>, outcome: &Outcome<()>) {
    let mark = out.len();
    if crate::wire::encode_into(outcome, out).is_err() {
        // Strings always encode; this keeps the buffer well-formed regardless.
        out.truncate(mark);
        out.extend_from_slice(&FAILED_EMPTY);
    }
}

/// Decodes one encoded [`Outcome`] into the function's typed result.
pub(crate) fn decode_outcome<R: serde::de::DeserializeOwned>(
    bytes: &[u8],
    process: &str,
) -> Result<R, Error> {
    let outcome: Outcome<R> = crate::wire::decode(bytes, "a result")?;
    outcome.into_result(process)
}

/// The value of an encoded [`Outcome::Returned`], or `None` for any other
/// outcome or a value that does not decode; the fast path of pool results.
#[inline]
pub(crate) fn decode_returned<R: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<R> {
    match bytes.split_first() {
        Some((&RETURNED, value)) => match crate::wire::take_from_bytes(value) {
            Ok((value, [])) => Some(value),
            _ => None,
        },
        _ => None,
    }
}

thread_local! {
    static LAST_PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Set while this thread runs a call whose panic is caught and sent.
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Whether the panics of calls reach their callers as errors, and are not
/// printed here too.
static CALLERS_HEAR: AtomicBool = AtomicBool::new(false);

/// Has the panics of calls in this process reach their callers only, as
/// errors, not also this process's stderr: a pool worker's or a manager's,
/// as in Python, whose pool and manager send an exception back and print
/// nothing. A `Process` child prints its panic, as Python's prints its
/// traceback, since its parent may never join it. A panic outside a call
/// is printed all the same.
pub(crate) fn send_panics_to_callers() {
    CALLERS_HEAR.store(true, Ordering::Relaxed);
}

/// Records where each panic happens, and heads a child's panic output like
/// Python's ("Process Process-1:"), since a child's main thread has no name;
/// then runs the hook that was in place.
///
/// Installed once per process: a parent about to fork calls it first, so a
/// forked child never needs the hook's lock, which another thread of the
/// parent may have held at the fork, for ever in the child.
pub(crate) fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let location = info.location().map(ToString::to_string);
            LAST_PANIC_LOCATION.with(|l| *l.borrow_mut() = location);
            if CALLERS_HEAR.load(Ordering::Relaxed) && IN_CALL.with(Cell::get) {
                return;
            }
            if crate::parent_process().is_some() {
                let me = crate::current_process();
                eprintln!("Process {} (pid {}):", me.name(), me.pid());
            }
            previous(info);
        }));
    });
}

/// The encoded arguments of one call, decoded one at a time in order.
///
/// A tuple's postcard encoding is its fields' encodings in a row, so decoding
/// them one by one reads what the parent encoded as a tuple.
#[derive(Debug)]
pub struct Args<'a> {
    rest: &'a [u8],
}

impl Args<'_> {
    /// Decodes the next argument.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next<T: Portable>(&mut self) -> Result<T, String> {
        match crate::wire::take_from_bytes(self.rest) {
            Ok((value, rest)) => {
                self.rest = rest;
                Ok(value)
            }
            Err(e) => Err(undecodable_argument(&e)),
        }
    }
}

#[cold]
fn undecodable_argument(e: &postcard::Error) -> String {
    let why = crate::wire::codec_failure(e);
    format!("could not decode an argument: {why}")
}

/// Appends the encoding of a function's value to `out`; the generated code calls this.
#[inline]
pub fn encode_value<T: Portable>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    crate::wire::encode_returned(value, out).map_err(|e| unencodable_value(&e))
}

#[cold]
fn unencodable_value(e: &postcard::Error) -> String {
    let why = crate::wire::codec_failure(e);
    format!("could not encode the return value: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing(_: &mut Args<'_>, _: &mut Vec<u8>) -> Result<(), String> {
        Ok(())
    }

    /// Registers a test entry that does nothing under `key`.
    macro_rules! entry {
        ($($name:ident = $key:literal;)*) => {$(
            #[linkme::distributed_slice(REGISTRY)]
            static $name: Entry = Entry { key: $key, call: nothing };
        )*};
    }

    entry! {
        BY_HAND = "registry_tests::job@v2";
        MOVED = "registry_tests::moved@10:1";
        NESTED_A = "registry_tests::helper@20:5";
        NESTED_B = "registry_tests::helper@30:5";
    }

    #[test]
    fn a_key_is_found_by_its_place_then_by_its_name_alone() {
        assert!(std::ptr::eq(lookup("registry_tests::helper@20:5").unwrap(), &NESTED_A));
        assert!(std::ptr::eq(lookup("registry_tests::helper@30:5").unwrap(), &NESTED_B));
        // From another build, where the function sits on another line.
        assert!(std::ptr::eq(lookup("registry_tests::moved@11:1").unwrap(), &MOVED));
        assert!(matches!(
            lookup("registry_tests::helper@40:5"),
            Err(Error::DuplicateKey { count: 2, .. })
        ));
        assert!(matches!(lookup("registry_tests::gone@1:1"), Err(Error::NotRegistered { .. })));
        // A key given by hand is never cut at its `@`.
        assert!(std::ptr::eq(lookup("registry_tests::job@v2").unwrap(), &BY_HAND));
        assert!(matches!(lookup("registry_tests::job@v3"), Err(Error::NotRegistered { .. })));
    }

    #[test]
    fn the_hand_written_outcome_bytes_are_postcards_own() {
        assert_eq!(postcard::to_stdvec(&Outcome::Returned(())).unwrap(), [RETURNED]);
        let failed = postcard::to_stdvec(&Outcome::<()>::Failed(String::new())).unwrap();
        assert_eq!(failed, FAILED_EMPTY);
    }

    #[test]
    fn a_result_followed_by_garbage_is_an_error_not_a_value() {
        let mut frame = crate::wire::encode(&Outcome::Returned(42u32), "a result").unwrap();
        assert_eq!(decode_outcome::<u32>(&frame, "child").unwrap(), 42);
        assert_eq!(decode_returned::<u32>(&frame), Some(42));
        frame.extend_from_slice(&[0x25; 100]);
        assert!(matches!(
            decode_outcome::<u32>(&frame, "child"),
            Err(Error::Codec { .. })
        ));
        assert_eq!(decode_returned::<u32>(&frame), None);
    }
}
