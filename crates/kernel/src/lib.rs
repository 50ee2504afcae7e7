//! What the local kernel knows about TCP: sockets and listen queues (sock_diag), the MIB counters with their
//! meaning, and the tuning sysctls with a doctor's findings. Everything reads
//! the current network namespace, so a lab that enters its own namespace
//! sees its own counters and settings.
#![deny(missing_docs)]

pub mod bpf;
pub mod btf;
pub mod counters;
pub mod diag;
pub mod doctor;
mod error;
pub mod lifetime;
pub mod listen;
pub mod sockstat;
pub mod sysctl;
pub mod trace;

pub use error::KernelError;
