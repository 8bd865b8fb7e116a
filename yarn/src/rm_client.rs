//! `ClientRmClient`: a client of the ResourceManager's `ApplicationClientProtocol` — new
//! application ids, submission, reports, kills, nodes, queues. SIMPLE authentication as the
//! current user (insecure clusters).
//!
//! ```no_run
//! # fn main() -> spate_yarn::Result<()> {
//! use spate_yarn::{ApplicationSubmission, ClientRmClient, ContainerLaunchContext, Resource};
//! let rm = ClientRmClient::from_env()?; // $HADOOP_CONF_DIR/yarn-site.xml, $HADOOP_USER_NAME
//! let app = rm.get_new_application()?;
//! let am = ContainerLaunchContext {
//!     commands: vec!["sleep 30".into()],
//!     ..Default::default()
//! };
//! rm.submit_application(&ApplicationSubmission::new(app.id, "demo", am, Resource::new(256, 1)))?;
//! let report = rm.wait_for_report(app.id, std::time::Duration::from_secs(60), |r| r.state.is_terminal())?;
//! println!("{}: {:?} {:?} {}", report.id, report.state, report.final_status, report.diagnostics);
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use spate_hadoop_ipc::namenode::current_user;
use spate_hadoop_ipc::{Auth, ConnectOptions, RemoteException};

use crate::conf::YarnConf;
use crate::error::{Error, Result};
use crate::ids::ApplicationId;
use crate::launch::ApplicationSubmission;
use crate::proto::yarn::{
    GetApplicationReportRequestProto, GetApplicationReportResponseProto, GetClusterNodesRequestProto,
    GetClusterNodesResponseProto, GetNewApplicationRequestProto, GetNewApplicationResponseProto,
    GetQueueInfoRequestProto, GetQueueInfoResponseProto, KillApplicationRequestProto,
    KillApplicationResponseProto, SubmitApplicationRequestProto, SubmitApplicationResponseProto,
};
use crate::records::{ApplicationReport, NewApplication, NodeReport, NodeState, QueueInfo, Resource};
use crate::rpc::Channel;

/// Protocol name of client → ResourceManager calls (version 1).
pub const APPLICATION_CLIENT_PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";

/// How often [`ClientRmClient::wait_for_report`] asks (Flink's YARN client polls as often).
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A client of one ResourceManager. Calls are serialized over one connection.
#[derive(Debug)]
pub struct ClientRmClient {
    channel: Channel,
}

impl ClientRmClient {
    /// Connects to the ResourceManager at `addr` (`host:port`) as `user` (SIMPLE authentication).
    pub fn connect(addr: &str, user: &str) -> Result<Self> {
        let auth = Auth::Simple {
            user: user.to_string(),
        };
        Self::connect_with(addr, auth, ConnectOptions::default())
    }

    /// Connects with the given authentication and options.
    pub fn connect_with(addr: &str, auth: Auth, opts: ConnectOptions) -> Result<Self> {
        let channel = Channel::connect(addr, APPLICATION_CLIENT_PROTOCOL, auth, opts)?;
        Ok(ClientRmClient { channel })
    }

    /// Connects to `yarn.resourcemanager.address` as `user`.
    pub fn from_conf(conf: &YarnConf, user: &str) -> Result<Self> {
        Self::connect(&conf.rm_address()?, user)
    }

    /// Connects to the ResourceManager of `$HADOOP_CONF_DIR` as `$HADOOP_USER_NAME` (else `$USER`).
    pub fn from_env() -> Result<Self> {
        Self::from_conf(&YarnConf::from_env()?, &current_user())
    }

    /// The ResourceManager's `host:port`.
    pub fn addr(&self) -> &str {
        self.channel.addr()
    }

    /// A new application id, and the largest container the cluster gives.
    pub fn get_new_application(&self) -> Result<NewApplication> {
        let resp: GetNewApplicationResponseProto = self
            .channel
            .call("getNewApplication", &GetNewApplicationRequestProto {})?;
        Ok(NewApplication {
            id: ApplicationId::from_proto(resp.application_id)?,
            max_capability: Resource::from_proto(resp.maximum_capability),
        })
    }

    /// Submits an application. Its queue is checked first, because the scheduler would otherwise
    /// accept the submission and fail the application later: an unknown queue is
    /// [`Error::UnknownQueue`].
    pub fn submit_application(&self, app: &ApplicationSubmission) -> Result<()> {
        self.get_queue_info(&app.queue)?;
        let req = SubmitApplicationRequestProto {
            application_submission_context: Some(app.clone().into_proto()),
        };
        let _: SubmitApplicationResponseProto = self.channel.call("submitApplication", &req)?;
        tracing::debug!(app = %app.id, name = %app.name, queue = %app.queue, "submitted yarn application");
        Ok(())
    }

    /// The current report of an application; an unknown id is a remote
    /// `org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException`.
    pub fn get_application_report(&self, id: ApplicationId) -> Result<ApplicationReport> {
        let req = GetApplicationReportRequestProto {
            application_id: Some(id.into_proto()),
        };
        let resp: GetApplicationReportResponseProto = self.channel.call("getApplicationReport", &req)?;
        let report = resp
            .application_report
            .ok_or_else(|| Error::missing("application report response", "report"))?;
        ApplicationReport::from_proto(report)
    }

    /// Polls the report of `id` until `until` holds for it, at most `timeout`.
    pub fn wait_for_report(
        &self,
        id: ApplicationId,
        timeout: Duration,
        until: impl Fn(&ApplicationReport) -> bool,
    ) -> Result<ApplicationReport> {
        let start = Instant::now();
        loop {
            let report = self.get_application_report(id)?;
            if until(&report) {
                return Ok(report);
            }
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: format!("{id} (last state {:?}: {})", report.state, report.diagnostics),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Asks the ResourceManager to kill an application; true when the kill has completed (else
    /// poll the report until [`crate::ApplicationState::Killed`]). Killing a finished application
    /// is a no-op that returns true.
    pub fn force_kill_application(&self, id: ApplicationId, diagnostics: Option<&str>) -> Result<bool> {
        let req = KillApplicationRequestProto {
            application_id: Some(id.into_proto()),
            diagnostics: diagnostics.map(str::to_string),
        };
        let resp: KillApplicationResponseProto = self.channel.call("forceKillApplication", &req)?;
        Ok(resp.is_kill_completed.unwrap_or(false))
    }

    /// The NodeManagers in any of `states` (all of them when empty).
    pub fn get_cluster_nodes(&self, states: &[NodeState]) -> Result<Vec<NodeReport>> {
        let req = GetClusterNodesRequestProto {
            node_states: states.iter().map(|s| s.into_proto()).collect(),
        };
        let resp: GetClusterNodesResponseProto = self.channel.call("getClusterNodes", &req)?;
        resp.node_reports
            .into_iter()
            .map(NodeReport::from_proto)
            .collect()
    }

    /// A queue's configuration and use; an unknown queue is [`Error::UnknownQueue`].
    pub fn get_queue_info(&self, queue: &str) -> Result<QueueInfo> {
        let req = GetQueueInfoRequestProto {
            queue_name: Some(queue.to_string()),
            include_applications: Some(false),
            include_child_queues: Some(false),
            recursive: Some(false),
        };
        let resp: Result<GetQueueInfoResponseProto> = self.channel.call("getQueueInfo", &req);
        let unknown = |remote: Option<RemoteException>| Error::UnknownQueue {
            queue: queue.to_string(),
            remote,
        };
        match resp {
            Ok(GetQueueInfoResponseProto {
                queue_info: Some(info),
            }) => QueueInfo::from_proto(info),
            // What the CapacityScheduler answers for a queue it does not have.
            Ok(GetQueueInfoResponseProto { queue_info: None }) => Err(unknown(None)),
            Err(e) => match e.remote() {
                Some(r) if is_unknown_queue(r) => Err(unknown(Some(r.clone()))),
                _ => Err(e),
            },
        }
    }
}

/// Whether the exception is a scheduler's answer for a queue it does not have (older
/// CapacitySchedulers: `IOException: Unknown queue: x`; others: `queue x does not exist`).
fn is_unknown_queue(r: &RemoteException) -> bool {
    let m = r.message.to_ascii_lowercase();
    m.contains("unknown queue") || (m.contains("queue") && m.contains("does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_queue_messages() {
        let r = |m: &str| RemoteException {
            class_name: "org.apache.hadoop.yarn.exceptions.YarnException".into(),
            message: m.into(),
            fatal: false,
        };
        assert!(is_unknown_queue(&r(
            "java.io.IOException: Unknown queue: nightly"
        )));
        assert!(is_unknown_queue(&r("queue root.x does not exist")));
        assert!(!is_unknown_queue(&r(
            "User u cannot submit applications to queue"
        )));
    }

    #[test]
    fn unreachable_rm_fails_fast_naming_the_address() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let opts = ConnectOptions {
            backoff: Duration::from_millis(10),
            ..Default::default()
        };
        let err = ClientRmClient::connect_with(&addr, Auth::Simple { user: "u".into() }, opts).unwrap_err();
        assert!(err.to_string().contains(&addr), "{err}");
    }
}
