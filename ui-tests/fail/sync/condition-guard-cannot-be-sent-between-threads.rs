// A condition's lock is held by a thread: a guard moved to another thread
// would make that thread's `notify` or `wait` take a lock it already holds,
// and the first thread's run without it.
fn main() {
    let cond = Box::leak(Box::new(multiproc::Condition::new().unwrap()));
    let guard = cond.acquire();
    std::thread::spawn(move || drop(guard));
}
