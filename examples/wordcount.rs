//! Word count over text files (batch): `wordcount --input PATH --output DIR [--parallelism N]`.
//!
//! Words are maximal runs of ASCII letters and digits, lower-cased. The output directory gets one
//! part file per sink subtask with `word<TAB>count` lines.

use clap::Parser;
use spate::StreamEnv;
use std::path::PathBuf;

/// Counts the words of a text file or of every file in a directory.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Input file or directory (a local path, or a `file://` or `hdfs://` URI, globs allowed).
    #[arg(long)]
    input: PathBuf,
    /// Output directory (local or `hdfs://`; created; old part files are replaced).
    #[arg(long)]
    output: PathBuf,
    /// Parallelism (default: `parallelism.default`, else the number of CPU cores).
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
        spate_examples::wordcount::build(&env, &args.input, &args.output);
        let result = env.execute("wordcount")?;
        eprint!("{result}");
        if let Some(splits) = result.splits {
            println!("{splits}");
        }
        Ok(())
    });
}
