//! Pool tags and context signatures of covclient, one per allocation type,
//! so `!pool`, `!poolfind` and poolmon tell its memory apart from covmini's
//! (`Cvm*`), plus the signature at the start of every context that each
//! handler checks before it trusts a pointer NDIS hands back.
//!
//! Tags read as written in poolmon (`pool_tag(b"CcBd")` shows `CcBd`).

use ndis_sys::{ULONG, pool_tag};

/// A binding context (`ProtocolBindingContext`), one per bound adapter. It
/// is also the `ProtocolAfContext` of the one AF covclient opens on the
/// binding; per-SAP, VC and party contexts have tags of their own.
pub const TAG_BINDING: ULONG = pool_tag(b"CcBd");
/// An adapter entry (the NdisBindingHandle the control device's requests use).
pub const TAG_ADAPTER: ULONG = pool_tag(b"CcAd");
/// An AF context (its NdisAfHandle and the CO_ADDRESS_FAMILY it opened).
pub const TAG_AF: ULONG = pool_tag(b"CcAf");
/// A SAP context (its NdisSapHandle and the CO_SAP NdisClRegisterSap reads).
pub const TAG_SAP: ULONG = pool_tag(b"CcSp");
/// A VC context (its NdisVcHandle and the CO_CALL_PARAMETERS of its call).
pub const TAG_VC: ULONG = pool_tag(b"CcVc");
/// A party context (its NdisPartyHandle and its CO_CALL_PARAMETERS).
pub const TAG_PARTY: ULONG = pool_tag(b"CcPy");

/// Signature of a binding context (lower-case first letter: never a tag).
pub const SIG_BINDING: u32 = pool_tag(b"ccBd");
/// The send slab (the data of SEND's NBLs) and its NBL pool.
pub const TAG_SEND: ULONG = pool_tag(b"CcTx");

/// An OID_REQUEST in flight (its NDIS_OID_REQUEST, data buffer and IRP).
pub const TAG_OID: ULONG = pool_tag(b"CcOi");
/// Signature of an OID_REQUEST context.
pub const SIG_OID: u32 = pool_tag(b"ccOi");

/// Signature of an adapter entry.
pub const SIG_ADAPTER: u32 = pool_tag(b"ccAd");
/// Signature of an AF context.
pub const SIG_AF: u32 = pool_tag(b"ccAf");
/// Signature of a SAP context.
pub const SIG_SAP: u32 = pool_tag(b"ccSp");
/// Signature of a VC context.
pub const SIG_VC: u32 = pool_tag(b"ccVc");
/// Signature of a party context.
pub const SIG_PARTY: u32 = pool_tag(b"ccPy");
/// Signature of the control device's state (`ffi::control`, a static: no
/// pool tag of its own).
pub const SIG_CONTROL: u32 = pool_tag(b"ccDv");
/// Written over a signature when a context is freed, so a stale pointer is
/// recognisable in a dump and refused by the handlers' check.
pub const SIG_FREED: u32 = pool_tag(b"ccXX");

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves every tag and signature is distinct from the others and from
    /// covmini's `Cvm`/`cvm` family (a shared tag would merge the two drivers
    /// in poolmon).
    #[test]
    fn tags_and_signatures_are_distinct_and_not_covmini_s() {
        let all = [
            TAG_BINDING,
            TAG_ADAPTER,
            TAG_AF,
            TAG_SAP,
            TAG_VC,
            TAG_PARTY,
            TAG_SEND,
            TAG_OID,
            SIG_OID,
            SIG_BINDING,
            SIG_ADAPTER,
            SIG_AF,
            SIG_SAP,
            SIG_VC,
            SIG_PARTY,
            SIG_CONTROL,
            SIG_FREED,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
            let bytes = a.to_le_bytes();
            assert!(!bytes.starts_with(b"Cvm") && !bytes.starts_with(b"cvm"), "{bytes:?}");
        }
    }

    /// Proves the tags show in poolmon as written.
    #[test]
    fn tags_read_as_written_in_memory_order() {
        assert_eq!(TAG_BINDING.to_le_bytes(), *b"CcBd");
        assert_eq!(TAG_AF.to_le_bytes(), *b"CcAf");
        assert_eq!(TAG_SAP.to_le_bytes(), *b"CcSp");
        assert_eq!(TAG_VC.to_le_bytes(), *b"CcVc");
        assert_eq!(TAG_PARTY.to_le_bytes(), *b"CcPy");
    }
}
