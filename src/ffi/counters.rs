//! [`Counters`]: the traffic counters of the adapter and of each VC,
//! updated without a lock by the data path and read by the OID paths.
//!
//! Every method runs at any IRQL and takes no lock (relaxed atomics).
//!
//! Must not: know who holds counters (the adapter's and the VCs' contexts
//! do) or when they are updated (the data path decides).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::ctrl_path::Stats;

/// Traffic counters (adapter-wide or per VC), updated without a lock.
pub(crate) struct Counters {
    xmit_pdus_ok: AtomicU64,
    xmit_pdus_error: AtomicU64,
    rcv_pdus_ok: AtomicU64,
    bytes_xmit: AtomicU64,
    bytes_rcv: AtomicU64,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            xmit_pdus_ok: AtomicU64::new(0),
            xmit_pdus_error: AtomicU64::new(0),
            rcv_pdus_ok: AtomicU64::new(0),
            bytes_xmit: AtomicU64::new(0),
            bytes_rcv: AtomicU64::new(0),
        }
    }
    pub(crate) fn sent(&self, pdus: u64, bytes: u64) {
        self.xmit_pdus_ok.fetch_add(pdus, Ordering::Relaxed);
        self.bytes_xmit.fetch_add(bytes, Ordering::Relaxed);
    }
    pub(crate) fn failed(&self, pdus: u64) {
        self.xmit_pdus_error.fetch_add(pdus, Ordering::Relaxed);
    }
    pub(crate) fn received(&self, pdus: u64, bytes: u64) {
        self.rcv_pdus_ok.fetch_add(pdus, Ordering::Relaxed);
        self.bytes_rcv.fetch_add(bytes, Ordering::Relaxed);
    }
    /// A snapshot for the OID paths.
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            xmit_pdus_ok: self.xmit_pdus_ok.load(Ordering::Relaxed),
            rcv_pdus_ok: self.rcv_pdus_ok.load(Ordering::Relaxed),
            xmit_pdus_error: self.xmit_pdus_error.load(Ordering::Relaxed),
            bytes_xmit: self.bytes_xmit.load(Ordering::Relaxed),
            bytes_rcv: self.bytes_rcv.load(Ordering::Relaxed),
            ..Stats::ZERO
        }
    }
}
