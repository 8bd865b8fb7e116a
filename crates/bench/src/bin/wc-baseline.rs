//! `wc-baseline --input FILE --output DIR`: the hand-written single-threaded word count that the
//! engine's word count example is measured against. Writes `DIR/part-00000` with
//! `word<TAB>count` lines; prints nothing but errors.

use anyhow::Result;
use clap::Parser;
use spate_bench::count::{count_file, write_part_file};
use std::path::PathBuf;

/// Counts the words of FILE (maximal runs of ASCII letters and digits, lower-cased) on one thread.
#[derive(Parser)]
struct Args {
    /// Input file.
    #[arg(long)]
    input: PathBuf,
    /// Output directory.
    #[arg(long)]
    output: PathBuf,
    /// Accepted and ignored, so the baseline can stand in for the engine's example.
    #[arg(long, short = 'p')]
    parallelism: Option<u32>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("wc-baseline: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let counts = count_file(&args.input)?;
    write_part_file(&args.output, &counts)
}
