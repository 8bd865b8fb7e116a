//! The crate's error type. A failed call on the server keeps Java's exception class name
//! ([`RemoteException`]) so callers can match on it and users can search for it.

use std::io;

/// Result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a Hadoop IPC server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No TCP connection could be made, after every retry.
    #[error("cannot connect to hadoop ipc server {addr} after {attempts} attempt(s): {source}")]
    Connect {
        addr: String,
        attempts: u32,
        source: io::Error,
    },
    /// The connection failed (reset, closed, timed out) after it was made.
    #[error("i/o error talking to hadoop ipc server {addr}: {source}")]
    Io { addr: String, source: io::Error },
    /// The server answered with an error (its Java exception).
    #[error(transparent)]
    Remote(#[from] RemoteException),
    /// The server sent bytes that do not follow the protocol.
    #[error("malformed hadoop rpc data: {0}")]
    Protocol(String),
    /// A length prefix announced more bytes than this client accepts.
    #[error("hadoop rpc frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: u64, max: u64 },
    /// A protobuf message did not decode.
    #[error("cannot decode {what}: {source}")]
    Decode {
        what: &'static str,
        source: prost::DecodeError,
    },
    /// SASL negotiation failed on the client side (the server's refusals are [`Error::Remote`]).
    #[error("sasl: {0}")]
    Sasl(String),
    /// A Hadoop configuration file could not be read or is malformed.
    #[error("hadoop configuration {path}: {message}")]
    Conf { path: String, message: String },
    /// An address or URI that is not `host:port` / `hdfs://host:port`.
    #[error("invalid hadoop address '{0}': expected host:port or hdfs://host:port")]
    InvalidAddress(String),
    /// A path that is neither absolute nor an `hdfs://` URI.
    #[error("invalid hdfs path '{0}': expected an absolute path or hdfs://host:port/path")]
    InvalidPath(String),
}

impl Error {
    /// The remote exception, if the server sent one.
    pub fn remote(&self) -> Option<&RemoteException> {
        match self {
            Error::Remote(r) => Some(r),
            _ => None,
        }
    }

    /// True when the connection is unusable afterwards and a new one is needed.
    pub fn breaks_connection(&self) -> bool {
        match self {
            Error::Remote(r) => r.fatal,
            Error::Connect { .. } | Error::Io { .. } | Error::Protocol(_) | Error::FrameTooLarge { .. } => {
                true
            }
            Error::Decode { .. } | Error::Sasl(_) => true,
            Error::Conf { .. } | Error::InvalidAddress(_) | Error::InvalidPath(_) => false,
        }
    }

    pub(crate) fn protocol(msg: impl Into<String>) -> Self {
        Error::Protocol(msg.into())
    }
}

/// An exception thrown by the Hadoop server for one call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class_name}: {}", first_line(.message))]
pub struct RemoteException {
    /// Java class name, e.g. `java.io.FileNotFoundException`.
    pub class_name: String,
    /// The exception's message (sometimes with a server-side stack trace).
    pub message: String,
    /// The server closed the connection (status FATAL), e.g. failed authentication.
    pub fatal: bool,
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

impl RemoteException {
    /// `java.io.FileNotFoundException`: the path does not exist.
    pub fn is_file_not_found(&self) -> bool {
        self.class_name == "java.io.FileNotFoundException"
    }

    /// `org.apache.hadoop.security.AccessControlException` (permission denied, or refused auth).
    pub fn is_access_control(&self) -> bool {
        self.class_name.ends_with(".AccessControlException")
    }

    /// `SafeModeException`: the NameNode is in safe mode; retry later.
    pub fn is_safe_mode(&self) -> bool {
        self.class_name == "org.apache.hadoop.hdfs.server.namenode.SafeModeException"
    }

    /// `StandbyException`: this NameNode is the standby of an HA pair; try the other one.
    pub fn is_standby(&self) -> bool {
        self.class_name == "org.apache.hadoop.ipc.StandbyException"
    }

    /// `SecretManager$InvalidToken`: the token is expired, cancelled or unknown.
    pub fn is_invalid_token(&self) -> bool {
        self.class_name == "org.apache.hadoop.security.token.SecretManager$InvalidToken"
    }

    /// The class name without its package, e.g. `FileNotFoundException`.
    pub fn simple_class_name(&self) -> &str {
        self.class_name
            .rsplit(['.', '$'])
            .next()
            .unwrap_or(&self.class_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_exception_helpers_and_display() {
        let e = RemoteException {
            class_name: "java.io.FileNotFoundException".into(),
            message: "File does not exist: /x\n\tat org.apache...".into(),
            fatal: false,
        };
        assert!(e.is_file_not_found());
        assert!(!e.is_standby());
        assert_eq!(e.simple_class_name(), "FileNotFoundException");
        assert_eq!(
            e.to_string(),
            "java.io.FileNotFoundException: File does not exist: /x"
        );
        let err = Error::from(e);
        assert!(err.remote().is_some_and(RemoteException::is_file_not_found));
        assert!(!err.breaks_connection());
    }

    #[test]
    fn inner_class_names() {
        let e = RemoteException {
            class_name: "org.apache.hadoop.security.token.SecretManager$InvalidToken".into(),
            message: String::new(),
            fatal: true,
        };
        assert!(e.is_invalid_token());
        assert_eq!(e.simple_class_name(), "InvalidToken");
        assert_eq!(
            e.to_string(),
            "org.apache.hadoop.security.token.SecretManager$InvalidToken: "
        );
    }
}
