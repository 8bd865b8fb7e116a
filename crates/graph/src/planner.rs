use crate::error::{Error, Result};
use crate::job_graph::{ChainedOperator, ExchangeMode, JobEdge, JobGraph, JobVertex};
use crate::partitioning::Partitioning;
use crate::stream_graph::{NodeKind, StreamGraph};
use spate_common::ids::{EdgeId, OperatorId, VertexId};
use std::collections::{BTreeMap, BTreeSet};

/// How the job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExecutionMode {
    /// Pipelined exchanges; every subtask runs at once.
    Streaming,
    /// Blocking exchanges; a vertex starts when its producers have finished.
    Batch,
}

/// An edge after virtual nodes were dissolved.
#[derive(Clone, Debug)]
struct Resolved {
    source: OperatorId,
    target: OperatorId,
    partitioning: Partitioning,
    code: EdgeId,
    tag: Option<String>,
}

/// Plans a stream graph into a job graph: dissolves unions (and, in streaming mode, batch-only
/// pre-aggregations), resolves default partitioning, chains forward edges of equal parallelism,
/// and marks exchanges pipelined (streaming) or blocking (batch).
pub fn plan(graph: &StreamGraph, mode: ExecutionMode, max_parallelism: u32) -> Result<JobGraph> {
    check_shape(graph)?;
    let mut edges: Vec<Resolved> = graph
        .edges
        .iter()
        .map(|e| Resolved {
            source: e.source,
            target: e.target,
            partitioning: e.partitioning,
            code: e.id,
            tag: e.side_output.clone(),
        })
        .collect();

    // Dissolve pass-through nodes: unions always, batch-only nodes in streaming mode.
    let dissolve: Vec<OperatorId> = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Union || (n.batch_only && mode == ExecutionMode::Streaming))
        .map(|n| n.id)
        .collect();
    for node in &dissolve {
        let (ins, rest): (Vec<Resolved>, Vec<Resolved>) = edges.into_iter().partition(|e| e.target == *node);
        let (outs, mut rest): (Vec<Resolved>, Vec<Resolved>) =
            rest.into_iter().partition(|e| e.source == *node);
        for i in &ins {
            for o in &outs {
                // The consumer's choice of partitioning wins; otherwise the producer's.
                let (partitioning, code) = if o.partitioning != Partitioning::Default {
                    (o.partitioning, o.code)
                } else {
                    (i.partitioning, i.code)
                };
                // A side output leaves the real producer, so the input edge carries its tag.
                rest.push(Resolved {
                    source: i.source,
                    target: o.target,
                    partitioning,
                    code,
                    tag: i.tag.clone(),
                });
            }
        }
        edges = rest;
    }
    let alive: BTreeSet<OperatorId> = graph
        .nodes
        .iter()
        .map(|n| n.id)
        .filter(|id| !dissolve.contains(id))
        .collect();

    // Default partitioning: forward at equal parallelism, else rebalance.
    for e in &mut edges {
        let (s, t) = (graph.node(e.source), graph.node(e.target));
        match e.partitioning {
            Partitioning::Default => {
                e.partitioning = if s.parallelism == t.parallelism {
                    Partitioning::Forward
                } else {
                    Partitioning::Rebalance
                }
            }
            Partitioning::Forward if s.parallelism != t.parallelism => {
                return Err(Error::ForwardParallelism {
                    from: s.name.clone(),
                    from_p: s.parallelism,
                    to: t.name.clone(),
                    to_p: t.parallelism,
                })
            }
            _ => {}
        }
        if e.partitioning == Partitioning::Hash && t.parallelism > max_parallelism {
            return Err(Error::AboveMaxParallelism {
                operator: t.name.clone(),
                parallelism: t.parallelism,
                max: max_parallelism,
            });
        }
    }

    check_bounded_inputs(graph, &edges, &alive)?;

    // Chaining: a forward edge into a node with exactly one input.
    let in_degree = |id: OperatorId| edges.iter().filter(|e| e.target == id).count();
    let chained: Vec<bool> = edges
        .iter()
        .map(|e| e.partitioning == Partitioning::Forward && in_degree(e.target) == 1)
        .collect();

    // Vertex of every node: follow chained input edges up to the head.
    let order = topological_order(&alive, &edges)?;
    let mut vertex_of: BTreeMap<OperatorId, VertexId> = BTreeMap::new();
    let mut vertices: Vec<JobVertex> = Vec::new();
    for &id in &order {
        let node = graph.node(id);
        let chained_in = edges.iter().zip(&chained).find(|(e, c)| **c && e.target == id);
        let v = match chained_in {
            Some((e, _)) => vertex_of[&e.source],
            None => {
                let v = VertexId(vertices.len() as u32);
                vertices.push(JobVertex {
                    id: v,
                    name: String::new(),
                    parallelism: node.parallelism,
                    operators: Vec::new(),
                    is_source: matches!(node.kind, NodeKind::Source { .. }),
                    bounded: true,
                });
                v
            }
        };
        vertex_of.insert(id, v);
        vertices[v.0 as usize].operators.push(ChainedOperator {
            operator: id,
            name: node.name.clone(),
            chained_outputs: Vec::new(),
            exchange_outputs: Vec::new(),
        });
    }

    let mut job_edges = Vec::new();
    for (e, is_chained) in edges.iter().zip(&chained) {
        let sv = vertex_of[&e.source];
        let vertex = &mut vertices[sv.0 as usize];
        let Some(op) = vertex.operators.iter_mut().find(|o| o.operator == e.source) else {
            return Err(Error::Invalid(format!("operator {} not in its vertex", e.source)));
        };
        if *is_chained {
            op.chained_outputs.push((e.target, e.code, e.tag.clone()));
        } else {
            op.exchange_outputs.push(job_edges.len());
            job_edges.push(JobEdge {
                source: sv,
                source_operator: e.source,
                target: vertex_of[&e.target],
                partitioning: e.partitioning,
                code: e.code,
                mode: match mode {
                    ExecutionMode::Streaming => ExchangeMode::Pipelined,
                    ExecutionMode::Batch => ExchangeMode::Blocking,
                },
                side_output: e.tag.clone(),
            });
        }
    }
    for v in &mut vertices {
        v.name = v
            .operators
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ");
        v.bounded = v.operators.iter().all(|o| {
            upstream_sources(graph, &edges, o.operator)
                .iter()
                .all(|s| matches!(graph.node(*s).kind, NodeKind::Source { bounded: true }))
        });
    }
    Ok(JobGraph {
        vertices,
        edges: job_edges,
    })
}

/// The mode AUTOMATIC resolves to: batch when every source is bounded.
pub fn automatic_mode(graph: &StreamGraph) -> ExecutionMode {
    let all_bounded = graph
        .nodes
        .iter()
        .all(|n| !matches!(n.kind, NodeKind::Source { bounded: false }));
    if all_bounded {
        ExecutionMode::Batch
    } else {
        ExecutionMode::Streaming
    }
}

fn check_shape(graph: &StreamGraph) -> Result<()> {
    if !graph.nodes.iter().any(|n| n.kind == NodeKind::Sink) {
        return Err(Error::NoSink);
    }
    for e in &graph.edges {
        if e.source.0 as usize >= graph.nodes.len() || e.target.0 as usize >= graph.nodes.len() {
            return Err(Error::Invalid(format!("edge {} names a missing node", e.id)));
        }
        if matches!(graph.node(e.target).kind, NodeKind::Source { .. }) {
            return Err(Error::Invalid(format!("edge {} leads into a source", e.id)));
        }
    }
    Ok(())
}

fn upstream_sources(graph: &StreamGraph, edges: &[Resolved], id: OperatorId) -> Vec<OperatorId> {
    let mut out = Vec::new();
    let mut stack = vec![id];
    let mut seen = BTreeSet::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            continue;
        }
        if matches!(graph.node(n).kind, NodeKind::Source { .. }) {
            out.push(n);
        }
        stack.extend(edges.iter().filter(|e| e.target == n).map(|e| e.source));
    }
    out
}

fn check_bounded_inputs(graph: &StreamGraph, edges: &[Resolved], alive: &BTreeSet<OperatorId>) -> Result<()> {
    for id in alive {
        let node = graph.node(*id);
        if !node.needs_bounded_input {
            continue;
        }
        if let Some(s) = upstream_sources(graph, edges, *id)
            .into_iter()
            .find(|s| matches!(graph.node(*s).kind, NodeKind::Source { bounded: false }))
        {
            return Err(Error::NeedsBoundedInput {
                operator: node.name.clone(),
                source_name: graph.node(s).name.clone(),
            });
        }
    }
    Ok(())
}

fn topological_order(alive: &BTreeSet<OperatorId>, edges: &[Resolved]) -> Result<Vec<OperatorId>> {
    let mut indeg: BTreeMap<OperatorId, usize> = alive.iter().map(|id| (*id, 0)).collect();
    for e in edges {
        *indeg.entry(e.target).or_default() += 1;
    }
    let mut ready: Vec<OperatorId> = indeg
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(id, _)| *id)
        .collect();
    ready.reverse();
    let mut order = Vec::new();
    while let Some(n) = ready.pop() {
        order.push(n);
        let mut next: Vec<OperatorId> = Vec::new();
        for e in edges.iter().filter(|e| e.source == n) {
            if let Some(d) = indeg.get_mut(&e.target) {
                *d -= 1;
                if *d == 0 {
                    next.push(e.target);
                }
            }
        }
        next.sort();
        next.reverse();
        ready.extend(next);
    }
    if order.len() != indeg.len() {
        return Err(Error::Invalid("the graph has a cycle".into()));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(g: &mut StreamGraph, p: u32) -> OperatorId {
        g.add_node("Source", NodeKind::Source { bounded: true }, p)
    }

    #[test]
    fn forward_edges_of_equal_parallelism_chain() {
        let mut g = StreamGraph::default();
        let s = src(&mut g, 2);
        let m = g.add_node("Map", NodeKind::Operator, 2);
        let k = g.add_node("Sum", NodeKind::Operator, 2);
        let out = g.add_node("Sink", NodeKind::Sink, 2);
        g.add_edge(s, m, Partitioning::Default);
        g.add_edge(m, k, Partitioning::Hash);
        g.add_edge(k, out, Partitioning::Default);
        let j = plan(&g, ExecutionMode::Batch, 128).unwrap();
        assert_eq!(j.vertices.len(), 2);
        assert_eq!(j.vertices[0].name, "Source -> Map");
        assert_eq!(j.vertices[1].name, "Sum -> Sink");
        assert_eq!(j.edges.len(), 1);
        assert_eq!(j.edges[0].partitioning, Partitioning::Hash);
        assert_eq!(j.edges[0].mode, ExchangeMode::Blocking);
        assert_eq!(j.producers_of(VertexId(1), 0), 2);
    }

    #[test]
    fn parallelism_change_breaks_chain_with_rebalance() {
        let mut g = StreamGraph::default();
        let s = src(&mut g, 1);
        let m = g.add_node("Map", NodeKind::Operator, 3);
        let out = g.add_node("Sink", NodeKind::Sink, 3);
        g.add_edge(s, m, Partitioning::Default);
        g.add_edge(m, out, Partitioning::Default);
        let j = plan(&g, ExecutionMode::Streaming, 128).unwrap();
        assert_eq!(j.vertices.len(), 2);
        assert_eq!(j.edges[0].partitioning, Partitioning::Rebalance);
        assert_eq!(j.edges[0].mode, ExchangeMode::Pipelined);
    }

    #[test]
    fn explicit_forward_with_parallelism_change_is_an_error() {
        let mut g = StreamGraph::default();
        let s = src(&mut g, 1);
        let out = g.add_node("Sink", NodeKind::Sink, 2);
        g.add_edge(s, out, Partitioning::Forward);
        let e = plan(&g, ExecutionMode::Batch, 128).unwrap_err().to_string();
        assert!(e.contains("forward partitioning"), "{e}");
    }

    #[test]
    fn union_is_dissolved_into_a_two_input_vertex() {
        let mut g = StreamGraph::default();
        let a = src(&mut g, 2);
        let b = src(&mut g, 1);
        let u = g.add_node("Union", NodeKind::Union, 2);
        let k = g.add_node("Reduce", NodeKind::Operator, 2);
        let out = g.add_node("Sink", NodeKind::Sink, 2);
        g.add_edge(a, u, Partitioning::Default);
        g.add_edge(b, u, Partitioning::Default);
        let hash = g.add_edge(u, k, Partitioning::Hash);
        g.add_edge(k, out, Partitioning::Default);
        let j = plan(&g, ExecutionMode::Batch, 128).unwrap();
        assert_eq!(j.vertices.len(), 3, "{j:#?}");
        let into_reduce: Vec<_> = j.edges.iter().filter(|e| e.code == hash).collect();
        assert_eq!(into_reduce.len(), 2);
        let reduce = into_reduce[0].target;
        assert_eq!(j.producers_of(reduce, 1), 3);
    }

    #[test]
    fn union_then_map_keeps_forward_and_stops_chaining() {
        let mut g = StreamGraph::default();
        let a = src(&mut g, 2);
        let b = src(&mut g, 2);
        let u = g.add_node("Union", NodeKind::Union, 2);
        let m = g.add_node("Map", NodeKind::Operator, 2);
        let out = g.add_node("Sink", NodeKind::Sink, 2);
        g.add_edge(a, u, Partitioning::Default);
        g.add_edge(b, u, Partitioning::Default);
        g.add_edge(u, m, Partitioning::Default);
        g.add_edge(m, out, Partitioning::Default);
        let j = plan(&g, ExecutionMode::Streaming, 128).unwrap();
        // Two sources, and Map -> Sink (two inputs, so not chained to either source).
        assert_eq!(j.vertices.len(), 3);
        assert!(j.edges.iter().all(|e| e.partitioning == Partitioning::Forward));
        assert_eq!(j.producers_of(j.edges[0].target, 0), 2);
    }

    #[test]
    fn batch_only_nodes_vanish_in_streaming() {
        let mut g = StreamGraph::default();
        let s = src(&mut g, 2);
        let c = g.add_node("Combine", NodeKind::Operator, 2);
        g.node_mut(c).batch_only = true;
        let r = g.add_node("Reduce", NodeKind::Operator, 2);
        let out = g.add_node("Sink", NodeKind::Sink, 2);
        g.add_edge(s, c, Partitioning::Default);
        g.add_edge(c, r, Partitioning::Hash);
        g.add_edge(r, out, Partitioning::Default);
        let batch = plan(&g, ExecutionMode::Batch, 128).unwrap();
        assert_eq!(batch.vertices[0].name, "Source -> Combine");
        let stream = plan(&g, ExecutionMode::Streaming, 128).unwrap();
        assert_eq!(stream.vertices[0].name, "Source");
        assert_eq!(stream.edges[0].partitioning, Partitioning::Hash);
    }

    #[test]
    fn fan_out_chains_one_output_and_exchanges_the_other() {
        let mut g = StreamGraph::default();
        let s = src(&mut g, 2);
        let a = g.add_node("SinkA", NodeKind::Sink, 2);
        let b = g.add_node("SinkB", NodeKind::Sink, 1);
        g.add_edge(s, a, Partitioning::Default);
        g.add_edge(s, b, Partitioning::Default);
        let j = plan(&g, ExecutionMode::Batch, 128).unwrap();
        assert_eq!(j.vertices.len(), 2);
        let head = &j.vertices[0].operators[0];
        assert_eq!(head.chained_outputs.len(), 1);
        assert_eq!(head.exchange_outputs.len(), 1);
    }

    #[test]
    fn batch_operation_behind_unbounded_source_is_rejected() {
        let mut g = StreamGraph::default();
        let s = g.add_node("Gen", NodeKind::Source { bounded: false }, 1);
        let j = g.add_node("Join", NodeKind::Operator, 1);
        g.node_mut(j).needs_bounded_input = true;
        let out = g.add_node("Sink", NodeKind::Sink, 1);
        g.add_edge(s, j, Partitioning::Hash);
        g.add_edge(j, out, Partitioning::Default);
        assert_eq!(automatic_mode(&g), ExecutionMode::Streaming);
        let e = plan(&g, ExecutionMode::Streaming, 128).unwrap_err().to_string();
        assert!(
            e.contains("'Join' needs bounded input") && e.contains("'Gen'"),
            "{e}"
        );
    }

    #[test]
    fn no_sink_is_an_error() {
        let mut g = StreamGraph::default();
        src(&mut g, 1);
        assert!(matches!(plan(&g, ExecutionMode::Batch, 128), Err(Error::NoSink)));
    }

    #[test]
    fn hash_above_max_parallelism_is_an_error() {
        let mut g = StreamGraph::default();
        let s = src(&mut g, 1);
        let out = g.add_node("Sink", NodeKind::Sink, 8);
        g.add_edge(s, out, Partitioning::Hash);
        assert!(matches!(
            plan(&g, ExecutionMode::Batch, 4),
            Err(Error::AboveMaxParallelism { .. })
        ));
    }
}
