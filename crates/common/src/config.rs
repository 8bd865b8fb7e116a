//! The configuration model.
//!
//! Keys follow Apache Flink's names wherever Flink has one, so a Flink user is at home. Every key
//! Spate accepts is declared in [`keys`]; a value is checked when it is set, so an unknown key or a
//! bad value fails early with a message naming it. A YAML file may use flat keys
//! (`parallelism.default: 4`) or nested maps (`parallelism: {default: 4}`), as Flink's
//! `config.yaml` does.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

/// Environment variable naming a YAML configuration file the job binary loads.
pub const ENV_CONFIG_FILE: &str = "SPATE_CONFIG_FILE";
/// Environment variable naming a configuration directory holding `config.yaml` (like `FLINK_CONF_DIR`).
pub const ENV_CONF_DIR: &str = "SPATE_CONF_DIR";
/// Environment variable with `key=value` overrides, one per line (set by `spate run -D`).
pub const ENV_DYNAMIC_PROPERTIES: &str = "SPATE_DYNAMIC_PROPERTIES";

/// The kind of value a key takes; decides how strings are checked and parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// An integer at least `min`.
    Int { min: u64 },
    /// A duration such as `100ms`, `5 s`, `2min`; a bare number is milliseconds.
    Duration,
    /// A memory size such as `32mb`, `1 gb`; a bare number is bytes.
    MemorySize,
    /// One of the listed words (case-insensitive).
    Enum(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
    /// Any text.
    Text,
}

/// A declared configuration key.
#[derive(Debug)]
pub struct KeySpec {
    /// The key, e.g. `parallelism.default`.
    pub name: &'static str,
    /// Its kind of value.
    pub kind: ValueKind,
    /// The default, as text; empty when the default is decided at run time (see the description).
    pub default: &'static str,
    /// What it does, for `--help` and the README.
    pub description: &'static str,
}

/// A typed handle on a declared key.
pub struct ConfigOption<T> {
    /// The key's declaration.
    pub spec: &'static KeySpec,
    _type: PhantomData<fn() -> T>,
}

impl<T> ConfigOption<T> {
    const fn new(spec: &'static KeySpec) -> Self {
        ConfigOption {
            spec,
            _type: PhantomData,
        }
    }
}

/// Values a typed option can hold.
pub trait FromConfigValue: Sized {
    /// Parses an already validated value.
    fn parse_value(kind: ValueKind, text: &str) -> std::result::Result<Self, String>;
}

impl FromConfigValue for u64 {
    fn parse_value(_: ValueKind, text: &str) -> std::result::Result<Self, String> {
        text.trim().parse::<u64>().map_err(|e| e.to_string())
    }
}

impl FromConfigValue for usize {
    fn parse_value(_: ValueKind, text: &str) -> std::result::Result<Self, String> {
        text.trim().parse::<usize>().map_err(|e| e.to_string())
    }
}

impl FromConfigValue for bool {
    fn parse_value(_: ValueKind, text: &str) -> std::result::Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(format!("expected true or false, got '{other}'")),
        }
    }
}

impl FromConfigValue for Duration {
    fn parse_value(_: ValueKind, text: &str) -> std::result::Result<Self, String> {
        parse_duration(text)
    }
}

impl FromConfigValue for String {
    fn parse_value(kind: ValueKind, text: &str) -> std::result::Result<Self, String> {
        match kind {
            ValueKind::Enum(words) => words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(text.trim()))
                .map(|w| w.to_string())
                .ok_or_else(|| format!("expected one of {}", words.join(", "))),
            _ => Ok(text.to_string()),
        }
    }
}

/// A memory size in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct MemorySize(pub u64);

impl FromConfigValue for MemorySize {
    fn parse_value(_: ValueKind, text: &str) -> std::result::Result<Self, String> {
        parse_memory_size(text).map(MemorySize)
    }
}

/// The declared keys.
pub mod keys {
    use super::{ConfigOption, KeySpec, MemorySize, ValueKind};
    use std::time::Duration;

    macro_rules! keys {
        ($( $(#[$doc:meta])* $ident:ident: $ty:ty = $name:literal, $kind:expr, $default:literal, $desc:literal; )*) => {
            $(
                $(#[$doc])*
                pub const $ident: ConfigOption<$ty> = ConfigOption::new(&KeySpec {
                    name: $name, kind: $kind, default: $default, description: $desc,
                });
            )*
            /// Every declared key, in declaration order.
            pub const ALL: &[&KeySpec] = &[$( $ident.spec, )*];
        };
    }

    keys! {
        /// Default parallelism of operators.
        PARALLELISM_DEFAULT: u64 = "parallelism.default", ValueKind::Int { min: 1 }, "",
            "default parallelism of operators (embedded default: the number of CPU cores)";
        /// Upper bound of parallelism; the number of key groups.
        MAX_PARALLELISM: u64 = "pipeline.max-parallelism", ValueKind::Int { min: 1 }, "128",
            "number of key groups: the upper bound of any keyed operator's parallelism";
        /// Slots of each TaskManager.
        TASK_SLOTS: u64 = "taskmanager.numberOfTaskSlots", ValueKind::Int { min: 1 }, "",
            "task slots of each TaskManager (embedded default: the job's highest parallelism)";
        /// STREAMING, BATCH or AUTOMATIC.
        RUNTIME_MODE: String = "execution.runtime-mode",
            ValueKind::Enum(&["STREAMING", "BATCH", "AUTOMATIC"]), "AUTOMATIC",
            "STREAMING (pipelined), BATCH (blocking exchanges) or AUTOMATIC (BATCH when every source is bounded)";
        /// Longest time a partly filled network batch waits before it is sent.
        BUFFER_TIMEOUT: Duration = "execution.buffer-timeout", ValueKind::Duration, "100ms",
            "longest time a partly filled batch waits before it is sent downstream";
        /// Batches in flight per channel of a pipelined exchange.
        BUFFERS_PER_CHANNEL: u64 = "taskmanager.network.memory.buffers-per-channel",
            ValueKind::Int { min: 1 }, "2",
            "batches in flight per producer-consumer channel of a pipelined exchange (the credit)";
        /// Records per network batch.
        RECORDS_PER_BATCH: u64 = "taskmanager.network.records-per-batch", ValueKind::Int { min: 1 }, "1024",
            "records a producer groups into one batch before sending it";
        /// Memory a blocking partition fills before it spills to disk.
        BLOCKING_SHUFFLE_MEMORY: MemorySize = "taskmanager.network.blocking-shuffle.memory-per-partition",
            ValueKind::MemorySize, "4mb",
            "serialized bytes a blocking (batch) partition keeps in memory before spilling to io.tmp.dirs";
                /// The host name the TaskManager reports (locality of splits).
        TASKMANAGER_HOST: String = "taskmanager.host", ValueKind::Text, "",
            "host name of this TaskManager, matched against the hosts that store input blocks (default: the machine's host name)";
        /// Where spill files go.
        TMP_DIRS: String = "io.tmp.dirs", ValueKind::Text, "",
            "directory for spill files (default: the system temporary directory)";
        /// Records a pre-aggregation (combiner) holds before it emits partial results.
        COMBINER_MAX_KEYS: u64 = "execution.batch.combiner.max-keys", ValueKind::Int { min: 1 }, "65536",
            "distinct keys a batch pre-aggregation holds before it emits its partial results";
        /// How long a file split waits for a reader on a host that stores it.
        SPLIT_LOCALITY_WAIT: Duration = "source.split.locality-wait", ValueKind::Duration, "3s",
            "how long a file split may wait for a reader on a host that stores it before a reader elsewhere takes it (delay scheduling, like Spark's spark.locality.wait; 0 disables it)";
                /// Interval of periodic watermark emission.
        AUTO_WATERMARK_INTERVAL: Duration = "pipeline.auto-watermark-interval", ValueKind::Duration, "200ms",
            "interval at which timestamp assigners emit periodic watermarks";
        /// Progress log interval.
        PROGRESS_INTERVAL: Duration = "execution.progress.interval", ValueKind::Duration, "5s",
            "interval of the job progress line in the log (0 disables it)";
        /// Address the JobManager's RPC endpoint binds to and TaskManagers connect to.
        JOBMANAGER_RPC_ADDRESS: String = "jobmanager.rpc.address", ValueKind::Text, "localhost",
            "host of the JobManager's RPC endpoint (TaskManagers and clients connect to it)";
        /// The JobManager's RPC port.
        JOBMANAGER_RPC_PORT: u64 = "jobmanager.rpc.port", ValueKind::Int { min: 0 }, "6123",
            "port of the JobManager's RPC endpoint (gRPC)";
        /// Address the REST endpoint binds to.
        REST_BIND_ADDRESS: String = "rest.bind-address", ValueKind::Text, "127.0.0.1",
            "address the REST API and dashboard bind to (localhost unless configured otherwise)";
        /// The REST port.
        REST_PORT: u64 = "rest.port", ValueKind::Int { min: 0 }, "8081",
            "port of the REST API and web dashboard";
        /// The TaskManager's RPC port.
        TASKMANAGER_RPC_PORT: u64 = "taskmanager.rpc.port", ValueKind::Int { min: 0 }, "0",
            "port of the TaskManager's RPC endpoint (0: any free port)";
        /// Port of a job worker's data-plane listener.
        TASKMANAGER_DATA_PORT: u64 = "taskmanager.data.port", ValueKind::Int { min: 0 }, "0",
            "first port of the data-plane listeners of a TaskManager's job workers (0: any free port)";
        /// Cluster secret authenticating every control- and data-plane connection.
        CLUSTER_SECRET: String = "security.cluster.secret", ValueKind::Text, "",
            "per-cluster secret (64 hex characters) authenticating every RPC and data connection (default: generated by the JobManager and written to its secret file)";
        /// File holding the cluster secret.
        CLUSTER_SECRET_FILE: String = "security.cluster.secret-file", ValueKind::Text, "",
            "file holding the cluster secret (written by the JobManager, read by TaskManagers and clients)";
        /// Name of the YARN application of a session.
        YARN_APPLICATION_NAME: String = "yarn.application.name", ValueKind::Text, "Spate session",
            "name of the YARN application (spate yarn-session --name)";
        /// YARN queue of a session.
        YARN_APPLICATION_QUEUE: String = "yarn.application.queue", ValueKind::Text, "default",
            "YARN queue the application is submitted to (spate yarn-session --queue)";
        /// How long a YARN session may take to get its containers.
        YARN_APPLICATION_START_TIMEOUT: Duration = "yarn.application.start-timeout",
            ValueKind::Duration, "3min",
            "how long spate yarn-session waits for the ApplicationMaster and every TaskManager to run before it gives up";
        /// ApplicationMaster attempts of a YARN application.
        YARN_APPLICATION_ATTEMPTS: u64 = "yarn.application-attempts", ValueKind::Int { min: 1 }, "1",
            "how many times YARN starts the ApplicationMaster (capped by yarn.resourcemanager.am.max-attempts); a new attempt takes over the TaskManager containers and, per-job, runs the job again";
        /// Virtual cores of each TaskManager container.
        YARN_CONTAINERS_VCORES: u64 = "yarn.containers.vcores", ValueKind::Int { min: 1 }, "1",
            "virtual cores of each TaskManager container on YARN";
        /// How long a TaskManager container of a YARN session may stay idle before it is released.
        RESOURCEMANAGER_TASKMANAGER_TIMEOUT: Duration = "resourcemanager.taskmanager-timeout",
            ValueKind::Duration, "30s",
            "how long a YARN TaskManager container with no slot in use stays before it is released (never below the session's -n)";
        /// Memory of the JobManager's container (the YARN ApplicationMaster).
        JOBMANAGER_MEMORY_PROCESS_SIZE: MemorySize = "jobmanager.memory.process.size",
            ValueKind::MemorySize, "512mb",
            "memory of the JobManager's YARN container (spate yarn-session -jm)";
        /// Memory of each TaskManager's container.
        TASKMANAGER_MEMORY_PROCESS_SIZE: MemorySize = "taskmanager.memory.process.size",
            ValueKind::MemorySize, "1024mb",
            "memory of each TaskManager's YARN container (spate yarn-session -tm)";
        /// Interval of heartbeats between TaskManagers and the JobManager.
        HEARTBEAT_INTERVAL: Duration = "heartbeat.interval", ValueKind::Duration, "1s",
            "interval of TaskManager heartbeats";
        /// Time without heartbeat after which a TaskManager is declared lost.
        HEARTBEAT_TIMEOUT: Duration = "heartbeat.timeout", ValueKind::Duration, "10s",
            "time without a heartbeat after which a TaskManager (or the JobManager, seen from a TaskManager) is declared lost";
        /// Restart strategy of failed jobs.
        RESTART_STRATEGY: String = "restart-strategy.type",
            ValueKind::Enum(&["none", "disable", "off", "fixed-delay", "fixeddelay", "exponential-delay", "exponentialdelay"]),
            "fixed-delay", "what a failed job does: none, fixed-delay or exponential-delay";
        /// Attempts of the fixed-delay strategy.
        RESTART_ATTEMPTS: u64 = "restart-strategy.fixed-delay.attempts", ValueKind::Int { min: 0 }, "3",
            "restarts the fixed-delay strategy allows before the job fails";
        /// Delay of the fixed-delay strategy.
        RESTART_DELAY: Duration = "restart-strategy.fixed-delay.delay", ValueKind::Duration, "1s",
            "wait before each restart of the fixed-delay strategy";
        /// First backoff of the exponential-delay strategy.
        RESTART_INITIAL_BACKOFF: Duration = "restart-strategy.exponential-delay.initial-backoff",
            ValueKind::Duration, "1s", "first wait of the exponential-delay strategy";
        /// Largest backoff of the exponential-delay strategy.
        RESTART_MAX_BACKOFF: Duration = "restart-strategy.exponential-delay.max-backoff",
            ValueKind::Duration, "1min", "longest wait of the exponential-delay strategy";
        /// Backoff multiplier of the exponential-delay strategy.
        RESTART_BACKOFF_MULTIPLIER: u64 = "restart-strategy.exponential-delay.backoff-multiplier",
            ValueKind::Int { min: 1 }, "2", "factor between successive waits of the exponential-delay strategy";
        /// Attempts of the exponential-delay strategy.
        RESTART_EXP_ATTEMPTS: u64 = "restart-strategy.exponential-delay.attempts-before-reset-backoff",
            ValueKind::Int { min: 0 }, "10", "restarts the exponential-delay strategy allows before the job fails";
        /// How long a job waits for enough free slots.
        SLOT_REQUEST_TIMEOUT: Duration = "slot.request.timeout", ValueKind::Duration, "5min",
            "how long a job waits for enough free task slots before it fails";
        /// Interval of periodic checkpoints (unset: no checkpoints).
        CHECKPOINTING_INTERVAL: Duration = "execution.checkpointing.interval", ValueKind::Duration, "",
            "interval of periodic checkpoints of streaming jobs (unset or 0: checkpointing off)";
        /// How long a checkpoint may take before it is discarded.
        CHECKPOINTING_TIMEOUT: Duration = "execution.checkpointing.timeout", ValueKind::Duration, "10min",
            "time after which an unfinished checkpoint is discarded";
        /// Least time between the end of one checkpoint and the start of the next.
        CHECKPOINTING_MIN_PAUSE: Duration = "execution.checkpointing.min-pause", ValueKind::Duration, "0ms",
            "least time between the end of one checkpoint and the start of the next";
        /// Checkpoints that may be in progress at once.
        CHECKPOINTING_MAX_CONCURRENT: u64 = "execution.checkpointing.max-concurrent-checkpoints",
            ValueKind::Int { min: 1 }, "1", "checkpoints that may be in progress at the same time";
        /// EXACTLY_ONCE (aligned barriers) or AT_LEAST_ONCE.
        CHECKPOINTING_MODE: String = "execution.checkpointing.mode",
            ValueKind::Enum(&["EXACTLY_ONCE", "AT_LEAST_ONCE"]), "EXACTLY_ONCE",
            "EXACTLY_ONCE (operators with several inputs align barriers) or AT_LEAST_ONCE (no alignment)";
        /// Where checkpoints are written.
        CHECKPOINTS_DIR: String = "state.checkpoints.dir", ValueKind::Text, "",
            "directory (file:// or hdfs://) of checkpoints: <dir>/<job-id>/chk-<n>/ (default: spate-checkpoints in io.tmp.dirs, which serves one machine only; use hdfs:// for clusters over several hosts)";
        /// Completed checkpoints kept.
        CHECKPOINTS_RETAINED: u64 = "state.checkpoints.num-retained", ValueKind::Int { min: 1 }, "2",
            "completed checkpoints kept (recovery falls back to an older one when the latest is corrupt)";
        /// Default directory of savepoints.
        SAVEPOINTS_DIR: String = "state.savepoints.dir", ValueKind::Text, "",
            "default directory (file:// or hdfs://) of savepoints";
        /// Savepoint to start the job from.
        SAVEPOINT_PATH: String = "execution.savepoint.path", ValueKind::Text, "",
            "savepoint or checkpoint directory the job starts from (spate run --from-savepoint)";
        /// Whether state of operators missing from the job may be skipped.
        SAVEPOINT_IGNORE_UNCLAIMED: bool = "execution.savepoint.ignore-unclaimed-state", ValueKind::Bool, "false",
            "start even if the savepoint holds state of operators the job does not have (--allow-non-restored-state)";
        /// Where the JobManager keeps uploaded job binaries.
        BLOB_STORAGE_DIRECTORY: String = "blob.storage.directory", ValueKind::Text, "",
            "directory of the blob store (job binaries; default: a directory under io.tmp.dirs)";
        /// Where the JobManager keeps its jobs so that a new JobManager recovers them.
        HA_STORAGE_DIR: String = "high-availability.storageDir", ValueKind::Text, "",
            "directory (file:// or hdfs://) where the JobManager stores each submitted job (graph, arguments, configuration, binary) until it ends; a JobManager started on it recovers the jobs, from their latest checkpoints (on YARN with yarn.application-attempts > 1: the application's staging directory)";
    }
}

/// A set of configuration values, checked against the declared keys.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Configuration {
    values: BTreeMap<String, String>,
}

impl fmt::Debug for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.values.iter()).finish()
    }
}

impl Configuration {
    /// Sets a key from text, checking the key and the value.
    pub fn set_str(&mut self, key: &str, value: &str) -> Result<()> {
        let spec = find_key(key)?;
        validate(spec, value)?;
        self.values
            .insert(spec.name.to_string(), value.trim().to_string());
        Ok(())
    }

    /// Sets a typed option.
    pub fn set<T>(&mut self, option: &ConfigOption<T>, value: impl fmt::Display) -> Result<()> {
        self.set_str(option.spec.name, &value.to_string())
    }

    /// The value of an option, or its default.
    pub fn get<T: FromConfigValue + Default>(&self, option: &ConfigOption<T>) -> T {
        self.get_opt(option).unwrap_or_default()
    }

    /// The value of an option if it was set or has a declared default.
    pub fn get_opt<T: FromConfigValue>(&self, option: &ConfigOption<T>) -> Option<T> {
        let spec = option.spec;
        let text = self
            .values
            .get(spec.name)
            .map(String::as_str)
            .or((!spec.default.is_empty()).then_some(spec.default))?;
        // Values were validated when set and defaults are tested, so this cannot fail.
        T::parse_value(spec.kind, text).ok()
    }

    /// Whether the key was set explicitly.
    pub fn contains(&self, option_name: &str) -> bool {
        self.values.contains_key(option_name)
    }

    /// The explicitly set values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Applies `key=value` strings (`-D` arguments).
    pub fn apply_dynamic<S: AsRef<str>>(&mut self, properties: &[S]) -> Result<()> {
        for p in properties {
            let p = p.as_ref();
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| Error::BadProperty(p.to_string()))?;
            if k.trim().is_empty() {
                return Err(Error::BadProperty(p.to_string()));
            }
            self.set_str(k.trim(), v)?;
        }
        Ok(())
    }

    /// Parses YAML text (flat or nested keys).
    pub fn from_yaml(text: &str, origin: &Path) -> Result<Self> {
        let file_err = |reason: String| Error::ConfigFile {
            path: origin.to_path_buf(),
            reason,
        };
        let doc: serde_norway::Value = serde_norway::from_str(text).map_err(|e| file_err(e.to_string()))?;
        let mut flat = Vec::new();
        match doc {
            serde_norway::Value::Null => {}
            serde_norway::Value::Mapping(m) => flatten("", &m, &mut flat).map_err(file_err)?,
            _ => return Err(file_err("expected a mapping of keys to values".into())),
        }
        let mut conf = Configuration::default();
        for (k, v) in flat {
            conf.set_str(&k, &v).map_err(|e| file_err(e.to_string()))?;
        }
        Ok(conf)
    }

    /// Loads a YAML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_yaml(&text, path)
    }

    /// Overlays `other` on `self` (values of `other` win).
    pub fn merge(&mut self, other: &Configuration) {
        for (k, v) in &other.values {
            self.values.insert(k.clone(), v.clone());
        }
    }

    /// The configuration a job process starts with: `$SPATE_CONFIG_FILE` or
    /// `$SPATE_CONF_DIR/config.yaml` if present, then `$SPATE_DYNAMIC_PROPERTIES`.
    pub fn from_env() -> Result<Self> {
        let mut conf = Configuration::default();
        if let Some(file) = std::env::var_os(ENV_CONFIG_FILE) {
            conf = Self::load(Path::new(&file))?;
        } else if let Some(dir) = std::env::var_os(ENV_CONF_DIR) {
            let file = Path::new(&dir).join("config.yaml");
            if file.exists() {
                conf = Self::load(&file)?;
            }
        }
        if let Ok(props) = std::env::var(ENV_DYNAMIC_PROPERTIES) {
            let lines: Vec<&str> = props.lines().filter(|l| !l.trim().is_empty()).collect();
            conf.apply_dynamic(&lines)?;
        }
        Ok(conf)
    }

    /// Encodes the values as `key=value` lines (the format of `SPATE_DYNAMIC_PROPERTIES`).
    pub fn to_properties(&self) -> String {
        self.values.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }
}

fn flatten(
    prefix: &str,
    map: &serde_norway::Mapping,
    out: &mut Vec<(String, String)>,
) -> std::result::Result<(), String> {
    for (k, v) in map {
        let key = match k {
            serde_norway::Value::String(s) => s.clone(),
            other => scalar_text(other).ok_or("keys must be text")?,
        };
        let full = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match v {
            serde_norway::Value::Mapping(m) => flatten(&full, m, out)?,
            other => {
                let text = scalar_text(other).ok_or_else(|| format!("value of '{full}' must be a scalar"))?;
                out.push((full, text));
            }
        }
    }
    Ok(())
}

fn scalar_text(v: &serde_norway::Value) -> Option<String> {
    match v {
        serde_norway::Value::String(s) => Some(s.clone()),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn find_key(key: &str) -> Result<&'static KeySpec> {
    let key = key.trim();
    keys::ALL
        .iter()
        .copied()
        .find(|s| s.name == key)
        .ok_or_else(|| Error::UnknownKey {
            key: key.to_string(),
            hint: keys::ALL
                .iter()
                .map(|s| (edit_distance(s.name, key), s.name))
                .filter(|(d, _)| *d <= 3)
                .min()
                .map(|(_, n)| n.to_string()),
        })
}

fn validate(spec: &KeySpec, value: &str) -> Result<()> {
    let bad = |reason: String| Error::BadValue {
        key: spec.name.to_string(),
        value: value.to_string(),
        reason,
    };
    match spec.kind {
        ValueKind::Int { min } => {
            let n = value
                .trim()
                .parse::<u64>()
                .map_err(|_| bad("expected a whole number".into()))?;
            if n < min {
                return Err(bad(format!("must be at least {min}")));
            }
        }
        ValueKind::Duration => {
            parse_duration(value).map_err(bad)?;
        }
        ValueKind::MemorySize => {
            parse_memory_size(value).map_err(bad)?;
        }
        ValueKind::Enum(_) => {
            String::parse_value(spec.kind, value).map_err(bad)?;
        }
        ValueKind::Bool => {
            bool::parse_value(spec.kind, value).map_err(bad)?;
        }
        ValueKind::Text => {}
    }
    Ok(())
}

fn split_number(text: &str) -> std::result::Result<(u64, String), String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits == 0 {
        return Err("expected a number followed by an optional unit".into());
    }
    let n = t[..digits].parse::<u64>().map_err(|e| e.to_string())?;
    Ok((n, t[digits..].trim().to_ascii_lowercase()))
}

/// Parses durations as Flink writes them: `100ms`, `5 s`, `2min`, `1h`, `3d`; a bare number is ms.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let (n, unit) = split_number(text)?;
    let ms = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => Some(n),
        "s" | "sec" | "secs" | "second" | "seconds" => n.checked_mul(1000),
        "min" | "m" | "minute" | "minutes" => n.checked_mul(60_000),
        "h" | "hour" | "hours" => n.checked_mul(3_600_000),
        "d" | "day" | "days" => n.checked_mul(86_400_000),
        other => return Err(format!("unknown time unit '{other}' (use ms, s, min, h or d)")),
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| "duration too large".into())
}

/// Parses memory sizes as Flink writes them: `512b`, `64kb`, `32mb`, `1 gb`; a bare number is bytes.
pub fn parse_memory_size(text: &str) -> std::result::Result<u64, String> {
    let (n, unit) = split_number(text)?;
    let factor: u64 = match unit.as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown memory unit '{other}' (use b, kb, mb, gb or tb)")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| "memory size too large".into())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        for spec in keys::ALL {
            if !spec.default.is_empty() {
                validate(spec, spec.default).unwrap();
            }
        }
        let c = Configuration::default();
        assert_eq!(c.get(&keys::MAX_PARALLELISM), 128);
        assert_eq!(c.get(&keys::BUFFER_TIMEOUT), Duration::from_millis(100));
        assert_eq!(c.get(&keys::RUNTIME_MODE), "AUTOMATIC");
        assert_eq!(c.get_opt(&keys::PARALLELISM_DEFAULT), None);
    }

    #[test]
    fn unknown_key_names_it_and_suggests() {
        let mut c = Configuration::default();
        let e = c.set_str("parallelism.defualt", "2").unwrap_err().to_string();
        assert!(e.contains("'parallelism.defualt'"), "{e}");
        assert!(e.contains("did you mean 'parallelism.default'"), "{e}");
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let mut c = Configuration::default();
        let e = c.set_str("parallelism.default", "zero").unwrap_err().to_string();
        assert!(e.contains("parallelism.default") && e.contains("zero"), "{e}");
        assert!(c.set_str("parallelism.default", "0").is_err());
        assert!(c.set_str("execution.runtime-mode", "FAST").is_err());
        assert!(c.set_str("execution.buffer-timeout", "5 parsecs").is_err());
        c.set_str("execution.runtime-mode", "batch").unwrap();
        assert_eq!(c.get(&keys::RUNTIME_MODE), "BATCH");
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2 s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("3min").unwrap(), Duration::from_secs(180));
        assert_eq!(parse_duration("42").unwrap(), Duration::from_millis(42));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("99999999999999999999999d").is_err());
        assert_eq!(parse_memory_size("32mb").unwrap(), 32 << 20);
        assert_eq!(parse_memory_size("1 GB").unwrap(), 1 << 30);
        assert!(parse_memory_size("12 parsecs").is_err());
    }

    #[test]
    fn yaml_flat_and_nested() {
        let p = Path::new("conf.yaml");
        let c = Configuration::from_yaml(
            "parallelism.default: 3\ntaskmanager:\n  numberOfTaskSlots: 2\n",
            p,
        )
        .unwrap();
        assert_eq!(c.get(&keys::PARALLELISM_DEFAULT), 3);
        assert_eq!(c.get(&keys::TASK_SLOTS), 2);
        let e = Configuration::from_yaml("nope.key: 1\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("conf.yaml") && e.contains("nope.key"), "{e}");
        assert!(Configuration::from_yaml("- a\n- b\n", p).is_err());
        assert!(Configuration::from_yaml("a: [", p).is_err());
        assert!(Configuration::from_yaml("", p).unwrap().iter().next().is_none());
    }

    #[test]
    fn dynamic_properties() {
        let mut c = Configuration::default();
        c.apply_dynamic(&["parallelism.default=4", "execution.runtime-mode = STREAMING"])
            .unwrap();
        assert_eq!(c.get(&keys::PARALLELISM_DEFAULT), 4);
        assert!(c.apply_dynamic(&["novalue"]).is_err());
        assert!(c.apply_dynamic(&["=3"]).is_err());
        let round = {
            let mut d = Configuration::default();
            let text = c.to_properties();
            let lines: Vec<&str> = text.lines().collect();
            d.apply_dynamic(&lines).unwrap();
            d
        };
        assert_eq!(round, c);
    }

    #[test]
    fn load_missing_file_names_path() {
        let e = Configuration::load(Path::new("/no/such/conf.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/no/such/conf.yaml"), "{e}");
    }
}
