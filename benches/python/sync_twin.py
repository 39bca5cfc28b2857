"""Twin of benches/sync.rs: Lock acquire+release, and locked Value increments.

Prints `uncontended <seconds per acquire+release>` and `value_per_op <seconds>`.
"""
import multiprocessing as mp
import statistics
import time


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
