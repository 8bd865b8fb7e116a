//! A reader for Hadoop's `*-site.xml` configuration files (`<configuration><property><name>…
//! </name><value>…</value></property>…</configuration>`), and the NameNode addresses of an
//! `hdfs://` authority or of `fs.defaultFS`.
//!
//! An authority is a `host:port`, or a nameservice as Hadoop's client configuration defines it:
//! `dfs.nameservices` lists the nameservices; an HA one lists its NameNodes' ids in
//! `dfs.ha.namenodes.<ns>` and gives each one's RPC address in
//! `dfs.namenode.rpc-address.<ns>.<id>` (a nameservice without HA has one
//! `dfs.namenode.rpc-address.<ns>`). Any other host is a NameNode on the default port, 8020.
//!
//! Later files override earlier ones, except for properties marked `<final>true</final>`.
//! `${var}` references are not expanded; `xi:include` is not followed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::error::{Error, Result};

/// Files larger than this are refused (real site files are a few KiB).
const MAX_FILE_LEN: u64 = 16 * 1024 * 1024;
/// The NameNode's default RPC port.
pub const DEFAULT_NAMENODE_PORT: u16 = 8020;

/// Hadoop configuration properties.
#[derive(Debug, Clone, Default)]
pub struct HadoopConf {
    props: BTreeMap<String, String>,
    finals: Vec<String>,
}

impl HadoopConf {
    /// `core-site.xml` and `hdfs-site.xml` from `$HADOOP_CONF_DIR` (each only if present); an
    /// error if the variable is unset.
    pub fn from_env() -> Result<Self> {
        let dir = std::env::var_os("HADOOP_CONF_DIR").ok_or_else(|| Error::Conf {
            path: "$HADOOP_CONF_DIR".into(),
            message: "environment variable is not set".into(),
        })?;
        Self::from_dir(Path::new(&dir))
    }

    /// `core-site.xml` and `hdfs-site.xml` from `dir` (each only if present).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Conf {
                path: dir.display().to_string(),
                message: "not a directory".into(),
            });
        }
        let mut conf = HadoopConf::default();
        for name in ["core-site.xml", "hdfs-site.xml"] {
            let path: PathBuf = dir.join(name);
            if path.is_file() {
                conf.add_file(&path)?;
            }
        }
        Ok(conf)
    }

    /// Adds the properties of one file.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let err = |message: String| Error::Conf {
            path: path.display().to_string(),
            message,
        };
        let len = std::fs::metadata(path).map_err(|e| err(e.to_string()))?.len();
        if len > MAX_FILE_LEN {
            return Err(err(format!(
                "{len} bytes is larger than the {MAX_FILE_LEN} bytes allowed"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        self.add_xml(&text).map_err(err)
    }

    /// Adds the properties of an XML document; the error says what is malformed.
    pub fn add_xml(&mut self, xml: &str) -> std::result::Result<(), String> {
        for (name, value, is_final) in parse_properties(xml)? {
            if self.finals.contains(&name) {
                continue;
            }
            if is_final {
                self.finals.push(name.clone());
            }
            self.props.insert(name, value);
        }
        Ok(())
    }

    /// The value of a property.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// Sets a property (overriding a file's value).
    pub fn set(&mut self, key: &str, value: &str) {
        self.props.insert(key.to_string(), value.to_string());
    }

    /// The NameNode's `host:port` from `fs.defaultFS` (`hdfs://host[:port]`); for an HA
    /// nameservice the first of its NameNodes, which may be the standby: prefer
    /// [`HadoopConf::namenode_addresses`] (or [`crate::NameNodeClient::from_conf`], which fails over).
    pub fn namenode_address(&self) -> Result<String> {
        let mut addrs = self.namenode_addresses()?;
        Ok(addrs.swap_remove(0))
    }

    /// The RPC addresses (`host:port`) of the NameNodes of `fs.defaultFS`, in the order to try
    /// them (see the module docs).
    pub fn namenode_addresses(&self) -> Result<Vec<String>> {
        let fs = self.get("fs.defaultFS").ok_or_else(|| Error::Conf {
            path: "fs.defaultFS".into(),
            message: "not set (is HADOOP_CONF_DIR pointing at the cluster's configuration?)".into(),
        })?;
        self.namenode_addresses_of(authority_of(fs)?)
    }

    /// The RPC addresses (`host:port`) of the NameNodes of the `hdfs://` authority `authority`, in
    /// the order to try them: a `host:port` itself; the NameNodes of a nameservice in the order
    /// `dfs.ha.namenodes.<ns>` lists them; `host:8020` for any other host.
    pub fn namenode_addresses_of(&self, authority: &str) -> Result<Vec<String>> {
        let ns = authority.trim();
        if ns.is_empty() || ns.contains(':') {
            return Ok(vec![namenode_address(&format!("hdfs://{ns}"))?]);
        }
        let conf_error = |path: String, message: String| Error::Conf { path, message };
        let rpc_address = |key: String| -> Result<String> {
            let value = self
                .get(&key)
                .ok_or_else(|| conf_error(key.clone(), "not set".into()))?;
            namenode_address(&format!("hdfs://{}", value.trim()))
        };
        let ha_key = format!("dfs.ha.namenodes.{ns}");
        if let Some(ids) = self.get(&ha_key) {
            let addrs = ids
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| rpc_address(format!("dfs.namenode.rpc-address.{ns}.{id}")))
                .collect::<Result<Vec<_>>>()?;
            if addrs.is_empty() {
                return Err(conf_error(ha_key, "lists no namenodes".into()));
            }
            return Ok(addrs);
        }
        let single_key = format!("dfs.namenode.rpc-address.{ns}");
        if self.get(&single_key).is_some() {
            return Ok(vec![rpc_address(single_key)?]);
        }
        let listed = self
            .get("dfs.nameservices")
            .is_some_and(|list| list.split(',').any(|n| n.trim() == ns));
        if listed {
            return Err(conf_error(
                ha_key,
                format!("not set, nor {single_key}: nameservice {ns} has no namenodes"),
            ));
        }
        Ok(vec![format!("{ns}:{DEFAULT_NAMENODE_PORT}")])
    }
}

/// The authority of an `hdfs://authority[/path]` URI.
fn authority_of(uri: &str) -> Result<&str> {
    let rest = uri
        .trim()
        .strip_prefix("hdfs://")
        .ok_or_else(|| Error::InvalidAddress(uri.to_string()))?;
    Ok(rest.split('/').next().unwrap_or_default())
}

/// `host:port` of an `hdfs://host[:port][/path]` URI (port 8020 when absent).
pub fn namenode_address(uri: &str) -> Result<String> {
    let invalid = || Error::InvalidAddress(uri.to_string());
    let rest = uri.trim().strip_prefix("hdfs://").ok_or_else(invalid)?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid());
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(authority.to_string()),
        Some(_) => Err(invalid()),
        None => Ok(format!("{authority}:{DEFAULT_NAMENODE_PORT}")),
    }
}

/// (name, value, final) of each `<property>`.
fn parse_properties(xml: &str) -> std::result::Result<Vec<(String, String, bool)>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut current: Option<(Option<String>, Option<String>, bool)> = None;
    let mut saw_root = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {pos}: {e}"))?;
        match event {
            Event::Start(e) => {
                let tag = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match (stack.len(), tag.as_str()) {
                    (0, "configuration") => saw_root = true,
                    (0, other) => return Err(format!("root element is <{other}>, expected <configuration>")),
                    (1, "property") => current = Some((None, None, false)),
                    _ => {}
                }
                stack.push(tag);
            }
            Event::End(_) => {
                if stack.len() == 2 && stack[1] == "property" {
                    if let Some((Some(name), value, is_final)) = current.take() {
                        out.push((name, value.unwrap_or_default(), is_final));
                    }
                }
                stack.pop();
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| format!("bad text at byte {pos}: {e}"))?;
                set_field(&stack, &mut current, text.trim());
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t.into_inner()).into_owned();
                set_field(&stack, &mut current, text.trim());
            }
            Event::Empty(e) if stack.is_empty() && e.local_name().as_ref() == b"configuration" => {
                saw_root = true
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(format!("unexpected end of file inside <{}>", stack.join("><")));
    }
    if !saw_root {
        return Err("no <configuration> element".into());
    }
    Ok(out)
}

fn set_field(stack: &[String], current: &mut Option<(Option<String>, Option<String>, bool)>, text: &str) {
    let (Some(field), Some((name, value, is_final))) = (stack.get(2), current.as_mut()) else {
        return;
    };
    if stack.len() != 3 {
        return;
    }
    match field.as_str() {
        "name" => *name = Some(text.to_string()),
        "value" => *value = Some(value.take().unwrap_or_default() + text),
        "final" => *is_final = text == "true",
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORE: &str = r#"<?xml version="1.0"?>
<?xml-stylesheet type="text/xsl" href="configuration.xsl"?>
<configuration>
  <!-- a comment -->
  <property><name>fs.defaultFS</name><value>hdfs://127.0.0.1:9000</value><final>true</final></property>
  <property>
    <name>a.b</name>
    <value> x &amp; y </value>
    <description>ignored</description>
  </property>
  <property><name>empty</name><value/></property>
  <property><name>cdata</name><value><![CDATA[<raw>]]></value></property>
</configuration>"#;

    #[test]
    fn reads_properties_and_finals() {
        let mut c = HadoopConf::default();
        c.add_xml(CORE).unwrap();
        assert_eq!(c.get("fs.defaultFS"), Some("hdfs://127.0.0.1:9000"));
        assert_eq!(c.get("a.b"), Some("x & y"));
        assert_eq!(c.get("empty"), Some(""));
        assert_eq!(c.get("cdata"), Some("<raw>"));
        assert_eq!(c.get("description"), None);
        c.add_xml("<configuration><property><name>fs.defaultFS</name><value>hdfs://other</value></property><property><name>a.b</name><value>z</value></property></configuration>").unwrap();
        assert_eq!(c.get("fs.defaultFS"), Some("hdfs://127.0.0.1:9000")); // final
        assert_eq!(c.get("a.b"), Some("z"));
        assert_eq!(c.namenode_address().unwrap(), "127.0.0.1:9000");
    }

    #[test]
    fn namenode_addresses() {
        assert_eq!(namenode_address("hdfs://nn").unwrap(), "nn:8020");
        assert_eq!(namenode_address("hdfs://nn:1234/user").unwrap(), "nn:1234");
        for bad in [
            "file:///",
            "hdfs://",
            "hdfs://nn:x",
            "hdfs://:80",
            "hdfs://nn:99999",
            "nn:8020",
        ] {
            assert!(namenode_address(bad).is_err(), "{bad}");
        }
        assert!(HadoopConf::default().namenode_address().is_err());
    }

    #[test]
    fn nameservices_resolve_to_their_namenodes_in_order() {
        let mut c = HadoopConf::default();
        c.add_xml(
            "<configuration>
              <property><name>fs.defaultFS</name><value>hdfs://ns1/</value></property>
              <property><name>dfs.nameservices</name><value>ns1, ns2,ns3</value></property>
              <property><name>dfs.ha.namenodes.ns1</name><value> nn2, nn1 </value></property>
              <property><name>dfs.namenode.rpc-address.ns1.nn1</name><value>a.example:8020</value></property>
              <property><name>dfs.namenode.rpc-address.ns1.nn2</name><value>b.example</value></property>
              <property><name>dfs.namenode.rpc-address.ns2</name><value>c.example:9000</value></property>
              <property><name>dfs.ha.namenodes.bad</name><value>x</value></property>
            </configuration>",
        )
        .unwrap();
        assert_eq!(
            c.namenode_addresses().unwrap(),
            ["b.example:8020", "a.example:8020"]
        );
        assert_eq!(c.namenode_address().unwrap(), "b.example:8020");
        assert_eq!(c.namenode_addresses_of("ns2").unwrap(), ["c.example:9000"]);
        assert_eq!(c.namenode_addresses_of("nn:1234").unwrap(), ["nn:1234"]);
        assert_eq!(c.namenode_addresses_of("plainhost").unwrap(), ["plainhost:8020"]);
        let e = c.namenode_addresses_of("ns3").unwrap_err().to_string();
        assert!(e.contains("nameservice ns3 has no namenodes"), "{e}");
        let e = c.namenode_addresses_of("bad").unwrap_err().to_string();
        assert!(e.contains("dfs.namenode.rpc-address.bad.x: not set"), "{e}");
        assert!(c.namenode_addresses_of("").is_err());
        c.set("fs.defaultFS", "file:///");
        assert!(c.namenode_addresses().is_err());
    }

    #[test]
    fn malformed_xml_is_an_error() {
        for bad in [
            "",
            "not xml at all",
            "<configuration><property>",
            "<configuration></wrong>",
            "<other/>",
            "<root><property/></root>",
            "<configuration><property><name>a</name><value>&bogus;</value></property></configuration>",
        ] {
            assert!(HadoopConf::default().add_xml(bad).is_err(), "{bad:?}");
        }
        for cut in 0..CORE.len() {
            if CORE.is_char_boundary(cut) {
                let _ = HadoopConf::default().add_xml(&CORE[..cut]);
            }
        }
    }

    #[test]
    fn files_and_dirs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("core-site.xml"), CORE).unwrap();
        let c = HadoopConf::from_dir(dir.path()).unwrap();
        assert_eq!(c.get("a.b"), Some("x & y"));
        std::fs::write(dir.path().join("hdfs-site.xml"), "<configuration>").unwrap();
        let err = HadoopConf::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("hdfs-site.xml"), "{err}");
        assert!(HadoopConf::from_dir(&dir.path().join("missing")).is_err());
    }
}
