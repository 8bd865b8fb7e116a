//! `spate`, the command-line tool of the Spate dataflow engine.
//!
//! Only the argument model and the dispatch live here; `spate run` is in [`run`] and the
//! `spate config` commands are in [`config_cmd`].

mod config_cmd;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Run and inspect Spate jobs.
///
/// A Spate job is an ordinary executable linked with the Spate library. `spate run` checks the
/// configuration, hands it to the job binary through environment variables and runs the binary
/// in embedded mode (the whole dataflow inside that one process).
#[derive(Debug, Parser)]
#[command(name = "spate", version, propagate_version = true)]
#[command(after_long_help = "\
Examples:
  spate run -p 4 -D execution.runtime-mode=BATCH ./target/release/wordcount --input words.txt
  spate config show -c conf/config.yaml -D parallelism.default=8
  spate config keys")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job binary in embedded mode with a checked configuration.
    ///
    /// The configuration is the file (-c, else $SPATE_CONF_DIR/config.yaml if it exists), then
    /// the -D overrides, then -p. It is checked before the job starts: an unknown key or a bad
    /// value stops spate with a message naming it. The job binary gets the result in
    /// SPATE_DYNAMIC_PROPERTIES (`key=value` lines) and the file used, if any, in
    /// SPATE_CONFIG_FILE; the Spate library reads both when the job starts.
    ///
    /// spate exits with the job's exit status, with 128 + N if the job was killed by signal N,
    /// and with 2 if the job binary cannot be started.
    Run(run::RunArgs),
    /// Inspect the configuration keys and the effective configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
}

/// An error with the exit status other than 1 that it calls for.
#[derive(Debug)]
struct ExitStatusError {
    code: u8,
    message: String,
}

impl std::fmt::Display for ExitStatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitStatusError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Config(cmd) => config_cmd::run(&cmd).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = e.downcast_ref::<ExitStatusError>().map_or(1, |s| s.code);
            ExitCode::from(code)
        }
    }
}
