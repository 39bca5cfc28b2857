//! The messages between proxies and the manager process.
//!
//! Keys, values and items travel as their postcard encodings: the server
//! stores bytes and never needs the user's types. Two equal keys encode to
//! equal bytes, which is what a dict entry is found by.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// What a client asks.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Make a new object; answered with `Answer::Id`.
    Create { kind: Kind, tag: String },
    /// Give object `id` a name other clients can look up.
    Publish { name: String, id: u64 },
    /// The object published as `name`, which must have type `tag`.
    Lookup { name: String, tag: String },
    /// Operate on object `id`.
    Call { id: u64, op: Op },
}

/// The kind of a new object, with its initial contents.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Kind {
    Dict,
    List(Vec<ByteBuf>),
    Value(ByteBuf),
    Namespace,
    Lock {
        reentrant: bool,
    },
    Semaphore {
        value: u32,
        bounded: bool,
    },
    Condition,
    Event,
    Barrier {
        parties: u32,
    },
    Queue {
        maxsize: Option<usize>,
    },
    /// A registered user type, decoded by its registration `key`.
    User {
        key: String,
        state: ByteBuf,
    },
}

/// An entry of a container.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Slot {
    /// The contents of a value.
    Whole,
    /// A dict entry.
    Key(ByteBuf),
    /// A list item; negative counts from the end, as in Python.
    Index(i64),
    /// A namespace attribute.
    Field(String),
}

/// One operation on one object.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    Get(Slot),
    Set(Slot, ByteBuf),
    Remove(Slot),
    Contains(Slot),
    /// Sets the slot to `new` only if it holds `expected` (`None`: is absent).
    Swap {
        slot: Slot,
        expected: Option<ByteBuf>,
        new: ByteBuf,
    },
    Len,
    Clear,
    Keys,
    Values,
    Items,
    Push(ByteBuf),
    Insert(i64, ByteBuf),
    Extend(Vec<ByteBuf>),
    Pop,
    Acquire(Option<Duration>),
    Release,
    Wait(Option<Duration>),
    Notify(u32),
    SetFlag,
    ClearFlag,
    IsSet,
    Abort,
    Reset,
    Parties,
    Waiting,
    Broken,
    Permits,
    Put(ByteBuf, Option<Duration>),
    Take(Option<Duration>),
    Full,
    TaskDone,
    Join(Option<Duration>),
    Method {
        key: String,
        args: ByteBuf,
    },
}

impl Op {
    /// The operation's name, for errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Get(_) => "Get",
            Op::Set(..) => "Set",
            Op::Remove(_) => "Remove",
            Op::Contains(_) => "Contains",
            Op::Swap { .. } => "Swap",
            Op::Len => "Len",
            Op::Clear => "Clear",
            Op::Keys => "Keys",
            Op::Values => "Values",
            Op::Items => "Items",
            Op::Push(_) => "Push",
            Op::Insert(..) => "Insert",
            Op::Extend(_) => "Extend",
            Op::Pop => "Pop",
            Op::Acquire(_) => "Acquire",
            Op::Release => "Release",
            Op::Wait(_) => "Wait",
            Op::Notify(_) => "Notify",
            Op::SetFlag => "SetFlag",
            Op::ClearFlag => "ClearFlag",
            Op::IsSet => "IsSet",
            Op::Abort => "Abort",
            Op::Reset => "Reset",
            Op::Parties => "Parties",
            Op::Waiting => "Waiting",
            Op::Broken => "Broken",
            Op::Permits => "Permits",
            Op::Put(..) => "Put",
            Op::Take(_) => "Take",
            Op::Full => "Full",
            Op::TaskDone => "TaskDone",
            Op::Join(_) => "Join",
            Op::Method { .. } => "Method",
        }
    }

    /// How long the server may rightly hold an operation that waits for
    /// another client (`Some(None)`: as long as it takes); `None` for one
    /// that answers at once.
    pub(crate) fn waits(&self) -> Option<Option<Duration>> {
        match self {
            Op::Acquire(timeout)
            | Op::Wait(timeout)
            | Op::Put(_, timeout)
            | Op::Take(timeout)
            | Op::Join(timeout) => Some(*timeout),
            _ => None,
        }
    }
}

/// What the server answers.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Answer {
    Done,
    Bool(bool),
    Count(u64),
    Item(Option<ByteBuf>),
    Items(Vec<ByteBuf>),
    Pairs(Vec<(ByteBuf, ByteBuf)>),
    Id(u64),
    /// A `Swap` that found something else: what it found.
    Found(Option<ByteBuf>),
    Failed(Failure),
}

/// Why an operation failed.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Failure {
    NoSuchObject(u64),
    NoSuchName(String),
    NoSuchAttribute(String),
    TypeMismatch {
        name: String,
        expected: String,
        found: String,
    },
    IndexOutOfRange {
        index: i64,
        len: usize,
    },
    NotOwner,
    OverReleased,
    BrokenBarrier,
    TooManyTaskDone,
    Unsupported {
        op: String,
        object: String,
    },
    Method(String),
}
