//! The cluster secret on the control plane.
//!
//! Every gRPC call carries the secret as hex in the `x-spate-secret` metadata entry; the
//! JobManager's interceptor compares it in constant time and refuses the call otherwise. (The data
//! plane proves knowledge of the same secret with an HMAC challenge, see [`crate::net`].)
//!
//! Where the secret comes from, in order: `security.cluster.secret`, the file named by
//! `security.cluster.secret-file`, else the default file of the JobManager's RPC port,
//! [`default_secret_file`], which a JobManager that generated its secret writes (mode 0600).

use crate::net::Secret;
use spate_common::config::{keys, Configuration};
use std::path::{Path, PathBuf};
use tonic::{Request, Status};

/// Metadata key of the secret.
pub const SECRET_HEADER: &str = "x-spate-secret";

/// The default secret file of a cluster whose JobManager listens on `rpc_port`.
pub fn default_secret_file(rpc_port: u16) -> PathBuf {
    let user = std::env::var("USER").unwrap_or_else(|_| "spate".into());
    std::env::temp_dir()
        .join(format!("spate-{user}"))
        .join(format!("cluster-{rpc_port}.secret"))
}

/// The secret file a configuration names, or the default one.
pub fn secret_file(conf: &Configuration, rpc_port: u16) -> PathBuf {
    conf.get_opt(&keys::CLUSTER_SECRET_FILE)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| default_secret_file(rpc_port))
}

/// Reads the secret of a client or TaskManager: `security.cluster.secret`, else
/// `$SPATE_CLUSTER_SECRET`, else the secret file.
pub fn load_secret(conf: &Configuration, rpc_port: u16) -> anyhow::Result<Secret> {
    if let Some(s) = conf.get_opt(&keys::CLUSTER_SECRET).filter(|s| !s.is_empty()) {
        return Secret::from_hex(s.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", keys::CLUSTER_SECRET.spec.name));
    }
    // From the environment (e.g. a YARN container's launch context): unlike a command line
    // argument, other users cannot read it.
    if let Ok(s) = std::env::var(crate::role::ENV_SECRET) {
        if !s.trim().is_empty() {
            return Secret::from_hex(s.trim())
                .map_err(|e| anyhow::anyhow!("{}: {e}", crate::role::ENV_SECRET));
        }
    }
    let file = secret_file(conf, rpc_port);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the cluster secret from {} ({e}); set {} or {}, or start the JobManager on this machine first",
            file.display(),
            keys::CLUSTER_SECRET.spec.name,
            keys::CLUSTER_SECRET_FILE.spec.name
        )
    })?;
    Secret::from_hex(text.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

/// The JobManager's secret: configured, or generated and written to the secret file.
pub fn jobmanager_secret(conf: &Configuration, rpc_port: u16) -> anyhow::Result<(Secret, PathBuf)> {
    let file = secret_file(conf, rpc_port);
    if let Some(s) = conf.get_opt(&keys::CLUSTER_SECRET).filter(|s| !s.is_empty()) {
        let secret = Secret::from_hex(s.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", keys::CLUSTER_SECRET.spec.name))?;
        return Ok((secret, file));
    }
    // A JobManager started again on the same port (or secret file) keeps the cluster's secret,
    // so that its TaskManagers and clients go on working with it; the file must be private.
    if let Some(secret) = existing_secret(&file) {
        return Ok((secret, file));
    }
    let secret = Secret::generate();
    write_private(&file, &secret.to_hex())?;
    Ok((secret, file))
}

/// The secret in `file` if it exists, is readable by its owner alone and holds a secret.
fn existing_secret(file: &Path) -> Option<Secret> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() || meta.mode() & 0o077 != 0 {
        return None;
    }
    Secret::from_hex(std::fs::read_to_string(file).ok()?.trim()).ok()
}

fn write_private(file: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    if let Some(dir) = file.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = file.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, file).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
    Ok(())
}

/// Server side: refuses calls without the secret.
#[derive(Clone)]
pub struct CheckSecret(pub std::sync::Arc<Secret>);

impl tonic::service::Interceptor for CheckSecret {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let ok = request
            .metadata()
            .get(SECRET_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|token| self.0.matches_token(token));
        if ok {
            Ok(request)
        } else {
            let peer = request
                .remote_addr()
                .map_or_else(|| "unknown peer".to_string(), |a| a.to_string());
            tracing::warn!(%peer, "refused an RPC call without the cluster secret");
            Err(Status::unauthenticated("missing or wrong cluster secret"))
        }
    }
}

/// Client side: adds the secret to every call.
#[derive(Clone)]
pub struct AddSecret(pub tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl AddSecret {
    /// An interceptor carrying `secret`.
    pub fn new(secret: &Secret) -> anyhow::Result<Self> {
        Ok(AddSecret(secret.to_hex().parse()?))
    }
}

impl tonic::service::Interceptor for AddSecret {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert(SECRET_HEADER, self.0.clone());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restarted_jobmanager_keeps_a_private_secret_file_and_replaces_others() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        let mut conf = Configuration::default();
        conf.set(&keys::CLUSTER_SECRET_FILE, file.display().to_string())
            .unwrap();
        let (first, _) = jobmanager_secret(&conf, 1).unwrap();
        let (again, _) = jobmanager_secret(&conf, 1).unwrap();
        assert_eq!(first.to_hex(), again.to_hex());
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (other, _) = jobmanager_secret(&conf, 1).unwrap();
        assert_ne!(first.to_hex(), other.to_hex());
        std::fs::write(&file, "not hex").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (fresh, _) = jobmanager_secret(&conf, 1).unwrap();
        assert_eq!(load_secret(&conf, 1).unwrap().to_hex(), fresh.to_hex());
    }
}
