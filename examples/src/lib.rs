//! Shared pieces of the runnable examples (`examples/*.rs`), kept in a library so that tests and
//! benchmarks run exactly the pipelines the examples run.

/// Records and aggregations of the event-time examples.
pub mod events;
/// Word tokenisation used by the word count examples and their baselines.
pub mod tokenize;
/// The word count pipeline.
pub mod wordcount;

/// Runs an example's main body: logs to stderr, prints an error as one line and exits 1.
pub fn run_main(body: impl FnOnce() -> anyhow::Result<()>) {
    spate::logging::init();
    if let Err(e) = body() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
