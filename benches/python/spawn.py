"""Twin of benches/spawn.rs: start and join a no-op process, per start method.

Prints one line per method: `<method> <median seconds>` (median of 5 round
medians), then `pool_<method> <median seconds>` from starting a Pool of
cpu_count() workers to its first apply result.
"""
import multiprocessing as mp
import statistics
import sys
import time

# As in benches/spawn.rs: every start is timed after this pause, in
# seconds, given as the only argument (on a busy machine); none by default.
PAUSE = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0


def noop():
    pass


def measure(ctx, per_round):
    medians = []
    for _ in range(5):
        times = []
        for _ in range(per_round):
            time.sleep(PAUSE)
            start = time.perf_counter()
            p = ctx.Process(target=noop)
            p.start()
            p.join()
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return statistics.median(medians)


def inc(x):
    return x + 1


def pool_to_first_result(ctx, processes, rounds):
    times = []
    for _ in range(rounds):
        time.sleep(PAUSE)
        start = time.perf_counter()
        pool = ctx.Pool(processes)
        pool.apply(inc, (1,))
        times.append(time.perf_counter() - start)
        pool.terminate()
        pool.join()
    return statistics.median(times)


if __name__ == "__main__":
    for method, per_round in [("fork", 40), ("forkserver", 10), ("spawn", 4)]:
        print(method, measure(mp.get_context(method), per_round), flush=True)
    for method, rounds in [("fork", 15), ("forkserver", 5), ("spawn", 5)]:
        ctx = mp.get_context(method)
        print(f"pool_{method}", pool_to_first_result(ctx, mp.cpu_count(), rounds), flush=True)
