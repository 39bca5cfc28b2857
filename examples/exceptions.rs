//! Twin of the prose section "Обработка исключений" (exception handling) of
//! seed 003 (`seeds/003_fcaa9a4a1c6a37cf.txt`, lines 95-99), which has no
//! code:
//!
//! > Обработка исключений в процессах схожа с обычным кодом, но то, что
//! > происходит внутри процесса, не затрагивает родительский процесс. Поэтому
//! > вы не сможете напрямую перехватить исключение в родительском процессе,
//! > если оно произойдет в дочернем.
//! >
//! > Для обработки исключений можно использовать подход с возвращением
//! > результата через multiprocessing.Queue.
//!
//! The workaround it suggests, in Python:
//!
//! ```python
//! import traceback
//! from multiprocessing import Process, Queue
//!
//! def divide(a, b, queue):
//!     try:
//!         queue.put(('ok', a // b))
//!     except Exception:
//!         queue.put(('error', traceback.format_exc()))
//!
//! if __name__ == '__main__':
//!     queue = Queue()
//!     p = Process(target=divide, args=(1, 0, queue))
//!     p.start()
//!     status, payload = queue.get()  # ('error', 'Traceback ... ZeroDivisionError ...')
//!     p.join()
//! ```
//!
//! Here no workaround is needed, and there are three cases:
//!
//! 1. A bug: the child panics (integer division by zero, Python's
//!    `ZeroDivisionError`). `join()` returns `Err(Error::Panicked { message,
//!    location, .. })`, matched like an `except` clause; without a `Queue`
//!    Python's parent would only see `p.exitcode == 1`. The exit code is 1
//!    here too.
//! 2. An expected failure: the child returns a `Result<i64, String>`, and
//!    `join()` gives `Ok(Err(..))`: the outer `Result` says whether the
//!    process did its job, the inner one is the function's own answer, as the
//!    seed's `('ok', ..)` / `('error', ..)` tuples are.
//! 3. A pool where one item panics: `imap` yields one `Result` per item, so
//!    the failed item is reported and the loop goes on; the worker survives.
//!    `map` fails as a whole with the first item's error. Python's `Pool`
//!    does send a worker's exception back (the seed's remark is about
//!    `Process`), but `map` then discards every other result, and `imap`
//!    raises at the failed item, which ends a plain `for` loop.
//!
//! Differences: the panic message and location travel back; the backtrace
//! does not: Rust's default panic hook prints it on the child's stderr,
//! headed by the process name as Python's traceback is, so stderr shows
//! three panics while stdout is as below. The location is the
//! `file:line:column` of the division in this file.
//!
//! Output:
//!
//! ```text
//! == Паника в потомке
//! divide(7, 0): паника "attempt to divide by zero"
//!   место: examples/exceptions.rs:83:5
//!   exitcode = Some(1)
//! == Ожидаемая ошибка: потомок возвращает Result
//! parse_number("42") = Ok(42)
//! parse_number("сорок два") = Err("\"сорок два\" — не число: invalid digit found in string")
//! == Pool: одна задача из четырёх паникует
//! 100 / 5 = 20
//! 100 / 2 = 50
//! 100 / 0: паника "attempt to divide by zero"
//! 100 / 4 = 25
//! pool.map: первая ошибка, паника "attempt to divide by zero"
//! пул по-прежнему работает: [50, 20]
//! ```

use std::time::Duration;

use multiproc::{Error, Pool, pool_task, process};

/// A bug waiting for `b == 0`.
#[process]
fn divide(a: i64, b: i64) -> i64 {
    a / b
}

/// An expected failure is a value, not a panic.
#[process]
fn parse_number(text: String) -> Result<i64, String> {
    text.parse()
        .map_err(|e| format!("{text:?} — не число: {e}"))
}

#[pool_task]
fn hundred_over(x: i64) -> i64 {
    100 / x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== Паника в потомке");
    let mut p = divide.spawn(7, 0)?;
    match p.join_timeout(Duration::from_secs(30)) {
        Ok(Some(value)) => println!("divide(7, 0) = {value}"),
        Ok(None) => return Err("divide did not end within 30 s".into()),
        Err(Error::Panicked {
            message, location, ..
        }) => {
            println!("divide(7, 0): паника {message:?}");
            println!("  место: {location}");
        }
        Err(e) => return Err(e.into()),
    }
    println!("  exitcode = {:?}", p.exitcode());

    println!("== Ожидаемая ошибка: потомок возвращает Result");
    for text in ["42", "сорок два"] {
        // `?` handles the process failing; the inner Result is the answer.
        let answer: Result<i64, String> = parse_number.spawn(text.to_string())?.join()?;
        println!("parse_number({text:?}) = {answer:?}");
    }

    println!("== Pool: одна задача из четырёх паникует");
    let pool = Pool::new(2)?;
    let items = [5, 2, 0, 4];
    for (x, result) in items.iter().zip(pool.imap(hundred_over, items)?) {
        match result {
            Ok(value) => println!("100 / {x} = {value}"),
            Err(Error::Panicked { message, .. }) => println!("100 / {x}: паника {message:?}"),
            Err(e) => return Err(e.into()),
        }
    }
    match pool.map(hundred_over, items) {
        Ok(values) => println!("pool.map = {values:?}"),
        // `map` says which item failed first: Python's says only how.
        Err(Error::Task { index, source, .. }) => match *source {
            Error::Panicked { message, .. } => {
                println!("pool.map: первая ошибка у элемента {index}, паника {message:?}");
            }
            e => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    }
    println!(
        "пул по-прежнему работает: {:?}",
        pool.map(hundred_over, [2, 5])?
    );
    Ok(())
}
