//! Twin of seed 004-04 (`seeds/004_8543553e03f2e93b.txt`, lines 105-138):
//! a writer process puts items on a Queue with sleeps between them, and a
//! reader process takes them off.
//!
//! ```python
//! import multiprocessing
//! import time
//!
//! def write_data(queue, data):
//!     for item in data:
//!         queue.put(item)
//!         print(f"Процесс сообщает: {item}")
//!         time.sleep(1) # Имитация некоторой работы
//!         print("Данные успешно записаны в очередь")
//!
//! def read_data(queue):
//!     result = []
//!     while not queue.empty():
//!         item = queue.get()
//!         result.append(item)
//!     print("Данные успешно прочитаны из очереди")
//!     return result
//!
//! if __name__ == '__main__':
//!     shared_queue = multiprocessing.Queue()
//!     data_to_send = [1, 2, 3, 4, 5]
//!     writer_process = multiprocessing.Process(target=write_data, args=(shared_queue, data_to_send))
//!     reader_process = multiprocessing.Process(target=read_data, args=(shared_queue,))
//!
//!     writer_process.start()
//!     reader_process.start()
//!
//!     writer_process.join()
//!     reader_process.join()
//!
//!     result = read_data(shared_queue)
//!     print("Результат из очереди:", result)
//! ```
//!
//! (The seed indents the block with a mix of tabs and spaces; it is quoted
//! here with four-space indentation.)
//!
//! Differences: the Python program is racy. The reader process starts
//! together with the writer and stops as soon as `empty()` is true, which
//! happens at once (the first item may not even have left the writer's
//! feeder thread) or after the first item, since the writer then sleeps for
//! a second. Whatever the reader took is lost: a `Process` throws away its
//! target's return value. The parent's own `read_data` call after both joins
//! then collects what is left, so the printed result is `[1, 2, 3, 4, 5]`,
//! `[2, 3, 4, 5]` or anything in between, depending on timing, and
//! "Данные успешно прочитаны из очереди" is printed twice.
//!
//! Here the reader does not trust `empty()` (which is approximate in
//! multiproc too, like Python's). It waits with `get()` until a `None`
//! sentinel, which the parent puts after joining the writer, so it always
//! takes all five items, in order. The items are `Option<i32>`: `Some(n)`
//! is data and `None` the sentinel. The reader returns its result, and the
//! parent gets it from `join()` and prints it, instead of reading the queue a
//! second time; so the closing line is printed once, by the reader. The
//! writer's one-second sleep is scaled down to 50 ms.
//!
//! Output (always in this order, since the reader finishes only after the
//! writer has):
//!
//! ```text
//! Процесс сообщает: 1
//! Данные успешно записаны в очередь
//! ... the same two lines for 2, 3, 4 and 5 ...
//! Данные успешно прочитаны из очереди
//! Результат из очереди: [1, 2, 3, 4, 5]
//! ```

use std::time::Duration;

use multiproc::{Queue, process};

#[process]
fn write_data(queue: Queue<Option<i32>>, data: Vec<i32>) {
    for item in data {
        queue.put(Some(item)).expect("an unbounded queue has room");
        println!("Процесс сообщает: {item}");
        std::thread::sleep(Duration::from_millis(50)); // Имитация некоторой работы
        println!("Данные успешно записаны в очередь");
    }
}

#[process]
fn read_data(queue: Queue<Option<i32>>) -> Vec<i32> {
    let mut result = Vec::new();
    while let Some(item) = queue.get().expect("items, then the parent's sentinel") {
        result.push(item);
    }
    println!("Данные успешно прочитаны из очереди");
    result
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shared_queue: Queue<Option<i32>> = Queue::new()?;
    let data_to_send = vec![1, 2, 3, 4, 5];
    let writer_process = write_data.spawn(shared_queue.clone(), data_to_send)?;
    let reader_process = read_data.spawn(shared_queue.clone())?;

    writer_process.join()?;
    // The writer has put everything: tell the reader there is no more.
    shared_queue.put(None)?;
    let result = reader_process.join()?;

    println!("Результат из очереди: {result:?}");
    Ok(())
}
