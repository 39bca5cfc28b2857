//! [`Task`]: what `#[process]` and `#[pool_task]` turn a function into.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::process::{Process, ProcessBuilder};

/// A function registered to run in other processes.
///
/// `#[process]` and `#[pool_task]` replace `fn f(..) -> R` with a constant `f`
/// of this type. It still calls like the function (it dereferences to the
/// function pointer) and adds `spawn` and `builder`.
///
/// # Examples
///
/// ```
/// use multiproc::process;
///
/// #[process]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// assert_eq!(square(4), 16); // in this process
/// assert_eq!(square.spawn(4)?.join()?, 16); // in a child process
/// # Ok(())
/// # }
/// ```
///
/// Python: a module-level function passed as `target=` or to `Pool.map`.
pub struct Task<F, Args, R> {
    key: &'static str,
    function: F,
    _signature: PhantomData<fn(Args) -> R>,
}

impl<F, Args, R> Task<F, Args, R> {
    #[doc(hidden)]
    pub const fn __new(key: &'static str, function: F) -> Self {
        Task {
            key,
            function,
            _signature: PhantomData,
        }
    }

    /// The key the function is registered under: the attribute's `key = ".."`,
    /// or its module path and name, then `@` and the line and column of its
    /// attribute, which tell apart nested functions of one name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// #[process]
    /// fn noop() {}
    /// # fn main() {
    /// assert!(noop.key().contains("::noop@"));
    /// # }
    /// ```
    ///
    /// Python: `f.__module__ + "." + f.__qualname__`, which pickle uses the same way.
    pub fn key(&self) -> &'static str {
        self.key
    }
}

impl<F, Args: Serialize, R> Task<F, Args, R> {
    /// Options for starting the function in a process: name, daemon flag, executable.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// #[process]
    /// fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// noop.builder().name("quiet").spawn()?.join()
    /// # }
    /// ```
    ///
    /// Python: `multiprocessing.Process(target=f, name=..., daemon=...)`.
    pub fn builder(&self) -> ProcessBuilder<Args, R> {
        ProcessBuilder::new(self.key)
    }
}

impl<F: Copy, Args, R> Clone for Task<F, Args, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F: Copy, Args, R> Copy for Task<F, Args, R> {}

impl<F, Args, R> Deref for Task<F, Args, R> {
    type Target = F;

    fn deref(&self) -> &F {
        &self.function
    }
}

impl<F, Args, R> fmt::Debug for Task<F, Args, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Task").field(&self.key).finish()
    }
}

/// `spawn` with one parameter per argument of the function, for each arity.
macro_rules! spawn_by_arity {
    ($( ($($arg:ident: $Arg:ident),*) )*) => {$(
        impl<F, R: DeserializeOwned, $($Arg: Serialize),*> Task<F, ($($Arg,)*), R> {
            /// Runs the function with these arguments in a new child process.
            ///
            /// # Errors
            ///
            /// [`Error::Spawn`](crate::Error::Spawn) or
            /// [`Error::Handshake`](crate::Error::Handshake) if the child cannot start;
            /// [`Error::Codec`](crate::Error::Codec) if an argument cannot be encoded.
            ///
            /// # Examples
            ///
            /// ```
            /// # use multiproc::process;
            /// #[process]
            /// fn add(a: i64, b: i64) -> i64 {
            ///     a + b
            /// }
            /// # fn main() -> Result<(), multiproc::Error> {
            /// assert_eq!(add.spawn(2, 3)?.join()?, 5);
            /// # Ok(())
            /// # }
            /// ```
            ///
            /// Python: `p = Process(target=add, args=(2, 3)); p.start()`.
            #[allow(clippy::too_many_arguments)]
            pub fn spawn(&self, $($arg: $Arg),*) -> Result<Process<R>> {
                self.builder().spawn($($arg),*)
            }
        }

        impl<R, $($Arg: Serialize),*> ProcessBuilder<($($Arg,)*), R> {
            /// Runs the function with these arguments in a new child process.
            ///
            /// # Errors
            ///
            /// As for [`Task::spawn`].
            ///
            /// # Examples
            ///
            /// ```
            /// # use multiproc::process;
            /// #[process]
            /// fn add(a: i64, b: i64) -> i64 {
            ///     a + b
            /// }
            /// # fn main() -> Result<(), multiproc::Error> {
            /// assert_eq!(add.builder().name("adder").spawn(2, 3)?.join()?, 5);
            /// # Ok(())
            /// # }
            /// ```
            ///
            /// Python: `p = Process(target=add, args=(2, 3), name="adder"); p.start()`.
            #[allow(clippy::too_many_arguments)]
            pub fn spawn(&self, $($arg: $Arg),*) -> Result<Process<R>> {
                self.spawn_args(&($($arg,)*))
            }
        }
    )*};
}

spawn_by_arity! {
    ()
    (a0: A0)
    (a0: A0, a1: A1)
    (a0: A0, a1: A1, a2: A2)
    (a0: A0, a1: A1, a2: A2, a3: A3)
    (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4)
    (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5)
    (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6)
    (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7)
    (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7, a8: A8)
    (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7, a8: A8, a9: A9)
    (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7, a8: A8, a9: A9, a10: A10)
    (a0: A0, a1: A1, a2: A2, a3: A3, a4: A4, a5: A5, a6: A6, a7: A7, a8: A8, a9: A9, a10: A10, a11: A11)
}
