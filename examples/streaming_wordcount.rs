//! Streaming word count: running counts over an endless generated stream of sentences, printed as
//! they change. `streaming_wordcount [--records N] [--rate R] [--parallelism P]`; without
//! `--records` it runs until interrupted.

use clap::Parser;
use spate::prelude::*;

const SENTENCES: &[&str] = &[
    "to be or not to be",
    "that is the question",
    "whether tis nobler in the mind to suffer",
    "the slings and arrows of outrageous fortune",
    "or to take arms against a sea of troubles",
];

/// Counts words of a generated stream, printing the running count of each word as it changes.
#[derive(Parser)]
struct Args {
    /// Stop after this many sentences (default: never).
    #[arg(long)]
    records: Option<u64>,
    /// Sentences per second (default: 10).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Parallelism.
    #[arg(long, short = 'p')]
    parallelism: Option<u32>,
}

fn main() {
    let args = Args::parse();
    spate_examples::run_main(|| {
        let env = StreamEnv::from_env()?;
        env.set_runtime_mode(RuntimeMode::Streaming);
        if let Some(p) = args.parallelism {
            env.set_parallelism(p);
        }
        let lines = env.from_generator(args.records, Some(args.rate), |i| {
            SENTENCES[(i % 5) as usize].to_string()
        });
        spate_examples::wordcount::counts(&lines).print_with(|(w, n)| format!("{w}\t{n}"));
        env.execute("streaming wordcount")?;
        Ok(())
    });
}
