"""Twin of benches/load.rs: the same five round trips with Python's
multiprocessing, run while benches/load.rs keeps the cores busy.

After one batch to warm up, prints `<Name>_median <seconds>` and `<Name>_mean <seconds>` for Pipe, Pool.apply,
Manager, Queue and Semaphore; only for the names given as arguments, if any.
"""
import multiprocessing as mp
import statistics
import sys
import time

BATCHES, PER_BATCH = 7, 200


def per_trip(trip):
    for _ in range(PER_BATCH):
        trip()
    times = []
    for _ in range(BATCHES):
        start = time.perf_counter()
        for _ in range(PER_BATCH):
            trip()
        times.append((time.perf_counter() - start) / PER_BATCH)
    return statistics.median(times), statistics.mean(times)


def pipe_echo(conn):
    while True:
        x = conn.recv()
        if x is None:
            break
        conn.send(x)


def queue_echo(source, sink):
    while True:
        x = source.get()
        if x is None:
            break
        sink.put(x)


def semaphore_echo(ping, pong, times):
    for _ in range(times):
        ping.acquire()
        pong.release()


def inc(x):
    return x + 1


def report(name, figures):
    print(f"{name}_median", figures[0], flush=True)
    print(f"{name}_mean", figures[1], flush=True)


def pipe():
    here, there = mp.Pipe()
    p = mp.Process(target=pipe_echo, args=(there,))
    p.start()

    def pipe_trip():
        here.send(7)
        here.recv()

    report("Pipe", per_trip(pipe_trip))
    here.send(None)
    p.join()


def apply():
    with mp.Pool(2) as pool:
        pool.map(inc, range(100))
        report("Pool.apply", per_trip(lambda: pool.apply(inc, (1,))))


def manager():
    with mp.Manager() as manager:
        d = manager.dict()

        def manager_trip():
            d[1] = 2
            d[1]

        report("Manager", per_trip(manager_trip))


def queue():
    to, back = mp.Queue(), mp.Queue()
    p = mp.Process(target=queue_echo, args=(to, back))
    p.start()

    def queue_trip():
        to.put(7)
        back.get()

    report("Queue", per_trip(queue_trip))
    to.put(None)
    p.join()


def semaphore():
    ping, pong = mp.Semaphore(0), mp.Semaphore(0)
    p = mp.Process(target=semaphore_echo, args=(ping, pong, (BATCHES + 1) * PER_BATCH))
    p.start()

    def semaphore_trip():
        ping.release()
        pong.acquire()

    report("Semaphore", per_trip(semaphore_trip))
    p.join()


FIGURES = {"Pipe": pipe, "Pool.apply": apply, "Manager": manager, "Queue": queue, "Semaphore": semaphore}

if __name__ == "__main__":
    for name in sys.argv[1:] or FIGURES:
        FIGURES[name]()
