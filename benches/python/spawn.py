"""Twin of benches/spawn.rs: start and join a no-op process, per start method.

Prints one line per method: `<method> <median seconds>` (median of 5 round medians).
"""
import multiprocessing as mp
import statistics
import time


def noop():
    pass


def measure(ctx, per_round):
    medians = []
    for _ in range(5):
        times = []
        for _ in range(per_round):
            start = time.perf_counter()
            p = ctx.Process(target=noop)
            p.start()
            p.join()
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return statistics.median(medians)


if __name__ == "__main__":
    for method, per_round in [("fork", 40), ("forkserver", 10), ("spawn", 4)]:
        print(method, measure(mp.get_context(method), per_round), flush=True)
