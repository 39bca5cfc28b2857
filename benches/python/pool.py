"""Twin of benches/pool.rs: Pool.map throughput, chunk size 1, apply latency, CPU speedup.

Prints `<name> <value>` lines: items/s for maps, seconds for apply and for
two long tasks on two workers, a ratio for the speedup.
"""
import multiprocessing as mp
import statistics
import time


def inc(x):
    return x + 1


def countdown(n):
    while n > 0:
        n -= 1
    return n


def median_of(rounds, f):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        pool.map(inc, range(10_000))
        n = 1_000_000
        t = median_of(9, lambda: pool.map(inc, range(n)))
        print("map_auto", n / t, flush=True)
        n1 = 20_000
        t = median_of(5, lambda: pool.map(inc, range(n1), chunksize=1))
        print("map_one", n1 / t, flush=True)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(200):
                pool.apply(inc, (1,))
            times.append((time.perf_counter() - start) / 200)
        print("apply", statistics.median(times), flush=True)
        t = median_of(5, lambda: pool.map(time.sleep, [0.3, 0.3]))
        print("spread", t, flush=True)
        work, jobs = 2_000_000, 8
        start = time.perf_counter()
        for _ in range(jobs):
            countdown(work)
        serial = time.perf_counter() - start
        parallel = median_of(3, lambda: pool.map(countdown, [work] * jobs, chunksize=1))
        print("countdown_speedup", serial / parallel, flush=True)
