use multiproc::{process, SharedMemory, StartMethod};
use std::time::Duration;
#[process]
fn create_and_hang(name: String) {
    let _b = SharedMemory::create(&name, 64).unwrap();
    eprintln!("child {} created", std::process::id());
    std::thread::sleep(Duration::from_secs(60));
}
fn main() {
    let name = format!("probe{}", std::process::id());
    let c = create_and_hang.builder().start_method(StartMethod::Fork).spawn(name.clone()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::process::Command::new("sh").arg("-c").arg(format!("ps -ef --forest | grep zz_shm | grep -v grep; ls -la /proc/{}/fd", c.pid())).status();
    c.kill().unwrap(); let _ = c.join();
    std::thread::sleep(Duration::from_millis(500));
    println!("still there: {}", SharedMemory::open(&name).is_ok());
    let _ = std::process::Command::new("sh").arg("-c").arg("ps -ef --forest | grep zz_shm | grep -v grep").status();
}
