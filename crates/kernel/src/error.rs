//! What reading the kernel's view can fail with, in words a user can act on.

use std::io;
use std::path::PathBuf;

/// A failure of one of the kernel readings.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// A /proc file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Proc {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The sock_diag netlink query failed.
    #[error("cannot query sockets over netlink (sock_diag): {0}")]
    SockDiag(#[source] io::Error),
    /// Tracepoints need privilege this process does not have.
    #[error("needs CAP_PERFMON (or root) to read kernel tracepoints: run as root or with sudo")]
    TraceNeedsPrivilege,
    /// The tracepoints could not be opened for another reason.
    #[error("cannot open the TCP tracepoints: {0}")]
    Trace(#[source] io::Error),
}

impl KernelError {
    /// The tracepoint error for `e`: a permission failure says what it needs.
    pub fn trace(e: io::Error) -> KernelError {
        if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM))
            || e.kind() == io::ErrorKind::PermissionDenied
        {
            KernelError::TraceNeedsPrivilege
        } else {
            KernelError::Trace(e)
        }
    }
}
