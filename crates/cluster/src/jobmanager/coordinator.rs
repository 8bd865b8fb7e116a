//! The JobManager's side of a job's coordinator process (see [`crate::coordinator`]).

use crate::coordinator::{read_frame, write_frame, CoordReply, CoordRequest};
use crate::role;
use anyhow::{anyhow, Context as _, Result};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, ChildStdin};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a coordinator may take to run `main()` up to `execute()`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running coordinator.
#[derive(Debug)]
pub struct CoordinatorProcess {
    conn: Mutex<(UnixStream, Child, Option<ChildStdin>)>,
}

impl CoordinatorProcess {
    /// Starts the job binary as the coordinator and waits for its hello.
    pub fn start(
        binary: &Path,
        args: &[String],
        config_lines: &str,
        dir: &Path,
        working_dir: &str,
        fingerprint: &str,
    ) -> Result<CoordinatorProcess> {
        let socket = dir.join("coordinator.sock");
        let _ = std::fs::remove_file(&socket);
        let listener =
            UnixListener::bind(&socket).with_context(|| format!("cannot listen on {}", socket.display()))?;
        listener.set_nonblocking(true)?;
        let log = dir.join("coordinator.log");
        let out = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let mut child = crate::job_binary_command(binary, args, config_lines, "coordinator")
            .env(role::ENV_COORDINATOR_SOCKET, &socket)
            .stdout(out)
            .stderr(err)
            .current_dir(crate::working_dir_or(working_dir, dir))
            .spawn()
            .with_context(|| format!("cannot start the job binary {}", binary.display()))?;
        let stdin = child.stdin.take();
        let started = Instant::now();
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(anyhow!("coordinator socket: {e}")),
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(anyhow!(
                    "the job binary exited ({status}) before it reached execute(); see {}{}",
                    log.display(),
                    crate::last_lines(&log)
                ));
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                return Err(anyhow!(
                    "the job binary did not reach execute() within {START_TIMEOUT:?}; see {}",
                    log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(600)))?;
        let mut s = stream;
        match read_frame::<CoordReply>(&mut s)? {
            CoordReply::Hello { fingerprint: f } if f == fingerprint => {}
            CoordReply::Hello { .. } => {
                let _ = child.kill();
                return Err(anyhow!(
                    "the job binary built a different job graph in the coordinator than when it was submitted: a job must build its pipeline deterministically from its arguments and configuration"
                ));
            }
            other => {
                return Err(anyhow!(
                    "unexpected first message from the coordinator: {other:?}"
                ))
            }
        }
        let _ = std::fs::remove_file(&socket);
        Ok(CoordinatorProcess {
            conn: Mutex::new((s, child, stdin)),
        })
    }

    /// Sends a request and reads its reply (blocking).
    pub fn request(&self, req: &CoordRequest) -> Result<CoordReply> {
        let mut g = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        write_frame(&mut g.0, req)?;
        read_frame(&mut g.0).context("the job coordinator died")
    }

    /// Like [`Self::request`], expecting `Ok`.
    pub fn call(&self, req: &CoordRequest) -> Result<()> {
        match self.request(req)? {
            CoordReply::Ok => Ok(()),
            CoordReply::Error(e) => Err(anyhow!(e)),
            other => Err(anyhow!("unexpected reply from the coordinator: {other:?}")),
        }
    }
}

impl Drop for CoordinatorProcess {
    fn drop(&mut self) {
        let mut g = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        g.2.take();
        let _ = g.0.shutdown(std::net::Shutdown::Both);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = g.1.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = g.1.kill();
        let _ = g.1.wait();
    }
}
