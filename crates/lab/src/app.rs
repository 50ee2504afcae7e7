//! What the applications did: every socket call a lab's client and server
//! make, with its result or its errno, timed from the start of the lab.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use socket2::{Domain, SockRef, Socket, Type};

/// One call and its result.
#[derive(Clone, Debug, Serialize)]
pub struct AppCall {
    /// Seconds since the lab started, when the call returned.
    pub elapsed_s: f64,
    /// Seconds the call took.
    pub duration_s: f64,
    /// "client" or "server".
    pub who: &'static str,
    /// connect, accept, read, write, shutdown, close, listen.
    pub op: &'static str,
    /// Bytes moved, for read and write; null otherwise or on error.
    pub bytes: Option<usize>,
    /// The errno's name, or null when the call succeeded.
    pub errno: Option<String>,
    /// The errno's number, or null.
    pub errno_code: Option<i32>,
}

impl AppCall {
    /// The call in words: `connect() = ECONNREFUSED (Connection refused)`.
    pub fn text(&self) -> String {
        match (self.errno_code, self.bytes) {
            (Some(e), _) => format!(
                "{}() failed: {} ({})",
                self.op,
                tcpscope_peers::errno::name(e),
                tcpscope_peers::errno::message(e)
            ),
            (None, Some(0)) if self.op == "read" => {
                "read() = 0 (end of file: the peer closed)".into()
            }
            (None, Some(n)) => format!("{}() = {n} bytes", self.op),
            (None, None) => format!("{}() ok", self.op),
        }
    }
}

/// A new IPv4 TCP socket, for [`App::connect_socket`].
pub fn tcp_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::STREAM, None)
}

/// setsockopt() of an int option.
pub fn setsockopt_int(s: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt with a pointer to an int we own.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            &value as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as u32,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The shared log of calls.
#[derive(Clone)]
pub struct AppLog {
    calls: Arc<Mutex<Vec<AppCall>>>,
    t0: Instant,
}

impl AppLog {
    /// A log whose times count from `t0`.
    pub fn new(t0: Instant) -> AppLog {
        AppLog {
            calls: Arc::new(Mutex::new(Vec::new())),
            t0,
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<AppCall> {
        self.calls.lock().expect("not poisoned").clone()
    }

    /// Record a call's result and hand it back.
    pub fn note<T>(
        &self,
        who: &'static str,
        op: &'static str,
        started: Instant,
        r: io::Result<T>,
        bytes: impl Fn(&T) -> Option<usize>,
    ) -> io::Result<T> {
        let (b, code) = match &r {
            Ok(v) => (bytes(v), None),
            Err(e) => (None, Some(e.raw_os_error().unwrap_or(0))),
        };
        self.calls.lock().expect("not poisoned").push(AppCall {
            elapsed_s: self.t0.elapsed().as_secs_f64(),
            duration_s: started.elapsed().as_secs_f64(),
            who,
            op,
            bytes: b,
            errno: code.map(tcpscope_peers::errno::name),
            errno_code: code,
        });
        r
    }

    /// An application (client or server) writing to this log.
    pub fn app(&self, who: &'static str) -> App {
        App {
            who,
            log: self.clone(),
        }
    }
}

/// One side's application: blocking socket calls, each one logged.
#[derive(Clone)]
pub struct App {
    /// "client" or "server".
    pub who: &'static str,
    log: AppLog,
}

impl App {
    /// listen() with this backlog on `addr`.
    pub fn listen(&self, addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
        let t = Instant::now();
        let r = (|| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            s.set_reuse_address(true)?;
            s.bind(&addr.into())?;
            s.listen(backlog)?;
            Ok(TcpListener::from(s))
        })();
        self.log.note(self.who, "listen", t, r, |_| None)
    }

    /// accept().
    pub fn accept(&self, l: &TcpListener) -> io::Result<TcpStream> {
        let t = Instant::now();
        let r = l.accept().map(|(s, _)| s);
        self.log.note(self.who, "accept", t, r, |_| None)
    }

    /// connect(): the kernel's own SYN retries bound how long it waits.
    pub fn connect(&self, to: SocketAddr) -> io::Result<TcpStream> {
        let t = Instant::now();
        let r = TcpStream::connect(to);
        self.log.note(self.who, "connect", t, r, |_| None)
    }

    /// listen() with TCP_FASTOPEN set first (a queue of `fastopen` requests).
    pub fn listen_fastopen(
        &self,
        addr: SocketAddr,
        backlog: i32,
        fastopen: i32,
    ) -> io::Result<TcpListener> {
        let t = Instant::now();
        let r = (|| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            s.set_reuse_address(true)?;
            setsockopt_int(&s, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, fastopen)?;
            s.bind(&addr.into())?;
            s.listen(backlog)?;
            Ok(TcpListener::from(s))
        })();
        self.log.note(self.who, "listen", t, r, |_| None)
    }

    /// connect() on a socket prepared by the caller (buffer sizes, Fast Open).
    pub fn connect_socket(&self, s: Socket, to: SocketAddr) -> io::Result<TcpStream> {
        let t = Instant::now();
        let r = s.connect(&to.into()).map(|_| TcpStream::from(s));
        self.log.note(self.who, "connect", t, r, |_| None)
    }

    /// connect() from a chosen local address.
    pub fn connect_from(&self, from: SocketAddr, to: SocketAddr) -> io::Result<TcpStream> {
        let t = Instant::now();
        let r = (|| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            s.set_reuse_address(true)?;
            s.bind(&from.into())?;
            s.connect(&to.into())?;
            Ok(TcpStream::from(s))
        })();
        self.log.note(self.who, "connect", t, r, |_| None)
    }

    /// write() of all of `data` (one call each time the kernel takes part).
    pub fn write(&self, s: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
        use std::io::Write;
        // MSG_NOSIGNAL through the std stream: SIGPIPE is ignored by the
        // lab process, so a write after a reset gives EPIPE.
        let t = Instant::now();
        let r = s.write(data);
        self.log.note(self.who, "write", t, r, |n| Some(*n))
    }

    /// One read() of up to `max` bytes.
    pub fn read(&self, s: &mut TcpStream, max: usize) -> io::Result<usize> {
        use std::io::Read;
        let mut buf = vec![0u8; max];
        let t = Instant::now();
        let r = s.read(&mut buf);
        self.log.note(self.who, "read", t, r, |n| Some(*n))
    }

    /// Reads until end of file, an error, or `limit` bytes.
    pub fn read_all(&self, s: &mut TcpStream, limit: usize) -> io::Result<usize> {
        let mut total = 0;
        loop {
            match self.read(s, 65536) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    total += n;
                    if total >= limit {
                        return Ok(total);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// shutdown(SHUT_WR): a FIN, reading goes on.
    pub fn shutdown_write(&self, s: &TcpStream) -> io::Result<()> {
        let t = Instant::now();
        let r = s.shutdown(std::net::Shutdown::Write);
        self.log.note(self.who, "shutdown", t, r, |_| None)
    }

    /// close().
    pub fn close(&self, s: TcpStream) {
        let t = Instant::now();
        drop(s);
        let _ = self.log.note(self.who, "close", t, Ok(()), |_| None);
    }

    /// SO_LINGER with a zero timeout, then close(): an RST.
    pub fn abort(&self, s: TcpStream) -> io::Result<()> {
        let t = Instant::now();
        let r = SockRef::from(&s).set_linger(Some(Duration::ZERO));
        drop(s);
        self.log.note(self.who, "close", t, r, |_| None)
    }
}
