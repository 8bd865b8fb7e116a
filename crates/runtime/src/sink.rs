//! Sinks: the end of a pipeline. A [`Sink`] is initialized once per job (on the coordinating side)
//! and creates one [`SinkWriter`] per parallel subtask.

use crate::checkpoint::{CheckpointId, OperatorSnapshot};
use crate::context::TaskContext;
use crate::error::Result;
use crate::failure;
use crate::operator::Operator;
use crate::output::Output;

/// A destination for records of type `T`.
pub trait Sink<T>: Send + Sync + 'static {
    /// Name shown in the job graph, e.g. `Text(/out)`.
    fn name(&self) -> String;
    /// Called once per job before any writer exists (e.g. to prepare an output directory).
    fn initialize(&self, _parallelism: u32) -> Result<()> {
        Ok(())
    }
    /// Whether the sink only works inside the program that runs the job (embedded mode), like
    /// collecting records back into it.
    fn embedded_only(&self) -> bool {
        false
    }
    /// Creates the writer of one subtask.
    fn create_writer(&self, ctx: &TaskContext) -> Result<Box<dyn SinkWriter<T>>>;
    /// Called once per job after every subtask ended: `success` is true when the job finished,
    /// false when it failed or was cancelled. A batch sink makes its output visible here (renames
    /// in-progress files) or removes it; an error fails the job.
    fn finalize(&self, _success: bool) -> Result<()> {
        Ok(())
    }
    /// Two-phase commit, second phase: a checkpoint completed; make visible what the writers
    /// staged for it ([`SinkWriter::prepare_commit`]). Runs once per checkpoint on the
    /// coordinating side, and again with the same committables when a job restores that
    /// checkpoint, so it must be idempotent. By default it does nothing.
    fn commit(&self, _committables: Vec<Vec<u8>>) -> Result<()> {
        Ok(())
    }
    /// Instead of [`initialize`](Self::initialize) when the job starts from a checkpoint:
    /// commit what that checkpoint staged (`committables`) and throw away anything staged
    /// after it. By default: commit.
    fn recover(&self, _parallelism: u32, committables: Vec<Vec<u8>>) -> Result<()> {
        self.commit(committables)
    }
}

/// Writes the records of one subtask.
pub trait SinkWriter<T>: Send {
    /// Writes one record.
    fn write(&mut self, record: T) -> Result<()>;
    /// Makes written records visible where the sink can (buffer timeout, idle input).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    /// The input ended: write out everything.
    fn finish(&mut self) -> Result<()>;
    /// Two-phase commit, first phase: a checkpoint barrier arrived. Stage everything written
    /// since the previous barrier so that it can be committed, and return what the sink's
    /// [`commit`](Sink::commit) needs for that. By default: flush, nothing to commit
    /// (at-least-once).
    fn prepare_commit(&mut self, _checkpoint: CheckpointId) -> Result<Vec<Vec<u8>>> {
        self.flush()?;
        Ok(Vec::new())
    }
    /// The writer's own state at a barrier (e.g. a part-file counter). Default: none.
    fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }
    /// Restores what [`snapshot_state`](Self::snapshot_state) returned (at another parallelism,
    /// a round-robin share of all writers' items), before the first record.
    fn restore_state(&mut self, _state: Vec<Vec<u8>>) -> Result<()> {
        Ok(())
    }
}

/// Runs a sink writer as the last operator of a chain.
pub struct SinkOperator<T> {
    writer: Box<dyn SinkWriter<T>>,
}

impl<T> SinkOperator<T> {
    /// Wraps a writer.
    pub fn new(writer: Box<dyn SinkWriter<T>>) -> Self {
        SinkOperator { writer }
    }
}

impl<T: Send + 'static> Operator<T, ()> for SinkOperator<T> {
    fn process<C: Output<()>>(&mut self, record: T, _out: &mut C) {
        if let Err(e) = self.writer.write(record) {
            failure::fail(e.to_string());
        }
    }
    fn flush(&mut self) {
        if let Err(e) = self.writer.flush() {
            failure::fail(e.to_string());
        }
    }
    fn end_input<C: Output<()>>(&mut self, _out: &mut C) {
        if let Err(e) = self.writer.finish() {
            failure::fail(e.to_string());
        }
    }
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        self.writer.restore_state(state.operator)
    }
    fn snapshot_state(&mut self, checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot {
            keyed: Vec::new(),
            committables: self.writer.prepare_commit(checkpoint)?,
            operator: self.writer.snapshot_state()?,
        })
    }
}
