//! Spate's YARN layer: Hadoop YARN's three protocols in Rust, over the project's own Hadoop IPC
//! client (`spate-hadoop-ipc`), wire-compatible with Hadoop 3.x.
//!
//! - [`ClientRmClient`] — client → ResourceManager (`ApplicationClientProtocol`, SIMPLE auth):
//!   new application ids, submission, reports, kills, nodes, queues.
//! - [`AmRmClient`] — ApplicationMaster → ResourceManager (`ApplicationMasterProtocol`, with the
//!   AMRMToken of the container's token file): register, the `allocate` heartbeat, finish.
//! - [`NmClient`] — ApplicationMaster → NodeManager (`ContainerManagementProtocol`, with the
//!   node's NMToken): start, stop and query containers.
//! - [`Staging`] — the application's files in HDFS as [`LocalResource`]s; [`Credentials`] —
//!   Hadoop token storage files.
//!
//! ```no_run
//! # fn main() -> spate_yarn::Result<()> {
//! use spate_yarn::{ClientRmClient, NodeState};
//! let rm = ClientRmClient::from_env()?; // yarn-site.xml of $HADOOP_CONF_DIR
//! for node in rm.get_cluster_nodes(&[NodeState::Running])? {
//!     println!("{} {} {}", node.node_id, node.rack, node.capability);
//! }
//! # Ok(()) }
//! ```
//!
//! Threads: every call blocks the calling thread (plain `std::net` I/O with timeouts), like
//! `spate-hadoop-ipc`; call it from the deployer's or the ApplicationMaster's own threads, never
//! from an async runtime's workers. Staging uses `spate-fs`, whose HDFS I/O runs on its own
//! runtime. Wire types stay private; errors keep the servers' Java exception class names.

/// The ApplicationMaster's scheduler client: `AmRmClient`.
pub mod amrm_client;
/// Yarn's configuration: `yarn-site.xml` and the ResourceManager's addresses.
pub mod conf;
/// Containers: resource requests, allocations, statuses, exit codes.
pub mod container;
/// Hadoop token storage files (`HADOOP_TOKEN_FILE_LOCATION`).
pub mod credentials;
/// The crate's error type.
pub mod error;
/// Application, attempt, container and node ids.
pub mod ids;
/// Container launch contexts, local resources, application submissions.
pub mod launch;
/// The NodeManager client: `NmClient`.
pub mod nm_client;
/// Application, node and queue reports; resources.
pub mod records;
/// The ResourceManager client: `ClientRmClient`.
pub mod rm_client;
/// Uploading an application's files to HDFS.
pub mod staging;

/// Generated wire types.
mod proto;
/// One reconnecting IPC connection per server and protocol.
mod rpc;

pub use amrm_client::{AllocateRequest, Allocation, AmCommand, AmRmClient, Registration};
pub use conf::YarnConf;
pub use container::{exit_status, Container, ContainerState, ContainerStatus, ResourceRequest};
pub use credentials::Credentials;
pub use error::{Error, RemoteException, Result};
pub use ids::{ApplicationAttemptId, ApplicationId, ContainerId, NodeId};
pub use launch::{ApplicationSubmission, ContainerLaunchContext, LocalResource};
pub use nm_client::NmClient;
pub use records::{
    ApplicationReport, ApplicationState, FinalStatus, NewApplication, NodeReport, NodeState, QueueInfo,
    Resource,
};
pub use rm_client::ClientRmClient;
pub use spate_hadoop_ipc::Token;
pub use staging::{remove_staging_dir, Staging};
