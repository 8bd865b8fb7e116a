//! `gen-corpus --output FILE --size-mb N [--seed S] [--vocabulary V]`: writes a synthetic text
//! corpus of about N MiB (see `spate_bench::corpus`). The same arguments give the same bytes.

use anyhow::{Context, Result};
use clap::Parser;
use spate_bench::corpus::{write_corpus, CorpusConfig, DEFAULT_SEED, DEFAULT_VOCABULARY};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Writes a deterministic text corpus of about N MiB: lines of 5-15 words drawn with a Zipf skew
/// from V pseudo-words, with mixed case, digits and punctuation.
#[derive(Parser)]
struct Args {
    /// Output file.
    #[arg(long)]
    output: PathBuf,
    /// Size in MiB.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    size_mb: u64,
    /// Seed of the pseudo-random generator.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Number of distinct words.
    #[arg(long, default_value_t = DEFAULT_VOCABULARY as u32, value_parser = clap::value_parser!(u32).range(1..))]
    vocabulary: u32,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("gen-corpus: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let mut config = CorpusConfig::new(args.size_mb << 20);
    config.seed = args.seed;
    config.vocabulary = args.vocabulary as usize;
    let started = Instant::now();
    let output = &args.output;
    let mut file = File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    let bytes = write_corpus(&mut file, &config)
        .and_then(|n| file.flush().map(|()| n))
        .with_context(|| format!("cannot write {}", output.display()))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "gen-corpus: wrote {bytes} bytes to {} in {secs:.2} s ({:.0} MB/s), seed {}, vocabulary {}",
        output.display(),
        bytes as f64 / 1e6 / secs.max(1e-9),
        config.seed,
        config.vocabulary
    );
    Ok(())
}
