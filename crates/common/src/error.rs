use std::path::PathBuf;

/// Errors of the configuration and helper layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration key that Spate does not know.
    #[error("unknown configuration key '{key}'{}", hint.as_ref().map(|h| format!(" (did you mean '{h}'?)")).unwrap_or_default())]
    UnknownKey { key: String, hint: Option<String> },
    /// A value that does not parse for its key.
    #[error("bad value '{value}' for configuration key '{key}': {reason}")]
    BadValue {
        key: String,
        value: String,
        reason: String,
    },
    /// A `-D` argument that is not `key=value`.
    #[error("bad dynamic property '{0}': expected key=value")]
    BadProperty(String),
    /// A configuration file that cannot be read or parsed.
    #[error("configuration file {path}: {reason}")]
    ConfigFile { path: PathBuf, reason: String },
    /// An operating-system error with context.
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
