#![deny(missing_docs)]
//! The runtime of [multiproc](https://docs.rs/multiproc). Depend on the
//! `multiproc` crate, which re-exports everything here with the macros.

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!(
    "multiproc runs on Linux and macOS only: another system needs its own \
     backend for waits on shared memory and process information in the \
     runtime's `sys` module; see the README's Platforms section."
);

/// Keeps every item to the platforms the crate supports, so that elsewhere
/// the build stops at the one `compile_error!` above instead of a cascade.
macro_rules! supported {
    ($($item:item)*) => {
        $(
            #[cfg(any(target_os = "linux", target_os = "macos"))]
            $item
        )*
    };
}

supported! {
    mod bootstrap;
    mod bytes;
    mod error;
    mod forking;
    mod handle;
    mod manager;
    #[cfg(feature = "mpi")]
    mod mpi;
    mod pipe;
    mod pool;
    mod process;
    mod queue;
    mod values;
    mod shared_memory;
    mod scoped;
    mod shm;
    mod sync;
    mod sys;
    mod task;
    mod wire;

    pub use bytes::Bytes;
    pub use error::{Error, Result};
    pub use handle::Fd;
    pub use manager::{
        BarrierProxy, ConditionProxy, DictProxy, EventProxy, ListProxy, LockProxy, Managed, Manager,
        NamespaceProxy, Proxy, ProxyGuard, QueueProxy, RLockProxy, SemaphoreProxy, ValueProxy,
    };
    pub use pipe::{Connection, Waitable, pipe, pipe_oneway, wait};
    pub use pool::{AsyncResult, IMap, Pool, PoolBuilder, PoolTask, UnaryTask};
    pub use process::{
        Process, ProcessBuilder, ProcessInfo, active_children, cpu_count, current_process,
        parent_process,
    };
    pub use bootstrap::setup::Stdio;
    pub use queue::{JoinableQueue, PutError, Queue};
    pub use values::{Array, RawArray, RawValue, SharedGuard, Value};
    pub use shared_memory::SharedMemory;
    pub use bootstrap::start::{
        StartMethod, get_all_start_methods, get_start_method, set_start_method,
    };
    pub use sync::{
        Barrier, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard, RLock,
        RLockGuard, Semaphore, SemaphoreGuard,
    };
    pub use task::Task;

    /// The serde that multiproc encodes with: its `Serialize` and
    /// `Deserialize` bound every argument and value that crosses between
    /// processes. Your own `serde = "1"` dependency is the same crate, since
    /// a build has one serde 1.
    pub use serde;

    /// The bytemuck whose `Pod` bounds [`Value`], [`Array`], [`RawValue`] and
    /// [`RawArray`]; your own `bytemuck = "1"` is the same crate.
    pub use bytemuck;

    /// What the macros' generated code refers to; not a public API.
    #[doc(hidden)]
    pub mod __private {
        pub use crate::bootstrap::{Args, Call, Entry, REGISTRY, encode_value};
        pub use crate::manager::{
            MANAGED_METHODS, MANAGED_TYPES, ManagedMethod, ManagedType, ObjectRef, create_managed,
            deserialize_proxy, downcast, encode_arg, serialize_proxy,
        };
        pub use crate::pool::progress::Shown;
        pub use crate::task::Task;
        pub use linkme;
        pub use serde;

        /// Seals [`Proxy`](crate::Proxy) and [`Managed`](crate::Managed):
        /// implemented only by this crate's proxies and by the code
        /// `#[managed]` generates, which is why it lives here, where nothing
        /// is public API.
        pub trait Sealed {}

        /// Implemented by every type a child function can take or return.
        #[diagnostic::on_unimplemented(
            message = "`{Self}` cannot cross between processes",
            label = "not serializable",
            note = "arguments and return values of `#[process]` and `#[pool_task]` functions must implement `serde::Serialize` and `serde::de::DeserializeOwned`; derive them or use an owned type such as `String`"
        )]
        pub trait Portable: serde::Serialize + serde::de::DeserializeOwned {}

        impl<T: serde::Serialize + serde::de::DeserializeOwned> Portable for T {}
    }
}
