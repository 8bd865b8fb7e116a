//! `spate yarn-session`: a Spate cluster inside a YARN application, and the properties file
//! through which `spate run/list/cancel -t yarn-session` find it.
//!
//! The client generates the cluster secret, stages the `spate` binary (and the effective
//! configuration) in HDFS, submits `./spate yarn-am` as the ApplicationMaster (see
//! [`crate::yarn_am`]) with the secret in its environment, waits until the AM registered and all
//! TaskManagers offered their slots (REST `/overview`), then writes the properties file
//! (`${TMPDIR:-/tmp}/.spate-yarn-properties-<user>`, mode 0600, or `$SPATE_YARN_PROPERTIES_FILE`).

use crate::cluster_cmd::http;
use crate::config_cmd::{self, to_yaml, ConfigArgs};
use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use spate_cluster::net::Secret;
use spate_cluster::rest::model::Overview;
use spate_cluster::role;
use spate_common::config::{keys, Configuration};
use spate_hadoop_ipc::namenode::current_user;
use spate_yarn::{
    remove_staging_dir, ApplicationId, ApplicationReport, ApplicationState, ApplicationSubmission,
    ClientRmClient, ContainerLaunchContext, LocalResource, Resource, Staging, YarnConf,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The AM's environment variable listing the staged files (`name|url|size|timestamp;…`).
pub(crate) const ENV_RESOURCES: &str = "SPATE_YARN_RESOURCES";
/// Overrides the properties file's path.
pub(crate) const ENV_PROPERTIES_FILE: &str = "SPATE_YARN_PROPERTIES_FILE";
/// Link name of the staged configuration.
pub(crate) const CONF_RESOURCE: &str = "spate-conf.yaml";
/// Link name of the staged `spate` binary.
const BINARY_RESOURCE: &str = "spate";
const POLL: Duration = Duration::from_millis(250);

/// Arguments of `spate yarn-session`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Examples:
  spate yarn-session -n 4 -s 2 -tm 2048 --detached
  spate run -t yarn-session -p 8 ./wordcount --input hdfs:///words --output hdfs:///counts
  spate list -t yarn-session
  spate yarn-session --kill application_1700000000000_0001")]
pub(crate) struct YarnSessionArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// TaskManagers (YARN containers) to keep running at least; more are started while jobs need
    /// their slots, on the hosts of their input, and released after
    /// resourcemanager.taskmanager-timeout idle (default: none kept).
    #[arg(short = 'n', long = "taskmanagers", value_name = "N")]
    taskmanagers: Option<u32>,
    /// Task slots of each TaskManager (sets taskmanager.numberOfTaskSlots).
    #[arg(short = 's', long = "slots", value_name = "N", default_value_t = 1)]
    slots: u32,
    /// Memory of the JobManager's container: MB, or a size such as 1g (also -jm; sets
    /// jobmanager.memory.process.size).
    #[arg(long = "jobmanager-memory", value_name = "MB")]
    jobmanager_memory: Option<String>,
    /// Memory of each TaskManager's container: MB, or a size such as 2g (also -tm; sets
    /// taskmanager.memory.process.size).
    #[arg(long = "taskmanager-memory", value_name = "MB")]
    taskmanager_memory: Option<String>,
    /// Name of the YARN application (sets yarn.application.name).
    #[arg(long = "name", value_name = "NAME")]
    name: Option<String>,
    /// YARN queue (sets yarn.application.queue).
    #[arg(short = 'q', long = "queue", value_name = "QUEUE")]
    queue: Option<String>,
    /// Return once the session runs instead of staying until Ctrl-C (which kills it).
    #[arg(short = 'd', long)]
    detached: bool,
    /// Kill the session with this application id, remove its staged files and properties file.
    #[arg(long, value_name = "APPLICATION_ID")]
    kill: Option<String>,
}

/// What the properties file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionProperties {
    pub(crate) application_id: String,
    /// The JobManager's RPC `host:port`.
    pub(crate) rpc: String,
    /// The JobManager's REST `host:port`.
    pub(crate) rest: String,
    /// The cluster secret, hex.
    pub(crate) secret: String,
}

/// The properties file of this user.
pub(crate) fn properties_file() -> PathBuf {
    if let Some(p) = std::env::var_os(ENV_PROPERTIES_FILE).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let tmp = std::env::var_os("TMPDIR")
        .filter(|t| !t.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    tmp.join(format!(".spate-yarn-properties-{}", current_user()))
}

impl SessionProperties {
    fn to_text(&self) -> String {
        format!(
            "# spate yarn-session\napplication-id={}\njobmanager.rpc.address={}\nrest.address={}\n{}={}\n",
            self.application_id,
            self.rpc,
            self.rest,
            keys::CLUSTER_SECRET.spec.name,
            self.secret
        )
    }

    fn parse(text: &str) -> Option<Self> {
        let map: BTreeMap<&str, &str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        Some(SessionProperties {
            application_id: map.get("application-id")?.to_string(),
            rpc: map.get("jobmanager.rpc.address")?.to_string(),
            rest: map.get("rest.address")?.to_string(),
            secret: map.get(keys::CLUSTER_SECRET.spec.name)?.to_string(),
        })
    }

    /// The session of the properties file, which must be `application` when given.
    pub(crate) fn load(application: Option<&str>) -> Result<Self> {
        let file = properties_file();
        let text = std::fs::read_to_string(&file).map_err(|e| {
            anyhow!(
                "no YARN session found: cannot read {} ({e}); start one with `spate yarn-session`",
                file.display()
            )
        })?;
        let props = Self::parse(&text)
            .ok_or_else(|| anyhow!("{} is not a spate yarn-session properties file", file.display()))?;
        if let Some(app) = application {
            if app != props.application_id {
                bail!(
                    "{} describes session {}, not {app}; only the session started last from this machine can be used",
                    file.display(),
                    props.application_id
                );
            }
        }
        props.follow_attempts()
    }

    /// A session whose JobManager does not answer may run in a new ApplicationMaster attempt
    /// (`yarn.application-attempts`): its addresses are then the ResourceManager's report of the
    /// application (waiting while the attempt starts), and the properties file is updated.
    fn follow_attempts(mut self) -> Result<Self> {
        if crate::cluster_cmd::http(&self.rest, "GET", "/overview").is_ok() {
            return Ok(self);
        }
        let Ok(app) = self.application_id.parse::<ApplicationId>() else {
            return Ok(self);
        };
        let Ok(rm) = yarn_conf().and_then(|c| connect(&c)) else {
            return Ok(self);
        };
        let deadline = Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let r = rm.get_application_report(app).map_err(|e| {
                anyhow!(
                    "the session's JobManager does not answer at {}, and YARN does not report {app}: {e}",
                    self.rest
                )
            })?;
            if r.state.is_terminal() {
                bail!(
                    "YARN session {app} ended {:?}/{:?}: {}",
                    r.state,
                    r.final_status,
                    r.diagnostics.trim()
                );
            }
            let rest = r
                .original_tracking_url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string();
            if r.state == ApplicationState::Running
                && r.rpc_port > 0
                && !rest.is_empty()
                && crate::cluster_cmd::http(&rest, "GET", "/overview").is_ok()
            {
                let rpc = format!("{}:{}", r.host, r.rpc_port);
                if rpc != self.rpc || rest != self.rest {
                    eprintln!("The JobManager of session {app} moved to {rpc} (a new ApplicationMaster attempt); REST at http://{rest}/");
                    self.rpc = rpc;
                    self.rest = rest;
                    if let Err(e) = self.write() {
                        eprintln!("warning: {e:#}");
                    }
                }
                return Ok(self);
            }
            if Instant::now() > deadline {
                bail!(
                    "the JobManager of YARN session {app} does not answer at {} and no new attempt is running ({:?})",
                    self.rest,
                    r.state
                );
            }
            std::thread::sleep(POLL);
        }
    }

    fn write(&self) -> Result<PathBuf> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let file = properties_file();
        let _ = std::fs::remove_file(&file);
        let mut f = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        f.write_all(self.to_text().as_bytes())?;
        Ok(file)
    }
}

/// Encodes staged files for the AM's environment.
fn encode_resources(resources: &BTreeMap<String, LocalResource>) -> String {
    resources
        .iter()
        .map(|(name, r)| {
            format!(
                "{name}|{}://{}:{}{}|{}|{}",
                r.url.scheme, r.url.host, r.url.port, r.url.file, r.size, r.timestamp
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The inverse of [`encode_resources`].
pub(crate) fn decode_resources(text: &str) -> Result<BTreeMap<String, LocalResource>> {
    let mut out = BTreeMap::new();
    for entry in text.split(';').filter(|e| !e.is_empty()) {
        let bad = || anyhow!("{ENV_RESOURCES}: malformed entry '{entry}'");
        let f: Vec<&str> = entry.split('|').collect();
        let [name, url, size, timestamp] = f[..] else {
            return Err(bad());
        };
        let rest = url.strip_prefix("hdfs://").ok_or_else(bad)?;
        let (authority, path) = rest.find('/').map(|i| rest.split_at(i)).ok_or_else(bad)?;
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        let resource = LocalResource::hdfs_file(
            host,
            port.parse().map_err(|_| bad())?,
            path,
            size.parse().map_err(|_| bad())?,
            timestamp.parse().map_err(|_| bad())?,
        );
        out.insert(name.to_string(), resource);
    }
    Ok(out)
}

/// `MB` or a memory size (`1g`, `1536mb`) as MB.
fn memory_mb(text: &str) -> Result<u64> {
    if text.chars().all(|c| c.is_ascii_digit()) {
        return text.parse().map_err(|_| anyhow!("'{text}' is not a memory size"));
    }
    let mut conf = Configuration::default();
    conf.set_str(keys::TASKMANAGER_MEMORY_PROCESS_SIZE.spec.name, text)
        .map_err(|_| anyhow!("'{text}' is not a memory size (e.g. 1024, 1g, 1536mb)"))?;
    Ok(conf.get(&keys::TASKMANAGER_MEMORY_PROCESS_SIZE).0 >> 20)
}

fn yarn_conf() -> Result<YarnConf> {
    if std::env::var_os("HADOOP_CONF_DIR").is_none() {
        bail!("HADOOP_CONF_DIR is not set: point it at the directory with the cluster's yarn-site.xml and core-site.xml");
    }
    YarnConf::from_env().map_err(|e| anyhow!("cannot read the Hadoop configuration: {e}"))
}

fn connect(conf: &YarnConf) -> Result<ClientRmClient> {
    let addr = conf.rm_address().map_err(|e| anyhow!("{e}"))?;
    ClientRmClient::from_conf(conf, &current_user())
        .map_err(|e| anyhow!("cannot reach the YARN ResourceManager at {addr}: {e}"))
}

pub(crate) fn yarn_session(args: &YarnSessionArgs) -> Result<()> {
    if let Some(app) = &args.kill {
        return kill(app);
    }
    let mut conf = config_cmd::load(&args.config)?.conf;
    if args.slots == 0 {
        bail!("-s must be at least 1");
    }
    conf.set(&keys::TASK_SLOTS, args.slots)?;
    if let Some(m) = &args.jobmanager_memory {
        conf.set(
            &keys::JOBMANAGER_MEMORY_PROCESS_SIZE,
            format!("{}mb", memory_mb(m)?),
        )?;
    }
    if let Some(m) = &args.taskmanager_memory {
        conf.set(
            &keys::TASKMANAGER_MEMORY_PROCESS_SIZE,
            format!("{}mb", memory_mb(m)?),
        )?;
    }
    if let Some(n) = &args.name {
        conf.set(&keys::YARN_APPLICATION_NAME, n)?;
    }
    if let Some(q) = &args.queue {
        conf.set(&keys::YARN_APPLICATION_QUEUE, q)?;
    }
    let Deployed {
        yarn,
        rm,
        user,
        app,
        props,
        started,
        ..
    } = deploy(
        &conf,
        &Shape {
            taskmanagers: args.taskmanagers.unwrap_or(0),
            slots: args.slots,
            per_job: false,
        },
    )?;
    let file = props.write()?;
    println!("YARN application {app} runs a Spate session.");
    println!(
        "JobManager RPC at {}, REST and dashboard at http://{}/",
        props.rpc, props.rest
    );
    println!(
        "Started in {:.1}s; properties in {}.",
        started.elapsed().as_secs_f64(),
        file.display()
    );
    if args.detached {
        println!("Stop it with: spate yarn-session --kill {app}");
        return Ok(());
    }
    println!("Press Ctrl-C to stop the session.");
    let ended = wait_attached(&rm, app)?;
    match ended {
        Some(report) => {
            println!(
                "The session ended: {:?} {:?}: {}",
                report.state, report.final_status, report.diagnostics
            );
        }
        None => {
            let _ = rm.force_kill_application(app, Some("stopped by spate yarn-session"));
            let _ = rm.wait_for_report(app, Duration::from_secs(30), |r| r.state.is_terminal());
            println!("Killed {app}.");
        }
    }
    let _ = remove_staging_dir(yarn.hadoop(), &user, app);
    remove_properties(&app.to_string());
    Ok(())
}

/// What to deploy.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub(crate) taskmanagers: u32,
    pub(crate) slots: u32,
    /// The AM ends the application when its first job ends, with the job's status.
    pub(crate) per_job: bool,
}

/// A running session.
pub(crate) struct Deployed {
    pub(crate) yarn: YarnConf,
    pub(crate) rm: ClientRmClient,
    pub(crate) user: String,
    pub(crate) app: ApplicationId,
    pub(crate) props: SessionProperties,
    pub(crate) started: Instant,
    /// `yarn.application-attempts`.
    pub(crate) attempts: u64,
}

/// Submits the ApplicationMaster and waits until it runs with all its TaskManagers; on failure
/// the application is killed and its staged files removed.
pub(crate) fn deploy(conf: &Configuration, shape: &Shape) -> Result<Deployed> {
    let started = Instant::now();
    let yarn = yarn_conf()?;
    let rm = connect(&yarn)?;
    let user = current_user();
    let new_app = rm
        .get_new_application()
        .map_err(|e| anyhow!("cannot reach the YARN ResourceManager at {}: {e}", rm.addr()))?;
    let app = new_app.id;
    let max = new_app.max_capability;
    for (key, what) in [
        (&keys::JOBMANAGER_MEMORY_PROCESS_SIZE, "JobManager (-jm)"),
        (&keys::TASKMANAGER_MEMORY_PROCESS_SIZE, "TaskManager (-tm)"),
    ] {
        let mb = conf.get(key).0 >> 20;
        if max.memory_mb > 0 && i64::try_from(mb).unwrap_or(i64::MAX) > max.memory_mb {
            bail!(
                "the {what} container's {mb} MB ({}) exceed YARN's largest container, {} MB",
                key.spec.name,
                max.memory_mb
            );
        }
    }
    let vcores = conf.get(&keys::YARN_CONTAINERS_VCORES);
    if max.vcores > 0 && i64::try_from(vcores).unwrap_or(i64::MAX) > i64::from(max.vcores) {
        bail!(
            "{} = {vcores} exceeds YARN's largest container, {} vcores",
            keys::YARN_CONTAINERS_VCORES.spec.name,
            max.vcores
        );
    }
    let secret = Secret::generate().to_hex();
    let result = start(&yarn, &rm, &user, app, conf, shape, &secret, started);
    let props = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = rm.force_kill_application(app, Some("spate yarn-session failed to start"));
            let _ = remove_staging_dir(yarn.hadoop(), &user, app);
            return Err(e);
        }
    };
    Ok(Deployed {
        yarn,
        rm,
        user,
        app,
        props,
        started,
        attempts: conf.get(&keys::YARN_APPLICATION_ATTEMPTS),
    })
}

/// Stages, submits and waits until the session runs with all its TaskManagers.
#[allow(clippy::too_many_arguments)]
fn start(
    yarn: &YarnConf,
    rm: &ClientRmClient,
    user: &str,
    app: ApplicationId,
    conf: &Configuration,
    shape: &Shape,
    secret: &str,
    started: Instant,
) -> Result<SessionProperties> {
    let queue = conf.get(&keys::YARN_APPLICATION_QUEUE);
    // Fail before staging anything when the queue does not exist.
    rm.get_queue_info(&queue).map_err(|e| anyhow!("{e}"))?;
    let staging =
        Staging::create(yarn.hadoop(), user, app).map_err(|e| anyhow!("cannot stage in HDFS: {e}"))?;
    let exe = std::env::current_exe().context("cannot find the spate binary")?;
    let mut resources = BTreeMap::new();
    resources.insert(
        BINARY_RESOURCE.to_string(),
        staging
            .upload(&exe, BINARY_RESOURCE)
            .map_err(|e| anyhow!("cannot stage {}: {e}", exe.display()))?,
    );
    let mut shipped = Configuration::default();
    for (k, v) in conf.iter().filter(|(k, _)| *k != keys::CLUSTER_SECRET.spec.name) {
        shipped.set_str(k, v)?;
    }
    if shipped.iter().next().is_some() {
        resources.insert(
            CONF_RESOURCE.to_string(),
            staging
                .upload_bytes(to_yaml(&shipped).as_bytes(), CONF_RESOURCE)
                .map_err(|e| anyhow!("cannot stage the configuration: {e}"))?,
        );
    }
    let attempts = conf.get(&keys::YARN_APPLICATION_ATTEMPTS);
    let tm_mb = conf.get(&keys::TASKMANAGER_MEMORY_PROCESS_SIZE).0 >> 20;
    let jm_mb = conf.get(&keys::JOBMANAGER_MEMORY_PROCESS_SIZE).0 >> 20;
    let mut commands: Vec<String> = vec![
        format!("./{BINARY_RESOURCE}"),
        "yarn-am".into(),
        "-n".into(),
        shape.taskmanagers.to_string(),
        "-s".into(),
        shape.slots.to_string(),
        "--tm-memory".into(),
        tm_mb.to_string(),
        "--tm-vcores".into(),
        conf.get(&keys::YARN_CONTAINERS_VCORES).to_string(),
    ];
    if resources.contains_key(CONF_RESOURCE) {
        commands.extend(["-c".into(), CONF_RESOURCE.into()]);
    }
    if shape.per_job {
        commands.push("--per-job".into());
    }
    commands.extend([
        "1><LOG_DIR>/jobmanager.out".into(),
        "2><LOG_DIR>/jobmanager.log".into(),
    ]);
    let mut environment = BTreeMap::new();
    environment.insert(role::ENV_SECRET.to_string(), secret.to_string());
    environment.insert(ENV_RESOURCES.to_string(), encode_resources(&resources));
    if let Ok(addr) = yarn.scheduler_address() {
        environment.insert(spate_yarn::amrm_client::SCHEDULER_ADDRESS_ENV.to_string(), addr);
    }
    if let Ok(filter) = std::env::var("RUST_LOG") {
        environment.insert("RUST_LOG".into(), filter);
    }
    let launch = ContainerLaunchContext {
        commands,
        environment,
        local_resources: resources,
        tokens: None,
    };
    let mut submission = ApplicationSubmission::new(
        app,
        &conf.get(&keys::YARN_APPLICATION_NAME),
        launch,
        Resource::new(i64::try_from(jm_mb).unwrap_or(i64::MAX), 1),
    );
    submission.queue = queue.clone();
    submission.max_app_attempts = Some(i32::try_from(attempts).unwrap_or(i32::MAX));
    // A new attempt takes over the TaskManagers (they find its JobManager through the staging
    // directory, see yarn_am).
    submission.keep_containers_across_attempts = attempts > 1;
    rm.submit_application(&submission).map_err(|e| anyhow!("{e}"))?;
    if shape.taskmanagers > 0 {
        eprintln!(
            "Submitted {app}; waiting for the JobManager and {} TaskManagers.",
            shape.taskmanagers
        );
    } else {
        eprintln!("Submitted {app}; waiting for the JobManager.");
    }

    let timeout = conf.get(&keys::YARN_APPLICATION_START_TIMEOUT);
    let deadline = started + timeout;
    let timed_out = |what: &str, report: &ApplicationReport, need: Need| {
        let diagnostics = report.diagnostics.trim();
        let diagnostics = if diagnostics.is_empty() {
            String::new()
        } else {
            format!(": {}", diagnostics.replace('\n', " "))
        };
        anyhow!(
            "timed out after {:.0}s waiting for {what} (application {app} is {:?}{diagnostics}); {}; free resources in the queue or raise {}",
            timeout.as_secs_f64(),
            report.state,
            shortfall(rm, &queue, need),
            keys::YARN_APPLICATION_START_TIMEOUT.spec.name
        )
    };
    let tm_need = Need {
        containers: shape.taskmanagers,
        memory_mb: tm_mb,
        vcores: conf.get(&keys::YARN_CONTAINERS_VCORES),
        what: "TaskManager",
    };
    let am_need = Need {
        containers: 1,
        memory_mb: jm_mb,
        vcores: 1,
        what: "ApplicationMaster",
    };
    let ended = |r: &ApplicationReport| {
        anyhow!(
            "application {app} ended {:?}/{:?} before the session ran: {} (logs: yarn logs -applicationId {app})",
            r.state,
            r.final_status,
            r.diagnostics
        )
    };
    let report = loop {
        let r = rm.get_application_report(app).map_err(|e| anyhow!("{e}"))?;
        if r.state.is_terminal() {
            return Err(ended(&r));
        }
        if r.state == ApplicationState::Running && r.rpc_port > 0 && !r.original_tracking_url.is_empty() {
            break r;
        }
        if Instant::now() > deadline {
            return Err(timed_out("YARN to start the ApplicationMaster", &r, am_need));
        }
        std::thread::sleep(POLL);
    };
    let rest = report
        .original_tracking_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let props = SessionProperties {
        application_id: app.to_string(),
        rpc: format!("{}:{}", report.host, report.rpc_port),
        rest,
        secret: secret.to_string(),
    };
    let mut registered = 0;
    loop {
        if let Ok((200, body)) = http(&props.rest, "GET", "/overview") {
            if let Ok(o) = serde_json::from_str::<Overview>(&body) {
                if o.taskmanagers >= shape.taskmanagers {
                    return Ok(props);
                }
                registered = o.taskmanagers;
            }
        }
        let r = rm.get_application_report(app).map_err(|e| anyhow!("{e}"))?;
        if r.state.is_terminal() {
            return Err(ended(&r));
        }
        if Instant::now() > deadline {
            let need = Need {
                containers: shape.taskmanagers.saturating_sub(registered),
                ..tm_need
            };
            return Err(timed_out(
                &format!(
                    "the TaskManagers to register ({registered} of {})",
                    shape.taskmanagers
                ),
                &r,
                need,
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// Containers a client waits for.
#[derive(Debug, Clone, Copy)]
struct Need {
    containers: u32,
    memory_mb: u64,
    vcores: u64,
    what: &'static str,
}

/// What YARN lacks for `need`: the resources asked for against those free on the running nodes
/// (in all, and on the emptiest node, since a container must fit on one) and the queue's use.
fn shortfall(rm: &ClientRmClient, queue: &str, need: Need) -> String {
    let mut text = format!(
        "it needs {} more {} container(s) of {} MB and {} vcore(s)",
        need.containers, need.what, need.memory_mb, need.vcores
    );
    if let Ok(nodes) = rm.get_cluster_nodes(&[spate_yarn::NodeState::Running]) {
        let free = |n: &spate_yarn::NodeReport| {
            (
                (n.capability.memory_mb - n.used.memory_mb).max(0),
                (n.capability.vcores - n.used.vcores).max(0),
            )
        };
        let (memory, vcores) = nodes
            .iter()
            .map(free)
            .fold((0, 0), |(m, v), (a, b)| (m + a, v + b));
        let fits = nodes
            .iter()
            .map(|n| {
                let (m, v) = free(n);
                (u64::try_from(m).unwrap_or(0) / need.memory_mb.max(1))
                    .min(u64::try_from(v).unwrap_or(0) / need.vcores.max(1))
            })
            .sum::<u64>();
        let containers = u64::from(need.containers);
        let short_memory = u64::try_from(memory).unwrap_or(0) < need.memory_mb * containers;
        let short_vcores = u64::try_from(vcores).unwrap_or(0) < need.vcores * containers;
        let missing = if fits >= containers {
            "the nodes have room, so the queue's limits (capacity, ApplicationMaster share) hold it back"
        } else {
            match (short_memory, short_vcores) {
                (true, true) => "missing memory and vcores",
                (true, false) => "missing memory",
                (false, true) => "missing vcores",
                (false, false) => "missing room on single nodes",
            }
        };
        text.push_str(&format!(
            "; {} running node(s) have {memory} MB and {vcores} vcores free, room for {fits} such container(s): {missing}",
            nodes.len()
        ));
    }
    if let Ok(q) = rm.get_queue_info(queue) {
        text.push_str(&format!(
            "; queue '{}' uses {:.0}% of its capacity (maximum {:.0}%)",
            q.name,
            q.current_capacity * 100.0,
            q.maximum_capacity * 100.0
        ));
    }
    text
}

/// Waits for Ctrl-C/SIGTERM (`None`) or the application's end (its report).
fn wait_attached(rm: &ClientRmClient, app: ApplicationId) -> Result<Option<ApplicationReport>> {
    let rt = crate::cluster_cmd::runtime()?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    rt.spawn(async move {
        crate::cluster_cmd::ctrl_c().await;
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    loop {
        for _ in 0..20 {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Ok(r) = rm.get_application_report(app) {
            if r.state.is_terminal() {
                return Ok(Some(r));
            }
        }
    }
}

pub(crate) fn remove_properties(app: &str) {
    let file = properties_file();
    if let Ok(text) = std::fs::read_to_string(&file) {
        if SessionProperties::parse(&text).is_some_and(|p| p.application_id == app) {
            let _ = std::fs::remove_file(&file);
        }
    }
}

/// `spate yarn-session --kill ID`.
fn kill(app: &str) -> Result<()> {
    let id: ApplicationId = app
        .parse()
        .map_err(|_| anyhow!("'{app}' is not a YARN application id"))?;
    let yarn = yarn_conf()?;
    let rm = connect(&yarn)?;
    let report = rm.get_application_report(id).map_err(|e| anyhow!("{e}"))?;
    if !report.state.is_terminal() {
        rm.force_kill_application(id, Some("killed by spate yarn-session --kill"))
            .map_err(|e| anyhow!("cannot kill {id}: {e}"))?;
        rm.wait_for_report(id, Duration::from_secs(60), |r| r.state.is_terminal())
            .map_err(|e| anyhow!("{e}"))?;
    }
    let _ = remove_staging_dir(yarn.hadoop(), &report.user, id);
    remove_properties(app);
    println!("Killed {id}.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip() {
        let p = SessionProperties {
            application_id: "application_1_0001".into(),
            rpc: "127.0.0.2:40000".into(),
            rest: "127.0.0.2:40001".into(),
            secret: "ab".repeat(32),
        };
        assert_eq!(SessionProperties::parse(&p.to_text()), Some(p));
    }

    #[test]
    fn resources_round_trip() {
        let mut m = BTreeMap::new();
        m.insert(
            "spate".to_string(),
            LocalResource::hdfs_file("127.0.0.1", 9000, "/user/u/.spate/app/spate", 42, 1700),
        );
        assert_eq!(decode_resources(&encode_resources(&m)).unwrap(), m);
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(memory_mb("1024").unwrap(), 1024);
        assert_eq!(memory_mb("2g").unwrap(), 2048);
        assert!(memory_mb("lots").is_err());
    }
}
