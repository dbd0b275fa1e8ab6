//! `CO_CALL_PARAMETERS` in C memory: built by the emulator for a client's
//! request, and read back, bounded and checked, from what a driver passes.
//!
//! A CO_CALL_PARAMETERS block is three structures linked by pointers with two
//! variable-length tails (CallMgrSpecific, MediaSpecific); NDIS gives no total
//! length. Reading one from a driver therefore bounds every tail by
//! [`MAX_SPECIFIC`] and refuses NULL links, so a malformed block becomes an
//! error the caller turns into a violation, never a wild read.

use core::mem::{offset_of, size_of};

use ndis_sys::*;

use super::raw::{PlacedCallParams, RawCallParams};
use crate::call_spec::CallSpec;

/// The longest CallMgrSpecific / MediaSpecific tail ndis-emu accepts.
pub const MAX_SPECIFIC: usize = 64 * 1024;

/// Owned C memory holding a CO_CALL_PARAMETERS, its CO_CALL_MANAGER_PARAMETERS
/// and CO_MEDIA_PARAMETERS: built from a [`CallSpec`] in one 8-byte-aligned
/// block, or a client's raw blocks ([`RawCallParams`]) in guarded memory.
///
/// INVARIANT: `buf` holds, at offset 0, a CO_CALL_PARAMETERS whose two pointers
/// point at the CO_CALL_MANAGER_PARAMETERS at `cm_off` and the
/// CO_MEDIA_PARAMETERS at `media_off` inside `buf`, each followed by its tail;
/// `buf` is a heap allocation that never moves or shrinks while `self` lives.
/// With `raw` set, `buf` is unused and `raw` holds the block instead.
///
/// A `Vec`, not a `Box<[u64]>`: the block holds pointers into itself and the
/// driver keeps `as_ptr()` after `self` moves (into the world's map). A `Box`
/// passed to or returned from a function asserts unique access to its
/// allocation, which invalidates every pointer derived from it before (UB
/// under Stacked Borrows, found by Miri); a `Vec`'s buffer carries no such
/// claim.
#[derive(Debug)]
pub struct CallParams {
    buf: Vec<u64>,
    raw: Option<PlacedCallParams>,
}

fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

impl CallParams {
    /// Lays out `spec` in C memory.
    #[must_use]
    pub fn new(spec: &CallSpec) -> Self {
        let cm_off = round8(size_of::<CO_CALL_PARAMETERS>());
        let cm_tail =
            offset_of!(CO_CALL_MANAGER_PARAMETERS, CallMgrSpecific) + offset_of!(CO_SPECIFIC_PARAMETERS, Parameters);
        let media_off = round8(cm_off + cm_tail + spec.cm_specific.len().max(1));
        let media_tail =
            offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific) + offset_of!(CO_SPECIFIC_PARAMETERS, Parameters);
        let total = round8(media_off + media_tail + spec.media_specific.len().max(1));
        let mut this = Self {
            buf: vec![0u64; total / 8],
            raw: None,
        };
        let base = this.buf.as_mut_ptr().cast::<u8>();
        let cm = base.wrapping_add(cm_off).cast::<CO_CALL_MANAGER_PARAMETERS>();
        let media = base.wrapping_add(media_off).cast::<CO_MEDIA_PARAMETERS>();
        let cp = CO_CALL_PARAMETERS {
            Flags: spec.flags,
            CallMgrParameters: cm,
            MediaParameters: media,
        };
        // SAFETY: the block starts with room for a CO_CALL_PARAMETERS and is
        // 8-byte aligned (a u64 slice).
        unsafe { base.cast::<CO_CALL_PARAMETERS>().write(cp) };
        // A tail longer than u32::MAX is not representable; Length saturates
        // (every caller bounds tails by MAX_SPECIFIC anyway).
        let cm_len = u32::try_from(spec.cm_specific.len()).unwrap_or(u32::MAX);
        let cm_value = CO_CALL_MANAGER_PARAMETERS {
            Transmit: spec.transmit,
            Receive: spec.receive,
            CallMgrSpecific: CO_SPECIFIC_PARAMETERS {
                ParamType: spec.cm_specific_type,
                Length: cm_len,
                Parameters: [0],
            },
        };
        // SAFETY: cm_off is 8-aligned and the block holds the structure and
        // its tail after it (sized above).
        unsafe { cm.write(cm_value) };
        let cm_bytes = base.wrapping_add(cm_off + cm_tail);
        // SAFETY: the tail has room for cm_specific.len() bytes (sized above);
        // source and destination do not overlap.
        unsafe { cm_bytes.copy_from_nonoverlapping(spec.cm_specific.as_ptr(), spec.cm_specific.len()) };
        let media_len = u32::try_from(spec.media_specific.len()).unwrap_or(u32::MAX);
        let media_value = CO_MEDIA_PARAMETERS {
            Flags: spec.media_flags,
            ReceivePriority: 0,
            ReceiveSizeHint: spec.receive_size_hint,
            _Pad: 0,
            MediaSpecific: CO_SPECIFIC_PARAMETERS {
                ParamType: spec.media_specific_type,
                Length: media_len,
                Parameters: [0],
            },
        };
        // SAFETY: media_off is 8-aligned (CO_MEDIA_PARAMETERS needs 8) and the
        // block holds the structure and its tail.
        unsafe { media.write(media_value) };
        let media_bytes = base.wrapping_add(media_off + media_tail);
        // SAFETY: room for media_specific.len() bytes; no overlap.
        unsafe { media_bytes.copy_from_nonoverlapping(spec.media_specific.as_ptr(), spec.media_specific.len()) };
        // INVARIANT: header at 0, both links into the block, tails after them.
        this
    }

    /// A client's raw blocks, each in guarded memory (see [`super::raw`]).
    #[must_use]
    pub fn raw(raw: &RawCallParams) -> Self {
        Self {
            buf: Vec::new(),
            raw: Some(raw.place()),
        }
    }

    /// The CO_CALL_PARAMETERS, for the driver.
    #[must_use]
    pub fn as_ptr(&mut self) -> PCO_CALL_PARAMETERS {
        match self.raw.as_mut() {
            Some(r) => r.as_ptr(),
            None => self.buf.as_mut_ptr().cast(),
        }
    }

    /// The parameters as they are now (the driver may have changed them).
    /// Raw blocks are read only within their real extent.
    pub fn read(&mut self) -> Result<CallSpec, String> {
        if let Some(r) = self.raw.as_ref() {
            return r
                .read()
                .ok_or_else(|| "raw call parameters do not hold what they state".into());
        }
        let p = self.as_ptr();
        // SAFETY: `p` is this block's CO_CALL_PARAMETERS (INVARIANT); the
        // driver may have rewritten fields, which `read_call_params` bounds.
        unsafe { read_call_params(p) }
    }
}

/// Reads call parameters a driver passed, checking every link and bounding
/// every tail.
///
/// # Safety
/// `p` is NULL or points to readable memory laid out as CO_CALL_PARAMETERS
/// whose non-NULL links point to readable structures with tails of the
/// lengths they state (the DDI's contract); lengths over [`MAX_SPECIFIC`] are
/// refused before any tail is read.
pub unsafe fn read_call_params(p: PCO_CALL_PARAMETERS) -> Result<CallSpec, String> {
    if p.is_null() {
        return Err("CallParameters is NULL".into());
    }
    // SAFETY: non-null CO_CALL_PARAMETERS (precondition).
    let cp = unsafe { p.read_unaligned() };
    if cp.CallMgrParameters.is_null() {
        return Err("CallParameters->CallMgrParameters is NULL".into());
    }
    if cp.MediaParameters.is_null() {
        return Err("CallParameters->MediaParameters is NULL".into());
    }
    let cm = cp.CallMgrParameters;
    // SAFETY: non-null link to a CO_CALL_MANAGER_PARAMETERS (precondition).
    let cm_value = unsafe { cm.read_unaligned() };
    let cm_len = usize::try_from(cm_value.CallMgrSpecific.Length).unwrap_or(usize::MAX);
    if cm_len > MAX_SPECIFIC {
        return Err(format!("CallMgrSpecific.Length {cm_len} exceeds {MAX_SPECIFIC}"));
    }
    let cm_tail = cm.cast::<u8>().wrapping_add(
        offset_of!(CO_CALL_MANAGER_PARAMETERS, CallMgrSpecific) + offset_of!(CO_SPECIFIC_PARAMETERS, Parameters),
    );
    let mut cm_specific = vec![0u8; cm_len];
    // SAFETY: the tail holds Length bytes (precondition), bounded just above.
    unsafe { cm_specific.as_mut_ptr().copy_from_nonoverlapping(cm_tail, cm_len) };
    let media = cp.MediaParameters;
    // SAFETY: non-null link to a CO_MEDIA_PARAMETERS (precondition).
    let media_value = unsafe { media.read_unaligned() };
    let m_len = usize::try_from(media_value.MediaSpecific.Length).unwrap_or(usize::MAX);
    if m_len > MAX_SPECIFIC {
        return Err(format!("MediaSpecific.Length {m_len} exceeds {MAX_SPECIFIC}"));
    }
    let m_tail = media
        .cast::<u8>()
        .wrapping_add(offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific) + offset_of!(CO_SPECIFIC_PARAMETERS, Parameters));
    let mut media_specific = vec![0u8; m_len];
    // SAFETY: the tail holds Length bytes (precondition), bounded just above.
    unsafe { media_specific.as_mut_ptr().copy_from_nonoverlapping(m_tail, m_len) };
    let (transmit, receive, cm_type) = (cm_value.Transmit, cm_value.Receive, cm_value.CallMgrSpecific.ParamType);
    let (media_flags, hint, m_type) = (
        media_value.Flags,
        media_value.ReceiveSizeHint,
        media_value.MediaSpecific.ParamType,
    );
    Ok(CallSpec {
        flags: cp.Flags,
        transmit,
        receive,
        cm_specific_type: cm_type,
        cm_specific,
        media_flags,
        receive_size_hint: hint,
        media_specific_type: m_type,
        media_specific,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_block_reads_back_identically() {
        let mut spec = CallSpec::best_effort(125_000, 1500);
        spec.flags = MULTIPOINT_VC;
        spec.cm_specific = vec![1, 2, 3];
        spec.media_specific_type = 0xC0C0;
        spec.media_specific = b"echo".to_vec();
        let mut p = CallParams::new(&spec);
        assert_eq!(p.read().unwrap(), spec);
    }

    #[test]
    fn the_media_parameters_sit_where_the_wdk_puts_them() {
        let mut p = CallParams::new(&CallSpec::best_effort(1, 1));
        let cp = p.as_ptr();
        // SAFETY: a block built above.
        let media = unsafe { (*cp).MediaParameters };
        assert_eq!(media as usize % 8, 0, "CO_MEDIA_PARAMETERS is pointer-aligned");
    }

    #[test]
    fn missing_links_and_oversized_tails_are_errors_not_reads() {
        // SAFETY: NULL is allowed by the precondition.
        assert!(unsafe { read_call_params(core::ptr::null_mut()) }.is_err());
        let mut p = CallParams::new(&CallSpec::best_effort(1, 1));
        let cp = p.as_ptr();
        // SAFETY: the block built above; the test plays a wrong driver.
        let media = unsafe { (*cp).MediaParameters };
        // SAFETY: `media` points into the same live block `p` (its
        // MediaParameters link, set by CallParams::new), not yet freed.
        unsafe { (*media).MediaSpecific.Length = u32::MAX };
        assert!(p.read().unwrap_err().contains("exceeds"));
        // SAFETY: `cp` is the block `p` still owns, alive until `p` drops.
        unsafe { (*cp).MediaParameters = core::ptr::null_mut() };
        assert!(p.read().unwrap_err().contains("MediaParameters is NULL"));
    }
}
