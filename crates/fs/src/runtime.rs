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

/// Runs `future` on the I/O runtime and waits for it. Meant for plain threads (task threads);
/// called where a tokio runtime is current (e.g. in `spawn_blocking`, where tokio refuses to
/// block on another runtime), it waits on a helper thread instead.
pub fn block_on<F>(path: &str, future: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let handle = handle(path)?;
    if Handle::try_current().is_err() {
        return Ok(handle.block_on(future));
    }
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("spate-fs-wait".into())
            .spawn_scoped(s, || handle.block_on(future))
            .map_err(|source| Error::Io {
                op: "start a thread to wait for",
                path: path.to_string(),
                source,
            })?
            .join()
            .map_err(|_| Error::Io {
                op: "wait for",
                path: path.to_string(),
                source: std::io::Error::other("the I/O thread panicked"),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_on_plain_threads_and_inside_a_runtime() {
        assert_eq!(block_on("/x", async { 7 }).unwrap(), 7);
        // Inside a runtime (as in spawn_blocking, e.g. the JobManager reading checkpoints in
        // HDFS): a helper thread waits.
        let inner = block_on("/x", async {
            block_on("/y", async { 1 }).map_err(|e| e.to_string())
        })
        .unwrap();
        assert_eq!(inner, Ok(1));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = rt.block_on(async {
            tokio::task::spawn_blocking(|| block_on("/z", async { 2 }).map_err(|e| e.to_string()))
                .await
                .unwrap()
        });
        assert_eq!(got, Ok(2));
    }
}
