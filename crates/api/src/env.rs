use crate::stream::DataStream;
use spate_cluster::role::Role;
use spate_common::config::{keys, Configuration};
use spate_common::ids::OperatorId;
use spate_connectors::collection::CollectionSource;
use spate_connectors::generator::GeneratorSource;
use spate_connectors::hdfs::HdfsTextSource;
use spate_connectors::iterator::IteratorSource;
use spate_connectors::sequence::SequenceSource;
use spate_connectors::text::TextFileSource;
use spate_graph::{NodeKind, StreamGraph};
use spate_runtime::code::{self, JobCode, NodeCode};
use spate_runtime::executor::{JobHandle, JobSubmission, LocalExecutor};
use spate_runtime::source::{Boundedness, Source};
use spate_runtime::{Data, JobResult, Result};
use std::cell::RefCell;
use std::collections::HashSet;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

/// Whether a path needs the file-system layer (a scheme such as `hdfs://`, or a glob) rather
/// than the plain local reader and writer.
pub(crate) fn is_uri_or_glob(path: &str) -> bool {
    path.contains("://") || path.contains(['*', '?'])
}

/// How the job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeMode {
    /// Pipelined: results as data arrives.
    Streaming,
    /// Blocking stages, final results only; needs bounded sources.
    Batch,
    /// Batch when every source is bounded, else streaming (the default).
    Automatic,
}

pub(crate) struct EnvState {
    pub graph: StreamGraph,
    pub code: JobCode,
    pub config: Configuration,
    /// Nodes whose parallelism the program fixed; the others take the default at execution.
    pub explicit_parallelism: HashSet<OperatorId>,
    /// `(node, from)`: node takes the parallelism of `from` (local steps that must chain).
    pub inherits: Vec<(OperatorId, OperatorId)>,
    /// Nodes whose output is one ordered partition (after a total sort, first-n, count): nodes fed
    /// by them without a partitioning choice inherit their parallelism, keeping the order.
    pub single_partition: HashSet<OperatorId>,
}

/// The context in which a job is built and run (Flink's `StreamExecutionEnvironment`).
///
/// Cloning gives another handle on the same environment.
#[derive(Clone)]
pub struct StreamEnv {
    pub(crate) state: Rc<RefCell<EnvState>>,
}

impl StreamEnv {
    /// An embedded environment with the given configuration.
    pub fn with_config(config: Configuration) -> Self {
        StreamEnv {
            state: Rc::new(RefCell::new(EnvState {
                graph: StreamGraph::default(),
                code: JobCode::default(),
                config,
                explicit_parallelism: HashSet::new(),
                inherits: Vec::new(),
                single_partition: HashSet::new(),
            })),
        }
    }

    /// An embedded environment with default configuration.
    pub fn local() -> Self {
        Self::with_config(Configuration::default())
    }

    /// An embedded environment configured the way `spate run` passes configuration to a job
    /// binary: `$SPATE_CONFIG_FILE` (or `$SPATE_CONF_DIR/config.yaml`), then
    /// `$SPATE_DYNAMIC_PROPERTIES`. Fails on an unknown key or a bad value.
    pub fn from_env() -> Result<Self> {
        Ok(Self::with_config(Configuration::from_env()?))
    }

    /// The default parallelism: `parallelism.default`, else the number of CPU cores.
    pub fn parallelism(&self) -> u32 {
        let conf = &self.state.borrow().config;
        conf.get_opt(&keys::PARALLELISM_DEFAULT)
            .map(|p| p as u32)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1)
            })
    }

    /// Sets the default parallelism.
    pub fn set_parallelism(&self, parallelism: u32) -> &Self {
        // A whole number of at least 1 is always valid for this key.
        let _ = self
            .state
            .borrow_mut()
            .config
            .set(&keys::PARALLELISM_DEFAULT, parallelism.max(1));
        self
    }

    /// Sets the runtime mode.
    pub fn set_runtime_mode(&self, mode: RuntimeMode) -> &Self {
        let text = match mode {
            RuntimeMode::Streaming => "STREAMING",
            RuntimeMode::Batch => "BATCH",
            RuntimeMode::Automatic => "AUTOMATIC",
        };
        let _ = self.state.borrow_mut().config.set(&keys::RUNTIME_MODE, text);
        self
    }

    /// Sets a configuration key (checked).
    pub fn set_config(&self, key: &str, value: &str) -> Result<&Self> {
        self.state.borrow_mut().config.set_str(key, value)?;
        Ok(self)
    }

    /// A copy of the configuration.
    pub fn config(&self) -> Configuration {
        self.state.borrow().config.clone()
    }

    /// Reads from a [`Source`].
    pub fn from_source<T: Data, S: Source<T>>(&self, source: S) -> DataStream<T> {
        let name = format!("Source: {}", source.name());
        let bounded = source.boundedness() == Boundedness::Bounded;
        let id = {
            let mut st = self.state.borrow_mut();
            let id = st.graph.add_node(name, NodeKind::Source { bounded }, 1);
            st.code.nodes.insert(id, NodeCode::Source(code::source(source)));
            id
        };
        DataStream::new(self.clone(), id)
    }

    /// Reads from a [`Source`] whose reader assigns timestamps and watermarks itself, one
    /// watermark generator per split (Flink's `fromSource(source, strategy, name)`); no separate
    /// operator is needed.
    pub fn from_source_with_watermarks<T: Data, S: Source<T>>(
        &self,
        source: S,
        strategy: crate::watermark::WatermarkStrategy<T>,
    ) -> DataStream<T> {
        self.from_source(crate::watermark::WatermarkedSource {
            inner: source,
            strategy,
        })
    }

    /// The elements of a vector, split over the source's subtasks.
    pub fn from_collection<T: Data + Sync>(&self, data: Vec<T>) -> DataStream<T> {
        self.from_source(CollectionSource::new(data))
    }

    /// The elements of an iterator, read by a single subtask (a bounded source).
    pub fn from_iter<T: Data, I: IntoIterator<Item = T>>(&self, iter: I) -> DataStream<T>
    where
        I::IntoIter: Send + 'static,
    {
        let s = self.from_source(IteratorSource::new(iter.into_iter(), true));
        s.fix_parallelism(1);
        s
    }

    /// The numbers `from..=to`.
    pub fn from_sequence(&self, from: i64, to: i64) -> DataStream<i64> {
        self.from_source(SequenceSource::new(from, to))
    }

    /// Records `f(0), f(1), ...`: `count` of them, or without end if `None`, at most
    /// `records_per_second` in total if given (Flink's `DataGeneratorSource`).
    pub fn from_generator<T: Data>(
        &self,
        count: Option<u64>,
        records_per_second: Option<f64>,
        f: impl Fn(u64) -> T + Send + Sync + 'static,
    ) -> DataStream<T> {
        self.from_source(GeneratorSource::new(Arc::new(f), count, records_per_second))
    }

    /// The lines of a text file, or of every visible file under a directory. Local paths and
    /// `file://` or `hdfs://` URIs work, and globs (`*`, `?`) in them. Big files are read by
    /// several subtasks in byte ranges (HDFS: one per block, each knowing the hosts of its
    /// block); every line is read exactly once.
    pub fn read_text_file(&self, path: impl Into<PathBuf>) -> DataStream<String> {
        let path = path.into();
        let text = path.to_string_lossy();
        if is_uri_or_glob(&text) {
            self.from_source(HdfsTextSource::new(text.into_owned()))
        } else {
            self.from_source(TextFileSource::new(path))
        }
    }

    fn submission(&self, name: &str) -> JobSubmission {
        let st = self.state.borrow();
        let default_p = self.parallelism();
        let mut graph = st.graph.clone();
        for n in &mut graph.nodes {
            if !st.explicit_parallelism.contains(&n.id) {
                n.parallelism = default_p;
            }
        }
        // Inheritance chains were recorded upstream first, so one pass in order resolves them.
        for (node, from) in &st.inherits {
            let p = graph.node(*from).parallelism;
            graph.node_mut(*node).parallelism = p;
        }
        JobSubmission {
            name: name.to_string(),
            graph,
            code: st.code.clone(),
            config: st.config.clone(),
        }
    }

    /// Runs every pipeline built so far and waits for its end.
    ///
    /// Run by `spate run -m HOST:PORT`, the job goes to that cluster instead: this returns when it
    /// ended there (see `spate_cluster::role` for how the same binary plays the cluster's parts).
    pub fn execute(&self, job_name: &str) -> Result<JobResult> {
        match Role::from_env().map_err(spate_runtime::Error::Other)? {
            None => LocalExecutor.execute(self.submission(job_name)),
            Some(role) => {
                let mut sub = self.submission(job_name);
                if role == Role::Submit {
                    let embedded_only = (sub.code.nodes.values())
                        .any(|c| matches!(c, NodeCode::Operator(o) if o.embedded_only()));
                    if embedded_only {
                        return Err(spate_runtime::Error::Other(
                            "the job uses collect(), which hands records back to an embedded job only; write them to a sink (write_as_text, print, ...) to run it on a cluster".into(),
                        ));
                    }
                    // Workers on other machines must plan the same graph: pin the parallelism this
                    // machine chose.
                    if !sub.config.contains(keys::PARALLELISM_DEFAULT.spec.name) {
                        sub.config.set(&keys::PARALLELISM_DEFAULT, self.parallelism())?;
                    }
                }
                spate_cluster::run_role(role, sub)
            }
        }
    }

    /// Starts the job and returns a handle to wait for it or cancel it (embedded mode only).
    pub fn execute_async(&self, job_name: &str) -> Result<JobHandle> {
        if Role::from_env().map_err(spate_runtime::Error::Other)?.is_some() {
            return Err(spate_runtime::Error::Other(
                "execute_async runs jobs in embedded mode only; use execute() to run on a cluster".into(),
            ));
        }
        LocalExecutor.submit(self.submission(job_name))
    }
}
