//! One Hadoop IPC connection to a YARN server for one protocol, re-made once when it broke.
//!
//! Calls are serialized over the connection. After an I/O error (the server closed an idle
//! connection, or restarted) the call is sent once more on a new connection; every call Spate
//! makes is safe to repeat: the RM ignores a second submission of the same application id,
//! `allocate` carries a response id that makes a repeat return the previous answer, and kills,
//! reports and status queries are idempotent.

use std::sync::{Mutex, MutexGuard};

use prost::Message;
use spate_hadoop_ipc::{Auth, ConnectOptions, Connection};

use crate::error::Result;

#[derive(Debug)]
pub(crate) struct Channel {
    addr: String,
    protocol: &'static str,
    opts: ConnectOptions,
    auth: Mutex<Auth>,
    conn: Mutex<Option<Connection>>,
}

impl Channel {
    /// Connects now, so that a wrong address or a refused token fails here.
    pub(crate) fn connect(
        addr: &str,
        protocol: &'static str,
        auth: Auth,
        opts: ConnectOptions,
    ) -> Result<Self> {
        let conn = Connection::connect(addr, protocol, &auth, &opts)?;
        Ok(Channel {
            addr: addr.to_string(),
            protocol,
            opts,
            auth: Mutex::new(auth),
            conn: Mutex::new(Some(conn)),
        })
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Authentication for connections made from now on (e.g. a rolled AMRMToken); the current
    /// connection stays.
    pub(crate) fn set_auth(&self, auth: Auth) {
        *lock(&self.auth) = auth;
    }

    pub(crate) fn call<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        req: &Req,
    ) -> Result<Resp> {
        let mut guard = lock(&self.conn);
        let first = match guard.as_mut() {
            Some(conn) => conn.call(method, req),
            None => self.reconnect(&mut guard).and_then(|c| c.call(method, req)),
        };
        match first {
            Err(e) if e.breaks_connection() => {
                *guard = None;
                if !matches!(e, spate_hadoop_ipc::Error::Io { .. }) {
                    return Err(e.into());
                }
                tracing::debug!(addr = %self.addr, protocol = self.protocol, error = %e, "reconnecting to yarn");
                let second = self.reconnect(&mut guard)?.call(method, req);
                if second
                    .as_ref()
                    .is_err_and(spate_hadoop_ipc::Error::breaks_connection)
                {
                    *guard = None;
                }
                Ok(second?)
            }
            other => Ok(other?),
        }
    }

    fn reconnect<'a>(
        &self,
        guard: &'a mut MutexGuard<'_, Option<Connection>>,
    ) -> spate_hadoop_ipc::Result<&'a mut Connection> {
        let auth = lock(&self.auth).clone();
        let conn = Connection::connect(&self.addr, self.protocol, &auth, &self.opts)?;
        Ok(guard.insert(conn))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
