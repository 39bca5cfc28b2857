"""Twin of benches/pipe.rs: Pipe ping-pong round trip between two processes.

Prints `Pipe <median seconds>` (median of 5 rounds of 2000 round trips).
"""
import multiprocessing as mp
import statistics
import time


def echo(conn, parent_end):
    # Under fork the child inherits the parent's end too; without closing it,
    # the child would never see end-of-file.
    parent_end.close()
    while True:
        try:
            conn.send(conn.recv())
        except EOFError:
            return


if __name__ == "__main__":
    here, there = mp.Pipe()
    child = mp.Process(target=echo, args=(there, here))
    child.start()
    there.close()
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(2000):
            here.send(7)
            here.recv()
        rounds.append((time.perf_counter() - start) / 2000)
    here.close()
    child.join()
    print("Pipe", statistics.median(rounds), flush=True)
