//! The crate's error type. Errors from YARN's servers keep Java's exception class name
//! ([`RemoteException`]), e.g. `org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException`.

use std::time::Duration;

pub use spate_hadoop_ipc::RemoteException;

/// Result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to YARN.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Hadoop RPC layer failed: no connection, refused authentication, or a Java exception
    /// thrown by the ResourceManager or NodeManager for this call.
    #[error(transparent)]
    Ipc(#[from] spate_hadoop_ipc::Error),
    /// Staging files in HDFS failed.
    #[error(transparent)]
    Fs(#[from] spate_fs::Error),
    /// The scheduler has no queue of this name. `remote` is the Java exception when the
    /// ResourceManager threw one (a CapacityScheduler answers with no queue information instead).
    #[error("unknown yarn queue '{queue}': the scheduler has no queue of that name{}", remote_suffix(.remote.as_ref()))]
    UnknownQueue {
        queue: String,
        remote: Option<RemoteException>,
    },
    /// A NodeManager refused one container of a batch call.
    #[error("{op} of container {container} on {node} failed: {class_name}: {message}")]
    Container {
        op: &'static str,
        container: String,
        node: String,
        class_name: String,
        message: String,
    },
    /// A server's answer lacks something YARN always sends, or holds an unknown value.
    #[error("malformed yarn response: {0}")]
    Protocol(String),
    /// A Hadoop token storage file (`HADOOP_TOKEN_FILE_LOCATION`) is unreadable or malformed.
    #[error("token file {path}: {message}")]
    TokenFile { path: String, message: String },
    /// A configuration value or environment variable is missing or malformed.
    #[error("yarn configuration: {0}")]
    Conf(String),
    /// A string that is not a YARN id (`application_…`, `container_…`, `host:port`).
    #[error("invalid yarn {kind} '{value}'")]
    InvalidId { kind: &'static str, value: String },
    /// An argument the caller passed is unusable (e.g. a link name with a `/`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A local file to stage could not be read.
    #[error("cannot read local file {path}: {source}")]
    LocalFile { path: String, source: std::io::Error },
    /// Waiting for a condition took longer than allowed.
    #[error("timed out after {:.1}s waiting for {what}", .waited.as_secs_f64())]
    Timeout { what: String, waited: Duration },
}

impl Error {
    /// The Java exception the server threw, if that is what this error is.
    pub fn remote(&self) -> Option<&RemoteException> {
        match self {
            Error::Ipc(e) => e.remote(),
            Error::UnknownQueue { remote, .. } => remote.as_ref(),
            _ => None,
        }
    }

    /// The Java class name of the server's exception, e.g.
    /// `org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException`.
    pub fn java_class(&self) -> Option<&str> {
        match self {
            Error::Container { class_name, .. } => Some(class_name),
            other => other.remote().map(|r| r.class_name.as_str()),
        }
    }

    pub(crate) fn protocol(msg: impl Into<String>) -> Self {
        Error::Protocol(msg.into())
    }

    /// A response message without a field YARN always sets.
    pub(crate) fn missing(message: &str, field: &str) -> Self {
        Error::Protocol(format!("{message} without {field}"))
    }
}

fn remote_suffix(remote: Option<&RemoteException>) -> String {
    remote.map(|r| format!(" ({r})")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_queue_names_the_queue_and_keeps_the_class() {
        let e = Error::UnknownQueue {
            queue: "nightly".into(),
            remote: Some(RemoteException {
                class_name: "org.apache.hadoop.yarn.exceptions.YarnException".into(),
                message: "java.io.IOException: Unknown queue: nightly".into(),
                fatal: false,
            }),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("'nightly'") && msg.contains("YarnException"),
            "{msg}"
        );
        assert_eq!(
            e.java_class(),
            Some("org.apache.hadoop.yarn.exceptions.YarnException")
        );
        assert!(Error::Conf("x".into()).remote().is_none());
        let plain = Error::UnknownQueue {
            queue: "q".into(),
            remote: None,
        };
        assert_eq!(
            plain.to_string(),
            "unknown yarn queue 'q': the scheduler has no queue of that name"
        );
        assert_eq!(plain.java_class(), None);
    }
}
