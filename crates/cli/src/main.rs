//! `spate`, the command-line tool of the Spate dataflow engine.
//!
//! Only the argument model and the dispatch live here; `spate run` is in [`run`] and the
//! `spate config` commands are in [`config_cmd`].

mod cluster_cmd;
mod config_cmd;
mod run;
mod yarn_am;
mod yarn_containers;
mod yarn_session;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Run and inspect Spate jobs; run a Spate cluster.
///
/// A Spate job is an ordinary executable linked with the Spate library. `spate run` checks the
/// configuration, hands it to the job binary through environment variables and runs the binary
/// in embedded mode (the whole dataflow inside that one process), or with `-m HOST:PORT` submits
/// it to a cluster's JobManager.
#[derive(Debug, Parser)]
#[command(name = "spate", version, propagate_version = true)]
#[command(after_long_help = "\
Examples:
  spate run -p 4 -D execution.runtime-mode=BATCH ./target/release/wordcount --input words.txt
  spate run -m localhost:6123 ./target/release/wordcount --input words.txt --output counts
  spate list -m localhost:8081
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
    /// Start a JobManager: the cluster's coordinator (RPC on 6123, REST and dashboard on 8081).
    ///
    /// Unless security.cluster.secret is set, it generates the cluster secret and writes it to
    /// security.cluster.secret-file (default: $TMPDIR/spate-$USER/cluster-<rpc-port>.secret),
    /// where TaskManagers and clients on this machine find it.
    Jobmanager(cluster_cmd::JobManagerArgs),
    /// Start a TaskManager that offers its slots to a JobManager and runs job workers.
    Taskmanager(cluster_cmd::TaskManagerArgs),
    /// List the jobs of a cluster (through its REST API).
    List(cluster_cmd::ListArgs),
    /// Cancel a job on a cluster (through its REST API).
    Cancel(cluster_cmd::CancelArgs),
    /// Take a savepoint of a running streaming job (it needs state.checkpoints.dir).
    Savepoint(cluster_cmd::SavepointArgs),
    /// Stop a streaming job with a savepoint (`spate run --from-savepoint PATH` resumes it).
    Stop(cluster_cmd::StopArgs),
    /// Start a Spate cluster as a YARN application (a session), or kill one (--kill ID).
    ///
    /// Needs HADOOP_CONF_DIR. The JobManager runs in the ApplicationMaster's container, each
    /// TaskManager in a container of its own; the `spate` binary is shipped through HDFS. Once
    /// every TaskManager registered, it prints the application id and the REST address and
    /// writes them with the RPC address and the secret to ${TMPDIR:-/tmp}/.spate-yarn-properties-$USER
    /// (or $SPATE_YARN_PROPERTIES_FILE), which `spate run/list/cancel -t yarn-session` read.
    /// Attached (the default), Ctrl-C kills the application.
    YarnSession(yarn_session::YarnSessionArgs),
    /// The ApplicationMaster of a YARN session (started by yarn-session inside YARN).
    #[command(hide = true)]
    YarnAm(yarn_am::YarnAmArgs),
}

/// Log lines of the long-running commands go to standard error, at `RUST_LOG` (default info).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
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

/// Flink's multi-letter short options, spelled as long ones for clap: `-jm`/`-tm` of
/// `yarn-session`, and `-yid ID` before the job binary of `run`/`list`/`cancel`.
fn flink_style_args(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = args.collect();
    let command = args
        .get(1)
        .and_then(|a| a.to_str())
        .unwrap_or_default()
        .to_string();
    for i in 2..args.len() {
        let Some(arg) = args[i].to_str() else { continue };
        let next_is_app = args
            .get(i + 1)
            .and_then(|a| a.to_str())
            .is_some_and(|a| a.starts_with("application_"));
        let long = match (command.as_str(), arg) {
            ("yarn-session", "-jm") => "--jobmanager-memory",
            ("yarn-session", "-tm") => "--taskmanager-memory",
            ("run" | "list" | "cancel", "-yid") if next_is_app => "--application-id",
            _ => continue,
        };
        args[i] = long.into();
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(flink_style_args(std::env::args_os()));
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Config(cmd) => config_cmd::run(&cmd).map(|()| ExitCode::SUCCESS),
        Command::Jobmanager(args) => cluster_cmd::jobmanager(&args).map(|()| ExitCode::SUCCESS),
        Command::Taskmanager(args) => cluster_cmd::taskmanager(&args).map(|()| ExitCode::SUCCESS),
        Command::List(args) => cluster_cmd::list(&args).map(|()| ExitCode::SUCCESS),
        Command::Cancel(args) => cluster_cmd::cancel(&args).map(|()| ExitCode::SUCCESS),
        Command::Savepoint(args) => cluster_cmd::savepoint(&args).map(|()| ExitCode::SUCCESS),
        Command::Stop(args) => cluster_cmd::stop(&args).map(|()| ExitCode::SUCCESS),
        Command::YarnSession(args) => yarn_session::yarn_session(&args).map(|()| ExitCode::SUCCESS),
        Command::YarnAm(args) => yarn_am::yarn_am(&args).map(|()| ExitCode::SUCCESS),
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
