//! What each module does around a fork, registered beside its own state:
//! the lock it holds across the fork, and what its forked child forgets.
//!
//! A fork copies only the thread that forks. A lock another thread held at
//! that moment stays locked for ever in the child, so before forking with
//! other threads alive, the forking thread takes every registered lock
//! itself ([`hold`]), in the order of the hooks, and releases them in both
//! processes afterwards. The child then forgets what belongs to its parent
//! ([`forget_parent`]): its children, its helper processes, its connections.
//! A new global lock or piece of per-process state registers its own hook
//! with [`fork_hook!`](crate::forking::fork_hook); a lock left off would
//! deadlock only in a forked child of a threaded parent, which nothing else
//! would catch.

/// One module's part in a fork.
pub(crate) struct ForkHook {
    /// Where the hook's lock is taken among the others: in increasing
    /// order, so that two forking threads never take them crosswise, and
    /// after any lock that its holders take it under.
    pub(crate) order: u32,
    /// Takes the module's lock and keeps it, in this thread, until `unlock`.
    pub(crate) lock: fn(),
    pub(crate) unlock: fn(),
    /// In the child, once the locks are released: forgets the parent's state.
    pub(crate) forget: fn(),
}

/// Every module's part in a fork.
#[linkme::distributed_slice]
pub(crate) static FORK_HOOKS: [ForkHook];

/// The most hooks a program has; a fork copies their order on the stack,
/// since the child should not touch the heap it shares with its parent.
const MAX_HOOKS: usize = 32;

/// Registers a module's part in a fork: `holds` names the type of the guard
/// that `lock` returns, kept in a thread-local between the lock and the unlock.
macro_rules! fork_hook {
    (
        $name:ident,
        order: $order:expr,
        holds: $guard:ty = $lock:expr,
        forget: $forget:expr $(,)?
    ) => {
        #[linkme::distributed_slice($crate::forking::FORK_HOOKS)]
        static $name: $crate::forking::ForkHook = {
            ::std::thread_local! {
                static HELD: ::std::cell::RefCell<Option<$guard>> =
                    const { ::std::cell::RefCell::new(None) };
            }
            fn lock() {
                HELD.with(|held| *held.borrow_mut() = Some($lock));
            }
            fn unlock() {
                HELD.with(|held| drop(held.borrow_mut().take()));
            }
            $crate::forking::ForkHook {
                order: $order,
                lock,
                unlock,
                forget: $forget,
            }
        };
    };
}
pub(crate) use fork_hook;

/// The hooks in the order their locks are taken.
fn ordered() -> ([u8; MAX_HOOKS], usize) {
    assert!(FORK_HOOKS.len() <= MAX_HOOKS, "more fork hooks than MAX_HOOKS");
    let mut order = [0u8; MAX_HOOKS];
    let len = FORK_HOOKS.len();
    for (i, slot) in order.iter_mut().enumerate().take(len) {
        *slot = i as u8;
    }
    order[..len].sort_unstable_by_key(|&i| FORK_HOOKS[i as usize].order);
    (order, len)
}

/// Every registered lock, held by this thread until dropped (in the parent
/// and, after the fork, in the child); released in the reverse order.
pub(crate) struct Held {
    order: [u8; MAX_HOOKS],
    len: usize,
}

/// Takes every registered lock, in order.
pub(crate) fn hold() -> Held {
    let (order, len) = ordered();
    for &i in &order[..len] {
        (FORK_HOOKS[i as usize].lock)();
    }
    Held { order, len }
}

impl Drop for Held {
    fn drop(&mut self) {
        for &i in self.order[..self.len].iter().rev() {
            (FORK_HOOKS[i as usize].unlock)();
        }
    }
}

/// In a forked child, with no registered lock held: forgets the parent's state.
pub(crate) fn forget_parent() {
    for hook in FORK_HOOKS {
        (hook.forget)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_lock_is_taken_and_given_back() {
        let held = hold();
        drop(held);
        // Taken again at once: none was left held.
        drop(hold());
    }

    #[test]
    fn locks_are_taken_in_increasing_order() {
        let (order, len) = ordered();
        let orders: Vec<u32> = order[..len]
            .iter()
            .map(|&i| FORK_HOOKS[i as usize].order)
            .collect();
        assert!(orders.windows(2).all(|w| w[0] <= w[1]), "{orders:?}");
        assert!(len >= 8, "only {len} hooks registered");
    }
}
