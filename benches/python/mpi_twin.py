"""Twin of benches/mpi.rs: the countdown map on multiprocessing.Pool with 1, 2
and 4 workers, for its scaling (Python is far slower per step, so each task
counts down 1/20 as far). Prints `workers_<n> <median seconds>`.
"""
import multiprocessing as mp
import statistics
import time

TASKS = 16
STEPS = 20_000_000 // 20


def countdown(n):
    while n > 0:
        n -= 1
    return n


if __name__ == "__main__":
    for workers in (1, 2, 4):
        with mp.Pool(workers) as pool:
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                pool.map(countdown, [STEPS] * TASKS)
                runs.append(time.perf_counter() - start)
        print(f"workers_{workers}", statistics.median(runs), flush=True)
