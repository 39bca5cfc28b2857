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
//!
//! The user's own `fork()` (through `libc`, `nix`, or `std`'s `Command` when
//! it forks) goes through the same hooks, run by the C library's fork
//! handlers: otherwise its child would think its parent's children, helper
//! processes and lock ids its own. multiproc's own forks do the hooks'
//! work themselves ([`ours`]), since they know more: a fork from a single
//! thread needs no lock, and the fork server's raw clone runs no handler.

use std::cell::{Cell, RefCell};

use crate::sys;

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
    /// Taken around multiproc's own forks only, not the user's: a user's
    /// fork must not wait for a lock that the user's own code may hold.
    pub(crate) ours_only: bool,
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
        forget: $forget:expr
        $(, ours_only: $ours_only:expr)? $(,)?
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
                ours_only: false $(|| $ours_only)?,
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
    hold_where(|_| true)
}

/// Takes the registered locks that `taken` picks, in order.
fn hold_where(taken: impl Fn(&ForkHook) -> bool) -> Held {
    let (mut order, len) = ordered();
    let mut kept = 0;
    for i in 0..len {
        if taken(&FORK_HOOKS[order[i] as usize]) {
            order[kept] = order[i];
            kept += 1;
        }
    }
    for &i in &order[..kept] {
        (FORK_HOOKS[i as usize].lock)();
    }
    Held { order, len: kept }
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

thread_local! {
    /// Set while this thread makes a fork of multiproc's own.
    static OURS: Cell<bool> = const { Cell::new(false) };
    /// The locks a user's fork holds, from its prepare handler to its
    /// parent or child handler.
    static USERS_FORK: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// Runs `f`, which may fork (or spawn a process, which may fork), as a fork
/// of multiproc's own: one whose caller takes the locks it needs, and whose
/// child forgets what it must, itself. The C library's handlers then leave
/// it alone; taking every lock there would deadlock a caller that holds one.
pub(crate) fn ours<T>(f: impl FnOnce() -> T) -> T {
    crate::scoped::with_flag(&OURS, f)
}

extern "C" fn before_users_fork() {
    if !OURS.with(Cell::get) {
        let held = hold_where(|hook| !hook.ours_only);
        USERS_FORK.with(|slot| *slot.borrow_mut() = Some(held));
    }
}

extern "C" fn after_users_fork_in_parent() {
    USERS_FORK.with(|slot| drop(slot.borrow_mut().take()));
}

extern "C" fn after_users_fork_in_child() {
    let held = USERS_FORK.with(|slot| slot.borrow_mut().take());
    let users = held.is_some();
    drop(held);
    if users {
        forget_parent();
    }
}

/// Has the C library run the hooks around every fork that is not ours.
/// Called before `main` by the constructors that may run a child's work
/// there (a constructor of its own could run after them).
pub(crate) fn guard_users_forks() {
    static GUARDED: std::sync::Once = std::sync::Once::new();
    GUARDED.call_once(|| {
        sys::process::at_fork(
            before_users_fork,
            after_users_fork_in_parent,
            after_users_fork_in_child,
        );
    });
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
