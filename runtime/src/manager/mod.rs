//! [`Manager`]: a server process that owns shared containers and sync
//! objects, and the typed proxies through which any process reaches them.
//!
//! Design: the server is a child process (job `Manager`) listening on a Unix
//! socket (`bootstrap::SocketPath`: on Linux a name in the abstract
//! namespace), or on TCP for [`Manager::serve`].
//! Every connection starts with a mutual HMAC-SHA256 challenge on the
//! manager's key (`link`), then carries one request and one answer at a time
//! (`protocol`). Each thread of each client process keeps one connection per
//! manager, so the owner of a lock is a thread, as in Python. The server
//! stores keys and values as their postcard encodings and never sees the
//! user's types; a proxy's type travels with it and is checked when it is
//! received or looked up by name.

mod link;
mod protocol;
mod proxy;
mod server;
mod sync;

use std::any::{Any, type_name};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::ByteBuf;

pub(crate) use link::Address;
pub use proxy::{DictProxy, ListProxy, NamespaceProxy, ValueProxy};
pub use sync::{
    BarrierProxy, ConditionProxy, EventProxy, LockProxy, ProxyGuard, QueueProxy, RLockProxy,
    SemaphoreProxy,
};

use crate::__private::Portable;
use crate::bootstrap::{Args, Job, Launch, SocketPath};
use crate::error::{Error, Result};
use crate::process::ChildProc;
use crate::wire;
use link::Link;
use protocol::{Answer, Failure, Kind, Op, Request};

/// A manager: a server process holding shared objects, and the factory of
/// proxies to them.
///
/// Proxies are ordinary arguments of `#[process]` and `#[pool_task]`
/// functions, and each call on one is a round trip to the server. Objects live
/// as long as the manager. A manager started here ([`Manager::start`],
/// [`Manager::serve`]) is shut down by [`Manager::shutdown`], or once this
/// handle and every proxy made from it in this process are dropped, and dies
/// with this process; after that every proxy call returns
/// [`Error::ManagerUnreachable`].
///
/// # Examples
///
/// ```
/// use multiproc::{DictProxy, process};
///
/// #[process]
/// fn worker(d: DictProxy<String, String>, key: String, value: String) {
///     d.insert(key, value).expect("the manager is running");
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let manager = multiproc::Manager::start()?;
/// let d = manager.dict()?;
/// worker.spawn(d.clone(), "key".into(), "value".into())?.join()?;
/// assert_eq!(d.items()?, [("key".to_string(), "value".to_string())]);
/// # Ok(())
/// # }
/// ```
///
/// Python: `with multiprocessing.Manager() as manager: d = manager.dict()`.
pub struct Manager {
    server: Arc<Server>,
    /// The server process, when this handle started it.
    owned: Option<Arc<Owned>>,
    /// How long its calls, and those of the proxies it makes, wait for an answer.
    timeout: Option<Duration>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("address", &self.server.address)
            .field("owned", &self.owned.is_some())
            .finish()
    }
}

/// A server process started here; killed and reaped when the last handle
/// or local proxy lets go of it.
#[derive(Debug)]
struct Owned {
    process: Mutex<ChildProc>,
    address: Address,
    _socket: Option<SocketPath>,
}

impl Drop for Owned {
    fn drop(&mut self) {
        forget_links_to(&self.address);
    }
}

impl Owned {
    fn process(&self) -> std::sync::MutexGuard<'_, ChildProc> {
        self.process.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Manager {
    /// Starts a manager process for this machine, reachable by this process
    /// and every process that receives one of its proxies.
    ///
    /// # Errors
    ///
    /// [`Error::Spawn`] or [`Error::Handshake`] if the server process cannot
    /// start; [`Error::Manager`] if it cannot listen.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let counter = manager.value(0i64)?;
    /// counter.set(3)?;
    /// assert_eq!(counter.get()?, 3);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Manager()`.
    pub fn start() -> Result<Manager> {
        let socket = SocketPath::new().map_err(Error::io("creating a socket for the manager"))?;
        let mut key = vec![0u8; 32];
        crate::sys::process::random(&mut key).map_err(Error::io("drawing a random key"))?;
        Manager::launch(Address::Unix(socket.0.clone()), key, Some(socket))
    }

    /// Starts a manager process listening on TCP `address` (`host:port`; port
    /// 0 picks a free one, see [`Manager::address`]) for clients anywhere that
    /// know `key`.
    ///
    /// Each connection opens with a challenge answered with HMAC-SHA256,
    /// both ways, so the handshake never sends the key, and proxies that
    /// the manager holds are handed on without it. But the traffic after
    /// the handshake is neither encrypted nor checked, as in Python: bind
    /// to `127.0.0.1` unless other hosts must connect, and then reach it
    /// through an SSH tunnel or a VPN (the README's security notes).
    ///
    /// # Errors
    ///
    /// [`Error::Manager`] if the address cannot be listened on; as
    /// [`Manager::start`] otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = multiproc::Manager::serve("127.0.0.1:0", b"secret")?;
    /// let client = multiproc::Manager::connect(&server.address(), b"secret")?;
    /// let log = client.list::<String>()?;
    /// log.push("hello".into())?;
    /// assert_eq!(log.len()?, 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `BaseManager(address=("", 50000), authkey=b"secret").start()`.
    pub fn serve(address: &str, key: &[u8]) -> Result<Manager> {
        Manager::launch(Address::Tcp(address.into()), key.to_vec(), None)
    }

    fn launch(address: Address, key: Vec<u8>, socket: Option<SocketPath>) -> Result<Manager> {
        let job = Job::new(&server::MANAGER, &(&address, &key), Vec::new())?;
        // A server is long-lived and multi-threaded: always a fresh program.
        let launch = Launch {
            method: Some(crate::StartMethod::Spawn),
            ..Launch::default()
        };
        let mut child = ChildProc::start(job, None, "SyncManager", &launch)?;
        if !child.conn.wait_readable(Some(launch.handshake_timeout))? {
            return Err(Error::Manager {
                reason: format!(
                    "the server did not start listening within {:?}",
                    launch.handshake_timeout
                ),
            });
        }
        let bound: std::result::Result<Address, String> = child.conn.recv()?;
        let address = bound.map_err(|reason| Error::Manager {
            reason: format!("could not listen: {reason}"),
        })?;
        Ok(Manager {
            server: Arc::new(Server::new(address.clone(), key)),
            owned: Some(Arc::new(Owned {
                process: Mutex::new(child),
                address,
                _socket: socket,
            })),
            timeout: None,
        })
    }

    /// Connects to a manager that another program serves at TCP `address`.
    ///
    /// Dropping the returned handle leaves the server running.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if nothing answers at `address`;
    /// [`Error::Authentication`] if the keys differ.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = multiproc::Manager::serve("127.0.0.1:0", b"secret")?;
    /// let wrong = multiproc::Manager::connect(&server.address(), b"guess");
    /// assert!(matches!(wrong, Err(multiproc::Error::Authentication { .. })));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `m = BaseManager(address=(host, port), authkey=key); m.connect()`.
    pub fn connect(address: &str, key: &[u8]) -> Result<Manager> {
        let server = Arc::new(Server::new(Address::Tcp(address.into()), key.to_vec()));
        server.reconnect()?;
        Ok(Manager {
            server,
            owned: None,
            timeout: None,
        })
    }

    /// Where the server listens: a socket path, or `host:port` with the port
    /// actually bound.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = multiproc::Manager::serve("127.0.0.1:0", b"k")?;
    /// assert!(server.address().starts_with("127.0.0.1:"));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.address`.
    pub fn address(&self) -> String {
        self.server.address.to_string()
    }

    /// The server's pid, when this handle started it.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// assert!(manager.pid().is_some());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager._process.pid`.
    pub fn pid(&self) -> Option<u32> {
        self.owned.as_ref()?.process().pid()
    }

    /// Stops the server process this handle started and waits for it; its
    /// proxies fail from then on. Does nothing for a [`Manager::connect`] handle.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the server cannot be waited for.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let v = manager.value(1u8)?;
    /// manager.shutdown()?;
    /// assert!(matches!(v.get(), Err(multiproc::Error::ManagerUnreachable { .. })));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.shutdown()`.
    pub fn shutdown(&self) -> Result<()> {
        let Some(owned) = &self.owned else {
            return Ok(());
        };
        let mut process = owned.process();
        process.signal(crate::sys::process::Signal::KILL)?;
        process.reap()?;
        forget_links_to(&owned.address);
        Ok(())
    }

    /// Makes a new object and its proxy.
    fn make<P: Proxy>(&self, kind: Kind) -> Result<P> {
        let tag = P::tag().to_owned();
        let request = Request::Create { kind, tag };
        let id = self.server.request(&request, self.timeout)?.id()?;
        Ok(P::from_object(self.object(id)))
    }

    fn object(&self, id: u64) -> ObjectRef {
        ObjectRef {
            server: Arc::clone(&self.server),
            id,
            timeout: self.timeout,
            _owner: self.owned.clone(),
        }
    }

    /// Bounds how long each call of this handle, and of every proxy it makes
    /// from now on, waits for the server's answer (`None`, the default: as
    /// long as it takes). A call that runs out fails with
    /// [`Error::ManagerUnreachable`], and its connection is closed, which
    /// releases the locks this thread held through it.
    ///
    /// A call that waits for another client by design (`acquire`, `wait`,
    /// a queue's `get` or `put`, `join`) may take its own timeout on top;
    /// without one it waits as long as it takes. A proxy's own bound is set
    /// with [`with_timeout`](Proxy::with_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let mut manager = multiproc::Manager::start()?;
    /// manager.set_timeout(Some(Duration::from_secs(5)));
    /// let d = manager.dict::<String, u32>()?; // its calls give up after 5 s
    /// d.insert("a".into(), 1)?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: no equivalent; a call to a stopped manager blocks for ever.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Makes a new object of a type registered with
    /// `#[multiproc::managed]`, moving `value` into the server; its methods
    /// then run there, called through the returned proxy.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if `value` cannot be encoded; [`Error::Manager`] if
    /// the server's executable has no such registered type.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Counter { n: i64 }
    ///
    /// #[multiproc::managed]
    /// impl Counter {
    ///     pub fn add(&mut self, by: i64) -> i64 {
    ///         self.n += by;
    ///         self.n
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let manager = multiproc::Manager::start()?;
    /// let counter: CounterProxy = manager.create(Counter { n: 0 })?;
    /// assert_eq!(counter.add(5)?, 5);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `MyManager.register("Counter", Counter); manager.Counter()`.
    pub fn create<T: Managed>(&self, value: T) -> Result<T::Proxy> {
        let state = ByteBuf::from(for_a_manager(|| wire::encode(&value, "the managed object"))?);
        let key = T::KEY.to_owned();
        self.make(Kind::User { key, state })
    }

    /// Gives `proxy`'s object a name under which other clients, such as
    /// other programs connected to the same server, find it with
    /// [`Manager::lookup`].
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = multiproc::Manager::serve("127.0.0.1:0", b"k")?;
    /// server.publish("jobs", &server.queue::<u32>()?)?;
    /// let client = multiproc::Manager::connect(&server.address(), b"k")?;
    /// let jobs: multiproc::QueueProxy<u32> = client.lookup("jobs")?;
    /// jobs.put(7)?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `BaseManager.register("jobs", callable=lambda: queue)`.
    pub fn publish<P: Proxy>(&self, name: &str, proxy: &P) -> Result<()> {
        let id = proxy.object().id;
        let request = Request::Publish {
            name: name.into(),
            id,
        };
        self.server.request(&request, self.timeout)?.done()
    }

    /// The object published as `name`.
    ///
    /// # Errors
    ///
    /// [`Error::Manager`] if nothing is published under `name`;
    /// [`Error::TypeMismatch`] if it is not a `P`.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// manager.publish("hits", &manager.value(0u64)?)?;
    /// let wrong = manager.lookup::<multiproc::ValueProxy<String>>("hits");
    /// assert!(matches!(wrong, Err(multiproc::Error::TypeMismatch { .. })));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.get_jobs()` after registering `"get_jobs"`.
    pub fn lookup<P: Proxy>(&self, name: &str) -> Result<P> {
        let request = Request::Lookup {
            name: name.into(),
            tag: P::tag().into(),
        };
        let id = self.server.request(&request, self.timeout)?.id()?;
        Ok(P::from_object(self.object(id)))
    }
}

/// A manager as its proxies know it: where it listens and the key it wants.
#[derive(Debug)]
struct Server {
    address: Address,
    key: Vec<u8>,
}

impl Server {
    fn new(address: Address, key: Vec<u8>) -> Server {
        remember_key(&address, &key);
        Server { address, key }
    }
}

thread_local! {
    /// Set while encoding a value that a manager will hold.
    static FOR_A_MANAGER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `encode` for a value that a manager will hold: the proxies in it
/// travel without their manager's key, since a manager hands values on to
/// any client, over TCP in the clear. A process that receives such a proxy
/// uses the key it knows for that manager's address (from `start`, `serve`
/// or `connect`, or a proxy received from a process), as Python's proxies
/// use their process's `authkey`.
fn for_a_manager<T>(encode: impl FnOnce() -> T) -> T {
    crate::scoped::with_flag(&FOR_A_MANAGER, encode)
}

/// The key of each manager this process knows, by address.
static KEYS: Mutex<BTreeMap<Address, Vec<u8>>> = Mutex::new(BTreeMap::new());

fn lock_keys() -> std::sync::MutexGuard<'static, BTreeMap<Address, Vec<u8>>> {
    KEYS.lock().unwrap_or_else(|e| e.into_inner())
}

// A forked child knows what its parent knew.
crate::forking::fork_hook!(
    KEYS_FORK,
    order: 85,
    holds: std::sync::MutexGuard<'static, BTreeMap<Address, Vec<u8>>> = lock_keys(),
    forget: || {},
);

pub(super) fn remember_key(address: &Address, key: &[u8]) {
    if !key.is_empty() {
        lock_keys().insert(address.clone(), key.to_vec());
    }
}

impl Serialize for Server {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let key: &[u8] = match FOR_A_MANAGER.with(std::cell::Cell::get) {
            true => &[],
            false => &self.key,
        };
        (&self.address, serde_bytes::Bytes::new(key)).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Server {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Server, D::Error> {
        let (address, key) = <(Address, ByteBuf)>::deserialize(d)?;
        let key = match key.is_empty() {
            true => lock_keys().get(&address).cloned().unwrap_or_default(),
            false => key.into_vec(),
        };
        Ok(Server::new(address, key))
    }
}

/// A manager as one connection knows it: its address and the key proven on it.
type LinkKey = (Address, Vec<u8>);

/// A fixed hasher: a random one would draw its keys in every forked child.
pub(crate) type Links = HashMap<(LinkKey, ThreadId), Connection, BuildHasherDefault<DefaultHasher>>;

/// One thread's connection to one manager.
#[derive(Debug)]
pub(crate) struct Connection {
    link: Link,
    buf: Vec<u8>,
    /// The bound its reads and writes have now.
    timeout: Option<Duration>,
    /// Tells this connection from the thread's earlier and later ones: the
    /// server releases a thread's locks when its connection closes, so a
    /// guard taken through one must not release through the next.
    id: u64,
    /// The process that opened it (`shm::process_owner`, cached and reset
    /// in forked children): a child forked by the user's own `fork()` finds
    /// its parent's connections here, and must not use them.
    process: crate::shm::Owner,
}

impl Connection {
    fn open(address: &Address, key: &[u8], timeout: Option<Duration>) -> Result<Connection> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Connection {
            link: Link::connect(address, key, timeout)?,
            buf: Vec::new(),
            timeout: None,
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            process: crate::shm::process_owner(),
        })
    }
}

/// Each thread's connection to each manager it has talked to. A manager lock
/// is owned by a connection, so a thread keeps its own. They live here, not
/// in thread-locals, so that a manager's shutdown closes every thread's
/// connection to it; a thread's end closes its own (`LinksOfThisThread`).
/// A call takes its connection out for the call's I/O, so the table's lock
/// is never held across I/O.
static LINKS: Mutex<Links> = Mutex::new(HashMap::with_hasher(BuildHasherDefault::new()));

fn lock_links() -> std::sync::MutexGuard<'static, Links> {
    LINKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Closes this thread's connections when it ends, so that the servers
/// release the locks it held through them.
struct LinksOfThisThread;

impl Drop for LinksOfThisThread {
    fn drop(&mut self) {
        let me = std::thread::current().id();
        close_links(|(_, thread)| *thread == me);
    }
}

thread_local! {
    static LINKS_OF_THIS_THREAD: LinksOfThisThread = const { LinksOfThisThread };
}

/// Closes every thread's connection to the manager at `address`, which is gone.
fn forget_links_to(address: &Address) {
    close_links(|((a, _), _)| a == address);
}

/// Closes the connections whose key matches, once out of the table's lock.
fn close_links(matching: impl Fn(&(LinkKey, ThreadId)) -> bool) {
    let closed: Vec<Connection> = {
        let mut links = lock_links();
        let keys: Vec<_> = links.keys().filter(|k| matching(k)).cloned().collect();
        keys.into_iter().filter_map(|k| links.remove(&k)).collect()
    };
    drop(closed);
}

// A forked child's connections to managers are its parent's: forgotten, not
// dropped (the child closes every inherited descriptor), so that it opens
// its own.
crate::forking::fork_hook!(
    LINKS_FORK,
    order: 80,
    holds: std::sync::MutexGuard<'static, Links> = lock_links(),
    forget: || std::mem::forget(std::mem::take(&mut *lock_links())),
);

impl Server {
    fn link_key(&self) -> LinkKey {
        (self.address.clone(), self.key.clone())
    }

    /// Opens a new connection, proving the key again, and keeps it for this
    /// thread unless the thread has one already: replacing that one would
    /// release the locks held through it.
    fn reconnect(&self) -> Result<()> {
        let connection = Connection::open(&self.address, &self.key, None)?;
        let key = (self.link_key(), std::thread::current().id());
        if LINKS_OF_THIS_THREAD.try_with(|_| ()).is_ok() {
            lock_links().entry(key).or_insert(connection);
        }
        Ok(())
    }

    /// Which connection this thread talks to the server on now, if any.
    fn connection_id(&self) -> Option<u64> {
        let key = (self.link_key(), std::thread::current().id());
        lock_links().get(&key).map(|c| c.id)
    }

    /// Runs `f` on this thread's connection, opening it first if needed; a
    /// connection that fails is dropped, so the next call opens a new one.
    fn with_link<T>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut Connection) -> std::io::Result<T>,
    ) -> Result<T> {
        let key = (self.link_key(), std::thread::current().id());
        let taken = lock_links().remove(&key);
        let mut link = match taken {
            Some(link) if link.process == crate::shm::process_owner() => link,
            inherited => {
                // A parent's, in a child of the user's own fork(): its
                // descriptor is shared with the parent, so it is left alone.
                std::mem::forget(inherited);
                Connection::open(&self.address, &self.key, timeout)?
            }
        };
        match f(&mut link) {
            Ok(value) => {
                // Kept for the thread's next call, unless the thread is
                // ending (its thread-locals are gone): then closed here.
                if LINKS_OF_THIS_THREAD.try_with(|_| ()).is_ok() {
                    lock_links().insert(key, link);
                }
                Ok(value)
            }
            Err(source) => Err(Error::ManagerUnreachable {
                address: self.address.to_string(),
                source,
            }),
        }
    }

    /// Sends `request` and reads the answer, each read and write bounded
    /// by `timeout`; one that runs out drops the connection, whose stream
    /// is then out of step.
    fn request(&self, request: &Request, timeout: Option<Duration>) -> Result<Answer> {
        let answer = self.with_link(timeout, |connection| {
            if connection.timeout != timeout {
                connection.link.set_timeout(timeout)?;
                connection.timeout = timeout;
            }
            connection.link.send(request, &mut connection.buf)?;
            connection.link.recv(&mut connection.buf)
        })?;
        match answer {
            Answer::Failed(failure) => Err(failure.into()),
            answer => Ok(answer),
        }
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        let reason = match failure {
            Failure::TypeMismatch {
                name,
                expected,
                found,
            } => {
                return Error::TypeMismatch {
                    name,
                    expected,
                    found,
                };
            }
            Failure::IndexOutOfRange { index, len } => {
                return Error::IndexOutOfRange { index, len };
            }
            Failure::NotOwner => return Error::NotOwner,
            Failure::OverReleased => return Error::OverReleased,
            Failure::BrokenBarrier => return Error::BrokenBarrier,
            Failure::TooManyTaskDone => return Error::TooManyTaskDone,
            Failure::NoSuchAttribute(name) => return Error::NoSuchAttribute { name },
            Failure::NoSuchObject(id) => format!("it has no object {id}"),
            Failure::NoSuchName(name) => format!("nothing is published as `{name}`"),
            Failure::Unsupported { op, object } => {
                format!("a {object} does not support `{op}`")
            }
            Failure::Method(reason) => reason,
        };
        Error::Manager { reason }
    }
}

impl Answer {
    fn unexpected(self) -> Error {
        Error::Manager {
            reason: format!("it gave an unexpected answer: {self:?}"),
        }
    }

    fn done(self) -> Result<()> {
        match self {
            Answer::Done => Ok(()),
            other => Err(other.unexpected()),
        }
    }

    fn id(self) -> Result<u64> {
        match self {
            Answer::Id(id) => Ok(id),
            other => Err(other.unexpected()),
        }
    }

    fn flag(self) -> Result<bool> {
        match self {
            Answer::Bool(b) => Ok(b),
            other => Err(other.unexpected()),
        }
    }

    fn count(self) -> Result<u64> {
        match self {
            Answer::Count(n) => Ok(n),
            other => Err(other.unexpected()),
        }
    }

    fn raw(self) -> Result<Option<ByteBuf>> {
        match self {
            Answer::Item(item) => Ok(item),
            other => Err(other.unexpected()),
        }
    }

    fn item<T: DeserializeOwned>(self) -> Result<Option<T>> {
        self.raw()?.map(|bytes| decode(&bytes)).transpose()
    }

    fn items<T: DeserializeOwned>(self) -> Result<Vec<T>> {
        match self {
            Answer::Items(items) => items.iter().map(|bytes| decode(bytes)).collect(),
            other => Err(other.unexpected()),
        }
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<ByteBuf> {
    for_a_manager(|| wire::encode(value, "a value for the manager")).map(ByteBuf::from)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    wire::decode(bytes, "a value from the manager")
}

/// An `Arc<Server>` encoded as the server itself, without serde's `rc`
/// feature, which would change how the user's own `Rc`s encode.
mod shared_server {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Server;

    pub(super) fn serialize<S: Serializer>(server: &Arc<Server>, s: S) -> Result<S::Ok, S::Error> {
        Server::serialize(server, s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Server>, D::Error> {
        Server::deserialize(d).map(Arc::new)
    }
}

/// One object of one manager, as a proxy holds it.
#[doc(hidden)]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(with = "shared_server")]
    server: Arc<Server>,
    id: u64,
    /// How long a call waits for the server's answer, beyond any wait the
    /// operation itself asks for.
    #[serde(default)]
    timeout: Option<Duration>,
    /// Keeps a server started by this process running while the proxy lives.
    #[serde(skip)]
    _owner: Option<Arc<Owned>>,
}

impl ObjectRef {
    /// Formats the proxy of type `P` to this object.
    pub fn debug<P: ?Sized>(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({} at {})",
            short_name::<P>(),
            self.id,
            self.server.address
        )
    }

    fn call(&self, op: Op) -> Result<Answer> {
        let timeout = match op.waits() {
            None => self.timeout,
            Some(None) => None,
            Some(Some(wait)) => self.timeout.map(|answer| wait.saturating_add(answer)),
        };
        self.server
            .request(&Request::Call { id: self.id, op }, timeout)
    }

    /// As `call`, with no bound on the answer: for an operation whose end
    /// depends on other clients however it was asked (a condition's wait
    /// takes the lock back for as long as another client holds it).
    fn call_unbounded(&self, op: Op) -> Result<Answer> {
        self.server
            .request(&Request::Call { id: self.id, op }, None)
    }

    /// Which connection this thread talks to the object's server on now.
    fn connection_id(&self) -> Option<u64> {
        self.server.connection_id()
    }

    /// This object, with calls bounded by `timeout`.
    fn with_timeout(&self, timeout: Option<Duration>) -> ObjectRef {
        ObjectRef {
            timeout,
            ..self.clone()
        }
    }

    /// Runs the registered method `key` on the object with the encoded
    /// arguments `args`; the macro's proxies call this.
    pub fn call_method<R: Portable>(&self, key: &str, args: &[u8]) -> Result<R> {
        let outcome = self.call(Op::Method {
            key: key.into(),
            args: ByteBuf::from(args),
        })?;
        let outcome = outcome.raw()?.ok_or_else(|| Error::Codec {
            what: "read a method's outcome".into(),
            reason: "the manager answered with no outcome".into(),
        })?;
        crate::bootstrap::decode_outcome(&outcome, "the manager")
    }
}

/// Appends the encoding of one argument of a registered method; the
/// encodings of a call's arguments in a row are the encoding of their tuple.
#[doc(hidden)]
pub fn encode_arg<T: Portable>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    for_a_manager(|| wire::encode_into(value, out)).map_err(|e| Error::Codec {
        what: "encode an argument for the manager".into(),
        reason: wire::codec_failure(&e),
    })
}

/// A typed proxy: how the manager's objects are reached from any process.
///
/// Sealed: implemented by the proxies of this crate and by those that
/// `#[multiproc::managed]` generates, and by no other type; its hidden
/// methods are not part of the API.
///
/// # Examples
///
/// ```
/// fn share<P: multiproc::Proxy>(m: &multiproc::Manager, p: &P) -> multiproc::Result<()> {
///     m.publish("shared", p)
/// }
/// # let m = multiproc::Manager::start()?;
/// # share(&m, &m.event()?)?;
/// # Ok::<(), multiproc::Error>(())
/// ```
///
/// Python: `multiprocessing.managers.BaseProxy`.
pub trait Proxy: Serialize + DeserializeOwned + crate::__private::Sealed {
    /// The name its objects are checked against.
    #[doc(hidden)]
    fn tag() -> &'static str {
        type_name::<Self>()
    }
    #[doc(hidden)]
    fn object(&self) -> &ObjectRef;
    #[doc(hidden)]
    fn from_object(object: ObjectRef) -> Self;

    /// This proxy, with each call waiting at most `timeout` for the server's
    /// answer (`None`: as long as it takes), beyond any wait the call itself
    /// asks for; see [`Manager::set_timeout`]. The original keeps its bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiproc::Proxy;
    /// use std::time::Duration;
    ///
    /// let manager = multiproc::Manager::start()?;
    /// let d = manager.dict::<String, u32>()?.with_timeout(Some(Duration::from_secs(2)));
    /// d.insert("a".into(), 1)?;
    /// manager.shutdown()?;
    /// assert!(matches!(d.len(), Err(multiproc::Error::ManagerUnreachable { .. })));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: no equivalent; a call to a stopped manager blocks for ever.
    fn with_timeout(&self, timeout: Option<Duration>) -> Self
    where
        Self: Sized,
    {
        Self::from_object(self.object().with_timeout(timeout))
    }
}

/// Encodes a proxy of type `P` as its object and its type's name.
#[doc(hidden)]
pub fn serialize_proxy<P: ?Sized, S: Serializer>(
    object: &ObjectRef,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    (object, type_name::<P>()).serialize(s)
}

/// Decodes a proxy of type `P`; one encoded as another type is an error
/// rather than garbage.
#[doc(hidden)]
pub fn deserialize_proxy<'de, P: ?Sized, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<ObjectRef, D::Error> {
    let (object, tag) = <(ObjectRef, String)>::deserialize(d)?;
    if tag != type_name::<P>() {
        return Err(D::Error::custom(format!(
            "a {tag} cannot be received as a {}",
            type_name::<P>()
        )));
    }
    Ok(object)
}

/// `DictProxy<String, i64>` for `multiproc_runtime::manager::proxy::DictProxy<alloc::string::String, i64>`.
fn short_name<P: ?Sized>() -> String {
    let name = type_name::<P>();
    let mut out = String::new();
    let mut word = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or_default());
            word.clear();
            out.push(c);
        }
    }
    out.push_str(word.rsplit("::").next().unwrap_or_default());
    out
}

/// A type whose values can live in a manager, with methods that run there;
/// implemented by `#[multiproc::managed]` on the type's `impl` block.
///
/// # Examples
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Tally(Vec<String>);
///
/// #[multiproc::managed]
/// impl Tally {
///     pub fn record(&mut self, name: String) -> usize {
///         self.0.push(name);
///         self.0.len()
///     }
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let manager = multiproc::Manager::start()?;
/// let tally = manager.create(Tally(Vec::new()))?;
/// assert_eq!(tally.record("a".into())?, 1);
/// # Ok(())
/// # }
/// ```
///
/// Python: `BaseManager.register(typeid, callable)`.
pub trait Managed: Serialize + DeserializeOwned + Send + 'static + crate::__private::Sealed {
    /// The generated proxy type, `<Type>Proxy`.
    type Proxy: Proxy;
    /// The registration key.
    #[doc(hidden)]
    const KEY: &'static str;
}

/// A value of a registered type, as the server holds it.
#[doc(hidden)]
pub type ManagedValue = Box<dyn Any + Send>;

/// A registered type: how the server makes one from its encoding.
#[doc(hidden)]
#[derive(Debug)]
pub struct ManagedType {
    pub key: &'static str,
    pub create: fn(&[u8]) -> std::result::Result<ManagedValue, String>,
}

/// A registered method: decodes its arguments, runs on the object, encodes the value.
#[doc(hidden)]
#[derive(Debug)]
pub struct ManagedMethod {
    pub key: &'static str,
    pub call:
        fn(&mut (dyn Any + Send), &mut Args<'_>, &mut Vec<u8>) -> std::result::Result<(), String>,
}

/// Every type registered with `#[managed]`.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static MANAGED_TYPES: [ManagedType];

/// Every method of every type registered with `#[managed]`.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static MANAGED_METHODS: [ManagedMethod];

fn registered_type(key: &str) -> std::result::Result<&'static ManagedType, String> {
    MANAGED_TYPES
        .iter()
        .find(|t| t.key == key)
        .ok_or_else(|| format!("the manager's executable has no type registered as `{key}`"))
}

fn registered_method(key: &str) -> std::result::Result<&'static ManagedMethod, String> {
    MANAGED_METHODS
        .iter()
        .find(|m| m.key == key)
        .ok_or_else(|| format!("the manager's executable has no method registered as `{key}`"))
}

/// Decodes the object a registered method runs on; the generated shims call this.
#[doc(hidden)]
pub fn downcast<T: 'static>(object: &mut (dyn Any + Send)) -> std::result::Result<&mut T, String> {
    object
        .downcast_mut::<T>()
        .ok_or_else(|| format!("the object is not a {}", type_name::<T>()))
}

/// Decodes a registered type's value; the generated registrations call this.
#[doc(hidden)]
pub fn create_managed<T: Managed>(state: &[u8]) -> std::result::Result<ManagedValue, String> {
    let value: T = postcard::from_bytes(state)
        .map_err(|e| format!("could not decode the managed object: {e}"))?;
    Ok(Box::new(value))
}

/// Declares a proxy type around an [`ObjectRef`], with its plumbing
/// (`Clone`, `Debug`, serde, [`Proxy`]) whatever its type parameters.
macro_rules! proxy_type {
    ($(#[$doc:meta])* $name:ident $(<$($t:ident),+>)?) => {
        $(#[$doc])*
        pub struct $name$(<$($t),+>)?(
            $crate::manager::ObjectRef,
            std::marker::PhantomData<fn() -> ($($($t,)+)?)>,
        );

        impl$(<$($t),+>)? Clone for $name$(<$($t),+>)? {
            fn clone(&self) -> Self {
                $name(self.0.clone(), std::marker::PhantomData)
            }
        }

        impl$(<$($t),+>)? std::fmt::Debug for $name$(<$($t),+>)? {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.debug::<Self>(f)
            }
        }

        impl$(<$($t),+>)? serde::Serialize for $name$(<$($t),+>)? {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::manager::serialize_proxy::<Self, S>(&self.0, s)
            }
        }

        impl<'de $($(, $t)+)?> serde::Deserialize<'de> for $name$(<$($t),+>)? {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::manager::deserialize_proxy::<Self, D>(d)
                    .map(|object| $name(object, std::marker::PhantomData))
            }
        }

        impl$(<$($t),+>)? $crate::__private::Sealed for $name$(<$($t),+>)? {}

        impl$(<$($t),+>)? $crate::manager::Proxy for $name$(<$($t),+>)? {
            fn object(&self) -> &$crate::manager::ObjectRef {
                &self.0
            }

            fn from_object(object: $crate::manager::ObjectRef) -> Self {
                $name(object, std::marker::PhantomData)
            }
        }
    };
}
use proxy_type;
