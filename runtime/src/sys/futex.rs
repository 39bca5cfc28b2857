//! Sleeping on a 32-bit word of shared memory until another process (or
//! thread) changes it and wakes the sleepers: Linux's futex, shared (not
//! private) so that it matches waiters in other processes.

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
