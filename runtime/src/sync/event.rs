//! [`Event`]: a flag processes wait on.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Segment;
use crate::error::Result;
use crate::shm;
use crate::wire;

/// A flag processes can wait on until another sets it.
///
/// # Examples
///
/// ```
/// use multiproc::{process, Event};
///
/// #[process]
/// fn waiter(ev: Event) -> bool {
///     ev.wait_timeout(std::time::Duration::from_secs(10))
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let ev = Event::new()?;
/// let child = waiter.spawn(ev.clone())?;
/// ev.set();
/// assert!(child.join()?);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Event`.
#[derive(Clone)]
pub struct Event(Segment);

serde_as_segment!(Event);

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

impl Event {
    /// A new event, not set.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!multiproc::Event::new()?.is_set());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Event()`.
    pub fn new() -> Result<Event> {
        Segment::create("creating an event").map(Event)
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = multiproc::Event::new()?;
    /// ev.set();
    /// assert!(ev.is_set());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.set()`.
    pub fn set(&self) {
        let words = self.0.words();
        words.state.store(1, Ordering::Release);
        shm::bump(&words.seq, &words.waiting, true);
    }

    /// Clears the flag.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = multiproc::Event::new()?;
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.clear()`.
    pub fn clear(&self) {
        self.0.words().state.store(0, Ordering::Release);
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!multiproc::Event::new()?.is_set());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.is_set()`.
    pub fn is_set(&self) -> bool {
        self.0.words().state.load(Ordering::Acquire) != 0
    }

    /// Waits until the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = multiproc::Event::new()?;
    /// ev.set();
    /// ev.wait();
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.wait()`.
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Waits at most `timeout`; returns whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let ev = multiproc::Event::new()?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10)));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(wire::deadline(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let words = self.0.words();
        loop {
            let seen = words.seq.load(Ordering::Acquire);
            if self.is_set() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            shm::wait_change(&words.seq, &words.waiting, seen, deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_sees_an_event_set_by_a_process_killed_before_it_woke_anyone() {
        let event = Event::new().unwrap();
        let waiter = {
            let event = event.clone();
            std::thread::spawn(move || event.wait())
        };
        let words = event.0.words();
        while words.waiting.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // What `set` does before its wake-up: all a process killed between
        // the two leaves behind.
        words.state.store(1, Ordering::Release);
        // A bound for a hang, not a speed.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !waiter.is_finished() {
            assert!(Instant::now() < deadline, "the waiter slept on");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
