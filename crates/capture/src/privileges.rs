//! Dropping root after the capture socket is open, as tcpdump's `-Z` does.

use std::io;

/// Why privileges could not be dropped, in tcpdump's words.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// The name holds a NUL byte.
    #[error("bad user name '{0}'")]
    BadName(String),
    /// No such user.
    #[error("Couldn't find user '{0}'")]
    NoSuchUser(String),
    /// setgid, setuid or initgroups failed.
    #[error("Couldn't change to '{user}' uid={uid} gid={gid}: {source}")]
    Change {
        /// The user.
        user: String,
        /// Its uid.
        uid: u32,
        /// Its gid.
        gid: u32,
        /// The error.
        source: io::Error,
    },
}

/// Drop to `user` (initgroups, setgid, setuid).
pub fn drop_privileges(user: &str) -> Result<(), PrivilegeError> {
    let c = std::ffi::CString::new(user).map_err(|_| PrivilegeError::BadName(user.into()))?;
    // SAFETY: getpwnam returns a pointer into static storage or null.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return Err(PrivilegeError::NoSuchUser(user.into()));
    }
    // SAFETY: pw is non-null.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    // SAFETY: plain syscalls.
    let ok = unsafe {
        libc::initgroups(c.as_ptr(), gid) == 0 && libc::setgid(gid) == 0 && libc::setuid(uid) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(PrivilegeError::Change {
            user: user.into(),
            uid,
            gid,
            source: io::Error::last_os_error(),
        })
    }
}

/// Whether `user` exists in the password database.
pub fn user_exists(user: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(user) else {
        return false;
    };
    // SAFETY: as in drop_privileges.
    !unsafe { libc::getpwnam(c.as_ptr()) }.is_null()
}
