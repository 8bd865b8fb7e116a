//! `hdfs-raw-scan --input hdfs://HOST:PORT/PATH [--readers R] [--chunk-mb C]`: the raw baseline
//! of the HDFS scan benchmark (`scripts/bench-hdfs-scan.sh`). Reads a file with `hdfs-native`
//! directly (no Spate code): the file is cut into R contiguous ranges (R = 1: the whole file,
//! sequentially), each read by its own task, in chunks of C MiB (`read_range_stream` per chunk; C = 0:
//! one stream over the whole range), counting `\n` bytes. A last line without a newline counts
//! as a line, so the count equals the number of lines a line reader yields.
//!
//! The tokio runtime has 2 worker threads, like the engine's I/O runtime (`spate-fs-io`).
//!
//! Prints one line on stdout:
//! `lines=L bytes=B readers=R seconds=T mb_per_sec=M`, where T is the wall time from connecting
//! to the NameNode (`Client::read`, the file's block locations) to the last byte, and
//! M = B / 2^20 / T.

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures::StreamExt;
use hdfs_native::file::FileReader;
use hdfs_native::ClientBuilder;
use std::sync::Arc;
use std::time::Instant;

/// Counts the lines of an HDFS file with hdfs-native alone.
#[derive(Parser)]
struct Args {
    /// hdfs://HOST:PORT/PATH (or hdfs:///PATH with fs.defaultFS from HADOOP_CONF_DIR).
    #[arg(long)]
    input: String,
    /// Concurrent readers, each over a contiguous range of the file.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    readers: u32,
    /// Bytes per read request, in MiB; 0: one stream per reader over its whole range.
    #[arg(long, default_value_t = 0)]
    chunk_mb: u64,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("hdfs-raw-scan: error: {e:#}");
        std::process::exit(1);
    }
}

/// Splits `hdfs://authority/path` into the client URL and the path.
fn split_uri(uri: &str) -> Result<(String, String)> {
    let Some(rest) = uri.strip_prefix("hdfs://") else {
        bail!("not an hdfs:// URI: {uri}");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => bail!("no path in {uri}"),
    };
    Ok((format!("hdfs://{authority}"), path.to_string()))
}

/// Newlines in `range` of the file, and its last byte (if the range is not empty).
async fn count_range(
    file: Arc<FileReader>,
    start: usize,
    end: usize,
    chunk: usize,
) -> Result<(u64, Option<u8>)> {
    let mut newlines = 0u64;
    let mut last = None;
    let mut pos = start;
    while pos < end {
        let len = if chunk == 0 {
            end - pos
        } else {
            chunk.min(end - pos)
        };
        let mut stream = file.read_range_stream(pos, len);
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.context("read")?;
            newlines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            if let Some(&b) = bytes.last() {
                last = Some(b);
            }
        }
        pos += len;
    }
    Ok((newlines, last))
}

fn run(args: Args) -> Result<()> {
    let (url, path) = split_uri(&args.input)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("raw-scan-io")
        .enable_all()
        .build()?;
    let mut builder = ClientBuilder::new();
    if url != "hdfs://" {
        builder = builder.with_url(&url);
    }
    let client = builder.build().context("hdfs client")?;
    let readers = args.readers as usize;
    let chunk = (args.chunk_mb as usize) << 20;
    let start = Instant::now();
    let (lines, bytes) = runtime.block_on(async {
        let file = Arc::new(
            client
                .read(&path)
                .await
                .with_context(|| format!("open {}", args.input))?,
        );
        let len = file.file_length();
        let mut tasks = Vec::new();
        for r in 0..readers {
            let (from, to) = (len * r / readers, len * (r + 1) / readers);
            tasks.push(tokio::spawn(count_range(Arc::clone(&file), from, to, chunk)));
        }
        let mut newlines = 0u64;
        let mut last = None;
        for task in tasks {
            let (n, l) = task.await??;
            newlines += n;
            if l.is_some() {
                last = l; // ranges are in file order: the last non-empty one holds the last byte
            }
        }
        let lines = newlines + u64::from(matches!(last, Some(b) if b != b'\n'));
        anyhow::Ok((lines, len as u64))
    })?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "lines={lines} bytes={bytes} readers={readers} seconds={seconds:.3} mb_per_sec={:.1}",
        bytes as f64 / (1 << 20) as f64 / seconds.max(1e-9)
    );
    Ok(())
}
