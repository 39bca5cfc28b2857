"""Twin of benches/queue.rs: Queue throughput between processes.

Prints `small <items/s>`, `big <bytes/s>`, `four_by_four <items/s>` (medians).
"""
import multiprocessing as mp
import statistics
import time


def put_small(q, count):
    for i in range(count):
        q.put(i)


def put_big(q, count, size):
    item = bytes([7]) * size
    for _ in range(count):
        q.put(item)


def get_small(q, count):
    for _ in range(count):
        q.get()


def small(count):
    q = mp.Queue()
    start = time.perf_counter()
    p = mp.Process(target=put_small, args=(q, count))
    p.start()
    for _ in range(count):
        q.get()
    elapsed = time.perf_counter() - start
    p.join()
    return count / elapsed


def big(count, size=1 << 20):
    q = mp.Queue()
    start = time.perf_counter()
    p = mp.Process(target=put_big, args=(q, count, size))
    p.start()
    for _ in range(count):
        q.get()
    elapsed = time.perf_counter() - start
    p.join()
    return count * size / elapsed


def four_by_four(per_producer):
    q = mp.Queue()
    start = time.perf_counter()
    procs = [mp.Process(target=get_small, args=(q, per_producer)) for _ in range(4)]
    procs += [mp.Process(target=put_small, args=(q, per_producer)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return 4 * per_producer / (time.perf_counter() - start)


if __name__ == "__main__":
    print("small", statistics.median(small(50_000) for _ in range(3)), flush=True)
    print("big", statistics.median(big(200) for _ in range(3)), flush=True)
    print("four_by_four", statistics.median(four_by_four(10_000) for _ in range(3)), flush=True)
