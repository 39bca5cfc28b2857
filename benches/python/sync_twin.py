"""Twin of benches/sync.rs: Lock acquire+release, and locked Value increments.

Prints `uncontended <seconds per acquire+release>`, `value_per_op <seconds>`
and `idle_waiters_cpu <CPU seconds per second>`.
"""
import multiprocessing as mp
import resource
import statistics
import threading
import time

WAITERS = 100


def idle_waiters_cpu():
    """CPU seconds per second used by WAITERS threads blocked on a held Lock."""
    lock = mp.Lock()
    lock.acquire()

    def wait():
        lock.acquire()
        lock.release()

    threads = [threading.Thread(target=wait) for _ in range(WAITERS)]
    for t in threads:
        t.start()
    time.sleep(3)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu, wall = usage.ru_utime + usage.ru_stime, time.perf_counter()
    time.sleep(2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = (usage.ru_utime + usage.ru_stime - cpu) / (time.perf_counter() - wall)
    lock.release()
    for t in threads:
        t.join()
    return used


def add_locked(v, times):
    for _ in range(times):
        with v.get_lock():
            v.value += 1


if __name__ == "__main__":
    lock = mp.Lock()
    rounds = 1_000_000
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            lock.acquire()
            lock.release()
        runs.append((time.perf_counter() - start) / rounds)
    print("uncontended", statistics.median(runs), flush=True)
    times = 100_000
    runs = []
    for _ in range(3):
        v = mp.Value("q", 0)
        start = time.perf_counter()
        procs = [mp.Process(target=add_locked, args=(v, times)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        assert v.value == 2 * times
        runs.append((time.perf_counter() - start) / (2 * times))
    print("value_per_op", statistics.median(runs), flush=True)
    print("idle_waiters_cpu", idle_waiters_cpu(), flush=True)
