//! Twin of seed 000-04 (`seeds/000_e111410dd4036288.txt`, lines 98-111):
//! a child sends a message over a Pipe and the parent receives it.
//!
//! ```python
//! from multiprocessing import Process, Pipe
//!
//! def worker(conn):
//!     conn.send("Сообщение через пайп")
//!     conn.close()
//!
//! if __name__ == "__main__":
//!     parent_conn, child_conn = Pipe()
//!     p = Process(target=worker, args=(child_conn,))
//!     p.start()
//!     print(parent_conn.recv())
//!     p.join()
//! ```
//!
//! Differences: the pipe is typed, `Connection<String>`, so the parent's
//! `recv()` gives back a `String` rather than whatever object was pickled.
//! `conn.close()` is the end of `worker`, where `conn` is dropped. Passing
//! `child_conn` to `spawn` moves it, so the parent keeps no copy of the
//! child's end: had the child died before sending, `recv()` would return
//! `Error::Disconnected` instead of blocking for ever, which is what Python's
//! `recv()` does here because the parent still holds `child_conn`.
//!
//! Output: `Сообщение через пайп`

use multiproc::{Connection, process};

#[process]
fn worker(conn: Connection<String>) {
    conn.send("Сообщение через пайп".to_string())
        .expect("the parent holds the other end");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (parent_conn, child_conn) = multiproc::pipe::<String>()?;
    let p = worker.spawn(child_conn)?;
    println!("{}", parent_conn.recv()?);
    p.join()?;
    Ok(())
}
