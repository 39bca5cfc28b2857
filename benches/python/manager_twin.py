"""Twin of benches/manager.rs: a dict set+get pair from a child process, through
a local Manager and through a BaseManager served over TCP on localhost.

Prints `local <seconds per set+get>` and `tcp <seconds per set+get>`.
"""
import multiprocessing as mp
import statistics
import time
from multiprocessing.managers import SyncManager


def set_get(d, times, out):
    key = "counter"
    start = time.perf_counter()
    for i in range(times):
        d[key] = i
        d[key]
    out.put((time.perf_counter() - start) / times)


def median_in_child(d, times):
    out = mp.Queue()
    runs = []
    for _ in range(5):
        p = mp.Process(target=set_get, args=(d, times, out))
        p.start()
        runs.append(out.get())
        p.join()
    return statistics.median(runs)


if __name__ == "__main__":
    times = 20_000
    with mp.Manager() as manager:
        print("local", median_in_child(manager.dict(), times), flush=True)
    with SyncManager(address=("127.0.0.1", 0), authkey=b"bench") as manager:
        print("tcp", median_in_child(manager.dict(), times), flush=True)
