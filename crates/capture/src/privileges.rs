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

const CAP_DAC_OVERRIDE: u32 = 1;

fn capset(effective_and_permitted: u32) -> io::Result<()> {
    // struct __user_cap_header_struct (version 3) and two data words.
    let mut header = [0x2008_0522u32, 0];
    let mut data = [0u32; 6];
    data[0] = effective_and_permitted; // effective, caps 0..31
    data[1] = effective_and_permitted; // permitted
                                       // SAFETY: capset reads the header and data arrays we pass.
    let r = unsafe { libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_mut_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Drop to `user` as [`drop_privileges`] does, but keep CAP_DAC_OVERRIDE
/// (and nothing else) until [`drop_kept_capability`]: as tcpdump built with
/// libcap-ng does, so that the first `-w` file can be created in a
/// directory `user` cannot write, and then belongs to `user`.
pub fn drop_privileges_keeping_dac(user: &str) -> Result<(), PrivilegeError> {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let dropped = drop_privileges(user);
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    dropped?;
    // Without the capability (an odd kernel), the first file is opened as
    // the user, and a failure says what to do.
    let _ = capset(1 << CAP_DAC_OVERRIDE);
    Ok(())
}

/// Give up the capability kept by [`drop_privileges_keeping_dac`].
pub fn drop_kept_capability() {
    let _ = capset(0);
}

/// Whether `user` exists in the password database.
pub fn user_exists(user: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(user) else {
        return false;
    };
    // SAFETY: as in drop_privileges.
    !unsafe { libc::getpwnam(c.as_ptr()) }.is_null()
}
