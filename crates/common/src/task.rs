use std::io;
use std::thread::JoinHandle;

/// Starts an OS thread with a name, so that thread dumps, panics and logs say what it runs.
///
/// Every thread Spate starts goes through here (clippy forbids `std::thread::spawn`).
pub fn spawn_named<F, T>(name: impl Into<String>, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new().name(name.into()).spawn(f)
}
