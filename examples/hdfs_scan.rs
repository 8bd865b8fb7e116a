//! The engine side of the HDFS scan benchmark (`scripts/bench-hdfs-scan.sh`): counts the lines of
//! a file through Spate's text source (`read_text_file` → `HdfsTextSource` for `hdfs://` URIs:
//! block-aligned splits, one `SplitLineReader` per split) at parallelism P, with `count()`.
//!
//! `hdfs_scan --input hdfs://HOST:PORT/PATH [--parallelism 2]`
//!
//! Prints one line on stdout:
//! `lines=L bytes=B splits=S local_splits=K seconds=T mb_per_sec=M`, where B is the bytes of the
//! splits read (the file's length), T the wall time of `execute` (planning, split hand-out and
//! the scan; not the process start) and M = B / 2^20 / T.

use clap::Parser;
use spate::prelude::*;
use std::time::Instant;

/// Counts the lines of a file (any URI `read_text_file` accepts) through Spate's text source.
#[derive(Parser)]
struct Args {
    /// Input URI, e.g. hdfs://127.0.0.1:8020/bench/scan.txt.
    #[arg(long)]
    input: String,
    /// Parallelism of the source.
    #[arg(long, short = 'p', default_value_t = 2)]
    parallelism: u32,
}

fn main() {
    let args = Args::parse();
    spate_examples::run_main(|| {
        let env = StreamEnv::from_env()?;
        env.set_parallelism(args.parallelism);
        let n = env.read_text_file(args.input.as_str()).count().collect();
        let start = Instant::now();
        let result = env.execute("hdfs scan")?;
        let seconds = start.elapsed().as_secs_f64();
        eprint!("{result}");
        let lines: u64 = n.take().into_iter().sum();
        let stats = result.splits.unwrap_or_default();
        let bytes = stats.local_bytes + stats.remote_bytes;
        println!(
            "lines={lines} bytes={bytes} splits={} local_splits={} seconds={seconds:.3} mb_per_sec={:.1}",
            stats.local_splits + stats.remote_splits,
            stats.local_splits,
            bytes as f64 / (1 << 20) as f64 / seconds.max(1e-9)
        );
        Ok(())
    });
}
