use crate::partitioning::{self, Partitioning};
use serde::{Deserialize, Serialize};
use spate_common::ids::{EdgeId, OperatorId, VertexId};

/// How an exchange hands data from producers to consumers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExchangeMode {
    /// Records flow while the producer runs, through bounded buffers (backpressure).
    Pipelined,
    /// The producer writes its whole output first; consumers start after every producer finished.
    Blocking,
}

/// One operator inside a vertex, with where its output goes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainedOperator {
    /// The operator.
    pub operator: OperatorId,
    /// Name of the operator.
    pub name: String,
    /// Operators of the same vertex fed by plain function call, with the logical edge whose code
    /// connects them and the side-output tag the edge carries (`None`: the main output).
    pub chained_outputs: Vec<(OperatorId, EdgeId, Option<String>)>,
    /// Indexes into [`JobGraph::edges`] of exchanges this operator writes to.
    pub exchange_outputs: Vec<usize>,
}

/// A vertex: a chain of operators run as one task per parallel instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobVertex {
    /// Id (index in [`JobGraph::vertices`]).
    pub id: VertexId,
    /// Chain name, e.g. `Source: Text(in.txt) -> Flat Map -> Combine`.
    pub name: String,
    /// Number of parallel subtasks.
    pub parallelism: u32,
    /// Operators, head first, each before the operators it feeds.
    pub operators: Vec<ChainedOperator>,
    /// Whether the head is a source.
    pub is_source: bool,
    /// Whether the vertex has a bounded input (every source upstream ends).
    pub bounded: bool,
}

impl JobVertex {
    /// The first operator of the chain.
    pub fn head(&self) -> OperatorId {
        self.operators[0].operator
    }
}

/// An exchange between two vertices.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobEdge {
    /// Producing vertex.
    pub source: VertexId,
    /// Operator inside the producing vertex that writes.
    pub source_operator: OperatorId,
    /// Consuming vertex (its head operator reads).
    pub target: VertexId,
    /// Distribution.
    pub partitioning: Partitioning,
    /// The logical edge whose code (partitioner, key function) this exchange runs.
    pub code: EdgeId,
    /// Pipelined or blocking.
    pub mode: ExchangeMode,
    /// The producer's side-output tag this exchange carries (`None`: the main output).
    #[serde(default)]
    pub side_output: Option<String>,
}

/// The planned job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobGraph {
    /// Vertices in topological order.
    pub vertices: Vec<JobVertex>,
    /// Exchanges.
    pub edges: Vec<JobEdge>,
}

impl JobGraph {
    /// The vertex with this id.
    pub fn vertex(&self, id: VertexId) -> &JobVertex {
        &self.vertices[id.0 as usize]
    }

    /// Exchanges into a vertex.
    pub fn inputs_of(&self, v: VertexId) -> impl Iterator<Item = &JobEdge> {
        self.edges.iter().filter(move |e| e.target == v)
    }

    /// How many producer subtasks send to subtask `j` of vertex `v` over all its inputs: the number
    /// of end-of-input markers that subtask waits for.
    pub fn producers_of(&self, v: VertexId, j: u32) -> u32 {
        let down = self.vertex(v).parallelism;
        self.inputs_of(v)
            .map(|e| partitioning::producers_of(e.partitioning, self.vertex(e.source).parallelism, down, j))
            .sum()
    }

    /// The slot of producer subtask `i` of exchange `edge` in the channel of consumer subtask
    /// `j`: producers of all input exchanges of a consumer are numbered in edge order.
    pub fn input_slot(&self, edge: usize, i: u32, j: u32) -> u32 {
        let target = self.edges[edge].target;
        let down = self.vertex(target).parallelism;
        let mut base = 0;
        for (k, e) in self.edges.iter().enumerate().filter(|(_, e)| e.target == target) {
            let up = self.vertex(e.source).parallelism;
            if k == edge {
                let before =
                    (0..i).filter(|&x| partitioning::targets_of(e.partitioning, up, down, x).contains(&j));
                return base + before.count() as u32;
            }
            base += partitioning::producers_of(e.partitioning, up, down, j);
        }
        base
    }

    /// The total number of subtasks.
    pub fn total_subtasks(&self) -> u32 {
        self.vertices.iter().map(|v| v.parallelism).sum()
    }

    /// The highest parallelism of any vertex: the slots a pipelined run of this job needs when one
    /// slot may hold one subtask of every vertex (slot sharing).
    pub fn max_parallelism(&self) -> u32 {
        self.vertices.iter().map(|v| v.parallelism).max().unwrap_or(1)
    }
}
