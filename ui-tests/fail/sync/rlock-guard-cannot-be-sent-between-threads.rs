// The owner of an RLock is a thread: a guard moved to another thread would
// let the first one take the lock again while it is held.
fn main() {
    let lock = Box::leak(Box::new(multiproc::RLock::new().unwrap()));
    let guard = lock.acquire();
    std::thread::spawn(move || drop(guard));
}
