//! Benchmark helpers for Spate: a synthetic text corpus generator ([`corpus`], binary
//! `gen-corpus`) and the hand-written single-threaded word count that the engine is measured
//! against ([`count`], binary `wc-baseline`).
//!
//! `scripts/bench-wordcount.sh` builds both, generates the corpora, runs the engine's word count
//! example and the baseline, checks that they agree and prints the comparison.

/// The synthetic corpus.
pub mod corpus;
/// The hand-written word count.
pub mod count;
/// The hand-written tumbling event-time window count (binary `window-baseline`).
pub mod window_baseline;
