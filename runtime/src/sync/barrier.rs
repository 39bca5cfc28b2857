//! [`Barrier`]: a meeting point for a number of parties.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Segment;
use crate::error::{Error, Result};
use crate::shm::{self, RobustLock};
use crate::wire;

/// The words of a [`Barrier`].
#[repr(C)]
struct BarrierWords {
    lock: RobustLock,
    /// Parties arrived in this generation.
    arrived: AtomicU32,
    parties: AtomicU32,
    /// Moves on at every generation.
    seq: AtomicU32,
    seq_waiting: AtomicU32,
    /// Set when broken, until a reset.
    broken: AtomicU32,
    /// How recent generations ended: `generation << 2 | PASSED` or `| BROKE`,
    /// at `generation % OUTCOMES`, for waiters that look after their
    /// generation ended (under `lock`).
    outcomes: [AtomicU64; OUTCOMES],
}

/// Generations whose outcome a [`Barrier`] remembers.
const OUTCOMES: usize = 64;
const PASSED: u64 = 1;
const BROKE: u64 = 2;

impl BarrierWords {
    /// Takes the lock. An owner that died holding it may have died ending a
    /// generation, its outcome recorded and the barrier not yet moved on;
    /// that is finished here.
    fn take_lock(&self) {
        if self.lock.lock(None) == Some(true) && self.ended(self.seq.load(Ordering::Relaxed)) {
            self.move_on();
        }
    }

    /// Ends the current generation with `outcome` and wakes its waiters; the
    /// lock is held.
    fn end_generation(&self, outcome: u64) {
        let generation = self.seq.load(Ordering::Relaxed);
        self.outcomes[generation as usize % OUTCOMES]
            .store(u64::from(generation) << 2 | outcome, Ordering::Release);
        self.move_on();
    }

    /// Starts the next generation and wakes the waiters of the last one.
    fn move_on(&self) {
        self.arrived.store(0, Ordering::Relaxed);
        shm::bump(&self.seq, &self.seq_waiting, true);
    }

    /// Whether the outcome of `generation` is recorded: it ended, even if
    /// the barrier has not moved on yet.
    fn ended(&self, generation: u32) -> bool {
        let outcome = self.outcomes[generation as usize % OUTCOMES].load(Ordering::Acquire);
        outcome & (PASSED | BROKE) != 0 && outcome >> 2 == u64::from(generation)
    }

    /// Whether `generation`, which has ended, passed (rather than broke). A
    /// generation so old that its outcome was overwritten counts as broken.
    fn passed(&self, generation: u32) -> bool {
        self.outcomes[generation as usize % OUTCOMES].load(Ordering::Acquire)
            == u64::from(generation) << 2 | PASSED
    }
}

impl Segment {
    fn barrier(&self) -> &BarrierWords {
        // SAFETY: BarrierWords is repr(C), atomics only, valid when zero, and fits in the segment.
        unsafe { self.0.header() }
    }
}

/// A meeting point: `wait` returns once `parties` processes (or threads) have
/// called it.
///
/// # Examples
///
/// ```
/// use multiproc::{process, Barrier};
///
/// #[process]
/// fn party(bar: Barrier) -> u32 {
///     bar.wait().unwrap()
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let bar = Barrier::new(3)?;
/// let children: Vec<_> = (0..2).map(|_| party.spawn(bar.clone())).collect::<Result<_, _>>()?;
/// let mine = bar.wait()?;
/// let mut indices: Vec<u32> = children.into_iter().map(|c| c.join()).collect::<Result<_, _>>()?;
/// indices.push(mine);
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Barrier`.
#[derive(Clone)]
pub struct Barrier(Segment);

serde_as_segment!(Barrier);

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}

impl Barrier {
    /// A barrier for `parties` participants (at least one).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let bar = multiproc::Barrier::new(1)?;
    /// assert_eq!(bar.wait()?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Barrier(parties)`.
    pub fn new(parties: u32) -> Result<Barrier> {
        let shared = Segment::create("creating a barrier")?;
        shared
            .barrier()
            .parties
            .store(parties.max(1), Ordering::Release);
        Ok(Barrier(shared))
    }

    /// Waits for every party; returns this caller's arrival index, `0..parties`.
    ///
    /// # Errors
    ///
    /// [`Error::BrokenBarrier`] if the barrier is or becomes broken
    /// ([`abort`](Barrier::abort), [`reset`](Barrier::reset), or a timeout).
    /// The barrier remembers how its last 64 generations ended; a waiter
    /// that wakes only after 64 more have ended (possible only with more
    /// waiters than parties, or with repeated aborts) is told it broke.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let bar = multiproc::Barrier::new(1)?;
    /// assert_eq!(bar.wait()?, 0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `barrier.wait()`.
    pub fn wait(&self) -> Result<u32> {
        self.wait_until(None)
    }

    /// As [`wait`](Barrier::wait), for at most `timeout`; a timeout breaks the
    /// barrier for everyone, as in Python.
    ///
    /// # Errors
    ///
    /// [`Error::BrokenBarrier`] on timeout or if the barrier is broken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let bar = multiproc::Barrier::new(2)?;
    /// assert!(bar.wait_timeout(Duration::from_millis(10)).is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `barrier.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        self.wait_until(wire::deadline(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<u32> {
        let words = self.0.barrier();
        words.take_lock();
        if words.broken.load(Ordering::Acquire) != 0 {
            words.lock.unlock();
            return Err(Error::BrokenBarrier);
        }
        let generation = words.seq.load(Ordering::Acquire);
        let index = words.arrived.fetch_add(1, Ordering::AcqRel);
        if index + 1 >= words.parties.load(Ordering::Acquire) {
            words.end_generation(PASSED);
            words.lock.unlock();
            return Ok(index);
        }
        words.lock.unlock();
        loop {
            // Its outcome recorded is enough: the process ending it may have
            // been killed before it moved the barrier on.
            if words.seq.load(Ordering::Acquire) != generation || words.ended(generation) {
                return if words.passed(generation) {
                    Ok(index)
                } else {
                    Err(Error::BrokenBarrier)
                };
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // A timeout breaks this generation for everyone, as in
                // Python, unless it ended meanwhile.
                words.take_lock();
                if words.seq.load(Ordering::Acquire) == generation {
                    words.broken.store(1, Ordering::Release);
                    words.end_generation(BROKE);
                }
                words.lock.unlock();
                continue;
            }
            shm::wait_change(&words.seq, &words.seq_waiting, generation, deadline);
        }
    }

    /// Breaks the barrier: every current and future `wait` fails until `reset`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let bar = multiproc::Barrier::new(2)?;
    /// bar.abort();
    /// assert!(bar.wait().is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `barrier.abort()`.
    pub fn abort(&self) {
        let words = self.0.barrier();
        words.take_lock();
        words.broken.store(1, Ordering::Release);
        words.end_generation(BROKE);
        words.lock.unlock();
    }

    /// Makes the barrier usable again; parties waiting now fail with
    /// [`Error::BrokenBarrier`], as in Python.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let bar = multiproc::Barrier::new(1)?;
    /// bar.abort();
    /// bar.reset();
    /// assert_eq!(bar.wait()?, 0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `barrier.reset()`.
    pub fn reset(&self) {
        let words = self.0.barrier();
        words.take_lock();
        if words.arrived.load(Ordering::Relaxed) > 0 {
            words.end_generation(BROKE);
        }
        words.broken.store(0, Ordering::Release);
        words.lock.unlock();
    }
    /// The number of parties the barrier waits for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Barrier::new(3)?.parties(), 3);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.parties`.
    pub fn parties(&self) -> u32 {
        self.0.barrier().parties.load(Ordering::Acquire)
    }

    /// The number of parties waiting now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Barrier::new(3)?.n_waiting(), 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.n_waiting`.
    pub fn n_waiting(&self) -> u32 {
        self.0.barrier().arrived.load(Ordering::Acquire)
    }

    /// Whether the barrier is broken (until a [`reset`](Barrier::reset)).
    ///
    /// # Examples
    ///
    /// ```
    /// let bar = multiproc::Barrier::new(2)?;
    /// bar.abort();
    /// assert!(bar.is_broken());
    /// bar.reset();
    /// assert!(!bar.is_broken());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.broken`.
    pub fn is_broken(&self) -> bool {
        self.0.barrier().broken.load(Ordering::Acquire) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits, in a thread, on a barrier of two; returns the thread once it
    /// sleeps.
    fn one_waiting(barrier: &Barrier) -> std::thread::JoinHandle<Result<u32>> {
        let waiter = {
            let barrier = barrier.clone();
            std::thread::spawn(move || barrier.wait())
        };
        while barrier.0.barrier().seq_waiting.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        waiter
    }

    #[test]
    fn a_waiter_passes_once_its_generation_ended_even_if_the_barrier_never_moved_on() {
        let barrier = Barrier::new(2).unwrap();
        let waiter = one_waiting(&barrier);
        // All that the last party leaves when killed between recording the
        // outcome and moving the barrier on (but for its lock).
        barrier.0.barrier().outcomes[0].store(PASSED, Ordering::Release);
        // A bound for a hang, not a speed.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !waiter.is_finished() {
            assert!(Instant::now() < deadline, "the waiter slept on");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(waiter.join().unwrap().is_ok());
    }

    #[test]
    fn the_next_party_moves_on_a_generation_whose_ender_was_killed() {
        let barrier = Barrier::new(2).unwrap();
        let waiter = one_waiting(&barrier);
        // The last party, killed holding the lock between recording the
        // outcome and moving the barrier on.
        let words = barrier.0.barrier();
        words.arrived.store(2, Ordering::Relaxed);
        words.outcomes[0].store(PASSED, Ordering::Release);
        words.lock.hold_for_the_dead();
        assert!(waiter.join().unwrap().is_ok());
        // The next generation needs both its parties: one alone times out.
        assert!(barrier.wait_timeout(Duration::from_millis(100)).is_err());
    }
}
