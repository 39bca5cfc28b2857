//! Twin of the prose section "Запуск и коммуникация с другими программами"
//! (launching and talking to other programs) of seed 001
//! (`seeds/001_185cbd479786a44e.txt`, lines 59-94):
//!
//! > Для запуска и коммуникации с другими программами в многопроцессорной
//! > среде с использованием Python, можно воспользоваться библиотекой
//! > multiprocessing, которая предоставляет удобные средства для создания и
//! > управления процессами. Вот примеры того, как можно запустить другую
//! > программу и обмениваться данными между ней и основной программой:
//!
//! Its two code blocks have twins of their own: `subprocess.call` (001-04,
//! `external_program_001_04.rs`) only starts a program and waits, and the
//! Queue example (001-05, `queue_parent_to_child_001_05.rs`) sends one string
//! to a child. Neither exchanges data with another *program*, nor hears from
//! a child while it works, which the prose promises. This example does both;
//! the Python it mirrors:
//!
//! ```python
//! import subprocess
//! from multiprocessing import Pipe, Process
//!
//! # 1. Another program: input on its stdin, output read from its stdout.
//! out = subprocess.run(['sort'], input='груша\nяблоко\nабрикос\n',
//!                      capture_output=True, text=True, env={'LC_ALL': 'C'}).stdout
//! print('sort вернул:', out.split())
//!
//! # 2. A conversation: one line out, one line back, the program still running.
//! sh = subprocess.Popen(['sh'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
//! for expr in ['6 * 7', '2 + 2']:
//!     sh.stdin.write(f'echo $(({expr}))\n'); sh.stdin.flush()
//!     print(f'sh: {expr} = {sh.stdout.readline().strip()}')
//! sh.stdin.close(); sh.wait()
//!
//! # 3. A child process that reports progress while it works.
//! def count_primes(conn):
//!     served = 0
//!     while True:
//!         try:
//!             limit = conn.recv()
//!         except EOFError:
//!             return served          # lost: a Process has no return value
//!         ...                        # conn.send(('progress', checked, limit)) each quarter
//!         conn.send(('primes', count))
//!         served += 1
//!
//! if __name__ == '__main__':
//!     parent_conn, child_conn = Pipe()
//!     p = Process(target=count_primes, args=(child_conn,))
//!     p.start()
//!     child_conn.close()             # or the child never sees EOFError
//!     for limit in [1000, 10000]:
//!         parent_conn.send(limit)
//!         while (msg := parent_conn.recv())[0] == 'progress':
//!             print(...)
//!     parent_conn.close()
//!     p.join()
//! ```
//!
//! Differences: another program is started with `std::process::Command`;
//! `stdin(Stdio::piped())` and `stdout(Stdio::piped())` are Python's
//! `subprocess.PIPE`, and `wait_with_output()` is `communicate()`. As in
//! Python, writing all the input before reading any output deadlocks once
//! both pipe buffers fill (about 64 KiB); for large inputs write from a
//! thread. `sort` runs with `LC_ALL=C` so its order does not depend on the
//! machine's locale. Talking to a child process is a typed `Connection`:
//! the messages are one Rust `enum`, so the parent matches on `Progress` and
//! `Primes` instead of on tuples tagged with strings, and the child's return
//! value (how many requests it served) comes back from `join()`, where a
//! Python `Process` discards it. `spawn` moves the child's end into the
//! child, so the parent needs no `child_conn.close()`: dropping its own end
//! is enough for the child's `recv()` to return `Error::Disconnected`,
//! Python's `EOFError`.
//!
//! Output:
//!
//! ```text
//! sort вернул: ["абрикос", "груша", "яблоко"]
//! sh: 6 * 7 = 42
//! sh: 2 + 2 = 4
//! Простые числа меньше 1000: проверено 250 из 1000
//! Простые числа меньше 1000: проверено 500 из 1000
//! Простые числа меньше 1000: проверено 750 из 1000
//! Простые числа меньше 1000: проверено 1000 из 1000
//! Простых чисел меньше 1000: 168
//! Простые числа меньше 10000: проверено 2500 из 10000
//! Простые числа меньше 10000: проверено 5000 из 10000
//! Простые числа меньше 10000: проверено 7500 из 10000
//! Простые числа меньше 10000: проверено 10000 из 10000
//! Простых чисел меньше 10000: 1229
//! Потомок обслужил запросов: 2
//! ```

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use multiproc::{Connection, Error, process};
use serde::{Deserialize, Serialize};

/// Everything that travels over the pipe between the parent and the child.
#[derive(Debug, Serialize, Deserialize)]
enum Message {
    /// Parent to child: count the primes below this number.
    CountPrimesBelow(u64),
    /// Child to parent, while it works: `checked` numbers of `limit` done.
    Progress { checked: u64, limit: u64 },
    /// Child to parent, at the end of a request: the answer.
    Primes(u64),
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// Serves requests until the parent closes its end; returns how many it served.
#[process]
fn count_primes(conn: Connection<Message>) -> u32 {
    let mut served = 0;
    loop {
        let limit = match conn.recv() {
            Ok(Message::CountPrimesBelow(limit)) => limit,
            Ok(other) => panic!("the parent sent {other:?}"),
            Err(Error::Disconnected) => return served,
            Err(e) => panic!("cannot read a request: {e}"),
        };
        let quarter = limit / 4;
        let mut count = 0;
        for start in (0..limit).step_by(quarter as usize) {
            let end = (start + quarter).min(limit);
            count += (start..end).filter(|&n| is_prime(n)).count() as u64;
            conn.send(Message::Progress {
                checked: end,
                limit,
            })
            .expect("the parent waits for the answer");
        }
        conn.send(Message::Primes(count))
            .expect("the parent waits for the answer");
        served += 1;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Input on another program's stdin, its output read back in full.
    let mut sort = Command::new("sort")
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    sort.stdin
        .take()
        .expect("stdin is piped")
        .write_all("груша\nяблоко\nабрикос\n".as_bytes())?;
    // The temporary `ChildStdin` is dropped above: `sort` sees end of input.
    let output = sort.wait_with_output()?;
    assert!(output.status.success(), "sort failed: {}", output.status);
    let sorted: Vec<String> = String::from_utf8(output.stdout)?
        .lines()
        .map(str::to_string)
        .collect();
    println!("sort вернул: {sorted:?}");

    // 2. A conversation with a running program: a line out, a line back.
    let mut sh = Command::new("sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut to_sh = sh.stdin.take().expect("stdin is piped");
    let mut from_sh = BufReader::new(sh.stdout.take().expect("stdout is piped"));
    for expr in ["6 * 7", "2 + 2"] {
        writeln!(to_sh, "echo $(({expr}))")?;
        to_sh.flush()?;
        let mut answer = String::new();
        from_sh.read_line(&mut answer)?;
        println!("sh: {expr} = {}", answer.trim_end());
    }
    drop(to_sh); // end of input: the shell exits
    let status = sh.wait()?;
    assert!(status.success(), "sh failed: {status}");

    // 3. A child process that reports its progress over a pipe.
    let (parent_conn, child_conn) = multiproc::pipe::<Message>()?;
    let p = count_primes.spawn(child_conn)?;
    for limit in [1000, 10_000] {
        parent_conn.send(Message::CountPrimesBelow(limit))?;
        loop {
            match parent_conn.recv()? {
                Message::Progress { checked, limit } => {
                    println!("Простые числа меньше {limit}: проверено {checked} из {limit}");
                }
                Message::Primes(count) => {
                    println!("Простых чисел меньше {limit}: {count}");
                    break;
                }
                other => return Err(format!("unexpected message {other:?}").into()),
            }
        }
    }
    drop(parent_conn); // the child's recv() returns Error::Disconnected
    println!("Потомок обслужил запросов: {}", p.join()?);
    Ok(())
}
