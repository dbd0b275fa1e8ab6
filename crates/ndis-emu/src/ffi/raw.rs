//! Raw, possibly malformed input for a driver: a CO_CALL_PARAMETERS, a
//! CO_SAP or an OID information buffer given byte by byte, each structure
//! in a guarded block whose last byte sits right before an inaccessible page.
//!
//! A scripted client ([`crate::CallSpec`]) only ever builds well-formed
//! parameters. A real client can pass anything NDIS passes through, and NDIS
//! passes these blocks through unread: a CO_CALL_PARAMETERS carries no total
//! length (CallMgrSpecific and MediaSpecific each state their own, nothing
//! bounds the whole), a CO_SAP only its own SapLength, so NDIS cannot check
//! that the bytes a block states are there; only the call manager, which
//! knows the address family, reads them. With these builders a test states
//! every field, every link (or NULL) and each block's real extent. A driver
//! that reads past what a block really holds touches the guard page and the
//! process faults at once (under valgrind every byte of the block is exact
//! too), so "reads past the buffer" is a crash in the test, never a silent
//! read of the neighbour's memory.
//!
//! The x64 layout is ndis-sys's (its offsets are asserted there):
//!
//! | structure | fixed part | tail |
//! |---|---|---|
//! | CO_CALL_PARAMETERS | Flags @0, CallMgrParameters @8, MediaParameters @16: 24 bytes | none |
//! | CO_CALL_MANAGER_PARAMETERS | Transmit @0, Receive @32, CallMgrSpecific.ParamType @64, .Length @68: 72 bytes | CallMgrSpecific.Parameters @72 |
//! | CO_MEDIA_PARAMETERS | Flags @0, ReceivePriority @4, ReceiveSizeHint @8, MediaSpecific.ParamType @16, .Length @20: 24 bytes | MediaSpecific.Parameters @24 |
//! | CO_SAP | SapType @0, SapLength @4: 8 bytes | Sap @8 |
//!
//! `sizeof` of each of these (76, 32 and 12 for the last three) counts the
//! one-byte `[1]` array and padding: a client that allocates the fixed part
//! and its stated tail, no more, is within the contract, so a driver must not
//! read a whole structure with a tail shorter than that padding.

use core::mem::offset_of;

use ndis_sys::*;

use crate::call_spec::CallSpec;

/// Where a block's bytes sit in their guarded allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The block's last byte is the last accessible byte: one byte read
    /// past it faults. Its start is then aligned only if its length is a
    /// multiple of 8 (x64 tolerates the misalignment; covmini reads client
    /// blocks unaligned).
    ExactEnd,
    /// The block starts 8-byte aligned, as a pool allocation does, and ends
    /// up to 7 bytes before the guard page (reads into those bytes are not
    /// caught by the guard; valgrind on the fallback allocation still sees them).
    Aligned,
}

/// A block of bytes in memory of its own, ending at (or within 7 bytes of,
/// [`Placement::Aligned`]) an inaccessible guard page on x86_64 Linux; a heap
/// allocation of exactly its length elsewhere (and under Miri), where
/// valgrind or Miri catches a read past it.
///
/// INVARIANT: `start` points at `len` readable and writable bytes owned by
/// this value (inside `map` on the mmap build, inside `heap` otherwise) that
/// no one else frees or moves while it lives.
pub struct Guarded {
    start: *mut u8,
    len: usize,
    #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
    map: (*mut u8, usize),
    /// A `Vec`, not a `Box<[u64]>`: `start` points into it and this value
    /// moves; moving a `Box` asserts unique access to its allocation and
    /// invalidates `start` (Stacked Borrows, found by Miri), a `Vec`'s
    /// buffer carries no such claim (as `super::params::CallParams`).
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux", not(miri))))]
    heap: Vec<u64>,
}

// SAFETY: Guarded owns its memory exclusively (INVARIANT); moving that
// ownership to another thread is as safe as moving a Box.
unsafe impl Send for Guarded {}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("start", &self.start)
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
const PAGE: usize = 4096;

impl Guarded {
    /// A copy of `bytes` placed as `placement` says.
    ///
    /// # Panics
    /// When the system refuses the mapping (out of address space), like a
    /// failed Box allocation would.
    #[must_use]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
    pub fn new(bytes: &[u8], placement: Placement) -> Self {
        let data = (bytes.len() + 8).div_ceil(PAGE).max(1) * PAGE;
        let map_len = data + PAGE;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choice replaces nothing; the arguments are plain values.
        let map = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(map != libc::MAP_FAILED, "mmap of a guarded block failed");
        let base = map.cast::<u8>();
        // SAFETY: the last page of the mapping just made (map_len = data + PAGE).
        let rc = unsafe { libc::mprotect(base.wrapping_add(data).cast(), PAGE, libc::PROT_NONE) };
        assert!(rc == 0, "mprotect of a guard page failed");
        let end = base as usize + data;
        let mut start = end - bytes.len();
        if placement == Placement::Aligned {
            start &= !7;
        }
        let start = base.wrapping_add(start - base as usize);
        // SAFETY: start..start+len lies in the read-write part of the
        // mapping (data >= len + 8 >= len + the alignment slack); a fresh
        // mapping cannot overlap `bytes`.
        unsafe { start.copy_from_nonoverlapping(bytes.as_ptr(), bytes.len()) };
        // INVARIANT: start..start+len is inside the mapping, owned by this value.
        Self {
            start,
            len: bytes.len(),
            map: (base, map_len),
        }
    }

    /// A copy of `bytes` in a heap allocation of exactly its length, whole
    /// 8-byte words (the guard is valgrind's or Miri's view of the allocation).
    #[must_use]
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux", not(miri))))]
    pub fn new(bytes: &[u8], placement: Placement) -> Self {
        let _ = placement;
        let mut heap = vec![0u64; bytes.len().div_ceil(8).max(1)];
        let start = heap.as_mut_ptr().cast::<u8>();
        // SAFETY: the allocation holds at least bytes.len() bytes; no overlap.
        unsafe { start.copy_from_nonoverlapping(bytes.as_ptr(), bytes.len()) };
        // INVARIANT: start points into `heap`, which this value owns.
        Self {
            start,
            len: bytes.len(),
            heap,
        }
    }

    /// The block's first byte.
    #[must_use]
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.start
    }

    /// The block's length.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block has no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block's bytes as they are now (a driver may have written them).
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        // SAFETY: `start` points at `len` bytes owned by this value (INVARIANT).
        unsafe { core::slice::from_raw_parts(self.start, self.len) }.to_vec()
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: the mapping this value made and alone owns (INVARIANT); no
        // pointer into it outlives the value (the world drops a block only
        // after the request that lent it to the driver completed).
        let rc = unsafe { libc::munmap(self.map.0.cast(), self.map.1) };
        debug_assert!(rc == 0, "munmap of a guarded block failed");
    }
}

// --- CO_CALL_PARAMETERS ------------------------------------------------------------

/// Offset of CallMgrSpecific.ParamType in CO_CALL_MANAGER_PARAMETERS.
pub const CM_SPECIFIC_TYPE: usize = offset_of!(CO_CALL_MANAGER_PARAMETERS, CallMgrSpecific);
/// Offset of CallMgrSpecific.Length.
pub const CM_SPECIFIC_LENGTH: usize = CM_SPECIFIC_TYPE + offset_of!(CO_SPECIFIC_PARAMETERS, Length);
/// Offset of the CallMgrSpecific tail (the fixed part's length: 72).
pub const CM_TAIL: usize = CM_SPECIFIC_TYPE + offset_of!(CO_SPECIFIC_PARAMETERS, Parameters);
/// Offset of MediaSpecific.ParamType in CO_MEDIA_PARAMETERS.
pub const MEDIA_SPECIFIC_TYPE: usize = offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific);
/// Offset of MediaSpecific.Length.
pub const MEDIA_SPECIFIC_LENGTH: usize = MEDIA_SPECIFIC_TYPE + offset_of!(CO_SPECIFIC_PARAMETERS, Length);
/// Offset of the MediaSpecific tail (the fixed part's length: 24).
pub const MEDIA_TAIL: usize = MEDIA_SPECIFIC_TYPE + offset_of!(CO_SPECIFIC_PARAMETERS, Parameters);
/// The length of CO_CALL_PARAMETERS (no tail).
pub const CALL_PARAMS_LEN: usize = core::mem::size_of::<CO_CALL_PARAMETERS>();
/// Offset of SapLength in CO_SAP.
pub const SAP_LENGTH: usize = offset_of!(CO_SAP, SapLength);
/// Offset of the CO_SAP tail (the header's length: 8).
pub const SAP_TAIL: usize = offset_of!(CO_SAP, Sap);

fn put_u32(bytes: &mut [u8], offset: usize, v: u32) {
    if let Some(dst) = bytes.get_mut(offset..offset + 4) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

fn get_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn flow_bytes(f: &FLOWSPEC) -> [u8; 32] {
    let mut out = [0u8; 32];
    let fields = [
        f.TokenRate,
        f.TokenBucketSize,
        f.PeakBandwidth,
        f.Latency,
        f.DelayVariation,
        f.ServiceType,
        f.MaxSduSize,
        f.MinimumPolicedSize,
    ];
    for (i, v) in fields.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn flow_from(bytes: &[u8], offset: usize) -> Option<FLOWSPEC> {
    let f = |i: usize| get_u32(bytes, offset + i * 4);
    Some(FLOWSPEC {
        TokenRate: f(0)?,
        TokenBucketSize: f(1)?,
        PeakBandwidth: f(2)?,
        Latency: f(3)?,
        DelayVariation: f(4)?,
        ServiceType: f(5)?,
        MaxSduSize: f(6)?,
        MinimumPolicedSize: f(7)?,
    })
}

/// A CO_CALL_PARAMETERS as the bytes of its three structures. `call_mgr`
/// and `media` are each the whole block the link points at: fixed part then
/// tail, exactly as long as the vector (None: a NULL link). The Length
/// fields are whatever the bytes say, so a stated Length may exceed the
/// bytes that follow it.
///
/// ```text
/// let raw = RawCallParams::from_spec(&spec)
///     .media_specific(PARAM_TYPE_CALLED_ADDRESS, 9, b"bob"); // Length 9, 3 bytes there
/// emu.make_call_raw(vc, &raw, false);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCallParams {
    /// CO_CALL_PARAMETERS.Flags.
    pub flags: ULONG,
    /// The CO_CALL_MANAGER_PARAMETERS block, or None for a NULL CallMgrParameters.
    pub call_mgr: Option<Vec<u8>>,
    /// The CO_MEDIA_PARAMETERS block, or None for a NULL MediaParameters.
    pub media: Option<Vec<u8>>,
    /// Where each block sits before its guard page.
    pub placement: Placement,
}

impl RawCallParams {
    /// The well-formed blocks of `spec`: each tail exactly its stated
    /// Length, each block ending at its guard.
    #[must_use]
    pub fn from_spec(spec: &CallSpec) -> Self {
        let mut cm = vec![0u8; CM_TAIL];
        cm[0..32].copy_from_slice(&flow_bytes(&spec.transmit));
        cm[32..64].copy_from_slice(&flow_bytes(&spec.receive));
        let this = Self {
            flags: spec.flags,
            call_mgr: Some(cm),
            media: Some(vec![0u8; MEDIA_TAIL]),
            placement: Placement::ExactEnd,
        };
        let mut this = this
            .call_mgr_specific(spec.cm_specific_type, len32(spec.cm_specific.len()), &spec.cm_specific)
            .media_specific(
                spec.media_specific_type,
                len32(spec.media_specific.len()),
                &spec.media_specific,
            );
        if let Some(m) = this.media.as_mut() {
            put_u32(m, offset_of!(CO_MEDIA_PARAMETERS, Flags), spec.media_flags);
            put_u32(
                m,
                offset_of!(CO_MEDIA_PARAMETERS, ReceiveSizeHint),
                spec.receive_size_hint,
            );
        }
        this
    }

    /// MediaSpecific with this ParamType, this stated Length and these
    /// bytes really there (a media block is made if there was none).
    #[must_use]
    pub fn media_specific(mut self, param_type: ULONG, length: ULONG, bytes: &[u8]) -> Self {
        let mut m = self.media.take().unwrap_or_default();
        m.resize(MEDIA_TAIL, 0);
        put_u32(&mut m, MEDIA_SPECIFIC_TYPE, param_type);
        put_u32(&mut m, MEDIA_SPECIFIC_LENGTH, length);
        m.extend_from_slice(bytes);
        self.media = Some(m);
        self
    }

    /// CallMgrSpecific likewise (a call-manager block is made if there was none).
    #[must_use]
    pub fn call_mgr_specific(mut self, param_type: ULONG, length: ULONG, bytes: &[u8]) -> Self {
        let mut c = self.call_mgr.take().unwrap_or_default();
        c.resize(CM_TAIL, 0);
        put_u32(&mut c, CM_SPECIFIC_TYPE, param_type);
        put_u32(&mut c, CM_SPECIFIC_LENGTH, length);
        c.extend_from_slice(bytes);
        self.call_mgr = Some(c);
        self
    }

    /// Transmit and Receive FLOWSPECs (a call-manager block is made if there was none).
    #[must_use]
    pub fn flows(mut self, transmit: &FLOWSPEC, receive: &FLOWSPEC) -> Self {
        let mut c = self.call_mgr.take().unwrap_or_default();
        if c.len() < CM_TAIL {
            c.resize(CM_TAIL, 0);
        }
        c[0..32].copy_from_slice(&flow_bytes(transmit));
        c[32..64].copy_from_slice(&flow_bytes(receive));
        self.call_mgr = Some(c);
        self
    }

    /// A NULL CallMgrParameters.
    #[must_use]
    pub fn without_call_mgr(mut self) -> Self {
        self.call_mgr = None;
        self
    }

    /// A NULL MediaParameters.
    #[must_use]
    pub fn without_media(mut self) -> Self {
        self.media = None;
        self
    }

    /// Places the blocks in guarded memory and links them.
    #[must_use]
    pub fn place(&self) -> PlacedCallParams {
        let mut cm = self.call_mgr.as_deref().map(|b| Guarded::new(b, self.placement));
        let mut media = self.media.as_deref().map(|b| Guarded::new(b, self.placement));
        let mut header = [0u8; CALL_PARAMS_LEN];
        put_u32(&mut header, offset_of!(CO_CALL_PARAMETERS, Flags), self.flags);
        let link = |g: &mut Option<Guarded>| g.as_mut().map_or(0usize, |g| g.as_mut_ptr() as usize);
        let cm_at = offset_of!(CO_CALL_PARAMETERS, CallMgrParameters);
        let media_at = offset_of!(CO_CALL_PARAMETERS, MediaParameters);
        header[cm_at..cm_at + 8].copy_from_slice(&(link(&mut cm) as u64).to_le_bytes());
        header[media_at..media_at + 8].copy_from_slice(&(link(&mut media) as u64).to_le_bytes());
        PlacedCallParams {
            header: Guarded::new(&header, Placement::ExactEnd),
            cm,
            media,
        }
    }
}

fn len32(n: usize) -> ULONG {
    ULONG::try_from(n).unwrap_or(ULONG::MAX)
}

/// A [`RawCallParams`] in guarded memory, as a driver sees it.
///
/// INVARIANT: `header` holds a CO_CALL_PARAMETERS (24 bytes, 8-aligned: its
/// length is a multiple of 8 and it ends at a page) whose two links are NULL
/// or point at the first byte of `cm` and `media`, which live as long as it.
#[derive(Debug)]
pub struct PlacedCallParams {
    header: Guarded,
    cm: Option<Guarded>,
    media: Option<Guarded>,
}

impl PlacedCallParams {
    /// The CO_CALL_PARAMETERS, for the driver.
    #[must_use]
    pub fn as_ptr(&mut self) -> PCO_CALL_PARAMETERS {
        self.header.as_mut_ptr().cast()
    }

    /// The parameters as they are now, read only within each block's real
    /// extent: None when a link was changed to point elsewhere, a fixed part
    /// is cut short or a stated Length exceeds the bytes there.
    #[must_use]
    pub fn read(&self) -> Option<CallSpec> {
        let header = self.header.bytes();
        let flags = get_u32(&header, offset_of!(CO_CALL_PARAMETERS, Flags))?;
        let cm_ptr = u64::from_le_bytes(header.get(8..16)?.try_into().ok()?) as usize;
        let media_ptr = u64::from_le_bytes(header.get(16..24)?.try_into().ok()?) as usize;
        let cm = self.cm.as_ref().filter(|g| g.start as usize == cm_ptr)?.bytes();
        let media = self.media.as_ref().filter(|g| g.start as usize == media_ptr)?.bytes();
        let cm_len = get_u32(&cm, CM_SPECIFIC_LENGTH)? as usize;
        let m_len = get_u32(&media, MEDIA_SPECIFIC_LENGTH)? as usize;
        Some(CallSpec {
            flags,
            transmit: flow_from(&cm, 0)?,
            receive: flow_from(&cm, 32)?,
            cm_specific_type: get_u32(&cm, CM_SPECIFIC_TYPE)?,
            cm_specific: cm.get(CM_TAIL..CM_TAIL.checked_add(cm_len)?)?.to_vec(),
            media_flags: get_u32(&media, offset_of!(CO_MEDIA_PARAMETERS, Flags))?,
            receive_size_hint: get_u32(&media, offset_of!(CO_MEDIA_PARAMETERS, ReceiveSizeHint))?,
            media_specific_type: get_u32(&media, MEDIA_SPECIFIC_TYPE)?,
            media_specific: media.get(MEDIA_TAIL..MEDIA_TAIL.checked_add(m_len)?)?.to_vec(),
        })
    }
}

// --- CO_SAP -----------------------------------------------------------------------------

/// A CO_SAP block: SapType, a stated SapLength, and the bytes really there.
#[must_use]
pub fn raw_sap(sap_type: ULONG, sap_length: ULONG, bytes: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; SAP_TAIL];
    put_u32(&mut b, offset_of!(CO_SAP, SapType), sap_type);
    put_u32(&mut b, SAP_LENGTH, sap_length);
    b.extend_from_slice(bytes);
    b
}

/// What a CO_SAP block says, read within its bytes: its type and the bytes
/// its SapLength covers, if they are all there.
#[must_use]
pub fn read_raw_sap(block: &[u8]) -> Option<(ULONG, Vec<u8>)> {
    let t = get_u32(block, offset_of!(CO_SAP, SapType))?;
    let n = get_u32(block, SAP_LENGTH)? as usize;
    Some((t, block.get(SAP_TAIL..SAP_TAIL.checked_add(n)?)?.to_vec()))
}

// --- OID information buffers ---------------------------------------------------------------

/// A raw OID request's information buffer: the bytes really there (None: a
/// NULL InformationBuffer) and the InformationBufferLength the request states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawOidBuffer {
    /// The buffer's bytes, or None for a NULL InformationBuffer.
    pub bytes: Option<Vec<u8>>,
    /// InformationBufferLength.
    pub length: ULONG,
}

impl RawOidBuffer {
    /// A well-formed buffer: these bytes, and their length stated.
    #[must_use]
    pub fn exact(bytes: &[u8]) -> Self {
        Self {
            bytes: Some(bytes.to_vec()),
            length: len32(bytes.len()),
        }
    }

    /// A NULL InformationBuffer with InformationBufferLength `length`.
    #[must_use]
    pub fn null(length: ULONG) -> Self {
        Self { bytes: None, length }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_block_from_a_spec_reads_back_as_that_spec() {
        let mut spec = CallSpec::best_effort(125_000, 1500);
        spec.cm_specific = vec![9, 8, 7];
        spec.media_specific_type = 0xC0C0;
        spec.media_specific = b"bob".to_vec();
        let placed = RawCallParams::from_spec(&spec).place();
        assert_eq!(placed.read(), Some(spec));
    }

    #[test]
    fn a_stated_length_past_the_bytes_reads_as_nothing() {
        let raw = RawCallParams::from_spec(&CallSpec::best_effort(1, 1)).media_specific(1, 9, b"bob");
        assert_eq!(raw.media.as_ref().map(Vec::len), Some(MEDIA_TAIL + 3));
        assert_eq!(raw.place().read(), None);
        assert_eq!(
            RawCallParams::from_spec(&CallSpec::best_effort(1, 1))
                .without_media()
                .place()
                .read(),
            None
        );
    }

    #[test]
    fn each_block_ends_where_its_bytes_end() {
        let raw = RawCallParams::from_spec(&CallSpec::best_effort(1, 1)).media_specific(1, 3, b"bob");
        let mut placed = raw.place();
        let cp = placed.as_ptr();
        assert_eq!(cp as usize % 8, 0, "CO_CALL_PARAMETERS is 8-aligned");
        let media = placed.media.as_mut().map(Guarded::as_mut_ptr);
        // SAFETY: the header block just placed (24 readable bytes).
        let link = unsafe { cp.read_unaligned() }.MediaParameters;
        assert_eq!(Some(link.cast::<u8>()), media);
        #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
        assert_eq!(
            (link as usize + MEDIA_TAIL + 3) % PAGE,
            0,
            "the block's last byte is the last before the guard page"
        );
    }

    #[test]
    fn a_sap_block_states_what_its_bytes_may_not_hold() {
        let b = raw_sap(1, 5, b"ali");
        assert_eq!(b.len(), SAP_TAIL + 3);
        assert_eq!(read_raw_sap(&b), None);
        assert_eq!(read_raw_sap(&raw_sap(1, 3, b"ali")), Some((1, b"ali".to_vec())));
    }
}
