//! YARN's client configuration: `core-site.xml`, `hdfs-site.xml` and `yarn-site.xml` from
//! `$HADOOP_CONF_DIR` (or `$YARN_CONF_DIR`), and the ResourceManager addresses in them.

use std::path::Path;

use spate_hadoop_ipc::HadoopConf;

use crate::error::{Error, Result};

/// `yarn.resourcemanager.address`: where clients submit applications.
pub const RM_ADDRESS: &str = "yarn.resourcemanager.address";
/// `yarn.resourcemanager.scheduler.address`: where ApplicationMasters register and allocate.
pub const RM_SCHEDULER_ADDRESS: &str = "yarn.resourcemanager.scheduler.address";
const RM_HOSTNAME: &str = "yarn.resourcemanager.hostname";
const DEFAULT_RM_PORT: u16 = 8032;
const DEFAULT_RM_SCHEDULER_PORT: u16 = 8030;

/// Hadoop configuration including `yarn-site.xml`.
#[derive(Debug, Clone, Default)]
pub struct YarnConf {
    hadoop: HadoopConf,
}

impl YarnConf {
    /// The files of `$HADOOP_CONF_DIR`, else `$YARN_CONF_DIR`; an error if neither is set.
    pub fn from_env() -> Result<Self> {
        let dir = ["HADOOP_CONF_DIR", "YARN_CONF_DIR"]
            .iter()
            .find_map(|v| std::env::var_os(v).filter(|d| !d.is_empty()))
            .ok_or_else(|| Error::Conf("neither HADOOP_CONF_DIR nor YARN_CONF_DIR is set".into()))?;
        Self::from_dir(Path::new(&dir))
    }

    /// `core-site.xml`, `hdfs-site.xml` and `yarn-site.xml` from `dir`, each only if present.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let mut hadoop = HadoopConf::from_dir(dir)?;
        let yarn_site = dir.join("yarn-site.xml");
        if yarn_site.is_file() {
            hadoop.add_file(&yarn_site)?;
        }
        Ok(YarnConf { hadoop })
    }

    /// Wraps properties read elsewhere.
    pub fn from_hadoop(hadoop: HadoopConf) -> Self {
        YarnConf { hadoop }
    }

    /// All properties, e.g. for the NameNode address of `fs.defaultFS`.
    pub fn hadoop(&self) -> &HadoopConf {
        &self.hadoop
    }

    /// The value of `key` with `${other.key}` references replaced by their values (one level,
    /// as in yarn-default.xml's `${yarn.resourcemanager.hostname}:8032`).
    pub fn get(&self, key: &str) -> Option<String> {
        let raw = self.hadoop.get(key)?;
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Some(out);
            };
            let name = &after[..end];
            match self.hadoop.get(name) {
                Some(v) if name != key => out.push_str(v),
                _ => out.push_str(&rest[start..start + 3 + end]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// Sets a property.
    pub fn set(&mut self, key: &str, value: &str) {
        self.hadoop.set(key, value);
    }

    /// `host:port` of the ResourceManager's client service.
    pub fn rm_address(&self) -> Result<String> {
        self.address(RM_ADDRESS, DEFAULT_RM_PORT)
    }

    /// `host:port` of the ResourceManager's scheduler (ApplicationMaster) service.
    pub fn scheduler_address(&self) -> Result<String> {
        self.address(RM_SCHEDULER_ADDRESS, DEFAULT_RM_SCHEDULER_PORT)
    }

    /// `key` as `host:port`; when unset, `yarn.resourcemanager.hostname` with `default_port`.
    fn address(&self, key: &str, default_port: u16) -> Result<String> {
        let addr = match self.get(key) {
            Some(a) if !a.trim().is_empty() => a.trim().to_string(),
            _ => {
                let host = self.get(RM_HOSTNAME).ok_or_else(|| {
                    Error::Conf(format!(
                        "neither {key} nor {RM_HOSTNAME} is set (is HADOOP_CONF_DIR the cluster's \
                         configuration, with yarn-site.xml?)"
                    ))
                })?;
                format!("{}:{default_port}", host.trim())
            }
        };
        check_address(key, &addr)?;
        Ok(addr)
    }
}

/// `host:port` with a non-empty host and a numeric port.
pub(crate) fn check_address(what: &str, addr: &str) -> Result<()> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.contains("${") && port.parse::<u16>().is_ok() => {
            Ok(())
        }
        _ => Err(Error::Conf(format!("{what} is '{addr}', expected host:port"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(xml: &str) -> YarnConf {
        let mut h = HadoopConf::default();
        h.add_xml(xml).unwrap();
        YarnConf::from_hadoop(h)
    }

    #[test]
    fn explicit_addresses() {
        let c = conf(
            "<configuration>\
             <property><name>yarn.resourcemanager.address</name><value>127.0.0.1:8032</value></property>\
             <property><name>yarn.resourcemanager.scheduler.address</name><value> 127.0.0.1:18030 </value></property>\
             </configuration>",
        );
        assert_eq!(c.rm_address().unwrap(), "127.0.0.1:8032");
        assert_eq!(c.scheduler_address().unwrap(), "127.0.0.1:18030");
    }

    #[test]
    fn hostname_defaults_and_references() {
        let c = conf(
            "<configuration>\
             <property><name>yarn.resourcemanager.hostname</name><value>rm.example</value></property>\
             <property><name>yarn.resourcemanager.scheduler.address</name>\
               <value>${yarn.resourcemanager.hostname}:8030</value></property>\
             </configuration>",
        );
        assert_eq!(c.rm_address().unwrap(), "rm.example:8032");
        assert_eq!(c.scheduler_address().unwrap(), "rm.example:8030");
    }

    #[test]
    fn bad_or_missing_addresses_are_errors() {
        assert!(YarnConf::default().rm_address().is_err());
        let c = conf(
            "<configuration>\
             <property><name>yarn.resourcemanager.address</name><value>${undefined.key}:1</value></property>\
             <property><name>yarn.resourcemanager.scheduler.address</name><value>host:port</value></property>\
             <property><name>self</name><value>${self}</value></property>\
             <property><name>open</name><value>a${b</value></property>\
             </configuration>",
        );
        assert!(c.rm_address().is_err());
        assert!(c.scheduler_address().is_err());
        assert_eq!(c.get("self").as_deref(), Some("${self}"));
        assert_eq!(c.get("open").as_deref(), Some("a${b"));
    }

    #[test]
    fn reads_yarn_site_from_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("yarn-site.xml"),
            "<configuration><property><name>yarn.resourcemanager.address</name>\
             <value>10.0.0.1:8032</value></property></configuration>",
        )
        .unwrap();
        let c = YarnConf::from_dir(dir.path()).unwrap();
        assert_eq!(c.rm_address().unwrap(), "10.0.0.1:8032");
        std::fs::write(dir.path().join("yarn-site.xml"), "<configuration>").unwrap();
        assert!(YarnConf::from_dir(dir.path()).is_err());
    }
}
