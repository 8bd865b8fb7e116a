//! The crate's one tokio runtime, and blocking on it from task threads.
//!
//! HDFS I/O is async (`hdfs-native`); Spate's tasks run on plain OS threads. One multi-thread
//! runtime per process (created on first use, threads named `spate-fs-io`) runs the HDFS
//! connections; a task thread calls [`block_on`] and waits for its operation there, so CPU-heavy
//! operator work never runs on the I/O threads.

use crate::error::{Error, Result};
use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::{Handle, Runtime};

/// Worker threads of the I/O runtime: I/O-bound work needs few.
const IO_THREADS: usize = 2;

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

/// The I/O runtime's handle, creating the runtime on first use.
pub fn handle(path: &str) -> Result<Handle> {
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .thread_name("spate-fs-io")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match rt {
        Ok(rt) => Ok(rt.handle().clone()),
        Err(e) => Err(Error::Io {
            op: "start the I/O runtime for",
            path: path.to_string(),
            source: std::io::Error::other(e.clone()),
        }),
    }
}

/// Runs `future` on the I/O runtime and waits for it. Must be called from a plain thread (a task
/// thread), not from inside an async runtime: that is an error naming `path`, never a panic.
pub fn block_on<F: Future>(path: &str, future: F) -> Result<F::Output> {
    if Handle::try_current().is_ok() {
        return Err(Error::InAsyncContext {
            path: path.to_string(),
        });
    }
    Ok(handle(path)?.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_on_plain_threads_and_refuses_inside_the_runtime() {
        assert_eq!(block_on("/x", async { 7 }).unwrap(), 7);
        let inner = block_on("/x", async {
            block_on("/y", async { 1 }).map_err(|e| e.to_string())
        })
        .unwrap();
        let e = inner.unwrap_err();
        assert!(e.contains("/y") && e.contains("async runtime"), "{e}");
    }
}
