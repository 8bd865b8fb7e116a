//! End-to-end tests of the embedded engine, the examples and the CLI.
#![allow(clippy::unwrap_used)]

mod batch_ops;
mod cli;
mod runtime;
mod state;
mod streaming;
mod two_input;
mod windows;
mod wordcount;
