//! Shared foundations of Spate: typed ids, the configuration model with Flink-style keys,
//! the error taxonomy, and the helper that names every thread Spate starts.
//!
//! ```
//! use spate_common::config::{Configuration, keys};
//! let mut conf = Configuration::default();
//! conf.set_str("parallelism.default", "4").unwrap();
//! assert_eq!(conf.get(&keys::PARALLELISM_DEFAULT), 4);
//! ```

/// Configuration: known keys, typed values, YAML files and `-D key=value` overrides.
pub mod config;
/// The error type of this crate.
pub mod error;
/// Typed identifiers for jobs, operators and vertices.
pub mod ids;
/// Named threads.
pub mod task;

pub use error::{Error, Result};
