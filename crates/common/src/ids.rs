use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// A logical operator (a node of the stream graph). Assigned in the order the program builds
    /// its pipeline, so the same program always yields the same ids: this is how a worker running
    /// the same binary finds an operator's code.
    OperatorId,
    "op-"
);
id_type!(
    /// A logical edge of the stream graph.
    EdgeId,
    "edge-"
);
id_type!(
    /// A job vertex: a chain of operators that runs as one task.
    VertexId,
    "vertex-"
);

/// Identifies one job run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobId(pub u128);

impl JobId {
    /// A new, practically unique id from the clock and the process id.
    pub fn generate() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let pid = u128::from(std::process::id());
        // Mix so that ids of jobs started at nearly the same time differ in many hex digits.
        let mixed = (nanos ^ (pid << 96)).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        JobId(mixed)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_with_prefix() {
        assert_eq!(OperatorId(3).to_string(), "op-3");
        assert_eq!(VertexId(0).to_string(), "vertex-0");
        assert_eq!(JobId(255).to_string().len(), 32);
    }
}
