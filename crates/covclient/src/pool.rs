//! Pool tags and context signatures of covclient, one per allocation type,
//! so `!pool`, `!poolfind` and poolmon tell its memory apart from covmini's
//! (`Cvm*`), plus the signature at the start of every context that each
//! handler checks before it trusts a pointer NDIS hands back.
//!
//! Tags read as written in poolmon (`pool_tag(b"CcBd")` shows `CcBd`).

use ndis_sys::{ULONG, pool_tag};

/// A binding context (`ProtocolBindingContext`), one per bound adapter. It
/// is also the `ProtocolAfContext` of the one AF covclient opens on the
/// binding; per-SAP, VC and party contexts get tags of their own when they
/// exist.
pub const TAG_BINDING: ULONG = pool_tag(b"CcBd");

/// Signature of a binding context (lower-case first letter: never a tag).
pub const SIG_BINDING: u32 = pool_tag(b"ccBd");
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
        let all = [TAG_BINDING, SIG_BINDING, SIG_CONTROL, SIG_FREED];
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
    }
}
