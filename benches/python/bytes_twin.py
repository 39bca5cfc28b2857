"""Twin of benches/bytes.rs: 100 MiB of `bytes` and of `array('d')` as a
pool task's argument, as its return value, as a Queue item and as a
Connection message (`send_bytes` for bytes, the fastest way Python has).
The receiver reads a byte of every page.

Prints `<where>_bytes <GB/s>` and `<where>_floats <GB/s>` (medians).
"""
import multiprocessing as mp
import statistics
import time
from array import array

SIZE = 100 << 20
ROUNDS = 5
_made = {}


def touch(data):
    return sum(memoryview(data).cast("B")[::4096])


def take(data):
    return touch(data)


def give(kind):
    if kind not in _made:
        _made[kind] = bytes([1]) * SIZE if kind == "bytes" else array("d", [1.0]) * (SIZE // 8)
    return _made[kind]


def rate(run):
    """What `run` returns is freed after the clock stops, as in the Rust twin."""
    run()
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        kept = run()
        times.append(time.perf_counter() - start)
        del kept
    return SIZE / statistics.median(times) / 1e9


def queue_reader(items, acks):
    for _ in range(2 * (ROUNDS + 1)):
        data = items.get()
        touch(data)
        acks.put(0)
        del data


def connection_reader(conn):
    for _ in range(ROUNDS + 1):
        data = conn.recv_bytes()
        touch(data)
        conn.send_bytes(b"")
        del data
    for _ in range(ROUNDS + 1):
        data = conn.recv()
        touch(data)
        conn.send_bytes(b"")
        del data


def main():
    data = {"bytes": bytes([1]) * SIZE, "floats": array("d", [1.0]) * (SIZE // 8)}
    with mp.Pool(1) as pool:
        for kind, value in data.items():
            print(f"argument_{kind}", rate(lambda: pool.apply(take, (value,))))
        for kind in data:
            def trip():
                value = pool.apply(give, (kind,))
                touch(value)
                return value
            print(f"value_{kind}", rate(trip))
    items, acks = mp.Queue(), mp.Queue()
    reader = mp.Process(target=queue_reader, args=(items, acks))
    reader.start()
    for kind, value in data.items():
        def trip():
            items.put(value)
            acks.get()
        print(f"item_{kind}", rate(trip))
    reader.join()
    here, there = mp.Pipe()
    reader = mp.Process(target=connection_reader, args=(there,))
    reader.start()
    def trip_bytes():
        here.send_bytes(data["bytes"])
        here.recv_bytes()
    print("message_bytes", rate(trip_bytes))
    def trip_floats():
        here.send(data["floats"])
        here.recv_bytes()
    print("message_floats", rate(trip_floats))
    reader.join()


if __name__ == "__main__":
    main()
