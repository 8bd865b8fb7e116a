use crate::env::StreamEnv;
use spate_common::ids::OperatorId;
use spate_graph::{NodeKind, Partitioning};
use spate_runtime::code::{self, NodeCode};
use spate_runtime::operator::Operator;
use spate_runtime::record_writer::Partitioner;
use spate_runtime::{Data, TaskContext};
use std::sync::Arc;

/// A stream of records of type `T`: the output of a source or an operator, plus how its records
/// are to be distributed to the next operator.
pub struct DataStream<T> {
    pub(crate) env: StreamEnv,
    pub(crate) id: OperatorId,
    pub(crate) partitioning: Partitioning,
    pub(crate) partitioner: Partitioner<T>,
    /// Set on a side output of the operator `id` (see `get_side_output`).
    pub(crate) side_tag: Option<String>,
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        DataStream {
            env: self.env.clone(),
            id: self.id,
            partitioning: self.partitioning,
            partitioner: self.partitioner.clone(),
            side_tag: self.side_tag.clone(),
        }
    }
}

impl<T: Data> DataStream<T> {
    pub(crate) fn new(env: StreamEnv, id: OperatorId) -> Self {
        DataStream {
            env,
            id,
            partitioning: Partitioning::Default,
            partitioner: Partitioner::Plain,
            side_tag: None,
        }
    }

    /// The id of the operator that produces this stream.
    pub fn id(&self) -> OperatorId {
        self.id
    }

    /// The environment.
    pub fn env(&self) -> &StreamEnv {
        &self.env
    }

    pub(crate) fn fix_parallelism(&self, parallelism: u32) {
        let mut st = self.env.state.borrow_mut();
        st.graph.node_mut(self.id).parallelism = parallelism.max(1);
        st.explicit_parallelism.insert(self.id);
        st.inherits.retain(|(n, _)| *n != self.id);
    }

    /// Sets the parallelism of the operator that produces this stream.
    pub fn set_parallelism(self, parallelism: u32) -> Self {
        self.fix_parallelism(parallelism);
        self
    }

    /// Names the operator that produces this stream (shown in logs, metrics and errors).
    pub fn name(self, name: &str) -> Self {
        self.env.state.borrow_mut().graph.node_mut(self.id).name = name.to_string();
        self
    }

    fn with_partitioning(mut self, p: Partitioning, partitioner: Partitioner<T>) -> Self {
        self.partitioning = p;
        self.partitioner = partitioner;
        self
    }

    /// Distributes records round-robin over all subtasks of the next operator.
    pub fn rebalance(self) -> Self {
        self.with_partitioning(Partitioning::Rebalance, Partitioner::Plain)
    }

    /// Distributes records uniformly at random.
    pub fn shuffle(self) -> Self {
        self.with_partitioning(Partitioning::Shuffle, Partitioner::Plain)
    }

    /// Distributes records round-robin over a local subset of the next operator's subtasks.
    pub fn rescale(self) -> Self {
        self.with_partitioning(Partitioning::Rescale, Partitioner::Plain)
    }

    /// Sends every record to every subtask of the next operator.
    pub fn broadcast(self) -> Self {
        self.with_partitioning(Partitioning::Broadcast, Partitioner::Plain)
    }

    /// Sends records of subtask i to subtask i of the next operator (same parallelism required).
    pub fn forward(self) -> Self {
        self.with_partitioning(Partitioning::Forward, Partitioner::Plain)
    }

    /// Chooses the next operator's subtask with `f(record, number_of_subtasks)`.
    pub fn partition_custom(self, f: impl Fn(&T, usize) -> usize + Send + Sync + 'static) -> Self {
        self.with_partitioning(Partitioning::Custom, Partitioner::Custom(Arc::new(f)))
    }

    /// Connects this stream into `target`.
    pub(crate) fn connect(&self, target: OperatorId) {
        let mut st = self.env.state.borrow_mut();
        let e = st
            .graph
            .add_side_edge(self.id, target, self.partitioning, self.side_tag.clone());
        st.code.edges.insert(e, code::edge::<T>(self.partitioner.clone()));
    }

    /// Adds a node fed by this stream.
    pub(crate) fn add_node(&self, name: &str, kind: NodeKind, code: NodeCode) -> OperatorId {
        let id = {
            let mut st = self.env.state.borrow_mut();
            let id = st.graph.add_node(name, kind, 1);
            st.code.nodes.insert(id, code);
            if st.single_partition.contains(&self.id) && self.partitioning == Partitioning::Default {
                st.inherits.push((id, self.id));
                st.single_partition.insert(id);
            }
            id
        };
        self.connect(id);
        id
    }

    /// Adds an operator built per subtask by `factory`.
    pub(crate) fn add_operator<O, Op, F>(&self, name: &str, factory: F) -> DataStream<O>
    where
        O: Data,
        Op: Operator<T, O>,
        F: Fn(&TaskContext) -> Op + Send + Sync + 'static,
    {
        let id = self.add_node(
            name,
            NodeKind::Operator,
            NodeCode::Operator(code::operator::<T, O, Op, F>(factory)),
        );
        DataStream::new(self.env.clone(), id)
    }

    /// Like [`add_operator`](Self::add_operator), with the parallelism of this stream's operator
    /// (so the two chain).
    pub(crate) fn add_local_operator<O, Op, F>(&self, name: &str, factory: F) -> DataStream<O>
    where
        O: Data,
        Op: Operator<T, O>,
        F: Fn(&TaskContext) -> Op + Send + Sync + 'static,
    {
        let out = self.add_operator(name, factory);
        self.env.state.borrow_mut().inherits.push((out.id, self.id));
        out
    }

    /// Makes the operator producing this stream a single partition whose order followers keep.
    pub(crate) fn single_partition(self) -> Self {
        let s = self.set_parallelism(1);
        s.env.state.borrow_mut().single_partition.insert(s.id);
        s
    }

    /// Marks the operator producing this stream as needing the end of its input (a batch
    /// operation), so planning rejects it behind an unbounded source.
    pub(crate) fn needs_bounded_input(self) -> Self {
        self.env
            .state
            .borrow_mut()
            .graph
            .node_mut(self.id)
            .needs_bounded_input = true;
        self
    }

    /// Merges this stream with others of the same type.
    pub fn union(self, others: impl IntoIterator<Item = DataStream<T>>) -> DataStream<T> {
        let id = self.add_node("Union", NodeKind::Union, NodeCode::Virtual);
        for o in others {
            o.connect(id);
        }
        DataStream::new(self.env.clone(), id)
    }
}
