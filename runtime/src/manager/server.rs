//! The manager process: accepts connections, authenticates them, and serves
//! each on its own thread against one table of objects.
//!
//! A call that blocks (a lock, a queue `get`, a barrier) waits on its object's
//! condition variable in slices, checking between slices whether its client is
//! still connected, so a client that dies never leaves a thread waiting for
//! ever. A client that disconnects releases every lock it held.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_bytes::ByteBuf;

use super::link::{Address, Link};
use super::protocol::{Answer, Failure, Kind, Op, Request, Slot};
use crate::wire::Conn;
use crate::wire::socket;

/// How many barrier resets are remembered for waiters still to wake.
const REMEMBERED_RESETS: usize = 64;

/// How often a blocked call checks that its client is still there.
const SLICE: Duration = Duration::from_millis(50);

/// The body of the manager process: binds `address`, tells the owner where
/// it listens (or why it cannot), then serves until the owner hangs up.
/// A manager's server: serves its objects at an address to clients that know its key.
#[linkme::distributed_slice(crate::bootstrap::JOB_KINDS)]
pub(crate) static MANAGER: crate::bootstrap::JobKind = crate::bootstrap::JobKind {
    name: "manager",
    lifeline: true,
    run: run_manager,
};

fn run_manager(owner: Conn, payload: &[u8], _: Vec<std::os::fd::OwnedFd>) -> i32 {
    match crate::wire::decode::<(Address, ByteBuf)>(payload, "a manager's address and key") {
        Ok((address, key)) => serve(owner, &address, key.into_vec()),
        Err(_) => 1,
    }
}

fn serve(mut owner: Conn, address: &Address, key: Vec<u8>) -> i32 {
    // Ctrl-C reaches the whole process group; the owner decides what it
    // means (as for Python's manager), and this server ends with the owner.
    crate::sys::process::ignore(crate::sys::process::Ignorable::Interrupt);
    crate::bootstrap::send_panics_to_callers();
    let listener = match Listener::bind(address) {
        Ok((listener, bound)) => {
            // Its objects may hold proxies to it, which travel without a key.
            super::remember_key(&bound, &key);
            if owner.send(&Ok::<_, String>(bound)).is_err() {
                return 1;
            }
            listener
        }
        Err(e) => {
            let _ = owner.send(&Err::<Address, _>(e.to_string()));
            return 1;
        }
    };
    let table = Arc::new(Table::default());
    let key: Arc<[u8]> = key.into();
    loop {
        let link = match listener.accept() {
            Ok(link) => link,
            // Another user's process, refused: no reason to slow the others.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => continue,
            Err(_) => {
                // Out of descriptors, say: give the clients time to leave.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let (table, key) = (Arc::clone(&table), Arc::clone(&key));
        let spawned = std::thread::Builder::new()
            .name("multiproc-manager-client".into())
            .spawn(move || {
                if let Ok(link) = link.accept(&key) {
                    Client::new(link, table).serve();
                }
            });
        // Out of threads: the connection closes and its client sees an error.
        drop(spawned);
    }
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    fn bind(address: &Address) -> std::io::Result<(Listener, Address)> {
        Ok(match address {
            Address::Unix(path) => (
                Listener::Unix(socket::listen_local(path)?),
                address.clone(),
            ),
            Address::Tcp(addr) => {
                let listener = socket::listen_tcp(addr)?;
                let bound = Address::Tcp(listener.local_addr()?.to_string());
                (Listener::Tcp(listener), bound)
            }
        })
    }

    fn accept(&self) -> std::io::Result<Link> {
        Ok(match self {
            Listener::Unix(l) => Link::Unix(socket::accepted_local(l.accept()?.0)?),
            Listener::Tcp(l) => Link::Tcp(socket::accepted_tcp(l.accept()?.0)?),
        })
    }
}

/// Every object of this manager, by id, and the published names.
#[derive(Default)]
struct Table {
    objects: Mutex<HashMap<u64, Arc<Entry>>>,
    names: Mutex<HashMap<String, u64>>,
    next: AtomicU64,
}

struct Entry {
    /// The proxy type that created it, checked when it is looked up by name.
    tag: String,
    object: Object,
}

enum Object {
    Dict(Mutex<IndexMap<ByteBuf, ByteBuf>>),
    List(Mutex<Vec<ByteBuf>>),
    Value(Mutex<ByteBuf>),
    Namespace(Mutex<BTreeMap<String, ByteBuf>>),
    Lock(Gate<LockState>),
    Semaphore(Gate<Permits>),
    Condition(Gate<ConditionState>),
    Event(Gate<bool>),
    Barrier(Gate<BarrierState>),
    Queue(Gate<QueueState>),
    User(Mutex<super::ManagedValue>),
}

impl Object {
    fn new(kind: Kind) -> Result<Object, Failure> {
        Ok(match kind {
            Kind::Dict => Object::Dict(Mutex::default()),
            Kind::List(items) => Object::List(Mutex::new(items)),
            Kind::Value(value) => Object::Value(Mutex::new(value)),
            Kind::Namespace => Object::Namespace(Mutex::default()),
            Kind::Lock { reentrant } => Object::Lock(Gate::new(LockState {
                owner: None,
                depth: 0,
                reentrant,
            })),
            Kind::Semaphore { value, bounded } => Object::Semaphore(Gate::new(Permits {
                value,
                max: bounded.then_some(value),
            })),
            Kind::Condition => Object::Condition(Gate::new(ConditionState {
                lock: LockState {
                    owner: None,
                    depth: 0,
                    reentrant: true,
                },
                next_ticket: 0,
                waiting: VecDeque::new(),
                notified: HashSet::new(),
            })),
            Kind::Event => Object::Event(Gate::new(false)),
            Kind::Barrier { parties } => Object::Barrier(Gate::new(BarrierState {
                parties,
                arrived: 0,
                generation: 0,
                broken: false,
                resets: VecDeque::new(),
            })),
            Kind::Queue { maxsize } => Object::Queue(Gate::new(QueueState {
                items: VecDeque::new(),
                // As in Python, a size of 0 means no bound.
                maxsize: maxsize.filter(|&max| max > 0),
                unfinished: 0,
            })),
            Kind::User { key, state } => {
                let managed = super::registered_type(&key).map_err(Failure::Method)?;
                let value = (managed.create)(&state).map_err(Failure::Method)?;
                Object::User(Mutex::new(value))
            }
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Object::Dict(_) => "dict",
            Object::List(_) => "list",
            Object::Value(_) => "value",
            Object::Namespace(_) => "namespace",
            Object::Lock(_) => "lock",
            Object::Semaphore(_) => "semaphore",
            Object::Condition(_) => "condition",
            Object::Event(_) => "event",
            Object::Barrier(_) => "barrier",
            Object::Queue(_) => "queue",
            Object::User(_) => "registered object",
        }
    }
}

/// A state and the condition variable that announces its changes.
struct Gate<S> {
    state: Mutex<S>,
    changed: Condvar,
}

impl<S> Gate<S> {
    fn new(state: S) -> Gate<S> {
        Gate {
            state: Mutex::new(state),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }

    /// Waits until `ready` holds, the timeout passes, or the client leaves;
    /// the flag says whether `ready` held.
    fn wait_for(
        &self,
        client: &Link,
        timeout: Option<Duration>,
        mut ready: impl FnMut(&mut S) -> bool,
    ) -> (MutexGuard<'_, S>, bool) {
        // A timeout too long to add is none.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut state = self.lock();
        loop {
            if ready(&mut state) {
                return (state, true);
            }
            let slice = match deadline {
                Some(deadline) => deadline
                    .saturating_duration_since(Instant::now())
                    .min(SLICE),
                None => SLICE,
            };
            if slice.is_zero() || client.peer_gone() {
                return (state, false);
            }
            state = self
                .changed
                .wait_timeout(state, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A lock or reentrant lock; the owner is a client connection, that is, one
/// thread of one process.
struct LockState {
    owner: Option<u64>,
    depth: u32,
    reentrant: bool,
}

impl LockState {
    fn free_for(&self, me: u64) -> bool {
        self.owner.is_none() || (self.reentrant && self.owner == Some(me))
    }

    fn take(&mut self, me: u64) {
        self.owner = Some(me);
        self.depth += 1;
    }

    /// Releases one level. A plain lock may be released by anyone, as in Python.
    fn release(&mut self, me: u64) -> Result<(), Failure> {
        match self.owner {
            Some(owner) if owner == me || !self.reentrant => {
                self.depth -= 1;
                if self.depth == 0 {
                    self.owner = None;
                }
                Ok(())
            }
            _ => Err(Failure::NotOwner),
        }
    }

    fn check_owner(&self, me: u64) -> Result<(), Failure> {
        match self.owner == Some(me) {
            true => Ok(()),
            false => Err(Failure::NotOwner),
        }
    }
}

/// An object whose state holds a lock: a lock, or a condition's.
trait Holds {
    fn held(&mut self) -> &mut LockState;
}

impl Holds for LockState {
    fn held(&mut self) -> &mut LockState {
        self
    }
}

impl Holds for ConditionState {
    fn held(&mut self) -> &mut LockState {
        &mut self.lock
    }
}

/// Takes the lock of `gate` for `me`, waiting at most `timeout`.
fn acquire<S: Holds>(gate: &Gate<S>, client: &Link, me: u64, timeout: Option<Duration>) -> Answer {
    let (mut state, free) = gate.wait_for(client, timeout, |s| s.held().free_for(me));
    if free {
        state.held().take(me);
    }
    Answer::Bool(free)
}

/// Releases one level of the lock of `gate`.
fn release<S: Holds>(gate: &Gate<S>, me: u64) -> Result<Answer, Failure> {
    gate.lock().held().release(me)?;
    gate.changed.notify_all();
    Ok(Answer::Done)
}

/// Releases whatever `me` still holds of the lock of `gate`.
fn abandon_lock<S: Holds>(gate: &Gate<S>, me: u64) {
    let mut state = gate.lock();
    let lock = state.held();
    if lock.owner == Some(me) {
        lock.owner = None;
        lock.depth = 0;
        gate.changed.notify_all();
    }
}

struct Permits {
    value: u32,
    max: Option<u32>,
}

/// A condition's reentrant lock and its queue of waiters.
struct ConditionState {
    lock: LockState,
    next_ticket: u64,
    waiting: VecDeque<u64>,
    notified: HashSet<u64>,
}

struct BarrierState {
    parties: u32,
    arrived: u32,
    generation: u64,
    broken: bool,
    /// The latest generations ended by a reset rather than by all parties
    /// arriving, so that their waiters, however late they wake, fail.
    resets: VecDeque<u64>,
}

struct QueueState {
    items: VecDeque<ByteBuf>,
    maxsize: Option<usize>,
    unfinished: u64,
}

/// One authenticated connection.
struct Client {
    link: Link,
    table: Arc<Table>,
    /// Identifies this connection as the owner of locks.
    me: u64,
    /// The locks and conditions this client has acquired, released when it leaves.
    held: HashMap<u64, Arc<Entry>>,
}

static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);

impl Client {
    fn new(link: Link, table: Arc<Table>) -> Client {
        Client {
            link,
            table,
            me: NEXT_CLIENT.fetch_add(1, Ordering::Relaxed),
            held: HashMap::new(),
        }
    }

    /// Serves until the client hangs up or sends a frame that does not
    /// decode; dropping `self` then releases what it held.
    fn serve(mut self) {
        let (mut input, mut output) = (Vec::new(), Vec::new());
        while let Ok(request) = self.link.recv::<Request>(&mut input) {
            let answer = self.answer(request).unwrap_or_else(Answer::Failed);
            if self.link.send(&answer, &mut output).is_err() {
                break;
            }
        }
    }

    fn answer(&mut self, request: Request) -> Result<Answer, Failure> {
        match request {
            Request::Create { kind, tag } => {
                let object = Object::new(kind)?;
                let id = self.table.next.fetch_add(1, Ordering::Relaxed);
                let entry = Arc::new(Entry { tag, object });
                lock(&self.table.objects).insert(id, entry);
                Ok(Answer::Id(id))
            }
            Request::Publish { name, id } => {
                self.entry(id)?;
                lock(&self.table.names).insert(name, id);
                Ok(Answer::Done)
            }
            Request::Lookup { name, tag } => {
                let id = lock(&self.table.names)
                    .get(&name)
                    .copied()
                    .ok_or_else(|| Failure::NoSuchName(name.clone()))?;
                let entry = self.entry(id)?;
                if entry.tag != tag {
                    return Err(Failure::TypeMismatch {
                        name,
                        expected: tag,
                        found: entry.tag.clone(),
                    });
                }
                Ok(Answer::Id(id))
            }
            Request::Call { id, op } => {
                let entry = self.entry(id)?;
                if matches!(op, Op::Acquire(_))
                    && matches!(entry.object, Object::Lock(_) | Object::Condition(_))
                {
                    self.held.entry(id).or_insert_with(|| Arc::clone(&entry));
                }
                call(&entry.object, op, &self.link, self.me)
            }
        }
    }

    fn entry(&self, id: u64) -> Result<Arc<Entry>, Failure> {
        lock(&self.table.objects)
            .get(&id)
            .cloned()
            .ok_or(Failure::NoSuchObject(id))
    }
}

impl Drop for Client {
    /// Even when a call panicked: the locks and conditions this client held
    /// must not stay held for ever.
    fn drop(&mut self) {
        self.link.shutdown();
        for entry in self.held.values() {
            abandon(entry, self.me);
        }
    }
}

/// Releases whatever `me` still holds of a lock or condition.
fn abandon(entry: &Entry, me: u64) {
    match &entry.object {
        Object::Lock(gate) => abandon_lock(gate, me),
        Object::Condition(gate) => abandon_lock(gate, me),
        _ => {}
    }
}

fn unsupported(op: &Op, object: &Object) -> Failure {
    Failure::Unsupported {
        op: op.name().into(),
        object: object.name().into(),
    }
}

/// Runs one operation on one object.
fn call(object: &Object, op: Op, client: &Link, me: u64) -> Result<Answer, Failure> {
    match object {
        Object::Dict(map) => dict_call(&mut lock(map), op, object),
        Object::List(list) => list_call(&mut lock(list), op, object),
        Object::Value(value) => value_call(&mut lock(value), op, object),
        Object::Namespace(fields) => namespace_call(&mut lock(fields), op, object),
        Object::Lock(gate) => lock_call(gate, op, client, me, object),
        Object::Semaphore(gate) => semaphore_call(gate, op, client, object),
        Object::Condition(gate) => condition_call(gate, op, client, me, object),
        Object::Event(gate) => event_call(gate, op, client, object),
        Object::Barrier(gate) => barrier_call(gate, op, client, object),
        Object::Queue(gate) => queue_call(gate, op, client, object),
        Object::User(value) => match op {
            Op::Method { key, args } => {
                let method = super::registered_method(&key).map_err(Failure::Method)?;
                let mut value = lock(value);
                let mut out = Vec::new();
                crate::bootstrap::run_with(&args, &mut out, |args, out| {
                    (method.call)(&mut **value, args, out)
                });
                Ok(Answer::Item(Some(ByteBuf::from(out))))
            }
            op => Err(unsupported(&op, object)),
        },
    }
}

/// Swaps in `new` if `current` is `expected`; otherwise answers what it found.
fn swap(current: &mut Option<&mut ByteBuf>, expected: Option<ByteBuf>, new: ByteBuf) -> Answer {
    if current.as_deref() == expected.as_ref() {
        if let Some(slot) = current {
            **slot = new;
        }
        Answer::Done
    } else {
        Answer::Found(current.as_deref().cloned())
    }
}

fn dict_call(
    map: &mut IndexMap<ByteBuf, ByteBuf>,
    op: Op,
    object: &Object,
) -> Result<Answer, Failure> {
    Ok(match op {
        Op::Get(Slot::Key(k)) => Answer::Item(map.get(&k).cloned()),
        Op::Set(Slot::Key(k), v) => Answer::Item(map.insert(k, v)),
        Op::Remove(Slot::Key(k)) => Answer::Item(map.shift_remove(&k)),
        Op::Contains(Slot::Key(k)) => Answer::Bool(map.contains_key(&k)),
        Op::Swap {
            slot: Slot::Key(k),
            expected,
            new,
        } => {
            if expected.is_none() && !map.contains_key(&k) {
                map.insert(k, new);
                Answer::Done
            } else {
                swap(&mut map.get_mut(&k), expected, new)
            }
        }
        Op::Len => Answer::Count(map.len() as u64),
        Op::Clear => {
            map.clear();
            Answer::Done
        }
        Op::Keys => Answer::Items(map.keys().cloned().collect()),
        Op::Values => Answer::Items(map.values().cloned().collect()),
        Op::Items => Answer::Pairs(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        op => return Err(unsupported(&op, object)),
    })
}

/// The position of Python-style `index` in a list of `len`, if it is inside.
fn position(index: i64, len: usize) -> Result<usize, Failure> {
    let at = if index < 0 {
        i64::try_from(len)
            .ok()
            .and_then(|len| len.checked_add(index))
    } else {
        Some(index)
    };
    at.and_then(|at| usize::try_from(at).ok())
        .filter(|&at| at < len)
        .ok_or(Failure::IndexOutOfRange { index, len })
}

fn list_call(list: &mut Vec<ByteBuf>, op: Op, object: &Object) -> Result<Answer, Failure> {
    Ok(match op {
        Op::Get(Slot::Index(i)) => Answer::Item(Some(list[position(i, list.len())?].clone())),
        Op::Set(Slot::Index(i), v) => {
            let at = position(i, list.len())?;
            Answer::Item(Some(std::mem::replace(&mut list[at], v)))
        }
        Op::Remove(Slot::Index(i)) => Answer::Item(Some(list.remove(position(i, list.len())?))),
        Op::Contains(Slot::Key(item)) => Answer::Bool(list.contains(&item)),
        Op::Swap {
            slot: Slot::Index(i),
            expected,
            new,
        } => {
            let at = position(i, list.len())?;
            swap(&mut Some(&mut list[at]), expected, new)
        }
        Op::Len => Answer::Count(list.len() as u64),
        Op::Clear => {
            list.clear();
            Answer::Done
        }
        Op::Values => Answer::Items(list.clone()),
        Op::Push(item) => {
            list.push(item);
            Answer::Done
        }
        Op::Insert(i, item) => {
            // Python's list.insert clamps the index instead of failing.
            let len = i64::try_from(list.len()).unwrap_or(i64::MAX);
            let at = if i < 0 { (len + i).max(0) } else { i.min(len) };
            list.insert(usize::try_from(at).unwrap_or(0), item);
            Answer::Done
        }
        Op::Extend(items) => {
            list.extend(items);
            Answer::Done
        }
        Op::Pop => Answer::Item(list.pop()),
        op => return Err(unsupported(&op, object)),
    })
}

fn value_call(value: &mut ByteBuf, op: Op, object: &Object) -> Result<Answer, Failure> {
    Ok(match op {
        Op::Get(Slot::Whole) => Answer::Item(Some(value.clone())),
        Op::Set(Slot::Whole, v) => Answer::Item(Some(std::mem::replace(value, v))),
        Op::Swap {
            slot: Slot::Whole,
            expected,
            new,
        } => swap(&mut Some(value), expected, new),
        op => return Err(unsupported(&op, object)),
    })
}

fn namespace_call(
    fields: &mut BTreeMap<String, ByteBuf>,
    op: Op,
    object: &Object,
) -> Result<Answer, Failure> {
    Ok(match op {
        Op::Get(Slot::Field(name)) => match fields.get(&name) {
            Some(value) => Answer::Item(Some(value.clone())),
            None => return Err(Failure::NoSuchAttribute(name)),
        },
        Op::Set(Slot::Field(name), v) => Answer::Item(fields.insert(name, v)),
        Op::Remove(Slot::Field(name)) => Answer::Item(fields.remove(&name)),
        Op::Contains(Slot::Field(name)) => Answer::Bool(fields.contains_key(&name)),
        Op::Keys => Answer::Items(
            fields
                .keys()
                .map(|k| ByteBuf::from(postcard::to_allocvec(k).unwrap_or_default()))
                .collect(),
        ),
        op => return Err(unsupported(&op, object)),
    })
}

fn lock_call(
    gate: &Gate<LockState>,
    op: Op,
    client: &Link,
    me: u64,
    object: &Object,
) -> Result<Answer, Failure> {
    match op {
        Op::Acquire(timeout) => Ok(acquire(gate, client, me, timeout)),
        Op::Release => release(gate, me),
        op => Err(unsupported(&op, object)),
    }
}

fn semaphore_call(
    gate: &Gate<Permits>,
    op: Op,
    client: &Link,
    object: &Object,
) -> Result<Answer, Failure> {
    match op {
        Op::Acquire(timeout) => {
            let (mut state, got) = gate.wait_for(client, timeout, |s| s.value > 0);
            if got {
                state.value -= 1;
            }
            Ok(Answer::Bool(got))
        }
        Op::Release => {
            let mut state = gate.lock();
            if state.max.is_some_and(|max| state.value >= max) {
                return Err(Failure::OverReleased);
            }
            state.value += 1;
            gate.changed.notify_all();
            Ok(Answer::Done)
        }
        Op::Permits => Ok(Answer::Count(gate.lock().value.into())),
        op => Err(unsupported(&op, object)),
    }
}

fn condition_call(
    gate: &Gate<ConditionState>,
    op: Op,
    client: &Link,
    me: u64,
    object: &Object,
) -> Result<Answer, Failure> {
    match op {
        Op::Acquire(timeout) => Ok(acquire(gate, client, me, timeout)),
        Op::Release => release(gate, me),
        Op::Wait(timeout) => {
            let (ticket, depth) = {
                let mut state = gate.lock();
                state.lock.check_owner(me)?;
                let ticket = state.next_ticket;
                state.next_ticket += 1;
                state.waiting.push_back(ticket);
                let depth = std::mem::take(&mut state.lock.depth);
                state.lock.owner = None;
                gate.changed.notify_all();
                (ticket, depth)
            };
            let (mut state, notified) =
                gate.wait_for(client, timeout, |s| s.notified.remove(&ticket));
            if !notified {
                state.waiting.retain(|&t| t != ticket);
            }
            drop(state);
            // Python takes the lock back whatever happened, for as long as it
            // takes; unless the client has gone, when it must not take it.
            let (mut state, retaken) = gate.wait_for(client, None, |s| s.lock.free_for(me));
            if retaken {
                state.lock.owner = Some(me);
                state.lock.depth = depth;
            }
            Ok(Answer::Bool(notified))
        }
        Op::Notify(n) => {
            let mut state = gate.lock();
            state.lock.check_owner(me)?;
            for _ in 0..n {
                let Some(ticket) = state.waiting.pop_front() else {
                    break;
                };
                state.notified.insert(ticket);
            }
            gate.changed.notify_all();
            Ok(Answer::Done)
        }
        op => Err(unsupported(&op, object)),
    }
}

fn event_call(
    gate: &Gate<bool>,
    op: Op,
    client: &Link,
    object: &Object,
) -> Result<Answer, Failure> {
    match op {
        Op::SetFlag | Op::ClearFlag => {
            *gate.lock() = matches!(op, Op::SetFlag);
            gate.changed.notify_all();
            Ok(Answer::Done)
        }
        Op::IsSet => Ok(Answer::Bool(*gate.lock())),
        Op::Wait(timeout) => Ok(Answer::Bool(gate.wait_for(client, timeout, |s| *s).1)),
        op => Err(unsupported(&op, object)),
    }
}

fn barrier_call(
    gate: &Gate<BarrierState>,
    op: Op,
    client: &Link,
    object: &Object,
) -> Result<Answer, Failure> {
    match op {
        Op::Wait(timeout) => {
            let (index, generation) = {
                let mut state = gate.lock();
                if state.broken {
                    return Err(Failure::BrokenBarrier);
                }
                let index = state.arrived;
                state.arrived += 1;
                if state.arrived == state.parties {
                    state.arrived = 0;
                    state.generation += 1;
                    gate.changed.notify_all();
                    return Ok(Answer::Count(index.into()));
                }
                (index, state.generation)
            };
            let (mut state, passed) =
                gate.wait_for(client, timeout, |s| s.generation != generation || s.broken);
            if state.resets.contains(&generation) {
                return Err(Failure::BrokenBarrier);
            }
            if passed && state.generation != generation {
                return Ok(Answer::Count(index.into()));
            }
            // A timeout breaks the barrier for everyone, as in Python.
            state.broken = true;
            gate.changed.notify_all();
            Err(Failure::BrokenBarrier)
        }
        Op::Abort => {
            gate.lock().broken = true;
            gate.changed.notify_all();
            Ok(Answer::Done)
        }
        Op::Reset => {
            let mut state = gate.lock();
            if state.arrived > 0 {
                // Those waiting now see a broken barrier; later ones a fresh one.
                let generation = state.generation;
                state.resets.push_back(generation);
                if state.resets.len() > REMEMBERED_RESETS {
                    state.resets.pop_front();
                }
            }
            state.arrived = 0;
            state.broken = false;
            state.generation += 1;
            gate.changed.notify_all();
            Ok(Answer::Done)
        }
        Op::Parties => Ok(Answer::Count(gate.lock().parties.into())),
        Op::Waiting => Ok(Answer::Count(gate.lock().arrived.into())),
        Op::Broken => Ok(Answer::Bool(gate.lock().broken)),
        op => Err(unsupported(&op, object)),
    }
}

fn queue_call(
    gate: &Gate<QueueState>,
    op: Op,
    client: &Link,
    object: &Object,
) -> Result<Answer, Failure> {
    match op {
        Op::Put(item, timeout) => {
            let room = |s: &mut QueueState| s.maxsize.is_none_or(|max| s.items.len() < max);
            let (mut state, fits) = gate.wait_for(client, timeout, room);
            if fits {
                state.items.push_back(item);
                state.unfinished += 1;
                gate.changed.notify_all();
            }
            Ok(Answer::Bool(fits))
        }
        Op::Take(timeout) => {
            let (mut state, _) = gate.wait_for(client, timeout, |s| !s.items.is_empty());
            let item = state.items.pop_front();
            if item.is_some() {
                gate.changed.notify_all();
            }
            Ok(Answer::Item(item))
        }
        Op::Len => Ok(Answer::Count(gate.lock().items.len() as u64)),
        Op::Full => {
            let state = gate.lock();
            Ok(Answer::Bool(
                state.maxsize.is_some_and(|max| state.items.len() >= max),
            ))
        }
        Op::TaskDone => {
            let mut state = gate.lock();
            if state.unfinished == 0 {
                return Err(Failure::TooManyTaskDone);
            }
            state.unfinished -= 1;
            gate.changed.notify_all();
            Ok(Answer::Done)
        }
        Op::Join(timeout) => Ok(Answer::Bool(
            gate.wait_for(client, timeout, |s| s.unfinished == 0).1,
        )),
        op => Err(unsupported(&op, object)),
    }
}
