//! `spate run`: check the configuration, then run a job binary with it.

use crate::config_cmd::{self, ConfigArgs};
use crate::ExitStatusError;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use spate_common::config::{keys, Configuration, ENV_CONFIG_FILE, ENV_DYNAMIC_PROPERTIES};
use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus};

/// Exit status when the job binary cannot be started.
const EXIT_CANNOT_START: u8 = 2;

/// Arguments of `spate run` (its help text is on `Command::Run`).
#[derive(Debug, Args)]
#[command(after_long_help = "\
Options of spate come before the job binary; everything after it is passed to the job as is.

Examples:
  spate run ./wordcount --input words.txt --output counts
  spate run -p 4 -D execution.runtime-mode=BATCH -D execution.buffer-timeout=10ms ./wordcount
  spate run -c conf/config.yaml -Dparallelism.default=8 ./wordcount --input big.txt")]
pub(crate) struct RunArgs {
    /// Default parallelism of operators (sets parallelism.default, overriding -D and the file).
    #[arg(short = 'p', long, value_name = "N")]
    parallelism: Option<u64>,

    #[command(flatten)]
    config: ConfigArgs,

    /// Submit to the cluster whose JobManager RPC endpoint is HOST:PORT (e.g. localhost:6123)
    /// instead of running embedded: the job binary is uploaded with the job, and spate waits for
    /// the job and exits 0 only if it finished.
    #[arg(
        short = 'm',
        long = "jobmanager",
        value_name = "HOST:PORT",
        conflicts_with = "target"
    )]
    jobmanager: Option<String>,

    /// Where to run: `local` (embedded, the default without -m), `remote` (with -m),
    /// `yarn-session`: submit to the YARN session of the properties file that `spate
    /// yarn-session` wrote, with its JobManager address and secret, or `yarn-per-job`: start a
    /// YARN application for this job alone (as many TaskManagers as its slots need, on the hosts
    /// of its input first; taskmanager.numberOfTaskSlots each), which ends with the job's status.
    #[arg(short = 't', long = "target", value_name = "TARGET", value_parser = ["local", "remote", "yarn-session", "yarn-per-job"])]
    target: Option<String>,

    /// With -t yarn-session: the session's application id (also -yid), checked against the
    /// properties file; implies -t yarn-session.
    #[arg(long = "application-id", value_name = "ID")]
    application_id: Option<String>,

    /// With -m: return once the job is submitted, printing its id.
    #[arg(short = 'd', long)]
    detached: bool,

    /// Start the (streaming) job from this savepoint or checkpoint directory (sets
    /// execution.savepoint.path); keyed state is redistributed if the parallelism changed.
    #[arg(short = 's', long = "from-savepoint", value_name = "PATH")]
    from_savepoint: Option<String>,

    /// With --from-savepoint: skip state of operators the job no longer has.
    #[arg(long = "allow-non-restored-state", requires = "from_savepoint")]
    allow_non_restored_state: bool,

    /// The job binary (a program linked with Spate; found on PATH if it has no `/`), then its
    /// arguments, passed through verbatim (even ones that look like options of spate).
    #[arg(
        value_name = "JOB_BINARY [ARGS]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    command: Vec<OsString>,
}

impl RunArgs {
    /// The job binary and its arguments.
    fn job(&self) -> (&Path, &[OsString]) {
        match self.command.split_first() {
            Some((job, rest)) => (Path::new(job), rest),
            // clap requires at least one value.
            None => (Path::new(""), &[]),
        }
    }
}

pub(crate) fn run(args: &RunArgs) -> Result<ExitCode> {
    let config_cmd::Effective { mut conf, file } = config_cmd::load(&args.config)?;
    if let Some(p) = args.parallelism {
        conf.set(&keys::PARALLELISM_DEFAULT, p)
            .context("-p/--parallelism")?;
    }
    if let Some(path) = &args.from_savepoint {
        conf.set(&keys::SAVEPOINT_PATH, path)
            .context("--from-savepoint")?;
        if args.allow_non_restored_state {
            conf.set(&keys::SAVEPOINT_IGNORE_UNCLAIMED, true)
                .context("--allow-non-restored-state")?;
        }
    }
    // SPATE_DYNAMIC_PROPERTIES holds one `key=value` per line, so a value cannot span lines.
    if let Some((key, _)) = conf.iter().find(|(_, v)| v.contains(['\n', '\r'])) {
        bail!(
            "the value of configuration key '{key}' contains a line break, which cannot be passed to the job"
        );
    }

    let (job, job_args) = args.job();
    let mut command = Command::new(job);
    command
        .args(job_args)
        .env(ENV_DYNAMIC_PROPERTIES, conf.to_properties());
    let mut per_job = None;
    if args.target.as_deref() == Some("yarn-per-job") {
        let deployed = deploy_per_job(&conf, args)?;
        submit_env(
            &mut command,
            &conf,
            &deployed.props.rpc,
            Some(&deployed.props.secret),
            args,
        )?;
        per_job = Some(deployed);
    } else if args.target.as_deref() == Some("yarn-session") || args.application_id.is_some() {
        let session = crate::yarn_session::SessionProperties::load(args.application_id.as_deref())?;
        submit_env(&mut command, &conf, &session.rpc, Some(&session.secret), args)?;
    } else if let Some(jm) = &args.jobmanager {
        submit_env(&mut command, &conf, jm, None, args)?;
    } else if args.target.as_deref() == Some("remote") {
        bail!("-t remote needs the JobManager's address (-m HOST:PORT)");
    } else if args.detached {
        bail!("--detached needs a cluster to submit to (-m HOST:PORT or -t yarn-session)");
    }
    match &file {
        Some(path) => command.env(ENV_CONFIG_FILE, path),
        None => command.env_remove(ENV_CONFIG_FILE),
    };
    let status = command
        .spawn()
        .map_err(|e| cannot_start(args, &e))
        .and_then(|mut child| {
            child
                .wait()
                .with_context(|| format!("waiting for job binary '{}'", args.job().0.display()))
        });
    if let Some(deployed) = per_job {
        let recovered = finish_per_job(&deployed, status.as_ref().ok(), args.detached);
        if let Some(final_status) = recovered {
            // The job binary lost the first ApplicationMaster; a later attempt ran the job.
            return Ok(if final_status == spate_yarn::FinalStatus::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
    }
    Ok(exit_code(args, status?))
}

/// `-t yarn-per-job`: a YARN application whose ApplicationMaster starts the TaskManagers the job
/// needs once it is submitted (its slots, on the hosts of its input).
fn deploy_per_job(conf: &Configuration, args: &RunArgs) -> Result<crate::yarn_session::Deployed> {
    // A job binary that cannot start fails here, before an application is submitted.
    job_binary(args)?;
    let slots = conf.get_opt(&keys::TASK_SLOTS).unwrap_or(1).max(1);
    let shape = crate::yarn_session::Shape {
        taskmanagers: 0,
        slots: u32::try_from(slots).unwrap_or(u32::MAX),
        per_job: true,
    };
    let mut conf = conf.clone();
    let name = keys::YARN_APPLICATION_NAME.spec.name;
    if !conf.iter().any(|(k, _)| k == name) {
        let job = args.job().0.file_name().map(|n| n.to_string_lossy().into_owned());
        conf.set(
            &keys::YARN_APPLICATION_NAME,
            format!("Spate per-job: {}", job.unwrap_or_default()),
        )?;
    }
    let deployed = crate::yarn_session::deploy(&conf, &shape)?;
    eprintln!(
        "YARN application {} runs the job's cluster (started in {:.1}s); JobManager REST and dashboard at http://{}/",
        deployed.app,
        deployed.started.elapsed().as_secs_f64(),
        deployed.props.rest
    );
    Ok(deployed)
}

/// After the job binary of `-t yarn-per-job` returned: wait for the application to end with the
/// job (killing it if the job never ran) and remove its staged files; detached, leave it running.
/// When the job binary failed because the ApplicationMaster died and YARN started another
/// attempt (which runs the job again), the application's final status.
fn finish_per_job(
    d: &crate::yarn_session::Deployed,
    status: Option<&ExitStatus>,
    detached: bool,
) -> Option<spate_yarn::FinalStatus> {
    let submitted = status.is_some_and(|s| s.success());
    if detached && submitted {
        eprintln!(
            "YARN application {} ends when the job ends (spate yarn-session --kill {} stops it earlier).",
            d.app, d.app
        );
        return None;
    }
    if !submitted && d.attempts > 1 && crate::cluster_cmd::http(&d.props.rest, "GET", "/overview").is_err() {
        if let Some(r) = follow_next_attempt(d) {
            let _ = spate_yarn::remove_staging_dir(d.yarn.hadoop(), &d.user, d.app);
            return Some(r);
        }
    }
    // A job binary that failed before submitting leaves the JobManager without a job; a
    // JobManager that is gone means the application is ending (e.g. it could not get the job's
    // containers).
    let overview = crate::cluster_cmd::http(&d.props.rest, "GET", "/jobs/overview");
    let has_job = submitted || overview.as_ref().is_ok_and(|(_, body)| body.contains("\"jid\""));
    let wait = std::time::Duration::from_secs(if has_job || overview.is_err() { 60 } else { 0 });
    match d.rm.wait_for_report(d.app, wait, |r| r.state.is_terminal()) {
        Ok(r) => eprintln!(
            "YARN application {} ended {:?}: {}",
            d.app, r.final_status, r.diagnostics
        ),
        Err(_) => {
            let _ =
                d.rm.force_kill_application(d.app, Some("the job was not submitted"));
            let _ =
                d.rm.wait_for_report(d.app, std::time::Duration::from_secs(30), |r| {
                    r.state.is_terminal()
                });
            eprintln!("YARN application {} killed: the job was not submitted", d.app);
        }
    }
    let _ = spate_yarn::remove_staging_dir(d.yarn.hadoop(), &d.user, d.app);
    None
}

/// The JobManager is gone: if YARN starts another ApplicationMaster attempt, it runs the job
/// again; waits for the application's end and returns its final status.
fn follow_next_attempt(d: &crate::yarn_session::Deployed) -> Option<spate_yarn::FinalStatus> {
    use std::time::{Duration, Instant};
    // YARN notices the dead AM container within seconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = d.rm.get_application_report(d.app).ok()?;
        if r.state.is_terminal() || r.current_attempt.is_some_and(|a| a.attempt > 1) {
            break;
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "The ApplicationMaster of {} was lost; YARN's next attempt runs the job again.",
        d.app
    );
    let r =
        d.rm.wait_for_report(d.app, Duration::from_secs(24 * 3600), |r| r.state.is_terminal())
            .ok()?;
    eprintln!(
        "YARN application {} ended {:?}: {}",
        d.app, r.final_status, r.diagnostics
    );
    Some(r.final_status)
}

/// Makes the job binary submit itself to the JobManager at `jm` (see `spate_cluster::role`).
/// `secret` (hex) when the cluster's secret is known, else it is loaded as for `-m`.
fn submit_env(
    command: &mut Command,
    conf: &Configuration,
    jm: &str,
    secret: Option<&str>,
    args: &RunArgs,
) -> Result<()> {
    use spate_cluster::role;
    let port = jm
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .ok_or_else(|| anyhow::anyhow!("-m '{jm}': expected HOST:PORT of the JobManager's RPC endpoint"))?;
    let secret = match secret {
        Some(hex) => spate_cluster::net::Secret::from_hex(hex)
            .map_err(|e| anyhow::anyhow!("the YARN session's secret: {e}"))?,
        None => spate_cluster::auth::load_secret(conf, port)?,
    };
    let binary = job_binary(args)?;
    command
        .env(role::ENV_ROLE, "submit")
        .env(role::ENV_JOBMANAGER, jm)
        .env(role::ENV_SECRET, secret.to_hex())
        .env(role::ENV_JOB_BINARY, binary)
        .env(role::ENV_DETACHED, if args.detached { "1" } else { "0" });
    Ok(())
}

/// The job binary's absolute path (found on PATH if it has no `/`).
fn job_binary(args: &RunArgs) -> Result<std::path::PathBuf> {
    let job = args.job().0;
    if job.components().count() > 1 {
        Ok(std::fs::canonicalize(job).map_err(|e| cannot_start(args, &e))?)
    } else {
        find_on_path(job)
            .ok_or_else(|| cannot_start(args, &std::io::Error::new(ErrorKind::NotFound, "not on PATH")))
    }
}

fn find_on_path(name: &Path) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn cannot_start(args: &RunArgs, e: &std::io::Error) -> anyhow::Error {
    let path = args.job().0.display();
    let message = match e.kind() {
        ErrorKind::NotFound => format!("job binary '{path}' not found"),
        ErrorKind::PermissionDenied => format!("job binary '{path}' is not executable"),
        _ => format!("cannot start job binary '{path}': {e}"),
    };
    ExitStatusError {
        code: EXIT_CANNOT_START,
        message,
    }
    .into()
}

/// The child's exit code, or 128 + the signal that killed it (reported on stderr).
fn exit_code(args: &RunArgs, status: ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            let core = if status.core_dumped() {
                " (core dumped)"
            } else {
                ""
            };
            eprintln!(
                "error: job binary '{}' was killed by signal {signal}{}{core}",
                args.job().0.display(),
                signal_name(signal).map(|n| format!(" ({n})")).unwrap_or_default()
            );
            return ExitCode::from(u8::try_from(128 + signal).unwrap_or(u8::MAX));
        }
    }
    eprintln!(
        "error: job binary '{}' ended with {status}",
        args.job().0.display()
    );
    ExitCode::FAILURE
}

#[cfg(unix)]
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}
