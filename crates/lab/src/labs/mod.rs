//! The labs, one file per family of phenomena.

mod close;
mod handshake;
mod lingering;
mod queues;
mod races;
mod resets;
mod transfer;

use crate::Lab;

/// Every lab, in the order `lab list` and `lab all` give them.
pub fn all() -> Vec<&'static dyn Lab> {
    vec![
        &handshake::Handshake,
        &close::ClientClose,
        &close::ServerClose,
        &close::HalfClose,
        &close::SimultaneousClose,
        &resets::RstRefused,
        &resets::RstLinger,
        &resets::RstUnread,
        &resets::ResetByPeer,
        &resets::BrokenPipe,
        &resets::ProcessExit,
        &queues::SynRetries,
        &queues::SynackRetries,
        &queues::AcceptQueueOverflow,
        &queues::AcceptQueueAbort,
        &queues::Backlog,
        &queues::SynQueueOverflow,
        &queues::SynFlood,
        &transfer::Window,
        &transfer::ZeroWindow,
        &transfer::Keepalive,
        &transfer::Loss,
        &transfer::FastOpen,
        &lingering::CloseWaitLeak,
        &lingering::FinTimeout,
        &lingering::TimeWait,
        &races::RstWindow,
        &races::HttpKeepaliveRace,
    ]
}

/// The lab of this name.
pub fn find(name: &str) -> Option<&'static dyn Lab> {
    all().into_iter().find(|l| l.name() == name)
}

/// Shared pieces of the labs' applications and checks.
pub(crate) mod util {
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread::JoinHandle;

    use crate::app::App;
    use crate::env::{Env, Host, Record};
    use crate::LabError;

    /// Start the server's application in its namespace: `f` gets the
    /// listening socket; returns once it listens.
    pub fn server<F>(
        env: &Env,
        backlog: i32,
        f: F,
    ) -> Result<JoinHandle<std::io::Result<()>>, LabError>
    where
        F: FnOnce(App, TcpListener) -> std::io::Result<()> + Send + 'static,
    {
        let app = env.log.app("server");
        let addr = env.server_addr();
        let (tx, rx) = mpsc::channel();
        let h = env
            .server
            .spawn(move || {
                let l = match app.listen(addr, backlog) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return Err(e);
                    }
                };
                let _ = tx.send(Ok(()));
                f(app, l)
            })
            .map_err(|e| LabError::Setup("starting the server", e))?;
        match rx.recv() {
            Ok(Ok(())) => Ok(h),
            Ok(Err(e)) => Err(LabError::App(format!("server: listen: {e}"))),
            Err(_) => Err(LabError::App("server: did not start".into())),
        }
    }

    /// Run the client's application in its namespace and wait for it.
    pub fn client<F>(env: &Env, f: F) -> Result<(), LabError>
    where
        F: FnOnce(App, std::net::SocketAddr) -> std::io::Result<()> + Send + 'static,
    {
        let app = env.log.app("client");
        let to = env.server_addr();
        env.client
            .run(move || f(app, to))
            .map_err(|e| LabError::App(format!("client: {e}")))
    }

    /// Wait for the server's application.
    pub fn join(h: JoinHandle<std::io::Result<()>>) -> Result<(), LabError> {
        h.join()
            .map_err(|_| LabError::App("server thread panicked".into()))?
            .map_err(|e| LabError::App(format!("server: {e}")))
    }

    /// The kernel's states of the connection sockets of `host` on the
    /// lab's port, in order (listeners left out), as RFC names.
    pub fn kernel_path(r: &Record, host: Host) -> Vec<&'static str> {
        r.state_changes(host)
            .into_iter()
            .filter(|(_, l, p, _, _)| {
                p.port() != 0 && (l.port() == crate::env::PORT || p.port() == crate::env::PORT)
            })
            .flat_map(|(_, _, _, old, new)| [old, new])
            .fold(Vec::new(), |mut v: Vec<u8>, s| {
                if v.last() != Some(&s) {
                    v.push(s);
                }
                v
            })
            .into_iter()
            .map(tcpscope_wire::State::kernel_name)
            .collect()
    }

    /// Whether `path` holds `want` in order (not necessarily adjacent).
    pub fn in_order(path: &[&str], want: &[&str]) -> bool {
        let mut it = path.iter();
        want.iter().all(|w| it.any(|p| p == w))
    }
}
