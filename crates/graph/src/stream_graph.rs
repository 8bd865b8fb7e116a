use crate::partitioning::Partitioning;
use serde::{Deserialize, Serialize};
use spate_common::ids::{EdgeId, OperatorId};

/// What a node of the stream graph is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    /// Produces records; `bounded` sources end.
    Source { bounded: bool },
    /// Transforms records.
    Operator,
    /// Consumes records.
    Sink,
    /// Merges streams of one type; dissolved by the planner into direct edges.
    Union,
}

/// A node of the stream graph: one logical operator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Stable id, assigned in build order.
    pub id: OperatorId,
    /// Name shown in logs, metrics and errors, e.g. `Map` or `Source: Text(/data)`.
    pub name: String,
    /// Parallelism.
    pub parallelism: u32,
    /// The kind.
    pub kind: NodeKind,
    /// Emits only at the end of its input (a batch operation): an unbounded input is an error.
    pub needs_bounded_input: bool,
    /// A pre-aggregation that only exists in batch mode; dissolved in streaming mode.
    /// Its input and output types are equal.
    pub batch_only: bool,
}

/// A logical edge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EdgeSpec {
    /// Stable id.
    pub id: EdgeId,
    /// Producer.
    pub source: OperatorId,
    /// Consumer.
    pub target: OperatorId,
    /// Distribution of records.
    pub partitioning: Partitioning,
    /// Set when the edge carries a side output of the producer (Flink's `OutputTag`) instead of
    /// its main output.
    #[serde(default)]
    pub side_output: Option<String>,
}

/// The logical graph a program builds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StreamGraph {
    /// Nodes in build order (ids are indexes).
    pub nodes: Vec<NodeSpec>,
    /// Edges in build order (ids are indexes).
    pub edges: Vec<EdgeSpec>,
}

impl StreamGraph {
    /// Adds a node; returns its id.
    pub fn add_node(&mut self, name: impl Into<String>, kind: NodeKind, parallelism: u32) -> OperatorId {
        let id = OperatorId(self.nodes.len() as u32);
        self.nodes.push(NodeSpec {
            id,
            name: name.into(),
            parallelism: parallelism.max(1),
            kind,
            needs_bounded_input: false,
            batch_only: false,
        });
        id
    }

    /// Adds an edge; returns its id.
    pub fn add_edge(&mut self, source: OperatorId, target: OperatorId, partitioning: Partitioning) -> EdgeId {
        self.add_side_edge(source, target, partitioning, None)
    }

    /// Adds an edge carrying the producer's side output `tag` (main output if `None`).
    pub fn add_side_edge(
        &mut self,
        source: OperatorId,
        target: OperatorId,
        partitioning: Partitioning,
        tag: Option<String>,
    ) -> EdgeId {
        let id = EdgeId(self.edges.len() as u32);
        self.edges.push(EdgeSpec {
            id,
            source,
            target,
            partitioning,
            side_output: tag,
        });
        id
    }

    /// The node with this id.
    pub fn node(&self, id: OperatorId) -> &NodeSpec {
        &self.nodes[id.0 as usize]
    }

    /// Mutable access to a node.
    pub fn node_mut(&mut self, id: OperatorId) -> &mut NodeSpec {
        &mut self.nodes[id.0 as usize]
    }
}
