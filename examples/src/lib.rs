//! Shared pieces of the runnable examples (`examples/*.rs`), kept in a library so that tests and
//! benchmarks use exactly the same logic as the examples.

/// Word tokenisation used by the word count examples and their baselines.
pub mod tokenize;
