//! Sleeping on a 32-bit word of shared memory until another process (or
//! thread) changes it and wakes the sleepers: Linux's futex, and macOS's
//! wait-on-address calls, both in their shared (not private) form so that
//! they match waiters in other processes.

pub(crate) use imp::{change_and_wake, wait, wake};

/// A change [`change_and_wake`] makes to a word.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    /// Adds 1.
    AddOne,
    /// Clears the word's highest bit.
    ClearHighBit,
}

#[cfg(target_os = "linux")]
mod imp {
    use std::time::Duration;

    /// Sleeps while the word at `word` holds `expected`, at most `timeout`. May return
    /// early (a signal, a wake-up meant for another value): callers look again.
    pub(crate) fn wait(word: *const u32, expected: u32, timeout: Option<Duration>) {
        let timeout = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().try_into().unwrap_or(libc::time_t::MAX),
            tv_nsec: t.subsec_nanos().into(),
        });
        let timeout = timeout
            .as_ref()
            .map_or(std::ptr::null(), std::ptr::from_ref);
        // SAFETY: the kernel only reads the word (answering EFAULT if it is not
        // mapped) and the timeout, which lives until the call returns.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word,
                libc::FUTEX_WAIT,
                expected,
                timeout,
            )
        };
    }

    /// Wakes at most `n` sleepers on the word at `word`.
    pub(crate) fn wake(word: *const u32, n: u32) {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        // SAFETY: as in `wait`; waking touches no memory.
        unsafe { libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE, n) };
    }

    /// Makes `change` to the word at `word` and wakes at most `n` of its
    /// sleepers, as one step of the kernel's (`FUTEX_WAKE_OP`): a process
    /// killed around the call made both or neither, so no sleeper is left
    /// asleep by a change made without its wake-up. `false` if the kernel
    /// refused the call (a sandbox's system call filter may), and nothing
    /// changed.
    pub(crate) fn change_and_wake(word: *mut u32, change: super::Change, n: u32) -> bool {
        // FUTEX_OP(op, oparg, FUTEX_OP_CMP_EQ, 0): the comparison decides
        // whether the second word's sleepers are woken too (one at least);
        // the second word is the first, whose sleepers are woken already.
        let op: u32 = match change {
            super::Change::AddOne => ((libc::FUTEX_OP_ADD as u32) << 28) | (1 << 12),
            super::Change::ClearHighBit => {
                (((libc::FUTEX_OP_ANDN | libc::FUTEX_OP_OPARG_SHIFT) as u32) << 28) | (31 << 12)
            }
        };
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        // SAFETY: the kernel changes the word atomically, as an atomic
        // read-modify-write in this process would (EFAULT if it is not
        // mapped writable), and reads nothing else; the second word is the
        // same one, and no sleeper of it is woken twice.
        let done = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word,
                libc::FUTEX_WAKE_OP,
                n,
                0usize,
                word,
                op,
            )
        };
        done >= 0
    }
}

/// macOS 14.4 made its wait-on-address calls public
/// (`os_sync_wait_on_address`). Earlier releases have only the private
/// `__ulock` calls those wrap, which Rust's own standard library also falls
/// back to. The public ones are looked up when first needed, so that one
/// binary starts on both.
#[cfg(target_os = "macos")]
mod imp {
    use std::ffi::{c_int, c_void};
    use std::sync::OnceLock;
    use std::time::Duration;

    /// `os_sync_wait_on_address_with_timeout`, `os_sync_wait_on_address`,
    /// `os_sync_wake_by_address_any` and `_all`.
    struct Public {
        wait_timeout: WaitTimeout,
        wait: Wait,
        wake_any: Wake,
        wake_all: Wake,
    }

    type WaitTimeout = unsafe extern "C" fn(*mut c_void, u64, usize, u32, u32, u64) -> c_int;
    type Wait = unsafe extern "C" fn(*mut c_void, u64, usize, u32) -> c_int;
    type Wake = unsafe extern "C" fn(*mut c_void, usize, u32) -> c_int;

    unsafe extern "C" {
        fn __ulock_wait(operation: u32, address: *mut c_void, value: u64, timeout_us: u32) -> c_int;
        fn __ulock_wake(operation: u32, address: *mut c_void, wake_value: u64) -> c_int;
    }

    /// `UL_COMPARE_AND_WAIT_SHARED`, and `ULF_WAKE_ALL`.
    const SHARED: u32 = 3;
    const WAKE_ALL: u32 = 0x100;
    /// `OS_CLOCK_MACH_ABSOLUTE_TIME`, the only clock the timeout call takes.
    const MACH_ABSOLUTE_TIME: u32 = 32;

    fn public() -> Option<&'static Public> {
        static PUBLIC: OnceLock<Option<Public>> = OnceLock::new();
        PUBLIC
            .get_or_init(|| {
                let find = |name: &std::ffi::CStr| {
                    // SAFETY: looks a symbol up by a NUL-terminated name.
                    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
                    (!found.is_null()).then_some(found)
                };
                // SAFETY: each symbol, when present, is the function of that
                // name in the system's library, with the signature above.
                unsafe {
                    Some(Public {
                        wait_timeout: std::mem::transmute::<*mut c_void, WaitTimeout>(find(
                            c"os_sync_wait_on_address_with_timeout",
                        )?),
                        wait: std::mem::transmute::<*mut c_void, Wait>(find(
                            c"os_sync_wait_on_address",
                        )?),
                        wake_any: std::mem::transmute::<*mut c_void, Wake>(find(
                            c"os_sync_wake_by_address_any",
                        )?),
                        wake_all: std::mem::transmute::<*mut c_void, Wake>(find(
                            c"os_sync_wake_by_address_all",
                        )?),
                    })
                }
            })
            .as_ref()
    }

    /// Sleeps while the word at `word` holds `expected`, at most `timeout`. May return
    /// early (a signal, a wake-up meant for another value): callers look again.
    pub(crate) fn wait(word: *const u32, expected: u32, timeout: Option<Duration>) {
        let address = word.cast_mut().cast::<c_void>();
        let value = u64::from(expected);
        // SAFETY: the system only reads the word, which the caller keeps
        // mapped, and compares it with `value`.
        unsafe {
            match (public(), timeout) {
                (Some(calls), None) => {
                    (calls.wait)(address, value, 4, libc::OS_SYNC_WAIT_ON_ADDRESS_SHARED);
                }
                (Some(calls), Some(timeout)) => {
                    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX).max(1);
                    (calls.wait_timeout)(
                        address,
                        value,
                        4,
                        libc::OS_SYNC_WAIT_ON_ADDRESS_SHARED,
                        MACH_ABSOLUTE_TIME,
                        nanos,
                    );
                }
                // 0 µs waits for ever: a longer timeout is cut, and the caller looks again.
                (None, timeout) => {
                    let micros = timeout.map_or(0, |t| {
                        u32::try_from(t.as_micros()).unwrap_or(u32::MAX).max(1)
                    });
                    __ulock_wait(SHARED, address, value, micros);
                }
            }
        }
    }

    /// macOS has no change and wake-up in one step: callers make the change
    /// and wake apart, and their sleepers look again now and then.
    pub(crate) fn change_and_wake(_word: *mut u32, _change: super::Change, _n: u32) -> bool {
        false
    }

    /// Wakes at most `n` sleepers on the word at `word` (one, or all).
    pub(crate) fn wake(word: *const u32, n: u32) {
        let address = word.cast_mut().cast::<c_void>();
        // SAFETY: waking touches no memory.
        unsafe {
            match (public(), n) {
                (Some(calls), 1) => {
                    (calls.wake_any)(address, 4, libc::OS_SYNC_WAKE_BY_ADDRESS_SHARED);
                }
                (Some(calls), _) => {
                    (calls.wake_all)(address, 4, libc::OS_SYNC_WAKE_BY_ADDRESS_SHARED);
                }
                (None, 1) => {
                    __ulock_wake(SHARED, address, 0);
                }
                (None, _) => {
                    __ulock_wake(SHARED | WAKE_ALL, address, 0);
                }
            }
        }
    }
}
