//! Pool tags and context signatures: one per allocation type, as netvmini
//! does, so `!pool`, `!poolfind` and poolmon tell covmini's memory apart, plus
//! a signature at the start of every context so a debug build (and a WinDbg
//! `dd`) can tell a context from garbage when NDIS hands a pointer back.
//!
//! Tags read as written in poolmon (`pool_tag(b"CvmA")` shows `CvmA`).

use ndis_sys::{ULONG, pool_tag};

/// The adapter context (`MiniportAdapterContext`).
pub const TAG_ADAPTER: ULONG = pool_tag(b"CvmA");
/// Per-AF contexts (`CallMgrAfContext`), from their lookaside list.
pub const TAG_AF: ULONG = pool_tag(b"CvmF");
/// Per-SAP contexts (`CallMgrSapContext`).
pub const TAG_SAP: ULONG = pool_tag(b"CvmS");
/// Per-VC contexts (`CallMgrVcContext` = `MiniportVcContext`).
pub const TAG_VC: ULONG = pool_tag(b"CvmV");
/// Per-party contexts (`CallMgrPartyContext`).
pub const TAG_PARTY: ULONG = pool_tag(b"CvmP");
/// Per-call blocks: the call parameters covmini activates a VC with and
/// offers an incoming call with, one per VC while it carries a call.
pub const TAG_CALL: ULONG = pool_tag(b"CvmC");

/// The receive NBL pool of the data path (`NdisAllocateNetBufferListPool`).
pub const TAG_RX: ULONG = pool_tag(b"CvmR");
/// The call manager's VC table (its chunks and their directory), allocated
/// through the kernel images' global allocator (`ffi::alloc`).
pub const TAG_TABLE: ULONG = pool_tag(b"CvmT");

/// Signatures stored in the first field of each context, distinct from the
/// tags (lower-case first letter) so a signature hit is never a pool header.
/// This one marks the adapter context.
pub const SIG_ADAPTER: u32 = pool_tag(b"cvmA");
/// Signature of a AF context.
pub const SIG_AF: u32 = pool_tag(b"cvmF");
/// Signature of a SAP context.
pub const SIG_SAP: u32 = pool_tag(b"cvmS");
/// Signature of a VC context.
pub const SIG_VC: u32 = pool_tag(b"cvmV");
/// Signature of a party context.
pub const SIG_PARTY: u32 = pool_tag(b"cvmP");
/// Signature of a per-call block.
pub const SIG_CALL: u32 = pool_tag(b"cvmC");
/// Written over a signature when a context is freed, so a stale pointer is
/// recognisable in a dump and rejected by the recovery check.
pub const SIG_FREED: u32 = pool_tag(b"cvmX");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_signatures_are_all_distinct() {
        let all = [
            TAG_ADAPTER,
            TAG_AF,
            TAG_SAP,
            TAG_VC,
            TAG_PARTY,
            TAG_CALL,
            TAG_RX,
            TAG_TABLE,
            SIG_ADAPTER,
            SIG_AF,
            SIG_SAP,
            SIG_VC,
            SIG_PARTY,
            SIG_CALL,
            SIG_FREED,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn tags_read_as_written_in_memory_order() {
        assert_eq!(TAG_ADAPTER.to_le_bytes(), *b"CvmA");
    }
}
