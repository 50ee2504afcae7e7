//! Private network namespaces: a lab's hosts.
//!
//! A [`Netns`] is a network namespace held open by a file descriptor; it
//! disappears with the last descriptor and the last thread inside it, so
//! when the process ends, however it ends (Ctrl-C, a panic, a kill), every
//! namespace, device and socket of the lab is gone with it. Work runs inside
//! a namespace on a thread that has joined it ([`Netns::run`],
//! [`Netns::spawn`]); the process itself stays where it was, and the host's
//! settings are never written.
//!
//! As root this needs nothing else. As an ordinary user, call
//! [`enter_user_namespace`] first, while the process has one thread: inside
//! a user namespace of its own the process may create network namespaces,
//! bring their devices up and set their sysctls.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::thread::JoinHandle;

/// A network namespace of the lab's own.
pub struct Netns {
    fd: OwnedFd,
    /// A name for messages ("client", "server").
    pub name: &'static str,
}

/// Whether this process runs as root in its (initial) user namespace.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Move this process into a user namespace of its own, where it is root
/// over the namespaces it creates. Must be called while the process has a
/// single thread.
pub fn enter_user_namespace() -> io::Result<()> {
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: unshare(2) with a flag; fails cleanly when not allowed.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(io::Error::last_os_error());
    }
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}

fn set_netns(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: setns(2) on a namespace descriptor this value owns.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Netns {
    /// A new, empty network namespace (only `lo`, which is brought up).
    pub fn new(name: &'static str) -> io::Result<Netns> {
        let fd = std::thread::spawn(|| -> io::Result<OwnedFd> {
            // SAFETY: unshare(2) of this thread's network namespace only.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let f = File::open("/proc/thread-self/ns/net")?;
            crate::link::set_up("lo")?;
            Ok(f.into())
        })
        .join()
        .map_err(|_| io::Error::other("namespace thread panicked"))??;
        Ok(Netns { fd, name })
    }

    /// Another descriptor of this namespace.
    pub fn fd_clone(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }

    /// Run `f` on a new thread inside this namespace.
    pub fn spawn<T, F>(&self, f: F) -> io::Result<JoinHandle<io::Result<T>>>
    where
        T: Send + 'static,
        F: FnOnce() -> io::Result<T> + Send + 'static,
    {
        let fd = self.fd.try_clone()?;
        Ok(std::thread::spawn(move || {
            set_netns(&fd)?;
            f()
        }))
    }

    /// Run `f` inside this namespace and wait for its result.
    pub fn run<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> io::Result<T> + Send + 'static,
    {
        self.spawn(f)?
            .join()
            .map_err(|_| io::Error::other("lab thread panicked"))?
    }

    /// Set a sysctl of this namespace (`net.ipv4.tcp_syncookies`).
    pub fn set_sysctl(&self, name: &str, value: &str) -> io::Result<()> {
        let path = sysctl_path(name);
        let value = value.to_string();
        self.run(move || {
            std::fs::write(&path, &value)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        })
    }
}

/// `/proc/sys/net/ipv4/tcp_syncookies` for `net.ipv4.tcp_syncookies`.
pub fn sysctl_path(name: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(name.replace('.', "/"))
}
