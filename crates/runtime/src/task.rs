//! Running one subtask: build its chain of operators back to front (each operator receives the
//! outputs it writes to), then drive the head: a source's read loop, or the input channel.

use crate::code::{ErasedRx, ErasedTx, JobCode, NodeCode, SplitProvider};
use crate::context::TaskContext;
use crate::error::{Error, Result, TaskFailure};
use crate::failure::{self, Unwound};
use crate::metrics::OperatorCounters;
use crate::operator::{ChainLink, SideOutputs};
use crate::output::ErasedOutput;
use spate_common::ids::{OperatorId, VertexId};
use spate_graph::partitioning::targets_of;
use spate_graph::JobGraph;
use std::collections::HashMap;
use std::sync::Arc;

/// Everything one subtask needs.
pub struct SubtaskInputs {
    /// The subtask's context.
    pub ctx: TaskContext,
    /// Its vertex.
    pub vertex: VertexId,
    /// Its input channel (none for sources).
    pub rx: Option<ErasedRx>,
    /// Split provider (sources only).
    pub splits: Option<Arc<dyn SplitProvider>>,
    /// Wait times and network bytes of the subtask.
    pub io: Arc<crate::remote::TaskIo>,
}

/// Channels of every consumer subtask, by (vertex, subtask).
pub type ChannelTable = HashMap<(VertexId, u32), ErasedTx>;

/// How a subtask ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SubtaskEnd {
    /// It finished its input.
    Finished,
    /// It stopped because the job is being cancelled.
    Cancelled,
    /// It failed.
    Failed(TaskFailure),
}

/// Runs a subtask to its end on the current thread.
pub fn run_subtask(
    job: &JobGraph,
    code: &JobCode,
    channels: &ChannelTable,
    counters: &dyn Fn(OperatorId, u32) -> Arc<OperatorCounters>,
    inputs: SubtaskInputs,
) -> SubtaskEnd {
    failure::enter_task_thread();
    crate::remote::TaskIo::enter(inputs.io.clone());
    let vertex = job.vertex(inputs.vertex);
    let ctx = &inputs.ctx;
    let failed = |operator: &str, message: String| {
        SubtaskEnd::Failed(TaskFailure {
            operator: operator.to_string(),
            subtask: ctx.subtask,
            parallelism: ctx.parallelism,
            message,
        })
    };
    let body = || -> std::result::Result<(), (String, Error)> {
        let mut built: HashMap<OperatorId, ErasedOutput> = HashMap::new();
        let mut head_outputs = Vec::new();
        for (pos, op) in vertex.operators.iter().enumerate().rev() {
            let with_name = |e: Error| (op.name.clone(), e);
            let mut outputs = Vec::new();
            let mut side = Vec::new();
            for (target, _, tag) in &op.chained_outputs {
                let out = built.remove(target).ok_or_else(|| {
                    with_name(Error::Internal(format!("chained operator {target} not built")))
                })?;
                match tag {
                    None => outputs.push(out),
                    Some(t) => side.push((t.clone(), out)),
                }
            }
            for &e in &op.exchange_outputs {
                let edge = &job.edges[e];
                let down = job.vertex(edge.target).parallelism;
                let targets: Vec<(ErasedTx, u32)> =
                    targets_of(edge.partitioning, vertex.parallelism, down, ctx.subtask)
                        .map(|j| {
                            let tx = channels.get(&(edge.target, j)).cloned().ok_or_else(|| {
                                Error::Internal(format!("no channel for {} subtask {j}", edge.target))
                            })?;
                            Ok((tx, job.input_slot(e, ctx.subtask, j)))
                        })
                        .collect::<Result<_>>()
                        .map_err(with_name)?;
                let writer = code
                    .edge(edge.code)
                    .and_then(|c| c.writer(ctx, edge.partitioning, &targets))
                    .map_err(with_name)?;
                match &edge.side_output {
                    None => outputs.push(writer),
                    Some(t) => side.push((t.clone(), writer)),
                }
            }
            let link = ChainLink {
                operator: op.operator,
                name: op.name.as_str().into(),
                counters: counters(op.operator, ctx.subtask),
            };
            match code.node(op.operator).map_err(with_name)? {
                NodeCode::Operator(c) => {
                    let input = c
                        .build(ctx, link, outputs, SideOutputs::new(side))
                        .map_err(with_name)?;
                    built.insert(op.operator, input);
                }
                NodeCode::Source(_) if pos == 0 && side.is_empty() => head_outputs = outputs,
                NodeCode::Source(_) | NodeCode::Virtual => {
                    return Err(with_name(Error::Internal(
                        "source or union inside a chain".into(),
                    )))
                }
            }
        }
        let head = &vertex.operators[0];
        let link = ChainLink {
            operator: head.operator,
            name: head.name.as_str().into(),
            counters: counters(head.operator, ctx.subtask),
        };
        let with_name = |e: Error| (head.name.clone(), e);
        match code.node(head.operator).map_err(with_name)? {
            NodeCode::Source(src) => {
                let splits = inputs
                    .splits
                    .as_deref()
                    .ok_or_else(|| with_name(Error::Internal("source without splits".into())))?;
                src.run(ctx, link, splits, head_outputs).map_err(with_name)
            }
            NodeCode::Operator(c) => {
                let head_in = built
                    .remove(&head.operator)
                    .ok_or_else(|| with_name(Error::Internal("chain head not built".into())))?;
                let rx = inputs
                    .rx
                    .ok_or_else(|| with_name(Error::Internal("operator without input".into())))?;
                c.input().drive(ctx, rx, head_in).map_err(with_name)
            }
            NodeCode::Virtual => Err(with_name(Error::Internal("union at chain head".into()))),
        }
    };
    match failure::catch_task(&vertex.name, body) {
        Ok(Ok(())) => SubtaskEnd::Finished,
        Ok(Err((operator, e))) => failed(&operator, e.to_string()),
        Err(Unwound::Cancelled) => SubtaskEnd::Cancelled,
        Err(Unwound::Failed { operator, message }) => failed(&operator, message),
    }
}
