//! The N most frequent words of a text (batch): `topn --input PATH [--n 10] [--parallelism P]`.
//! Prints `rank<TAB>word<TAB>count` lines.

use clap::Parser;
use spate::prelude::*;
use std::path::PathBuf;

/// Prints the most frequent words of a file or directory.
#[derive(Parser)]
struct Args {
    /// Input file or directory.
    #[arg(long)]
    input: PathBuf,
    /// How many words.
    #[arg(long, default_value_t = 10)]
    n: u64,
    /// Parallelism.
    #[arg(long, short = 'p')]
    parallelism: Option<u32>,
}

fn main() {
    let args = Args::parse();
    spate_examples::run_main(|| {
        let local = !args.input.to_string_lossy().contains("://");
        if local && !args.input.exists() {
            anyhow::bail!("input path {} does not exist", args.input.display());
        }
        let env = StreamEnv::from_env()?;
        if let Some(p) = args.parallelism {
            env.set_parallelism(p);
        }
        let lines = env.read_text_file(&args.input);
        // Highest count first; ties by word, so the output is deterministic.
        let top = spate_examples::wordcount::counts(&lines)
            .sort_by(
                |(w, n): &(String, u64)| (std::cmp::Reverse(*n), w.clone()),
                Order::Ascending,
            )
            .first_n(args.n)
            .collect();
        env.execute("topn")?;
        for (rank, (w, n)) in top.take().into_iter().enumerate() {
            println!("{}\t{w}\t{n}", rank + 1);
        }
        Ok(())
    });
}
