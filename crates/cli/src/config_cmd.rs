//! `spate config keys` and `spate config show`, and the configuration loading shared with
//! `spate run`.

use anyhow::Result;
use clap::{Args, Subcommand};
use spate_common::config::{keys, Configuration, KeySpec, ValueKind, ENV_CONFIG_FILE, ENV_CONF_DIR};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

/// The `spate config` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// List every configuration key with its type, default and description.
    Keys,
    /// Print the effective configuration (the keys set by the file and -D) as YAML.
    ///
    /// The configuration is checked exactly as `spate run` checks it, so this is also a way to
    /// validate a configuration file. Keys that are not printed take their defaults.
    Show(ConfigArgs),
}

/// Where the configuration comes from; shared by `run` and `config show`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// YAML configuration file (default: $SPATE_CONF_DIR/config.yaml when that exists).
    ///
    /// Keys may be flat (`parallelism.default: 4`) or nested (`parallelism: {default: 4}`).
    #[arg(short = 'c', long = "config", value_name = "FILE", env = ENV_CONFIG_FILE)]
    config_file: Option<PathBuf>,

    /// Set a configuration key, overriding the file; may be repeated (also -Dkey=value).
    ///
    /// Unknown keys and bad values are rejected before anything runs; `spate config keys` lists
    /// the keys.
    #[arg(short = 'D', value_name = "KEY=VALUE", action = clap::ArgAction::Append)]
    properties: Vec<String>,
}

impl ConfigArgs {
    /// The configuration file to load: `-c`, else `$SPATE_CONF_DIR/config.yaml` if it exists.
    fn file(&self) -> Option<PathBuf> {
        self.config_file.clone().or_else(|| {
            let file = PathBuf::from(std::env::var_os(ENV_CONF_DIR)?).join("config.yaml");
            file.is_file().then_some(file)
        })
    }
}

/// The configuration a command works with, and the file it came from.
#[derive(Debug)]
pub(crate) struct Effective {
    pub(crate) conf: Configuration,
    pub(crate) file: Option<PathBuf>,
}

/// Loads the configuration file (if any), then applies the `-D` overrides.
pub(crate) fn load(args: &ConfigArgs) -> Result<Effective> {
    let file = args.file();
    let mut conf = match &file {
        Some(path) => Configuration::load(path)?,
        None => Configuration::default(),
    };
    let mut overrides = Configuration::default();
    overrides.apply_dynamic(&args.properties)?;
    conf.merge(&overrides);
    Ok(Effective { conf, file })
}

pub(crate) fn run(cmd: &ConfigCommand) -> Result<()> {
    let text = match cmd {
        ConfigCommand::Keys => keys_table(keys::ALL),
        ConfigCommand::Show(args) => {
            let effective = load(args)?;
            if effective.conf.iter().next().is_none() {
                eprintln!(
                    "no configuration keys are set; every key takes its default (see `spate config keys`)"
                );
            }
            to_yaml(&effective.conf)
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// One key per two lines: name, type and default, then the indented description.
fn keys_table(specs: &[&KeySpec]) -> String {
    let rows: Vec<(&str, String, &str)> = specs
        .iter()
        .map(|s| {
            let default = if s.default.is_empty() { "-" } else { s.default };
            (s.name, kind_text(s.kind), default)
        })
        .collect();
    let name_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max("KEY".len());
    let kind_w = rows
        .iter()
        .map(|r| r.1.len())
        .max()
        .unwrap_or(0)
        .max("TYPE".len());
    let mut out = format!("{:name_w$}  {:kind_w$}  DEFAULT\n", "KEY", "TYPE");
    for ((name, kind, default), spec) in rows.iter().zip(specs) {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{name:name_w$}  {kind:kind_w$}  {default}");
        let _ = writeln!(out, "    {}", spec.description);
    }
    out
}

fn kind_text(kind: ValueKind) -> String {
    match kind {
        ValueKind::Int { min } => format!("integer >= {min}"),
        ValueKind::Duration => "duration".into(),
        ValueKind::MemorySize => "memory size".into(),
        ValueKind::Enum(words) => words.join("|"),
        ValueKind::Bool => "true|false".into(),
        ValueKind::Text => "text".into(),
    }
}

/// The explicitly set values as flat `key: value` YAML lines, readable back with `-c`.
pub(crate) fn to_yaml(conf: &Configuration) -> String {
    conf.iter()
        .map(|(k, v)| format!("{}: {}\n", yaml_scalar(k), yaml_scalar(v)))
        .collect()
}

/// `text` as a YAML scalar that reads back as the same text: plain when that is unambiguous
/// (`4`, `100ms`, `BATCH`, `/tmp/spill`), double-quoted otherwise.
fn yaml_scalar(text: &str) -> String {
    if is_plain_safe(text) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_plain_safe(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    // A decimal integer without leading zeros reads back as the same digits.
    if bytes.iter().all(u8::is_ascii_digit) {
        return first != b'0' || bytes.len() == 1;
    }
    // A number with a unit (`100ms`, `4mb`) is not a YAML number.
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 {
        return bytes[digits..].iter().all(u8::is_ascii_alphabetic);
    }
    // A word or a path, unless YAML gives the word a meaning of its own.
    let word_chars = |b: &u8| b.is_ascii_alphanumeric() || b"._/-".contains(b);
    let reserved = ["null", "true", "false", "yes", "no", "on", "off", "y", "n"];
    (first.is_ascii_alphabetic() || first == b'/')
        && bytes.iter().all(word_chars)
        && (text == "true" || text == "false" || !reserved.contains(&text.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;

    #[test]
    fn table_lists_every_key() {
        let table = keys_table(keys::ALL);
        for spec in keys::ALL {
            assert!(table.contains(spec.name), "{table}");
            assert!(table.contains(spec.description), "{table}");
        }
        assert!(table.contains("STREAMING|BATCH|AUTOMATIC"));
    }

    #[test]
    fn scalars() {
        for plain in ["4", "0", "100ms", "4mb", "BATCH", "/tmp/spill-1", "true"] {
            assert_eq!(yaml_scalar(plain), plain);
        }
        assert_eq!(yaml_scalar("5 s"), "\"5 s\"");
        assert_eq!(yaml_scalar("007"), "\"007\"");
        assert_eq!(yaml_scalar("null"), "\"null\"");
        assert_eq!(yaml_scalar("a: \"b\"\\"), r#""a: \"b\"\\""#);
        assert_eq!(yaml_scalar(""), "\"\"");
    }

    #[test]
    fn yaml_reads_back() {
        let mut conf = Configuration::default();
        conf.apply_dynamic(&[
            "parallelism.default=12",
            "execution.buffer-timeout=5 s",
            "execution.runtime-mode=BATCH",
            "taskmanager.network.blocking-shuffle.memory-per-partition=64mb",
        ])
        .unwrap();
        for dir in [
            "/tmp/spill",
            "C:\\spill",
            "null",
            "0x10",
            "1e3",
            "a: b # c",
            "'q'",
            "~",
            "-x",
            "tab\there",
        ] {
            conf.set_str("io.tmp.dirs", dir).unwrap();
            let yaml = to_yaml(&conf);
            let back = Configuration::from_yaml(&yaml, Path::new("show.yaml")).unwrap();
            assert_eq!(back, conf, "{yaml}");
        }
    }
}
