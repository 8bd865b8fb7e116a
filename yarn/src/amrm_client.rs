//! `AmRmClient`: the ApplicationMaster's side of `ApplicationMasterProtocol` — register, the
//! `allocate` heartbeat (asks, releases, progress → new containers, finished containers,
//! NMTokens), unregister. Authenticated with the AMRMToken from the container's token file
//! (SASL TOKEN/DIGEST-MD5: the ResourceManager requires it even on insecure clusters).
//!
//! Protocol rules this client follows:
//! - `allocate` must be called at least every `yarn.am.liveness-monitor.expiry-interval-ms`
//!   (10 min) or the RM declares the AM dead; every second or so while containers are pending.
//! - Each request echoes the last response's id (kept here).
//! - An ask is the outstanding count for its (priority, location): send it once, send it again
//!   only to change it (0 cancels). Allocated containers are taken off the count by the RM.
//! - NMTokens come once per node and attempt; they are cached here ([`AmRmClient::nm_token`]).
//!
//! ```no_run
//! # fn main() -> spate_yarn::Result<()> {
//! use spate_yarn::{AllocateRequest, AmRmClient, FinalStatus, Resource, ResourceRequest};
//! let am = AmRmClient::from_env()?; // token file + scheduler address
//! am.register_application_master("127.0.0.2", 0, "")?;
//! let ask = AllocateRequest {
//!     asks: vec![ResourceRequest::anywhere(1, Resource::new(512, 1), 2)],
//!     ..Default::default()
//! };
//! let got = am.allocate(&ask)?;
//! println!("{} containers", got.allocated.len());
//! am.finish_application_master(FinalStatus::Succeeded, "", "")?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prost::Message;
use spate_hadoop_ipc::{Auth, ConnectOptions, Token};

use crate::conf::{check_address, YarnConf};
use crate::container::{token_from_proto, Container, ContainerStatus, ResourceRequest};
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::ids::{ApplicationAttemptId, ContainerId, NodeId};
use crate::proto::yarn::{
    AllocateRequestProto, AllocateResponseProto, AmCommandProto, AmrmTokenIdentifierProto,
    FinishApplicationMasterRequestProto, FinishApplicationMasterResponseProto, NmTokenProto,
    RegisterApplicationMasterRequestProto, RegisterApplicationMasterResponseProto,
};
use crate::records::{FinalStatus, Resource};
use crate::rpc::Channel;

/// Protocol name of ApplicationMaster → ResourceManager calls (version 1).
pub const APPLICATION_MASTER_PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB";
/// Environment variable a submitter may set in the AM's environment to the scheduler's
/// `host:port`; when absent, `yarn.resourcemanager.scheduler.address` of `$HADOOP_CONF_DIR`.
pub const SCHEDULER_ADDRESS_ENV: &str = "SPATE_YARN_SCHEDULER_ADDRESS";
/// How long [`AmRmClient::finish_application_master`] retries until the RM confirms.
const FINISH_TIMEOUT: Duration = Duration::from_secs(30);
const FINISH_RETRY: Duration = Duration::from_millis(100);

/// What the ResourceManager answers to a registration.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The largest container the scheduler gives.
    pub max_capability: Resource,
    pub queue: String,
    /// Containers still running from earlier attempts (with keep-containers-across-attempts).
    pub containers_from_previous_attempts: Vec<Container>,
}

/// One heartbeat's request.
#[derive(Debug, Clone, Default)]
pub struct AllocateRequest {
    /// New or changed asks (absolute counts per priority and location).
    pub asks: Vec<ResourceRequest>,
    /// Containers to give back.
    pub releases: Vec<ContainerId>,
    /// The application's progress, 0..1, shown by YARN.
    pub progress: f32,
}

/// An order from the ResourceManager in a heartbeat's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmCommand {
    /// The RM lost this AM's state (restart/failover): register again and re-send all asks.
    Resync,
    /// The AM should shut down.
    Shutdown,
}

/// One heartbeat's answer.
#[derive(Debug, Clone)]
pub struct Allocation {
    /// Newly allocated containers; start them or release them.
    pub allocated: Vec<Container>,
    /// Containers that ended since the last heartbeat.
    pub completed: Vec<ContainerStatus>,
    /// NMTokens received in this answer (also cached, see [`AmRmClient::nm_token`]).
    pub nm_tokens: Vec<(NodeId, Token)>,
    /// Resources the application may still get (the RM's headroom).
    pub available: Resource,
    pub num_cluster_nodes: i32,
    pub command: Option<AmCommand>,
}

/// An ApplicationMaster's connection to the ResourceManager's scheduler.
#[derive(Debug)]
pub struct AmRmClient {
    channel: Channel,
    attempt: Option<ApplicationAttemptId>,
    state: Mutex<HeartbeatState>,
}

#[derive(Debug, Default)]
struct HeartbeatState {
    response_id: i32,
    nm_tokens: HashMap<NodeId, Token>,
}

impl AmRmClient {
    /// Connects to the scheduler at `addr` (`host:port`) with the AMRMToken.
    pub fn connect(addr: &str, amrm_token: Token) -> Result<Self> {
        Self::connect_with(addr, amrm_token, ConnectOptions::default())
    }

    /// Connects with the given options.
    pub fn connect_with(addr: &str, amrm_token: Token, opts: ConnectOptions) -> Result<Self> {
        let attempt = attempt_of(&amrm_token);
        let channel = Channel::connect(addr, APPLICATION_MASTER_PROTOCOL, Auth::Token(amrm_token), opts)?;
        Ok(AmRmClient {
            channel,
            attempt,
            state: Mutex::new(HeartbeatState::default()),
        })
    }

    /// Inside an AM container: the AMRMToken of `$HADOOP_TOKEN_FILE_LOCATION`, the scheduler at
    /// `$SPATE_YARN_SCHEDULER_ADDRESS` or else `yarn.resourcemanager.scheduler.address` of
    /// `$HADOOP_CONF_DIR`.
    pub fn from_env() -> Result<Self> {
        let token = Credentials::from_env()?.amrm_token()?;
        let addr = match std::env::var(SCHEDULER_ADDRESS_ENV) {
            Ok(a) if !a.is_empty() => {
                check_address(SCHEDULER_ADDRESS_ENV, &a)?;
                a
            }
            _ => YarnConf::from_env()?.scheduler_address()?,
        };
        Self::connect(&addr, token)
    }

    /// The scheduler's `host:port`.
    pub fn addr(&self) -> &str {
        self.channel.addr()
    }

    /// The attempt this AM runs as, read from the AMRMToken's identifier.
    pub fn attempt_id(&self) -> Option<ApplicationAttemptId> {
        self.attempt
    }

    /// Registers the AM; `host`, `rpc_port` and `tracking_url` (its web UI, may be empty) show
    /// in application reports.
    pub fn register_application_master(
        &self,
        host: &str,
        rpc_port: i32,
        tracking_url: &str,
    ) -> Result<Registration> {
        let req = RegisterApplicationMasterRequestProto {
            host: Some(host.to_string()),
            rpc_port: Some(rpc_port),
            tracking_url: Some(tracking_url.to_string()),
        };
        let resp: RegisterApplicationMasterResponseProto =
            self.channel.call("registerApplicationMaster", &req)?;
        let tokens = nm_tokens(resp.nm_tokens_from_previous_attempts)?;
        let mut state = self.lock();
        state.nm_tokens.extend(tokens);
        // A registration (also a re-registration after a resync) restarts the response ids.
        state.response_id = 0;
        drop(state);
        Ok(Registration {
            max_capability: Resource::from_proto(resp.maximum_capability),
            queue: resp.queue.unwrap_or_default(),
            containers_from_previous_attempts: resp
                .containers_from_previous_attempts
                .into_iter()
                .map(Container::from_proto)
                .collect::<Result<_>>()?,
        })
    }

    /// One heartbeat. Calls are serialized (the response id orders them).
    pub fn allocate(&self, req: &AllocateRequest) -> Result<Allocation> {
        let mut state = self.lock();
        let proto = AllocateRequestProto {
            ask: req
                .asks
                .iter()
                .cloned()
                .map(ResourceRequest::into_proto)
                .collect(),
            release: req.releases.iter().map(|c| c.into_proto()).collect(),
            response_id: Some(state.response_id),
            progress: Some(req.progress.clamp(0.0, 1.0)),
        };
        let resp: AllocateResponseProto = self.channel.call("allocate", &proto)?;
        let answer = Answer::from_proto(resp)?;
        state.response_id = match answer.allocation.command {
            // A re-registered AM starts counting again.
            Some(AmCommand::Resync) => 0,
            _ => answer
                .response_id
                .ok_or_else(|| Error::missing("allocate response", "response id"))?,
        };
        state
            .nm_tokens
            .extend(answer.allocation.nm_tokens.iter().cloned());
        if let Some(rolled) = answer.rolled_token {
            tracing::debug!("the resourcemanager rolled the amrm token");
            self.channel.set_auth(Auth::Token(rolled));
        }
        Ok(answer.allocation)
    }

    /// Unregisters with the final status, retrying until the RM confirms (at most 30 s).
    /// `tracking_url` replaces the registered one (e.g. a history page); may be empty.
    pub fn finish_application_master(
        &self,
        status: FinalStatus,
        diagnostics: &str,
        tracking_url: &str,
    ) -> Result<()> {
        let req = FinishApplicationMasterRequestProto {
            diagnostics: Some(diagnostics.to_string()),
            tracking_url: Some(tracking_url.to_string()),
            final_application_status: Some(status.into_proto()),
        };
        let start = Instant::now();
        loop {
            let resp: FinishApplicationMasterResponseProto =
                self.channel.call("finishApplicationMaster", &req)?;
            if resp.is_unregistered.unwrap_or(false) {
                return Ok(());
            }
            if start.elapsed() > FINISH_TIMEOUT {
                return Err(Error::Timeout {
                    what: "the resourcemanager to confirm finishApplicationMaster".into(),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(FINISH_RETRY);
        }
    }

    /// The NMToken for a node, once a container was allocated there.
    pub fn nm_token(&self, node: &NodeId) -> Option<Token> {
        self.lock().nm_tokens.get(node).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, HeartbeatState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An allocate response, converted.
struct Answer {
    allocation: Allocation,
    response_id: Option<i32>,
    rolled_token: Option<Token>,
}

impl Answer {
    fn from_proto(resp: AllocateResponseProto) -> Result<Self> {
        let command = match resp.a_m_command.map(AmCommandProto::try_from) {
            None => None,
            Some(Ok(AmCommandProto::AmResync)) => Some(AmCommand::Resync),
            Some(Ok(AmCommandProto::AmShutdown)) => Some(AmCommand::Shutdown),
            Some(Err(_)) => return Err(Error::protocol("unknown AM command")),
        };
        let allocation = Allocation {
            allocated: resp
                .allocated_containers
                .into_iter()
                .map(Container::from_proto)
                .collect::<Result<_>>()?,
            completed: resp
                .completed_container_statuses
                .into_iter()
                .map(ContainerStatus::from_proto)
                .collect::<Result<_>>()?,
            nm_tokens: nm_tokens(resp.nm_tokens)?,
            available: Resource::from_proto(resp.limit),
            num_cluster_nodes: resp.num_cluster_nodes.unwrap_or(0),
            command,
        };
        Ok(Answer {
            allocation,
            response_id: resp.response_id,
            rolled_token: resp.am_rm_token.map(token_from_proto),
        })
    }
}

/// The attempt named in an AMRMToken's identifier, if it decodes.
fn attempt_of(token: &Token) -> Option<ApplicationAttemptId> {
    let id = AmrmTokenIdentifierProto::decode(token.identifier.as_slice()).ok()?;
    ApplicationAttemptId::from_proto(id.app_attempt_id).ok()
}

fn nm_tokens(protos: Vec<NmTokenProto>) -> Result<Vec<(NodeId, Token)>> {
    protos
        .into_iter()
        .map(|p| {
            let token = p.token.ok_or_else(|| Error::missing("nm token", "token"))?;
            Ok((NodeId::from_proto(p.node_id)?, token_from_proto(token)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ApplicationId;
    use crate::proto::common::TokenProto;

    #[test]
    fn attempt_from_the_token_identifier() {
        let attempt = ApplicationAttemptId {
            application: ApplicationId {
                cluster_timestamp: 1_700_000_000_000,
                id: 4,
            },
            attempt: 1,
        };
        let ident = AmrmTokenIdentifierProto {
            app_attempt_id: Some(attempt.into_proto()),
            key_id: Some(7),
        };
        let token = Token {
            identifier: ident.encode_to_vec(),
            password: vec![],
            kind: "YARN_AM_RM_TOKEN".into(),
            service: String::new(),
        };
        assert_eq!(attempt_of(&token), Some(attempt));
        let garbage = Token {
            identifier: vec![0xff, 0xff],
            ..token
        };
        assert_eq!(attempt_of(&garbage), None);
    }

    #[test]
    fn allocate_answers_convert_or_fail_cleanly() {
        use crate::proto::yarn::{ContainerProto, ContainerStatusProto};
        let node = NodeId {
            host: "127.0.0.3".into(),
            port: 5,
        };
        let cid = crate::ids::ContainerId {
            attempt: ApplicationAttemptId {
                application: ApplicationId {
                    cluster_timestamp: 1,
                    id: 1,
                },
                attempt: 1,
            },
            id: 2,
        };
        let resp = AllocateResponseProto {
            a_m_command: None,
            response_id: Some(3),
            allocated_containers: vec![ContainerProto {
                id: Some(cid.into_proto()),
                node_id: Some(node.clone().into_proto()),
                container_token: Some(TokenProto::default()),
                ..Default::default()
            }],
            completed_container_statuses: vec![ContainerStatusProto {
                container_id: Some(cid.into_proto()),
                state: Some(3),
                diagnostics: None,
                exit_status: Some(0),
            }],
            limit: Some(Resource::new(1024, 2).into_proto()),
            num_cluster_nodes: Some(3),
            nm_tokens: vec![NmTokenProto {
                node_id: Some(node.clone().into_proto()),
                token: Some(TokenProto::default()),
            }],
            am_rm_token: None,
        };
        let a = Answer::from_proto(resp.clone()).unwrap();
        assert_eq!(a.response_id, Some(3));
        assert_eq!(a.allocation.allocated[0].node_id, node);
        assert_eq!(a.allocation.completed[0].exit_status, 0);
        assert_eq!(a.allocation.available, Resource::new(1024, 2));
        let resync = Answer::from_proto(AllocateResponseProto {
            a_m_command: Some(AmCommandProto::AmResync as i32),
            ..resp.clone()
        })
        .unwrap();
        assert_eq!(resync.allocation.command, Some(AmCommand::Resync));
        assert!(Answer::from_proto(AllocateResponseProto {
            a_m_command: Some(9),
            ..resp.clone()
        })
        .is_err());

        // Every truncation and byte flip of an encoded answer decodes to an error or converts
        // to an answer or an error: never a panic.
        let bytes = resp.encode_to_vec();
        for cut in 0..bytes.len() {
            if let Ok(p) = AllocateResponseProto::decode(&bytes[..cut]) {
                let _ = Answer::from_proto(p);
            }
        }
        for i in 0..bytes.len() {
            for v in [0x00, 0x08, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                if let Ok(p) = AllocateResponseProto::decode(b.as_slice()) {
                    let _ = Answer::from_proto(p);
                }
            }
        }
    }

    #[test]
    fn nm_tokens_need_node_and_token() {
        let good = NmTokenProto {
            node_id: Some(
                NodeId {
                    host: "127.0.0.3".into(),
                    port: 5,
                }
                .into_proto(),
            ),
            token: Some(TokenProto {
                kind: "NMToken".into(),
                ..Default::default()
            }),
        };
        let got = nm_tokens(vec![good.clone()]).unwrap();
        assert_eq!(got[0].0.to_string(), "127.0.0.3:5");
        assert!(nm_tokens(vec![NmTokenProto {
            token: None,
            ..good.clone()
        }])
        .is_err());
        assert!(nm_tokens(vec![NmTokenProto {
            node_id: None,
            ..good
        }])
        .is_err());
    }
}
