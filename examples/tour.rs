//! A five-minute tour of multiproc: the README's first command,
//! `cargo run --release --example tour`.

use std::time::{Duration, Instant};

use multiproc::{Connection, DictProxy, Error, Manager, Pool, Queue, pool_task, process};

/// Runs in a child process; the value comes back typed.
#[process]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// A child that panics: the parent gets the message and location.
#[process]
fn divide(a: i64, b: i64) -> i64 {
    assert_ne!(b, 0, "division by zero");
    a / b
}

/// A child that never ends on its own.
#[process]
fn forever() {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Counts words into a dict that lives in a manager process.
#[process]
fn count_words(counts: DictProxy<String, u32>, text: String) {
    for word in text.split_whitespace() {
        counts
            .update(word.to_string(), |n| n.unwrap_or(0) + 1)
            .expect("the manager is running");
    }
}

/// CPU-bound work, the countdown of the seed tutorial.
#[pool_task]
fn countdown(n: u64) -> u64 {
    let mut n = std::hint::black_box(n);
    while n > 0 {
        n = std::hint::black_box(n - 1);
    }
    n
}

#[pool_task]
fn square(x: u64) -> u64 {
    x * x
}

/// Kills its own worker process, as a segfault or the OOM killer would.
#[pool_task]
fn crash(x: u64) -> u64 {
    if x == 3 {
        std::process::abort();
    }
    x
}

/// Puts a few words on a queue, then returns: it can be joined before anyone reads.
#[process]
fn producer(q: Queue<String>) {
    for word in ["queues", "cross", "processes"] {
        q.put(word.to_string()).unwrap();
    }
}

/// Answers every message on its end of a pipe.
#[process]
fn shouter(conn: Connection<String>) {
    while let Ok(msg) = conn.recv() {
        conn.send(msg.to_uppercase()).unwrap();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== Process: a function in another process");
    let started = Instant::now();
    let p = add.spawn(2, 3)?;
    println!("{} (pid {}) started", p.name(), p.pid());
    println!("add(2, 3) = {} in {:.2?}", p.join()?, started.elapsed());
    println!("add(2, 3) = {} in this process too", add(2, 3));

    println!("\n== A panic comes back as a typed error");
    match divide.spawn(1, 0)?.join() {
        Err(Error::Panicked {
            message, location, ..
        }) => {
            println!("the child panicked: {message} (at {location})");
        }
        other => println!("unexpected: {other:?}"),
    }

    println!("\n== Timeouts and signals");
    let mut p = forever.spawn()?;
    println!(
        "still running after 50 ms: {}",
        p.join_timeout(Duration::from_millis(50))?.is_none()
    );
    p.terminate()?;
    let err = p.join_timeout(Duration::from_secs(5)).unwrap_err();
    println!("after terminate(): {err}; exitcode = {:?}", p.exitcode());

    println!("\n== Pool: map, starmap-style apply, imap");
    let pool = Pool::new(multiproc::cpu_count())?;
    println!("squares: {:?}", pool.map(square, 0..10u64)?);
    let jobs = vec![60_000_000u64; 8];
    let started = Instant::now();
    for &n in &jobs {
        countdown(n);
    }
    let serial = started.elapsed();
    let started = Instant::now();
    pool.map_chunked(countdown, jobs, 1)?;
    let parallel = started.elapsed();
    println!(
        "8 countdowns: {serial:.2?} here, {parallel:.2?} on {} workers ({:.1}x)",
        pool.processes(),
        serial.as_secs_f64() / parallel.as_secs_f64()
    );

    println!("\n== A progress bar (on stderr, when it is a terminal)");
    let with_bar = Pool::builder().progress(true).build()?;
    let done = with_bar.imap(countdown, vec![20_000_000u64; 24])?.count();
    println!("{done} countdowns done");

    println!("\n== A worker that dies fails only its own task");
    for (x, result) in (0..6u64).zip(pool.imap(crash, 0..6u64)?) {
        match result {
            Ok(v) => println!("crash({x}) = {v}"),
            Err(e) => println!("crash({x}) failed: {e}"),
        }
    }
    println!("the pool still works: {:?}", pool.map(square, [7u64, 8])?);

    println!("\n== Queue and Pipe: ordinary arguments");
    let q = Queue::new()?;
    producer.spawn(q.clone())?.join()?;
    let words: Vec<String> = (0..3).map(|_| q.get()).collect::<Result<_, _>>()?;
    println!(
        "from the queue, after the producer exited: {}",
        words.join(" ")
    );
    let (here, there) = multiproc::pipe::<String>()?;
    let child = shouter.spawn(there)?;
    here.send("hello over a pipe".to_string())?;
    println!("the pipe answered: {}", here.recv()?);
    drop(here);
    child.join()?;

    println!("\n== Manager: a shared dict, updated atomically by two processes");
    let manager = Manager::start()?;
    let counts = manager.dict::<String, u32>()?;
    let writers = [
        count_words.spawn(counts.clone(), "to be or not to be".into())?,
        count_words.spawn(counts.clone(), "to err is human".into())?,
    ];
    for writer in writers {
        writer.join()?;
    }
    let mut items = counts.items()?;
    items.sort();
    println!("word counts: {items:?}");

    println!("\n== Start methods: spawn, fork, forkserver");
    // All three on Linux; macOS has no fork server.
    for method in multiproc::get_all_start_methods() {
        let started = Instant::now();
        let sum = add.builder().start_method(method).spawn(20, 22)?.join()?;
        println!(
            "{}: add(20, 22) = {sum} in {:.2?}",
            method.name(),
            started.elapsed()
        );
    }
    Ok(())
}
