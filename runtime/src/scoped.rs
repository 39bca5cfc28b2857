//! A thread-local flag set for the length of one call.

use std::cell::Cell;
use std::thread::LocalKey;

/// Runs `f` with `flag` set in this thread, and gives the flag back its
/// value afterwards, even if `f` unwinds.
pub(crate) fn with_flag<T>(flag: &'static LocalKey<Cell<bool>>, f: impl FnOnce() -> T) -> T {
    struct Restore(&'static LocalKey<Cell<bool>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|flag| flag.set(self.1));
        }
    }
    let _restore = Restore(flag, flag.with(|flag| flag.replace(true)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static FLAG: Cell<bool> = const { Cell::new(false) };
    }

    #[test]
    fn a_flag_is_set_during_the_call_and_restored_after_even_on_unwinding() {
        assert!(with_flag(&FLAG, || FLAG.with(Cell::get)));
        assert!(!FLAG.with(Cell::get));
        let unwound = std::panic::catch_unwind(|| with_flag(&FLAG, || panic!("inside")));
        assert!(unwound.is_err());
        assert!(!FLAG.with(Cell::get));
        // Nested: the inner call leaves the outer one's flag set.
        with_flag(&FLAG, || {
            with_flag(&FLAG, || {});
            assert!(FLAG.with(Cell::get));
        });
    }
}
