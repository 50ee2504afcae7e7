//! Filling a mapped file's page tables ahead of the walk.
//!
//! Touching a mapped page that is not yet in the page tables costs a fault;
//! the kernel maps 64 KB around it and returns. Asking for several
//! megabytes at once (MADV_POPULATE_READ) does the same work without the
//! faults. The work is split into steps that either thread may claim: the
//! walking thread populates what it is about to read, and a consumer that
//! would otherwise wait for the walker populates further ahead, so the two
//! threads share it in whatever proportion keeps both busy.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// How far ahead of the walk pages are populated.
const AHEAD: usize = 4 << 20;
/// One claimed piece of work.
const STEP: usize = 1 << 20;

/// The populated end of one mapping, shared between threads.
#[derive(Debug, Default)]
pub(crate) struct Populator {
    /// Everything below this offset has been populated or claimed.
    claimed: AtomicUsize,
}

impl Populator {
    /// Populate (or leave to whoever claimed it) up to `AHEAD` bytes past
    /// `offset`.
    #[inline]
    pub fn ahead_of(&self, map: &[u8], offset: usize) {
        let want = (offset + AHEAD).min(map.len());
        let claimed = self.claimed.load(Relaxed);
        if want >= claimed + STEP || (want == map.len() && want > claimed) {
            while self.claim(map, want) {}
        }
    }

    /// Populate one step if the populated end is below `limit`; whether
    /// there was a step to do.
    pub fn help(&self, map: &[u8], limit: usize) -> bool {
        self.claim(map, limit.min(map.len()))
    }

    /// Claim and populate the next step below `limit`, if there is one.
    fn claim(&self, map: &[u8], limit: usize) -> bool {
        let from = self.claimed.load(Relaxed);
        if from >= limit {
            return false;
        }
        let to = (from + STEP).min(map.len());
        if self
            .claimed
            .compare_exchange(from, to, Relaxed, Relaxed)
            .is_err()
        {
            // The other thread took it; the caller looks again.
            return true;
        }
        #[cfg(target_os = "linux")]
        // SAFETY: the range lies inside the mapping; populating only reads
        // pages in, as touching them would. An error (an old kernel without
        // MADV_POPULATE_READ) leaves the pages to be faulted in as usual.
        unsafe {
            libc::madvise(
                map.as_ptr().add(from) as *mut libc::c_void,
                to - from,
                libc::MADV_POPULATE_READ,
            )
        };
        true
    }
}
