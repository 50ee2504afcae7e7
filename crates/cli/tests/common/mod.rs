//! Helpers shared by the CLI test files.

/// Privileged tests run as root (always under CI, where a non-root run
/// fails); elsewhere they print why they are skipped.
pub fn privileged(name: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert!(std::env::var("CI").is_err(), "{name}: CI must run as root");
        eprintln!("SKIPPED {name}: needs root for a network namespace and packet capture (run as root or with sudo)");
    }
    root
}
