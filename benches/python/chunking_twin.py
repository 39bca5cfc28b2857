"""Twin of benches/chunking.rs: Pool.map with its default chunk size and
hand-picked ones, on the same corpus of files (listed in argv[1]), a
million trivial tasks, and one long task among short ones.

Prints `<workload>_<chunk size or default> <seconds>` (medians).
"""
import hashlib
import multiprocessing as mp
import statistics
import sys
import time
import zlib


def digest(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return (0, 0, 0)
    sha = hashlib.sha256(data).digest()
    return (len(data.split()), len(zlib.compress(data, 6)), int.from_bytes(sha[:8], "little"))


def inc(x):
    return x + 1


def sleep_ms(ms):
    time.sleep(ms / 1000)


def interleaved(rounds, runs):
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    with open(sys.argv[1]) as f:
        paths = f.read().split("\n")
    with mp.Pool(2) as pool:
        pool.map(digest, paths)
        runs = {"corpus_default": lambda: pool.map(digest, paths)}
        for size in [1, 4, 16, 64, 256, 1024]:
            runs[f"corpus_{size}"] = lambda size=size: pool.map(digest, paths, size)
        for name, t in interleaved(3, runs).items():
            print(name, t)
        items = range(1_000_000)
        runs = {"tiny_default": lambda: pool.map(inc, items)}
        for size in [1000, 10_000, 62_500, 125_000, 250_000]:
            runs[f"tiny_{size}"] = lambda size=size: pool.map(inc, items, size)
        for name, t in interleaved(3, runs).items():
            print(name, t)
        uneven = [300] + [10] * 20
        runs = {"uneven_default": lambda: pool.map(sleep_ms, uneven),
                "uneven_1": lambda: pool.map(sleep_ms, uneven, 1)}
        for name, t in interleaved(3, runs).items():
            print(name, t)


if __name__ == "__main__":
    main()
