//! The NET_BUFFER_LIST object model (contract §2.2, §4.1): the driver's NBL
//! pools, a registry of every live NBL the emulator knows (who created it,
//! who holds it now), and the builder and reader the emulator's client side
//! uses for send and receive NBL chains; and the rules of NBL pools and
//! allocations (`nbl.*`) with their checks: the pool DDIs' shims
//! (`crate::ffi::nbl`) read the raw arguments and call `allocate_pool`,
//! `free_pool`, `allocate_over_mdls`, `allocate_plain` and `free`.
//!
//! Ownership, which the data-path rules ask about:
//! * [`NblOwner`] says who created an NBL: the driver, from one of its NDIS
//!   pools, or the emulator, for a scripted client (a send NBL);
//! * [`NblState`] says who holds it now. A driver NBL starts
//!   [`NblState::OwnedByDriver`], is [`NblState::IndicatedToClient`] while a
//!   client has it and [`NblState::Returned`] once given back; a client NBL
//!   starts [`NblState::OwnedByNdis`], is [`NblState::OwnedByDriver`] while
//!   the driver has it to send and [`NblState::OwnedByNdis`] again once
//!   completed. The data path makes the transitions ([`Nbls::transition`]);
//!   this registry stores them and NdisFreeNetBufferList checks them.
//!
//! Memory: every NBL, NET_BUFFER, MDL, NET_BUFFER_LIST_CONTEXT and payload
//! the emulator makes is a block it owns (freed with the NBL, or when the
//! world goes). A freed NBL is poisoned and quarantined for a while rather
//! than released, so its address is not reused at once and a second free of
//! it is told apart from a free of a new NBL.
//!
//! Reading a chain back (`read_chain`, [`chain_data`]) dereferences only
//! memory the emulator knows is live: its own blocks and the driver's
//! allocations in the memory ledger. A pointer anywhere else, a cycle, a
//! CurrentMdl outside the chain, an offset past an MDL or a DataLength past
//! the chain is an [`NblError`], never a crash of the emulator. So an MDL the
//! driver builds must lie in memory it allocated from NDIS (not on its stack
//! or in its image), as it must on Windows to outlive the call.

use ndis_sys::*;

use crate::ffi::block::{Known, read};
use crate::trace::tag_str;
pub use crate::world::nbl::{
    CLIENT_POOL, CopyAudit, MAX_MDL_BYTES, MEMORY_ALLOCATION_ALIGNMENT, NbSpec, NblData, NblError, NblOwner, NblRec,
    NblSpec, NblState, Nbls, PoolRec,
};
pub(crate) use crate::world::nbl::{
    NB_SIZE, NBL_SIZE, NbInit, Visited, WALK_LIMIT, locate, mdl_chain, nb_data, nb_spans,
};
use crate::world::{self, World};

crate::define_rules! { NBLS:
    NBL_POOL_PARAMS, "nbl.pool-params", true, "NET_BUFFER_LIST_POOL_PARAMETERS, NdisAllocateNetBufferListPool [D]", "nbl_pool_params_fires_on_a_protocol_id",
        "NdisAllocateNetBufferListPool gets parameters of type NDIS_OBJECT_TYPE_DEFAULT, revision >= 1 and size >= 16, ProtocolId NDIS_PROTOCOL_ID_DEFAULT (0, as miniports must), fAllocateNetBuffer TRUE or FALSE, a ContextSize that is a multiple of MEMORY_ALLOCATION_ALIGNMENT (16) and a pool tag of four printable characters.";
    NBL_ALLOC_PARAMS, "nbl.alloc-params", true, "NdisAllocateNetBufferAndNetBufferList, NdisAllocateNetBufferList [D]", "nbl_alloc_params_fires_on_an_odd_context_size",
        "NBL allocations pass a ContextSize and ContextBackFill that are multiples of 16; NdisAllocateNetBufferAndNetBufferList uses a pool made with fAllocateNetBuffer TRUE and DataSize 0, a NULL MdlChain comes with DataOffset and DataLength 0, and otherwise DataOffset + DataLength lie within the MDL chain.";
    NBL_FREE_OWNER, "nbl.free-owner", true, "NdisFreeNetBufferList [D], §2.2", "nbl_free_owner_fires_on_a_double_free",
        "NdisFreeNetBufferList frees, exactly once, an NBL the driver allocated from its own NDIS pool and holds now: never one NDIS or a client owns (an NBL it was sent, or one it indicated and has not got back).";
    NBL_POOL_FREE_OUTSTANDING, "nbl.pool-free-outstanding", true, "NdisFreeNetBufferListPool [D]", "nbl_pool_free_outstanding_fires_with_an_nbl_out",
        "NdisFreeNetBufferListPool runs only after every NBL allocated from the pool was freed.";
    NBL_LEAK, "nbl.leak", false, "§8.10, architecture.md (ledger)", "nbl_leak_fires_on_a_pool_never_freed",
        "Every NBL pool the driver allocates is freed, and every NBL from it, before unload completes.";
}

impl<'a> Known<'a> {
    /// What `w` knows is live.
    pub(crate) fn of(w: &'a World) -> Self {
        Self::new(&w.nbls.blocks, &w.ledger)
    }
}

/// Counts, into the running audit (if any), where the data of the receive
/// chain at `head` lies: in a client's send NBL (shared) or elsewhere
/// (copied). The chain was checked (`read_chain`) before.
pub(crate) fn audit_receive(w: &mut World, head: usize) {
    if w.nbls.audit.is_none() {
        return;
    }
    let (mut nbs, mut shared, mut copied) = (0u64, 0u64, 0u64);
    {
        let k = Known::of(w);
        for at in w.nbls.chain(head).unwrap_or_default() {
            let Some(nbl) = read::<NET_BUFFER_LIST>(&k, at) else {
                break;
            };
            let mut nb_at = nbl.FirstNetBuffer as usize;
            let mut nb_seen = Visited::new();
            while nb_at != 0 && nb_seen.insert(nb_at) {
                let Some(nb) = read::<NET_BUFFER>(&k, nb_at) else { break };
                nbs += 1;
                for (addr, len) in nb_spans(&k, nb_at, &nb).unwrap_or_default() {
                    if w.nbls.in_client_memory(addr, len) {
                        shared += len as u64;
                    } else {
                        copied += len as u64;
                    }
                }
                nb_at = nb.Next as usize;
            }
        }
    }
    if let Some(a) = w.nbls.audit.as_mut() {
        a.net_buffers += nbs;
        a.shared_bytes += shared;
        a.copied_bytes += copied;
    }
}

/// Reads back the chain of NBLs that starts at `head` (walked by
/// [`Nbls::chain`], the one walk of an NBL chain): every NBL must be live,
/// and every NET_BUFFER, MDL and data byte must lie in known memory.
///
/// # Errors
/// The first [`NblError`] met; nothing is read past it.
pub(crate) fn read_chain(w: &World, head: usize) -> Result<Vec<NblData>, NblError> {
    let k = Known::of(w);
    let mut out = Vec::new();
    for at in w.nbls.chain(head)? {
        let nbl: NET_BUFFER_LIST = read(&k, at).ok_or(NblError::Unmapped {
            what: "NET_BUFFER_LIST",
            at,
            len: NBL_SIZE,
        })?;
        let mut net_buffers = Vec::new();
        let mut nb_seen = Visited::new();
        let mut nb_at = nbl.FirstNetBuffer as usize;
        while nb_at != 0 {
            if !nb_seen.insert(nb_at) || net_buffers.len() >= WALK_LIMIT {
                return Err(NblError::Cycle {
                    what: "NET_BUFFER chain",
                    at: nb_at,
                });
            }
            let nb: NET_BUFFER = read(&k, nb_at).ok_or(NblError::Unmapped {
                what: "NET_BUFFER",
                at: nb_at,
                len: NB_SIZE,
            })?;
            net_buffers.push(nb_data(&k, nb_at, &nb)?);
            nb_at = nb.Next as usize;
        }
        out.push(NblData {
            nbl: at,
            source_handle: nbl.SourceHandle as usize,
            status: nbl.Status,
            net_buffers,
        });
    }
    Ok(out)
}

/// `read_chain` on this thread's emulator: what a test or the client
/// side reads back from an NBL chain while the emulator runs.
///
/// # Errors
/// [`NblError::NoEmulator`], or the first malformation met.
pub fn chain_data(head: PNET_BUFFER_LIST) -> Result<Vec<NblData>, NblError> {
    world::try_with(|w| read_chain(w, head as usize)).unwrap_or(Err(NblError::NoEmulator))
}

/// [`Nbls::build_chain`] on this thread's emulator.
///
/// # Errors
/// [`NblError::NoEmulator`], or as [`Nbls::build_chain`].
pub fn client_chain(source_handle: NDIS_HANDLE, specs: &[NblSpec]) -> Result<PNET_BUFFER_LIST, NblError> {
    world::try_with(|w| w.nbls.build_chain(source_handle as usize, specs))
        .unwrap_or(Err(NblError::NoEmulator))
        .map(|a| a as PNET_BUFFER_LIST)
}

/// [`Nbls::build_send_chain`] on this thread's emulator.
///
/// # Errors
/// [`NblError::NoEmulator`], or as [`Nbls::build_chain`].
pub fn client_send_chain(source_handle: NDIS_HANDLE, payloads: &[&[u8]]) -> Result<PNET_BUFFER_LIST, NblError> {
    world::try_with(|w| w.nbls.build_send_chain(source_handle as usize, payloads))
        .unwrap_or(Err(NblError::NoEmulator))
        .map(|a| a as PNET_BUFFER_LIST)
}

/// Who created and who holds an NBL, on this thread's emulator (None: not
/// a live NBL, or no emulator).
#[must_use]
pub fn ownership(nbl: PNET_BUFFER_LIST) -> Option<(NblOwner, NblState)> {
    world::try_with(|w| w.nbls.get(nbl as usize).map(|r| (r.owner, r.state))).flatten()
}

/// At unload: every pool not freed, and every NBL of the driver's still
/// allocated (not already reported as orphaned by its pool's free), is a
/// leak. The memory is released with the world.
pub(crate) fn leaks_at_unload(w: &mut World) {
    let mut leaks = Vec::new();
    for p in w.nbls.pools.values().filter(|p| !p.freed) {
        let out = w.nbls.nbls_of_pool(p.handle).len();
        leaks.push(format!(
            "NBL pool {:#x}, tag {}, allocated in {}, was never freed with NdisFreeNetBufferListPool ({out} NBL(s) from it still allocated)",
            p.handle,
            tag_str(p.params.PoolTag),
            p.origin
        ));
    }
    for (a, r) in &w.nbls.nbls {
        if let NblOwner::DriverPool(pool) = r.owner
            && !r.orphaned
        {
            let tag = w.nbls.pools.get(&pool).map_or(0, |p| p.params.PoolTag);
            leaks.push(format!(
                "NBL {a:#x} from pool tag {}, allocated in {}, was never freed with NdisFreeNetBufferList (it is {:?})",
                tag_str(tag),
                r.origin,
                r.state
            ));
        }
    }
    for l in leaks {
        w.violate(NBL_LEAK, "unload", l, &[]);
    }
}

// --- The NBL pool DDIs' checks (their shims are crate::ffi::nbl) ------------

/// The handler the driver is in, for origins.
fn origin(w: &World) -> &'static str {
    w.current_handler().unwrap_or("outside any handler")
}

/// Checks an NBL pool handle; false (with `handle.valid`) unless it is one
/// NdisAllocateNetBufferListPool returned and the driver has not freed.
fn live_pool(w: &mut World, pool: usize, call: &'static str) -> bool {
    let problem = match w.nbls.pool(pool) {
        None if pool == 0 => "a NULL NBL pool handle".to_string(),
        None => format!("{pool:#x}, which NDIS never gave out as an NBL pool handle"),
        Some(p) if p.freed => format!(
            "NBL pool {pool:#x} (tag {}), which was already freed",
            tag_str(p.params.PoolTag)
        ),
        Some(_) => return true,
    };
    w.violate(crate::rules::HANDLE_VALID, call, format!("passed {problem}"), &[]);
    false
}

/// NdisAllocateNetBufferListPool with NdisHandle `h` (0: none) and the
/// parameters as read (None: NULL): checked (`nbl.pool-params`), then the
/// pool's handle, or 0 for bad parameters and an injected failure.
pub(crate) fn allocate_pool(
    w: &mut World,
    h: usize,
    header: Option<NDIS_OBJECT_HEADER>,
    p: Option<NET_BUFFER_LIST_POOL_PARAMETERS>,
) -> usize {
    const CALL: &str = "NdisAllocateNetBufferListPool";
    if h != 0 {
        let kind = w.handles.get(&h).map_or(world::HandleKind::Adapter, |r| r.kind);
        if !w.check_handle(h, kind, CALL) {
            return 0;
        }
    }
    let (Some(header), Some(p)) = (header, p) else {
        w.violate(NBL_POOL_PARAMS, CALL, "NULL parameters", &[]);
        return 0;
    };
    let mut problems = Vec::new();
    if header.Type != NDIS_OBJECT_TYPE_DEFAULT {
        problems.push(format!(
            "header type {:#x}, not NDIS_OBJECT_TYPE_DEFAULT (0x80)",
            header.Type
        ));
    }
    if header.Revision < NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 {
        problems.push(format!("header revision {}", header.Revision));
    }
    if usize::from(header.Size) < NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 {
        problems.push(format!(
            "header size {} < {}",
            header.Size, NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1
        ));
    }
    if p.ProtocolId != NDIS_PROTOCOL_ID_DEFAULT {
        problems.push(format!(
            "ProtocolId {:#x}: miniport drivers use NDIS_PROTOCOL_ID_DEFAULT (0)",
            p.ProtocolId
        ));
    }
    if p.fAllocateNetBuffer > TRUE {
        problems.push(format!(
            "fAllocateNetBuffer {} is neither TRUE nor FALSE",
            p.fAllocateNetBuffer
        ));
    }
    if !usize::from(p.ContextSize).is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT) {
        problems.push(format!(
            "ContextSize {} is not a multiple of MEMORY_ALLOCATION_ALIGNMENT (16)",
            p.ContextSize
        ));
    }
    if !crate::memory::printable_tag(p.PoolTag) {
        problems.push(format!("PoolTag {:#010x} is not four printable characters", p.PoolTag));
    }
    if !problems.is_empty() {
        w.violate(NBL_POOL_PARAMS, CALL, problems.join("; "), &[h]);
        return 0;
    }
    if crate::faults::allocation_fails(w, CALL, Some(p.PoolTag)) {
        return 0;
    }
    let origin = origin(w);
    let pool = w.nbls.add_pool(p, origin);
    w.event("=>", CALL, crate::detail!("-> pool {x}", pool));
    pool
}

/// NdisFreeNetBufferListPool of `h`: every NBL from it must be freed first;
/// any still out is reported (and not again as a leak at unload).
pub(crate) fn free_pool(w: &mut World, h: usize) {
    const CALL: &str = "NdisFreeNetBufferListPool";
    if !live_pool(w, h, CALL) {
        return;
    }
    let out = w.nbls.nbls_of_pool(h);
    if !out.is_empty() {
        let tag = w.nbls.pool(h).map_or(0, |p| p.params.PoolTag);
        let list: Vec<String> = out.iter().take(8).map(|a| format!("{a:#x}")).collect();
        w.violate(
            NBL_POOL_FREE_OUTSTANDING,
            CALL,
            format!(
                "NBL pool {h:#x} (tag {}) freed with {} NBL(s) from it still allocated: {}",
                tag_str(tag),
                out.len(),
                list.join(", ")
            ),
            &[],
        );
    }
    w.nbls.free_pool(h, &out);
}

/// The checks and the allocation both NBL allocators share: the NBL's
/// address, or 0.
fn allocate(
    w: &mut World,
    call: &'static str,
    pool: usize,
    context: (USHORT, USHORT),
    nb: impl FnOnce(&World, &NET_BUFFER_LIST_POOL_PARAMETERS, &mut Vec<String>) -> Option<NbInit>,
) -> usize {
    w.check_irql(call, DISPATCH_LEVEL);
    if !live_pool(w, pool, call) {
        return 0;
    }
    let Some(params) = w.nbls.pool(pool).map(|p| p.params) else {
        return 0;
    };
    let mut problems = Vec::new();
    for (what, v) in [("ContextSize", context.0), ("ContextBackFill", context.1)] {
        if !usize::from(v).is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT) {
            problems.push(format!(
                "{what} {v} is not a multiple of MEMORY_ALLOCATION_ALIGNMENT (16)"
            ));
        }
    }
    let init = nb(w, &params, &mut problems);
    if !problems.is_empty() {
        w.violate(NBL_ALLOC_PARAMS, call, problems.join("; "), &[]);
        return 0;
    }
    if crate::faults::allocation_fails(w, call, Some(params.PoolTag)) {
        return 0;
    }
    let origin = origin(w);
    match w
        .nbls
        .allocate(pool, init, (usize::from(context.0), usize::from(context.1)), origin)
    {
        Ok(a) => {
            w.event("=>", call, crate::detail!("-> NBL {x}", a));
            a
        }
        Err(e) => {
            w.event("=>", call, format!("failed: {e}"));
            0
        }
    }
}

/// NdisAllocateNetBufferAndNetBufferList from `pool` over the MDL chain at
/// `chain` (0: none): the pool must have been made with
/// fAllocateNetBuffer TRUE and DataSize 0, and the data must lie in the
/// chain (`nbl.alloc-params`); the NBL's address, or 0.
pub(crate) fn allocate_over_mdls(
    w: &mut World,
    pool: usize,
    context: (USHORT, USHORT),
    chain: usize,
    data_offset: ULONG,
    data_length: SIZE_T,
) -> usize {
    const CALL: &str = "NdisAllocateNetBufferAndNetBufferList";
    allocate(w, CALL, pool, context, |w, params, problems| {
        if params.fAllocateNetBuffer == FALSE || params.DataSize != 0 {
            problems.push(format!(
                "pool {pool:#x} was made with fAllocateNetBuffer {} and DataSize {}; this call needs TRUE and 0",
                params.fAllocateNetBuffer, params.DataSize
            ));
        }
        let data_offset = data_offset as usize;
        if chain == 0 {
            if data_offset != 0 || data_length != 0 {
                problems.push(format!(
                    "a NULL MdlChain with DataOffset {data_offset} and DataLength {data_length}; both must be 0"
                ));
            }
            return Some(NbInit::Empty);
        }
        if data_length > u32::MAX as usize {
            problems.push(format!("DataLength {data_length} does not fit a ULONG"));
        }
        let mdls = match mdl_chain(&Known::of(w), chain) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("MdlChain: {e}"));
                return None;
            }
        };
        let located: Vec<(usize, usize)> = mdls.iter().map(|(a, m)| (*a, m.ByteCount as usize)).collect();
        let total: usize = located.iter().map(|(_, n)| n).sum();
        if data_offset.checked_add(data_length).is_none_or(|end| end > total) {
            problems.push(format!(
                "DataOffset {data_offset} + DataLength {data_length} run past the {total} bytes of the MDL chain"
            ));
        }
        let (current, current_offset) = locate(&located, data_offset);
        Some(NbInit::Over {
            chain,
            current,
            current_offset,
            data_offset,
            data_length,
        })
    })
}

/// NdisAllocateNetBufferList from `pool`: a bare NBL from a pool with
/// fAllocateNetBuffer FALSE, else one with one NET_BUFFER mapping the
/// pool's DataSize bytes (`nbl.alloc-params`); the NBL's address, or 0.
pub(crate) fn allocate_plain(w: &mut World, pool: usize, context: (USHORT, USHORT)) -> usize {
    const CALL: &str = "NdisAllocateNetBufferList";
    allocate(w, CALL, pool, context, |_, params, problems| {
        match (params.fAllocateNetBuffer, params.DataSize as usize) {
            (FALSE, _) => None,
            (_, 0) => Some(NbInit::Empty),
            (_, n) if n > MAX_MDL_BYTES => {
                problems.push(format!(
                    "the pool's DataSize {n} is over the {MAX_MDL_BYTES} bytes ndis-emu maps in one MDL"
                ));
                None
            }
            (_, n) => Some(NbInit::Data(n)),
        }
    })
}

/// NdisFreeNetBufferList of the NBL at `a`: only one from the driver's own
/// pools that it holds, once (`nbl.free-owner`).
pub(crate) fn free(w: &mut World, a: usize) {
    const CALL: &str = "NdisFreeNetBufferList";
    let problem = match w.nbls.get(a) {
        None if w.nbls.was_freed(a) => Some(format!("NBL {a:#x} was already freed: a double free")),
        None => Some(format!("{a:#x} is not an NBL NDIS allocated")),
        Some(r) if r.owner == NblOwner::Client => Some(format!(
            "NBL {a:#x} belongs to NDIS (a client's send NBL, now {:?}): the driver completes it, it never frees it",
            r.state
        )),
        Some(r) if !r.state.held_by_driver() => Some(format!(
            "NBL {a:#x} is {:?}: the driver indicated it and the client has not returned it",
            r.state
        )),
        Some(_) => None,
    };
    match problem {
        Some(p) => w.violate(NBL_FREE_OWNER, CALL, p, &[]),
        None => {
            w.nbls.release(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::block::{Block, zeroed};
    use crate::world::Allocation;
    use crate::world::nbl::{CONTEXT_HEADER, PAGE_SIZE, QUARANTINE, SHORT_WALK};

    /// A walk's record of visited nodes finds a repeat whether the walk is
    /// short (in place) or long (past SHORT_WALK, in the set), and never
    /// reports a fresh node as a repeat.
    #[test]
    fn visited_finds_a_repeat_in_short_and_long_walks() {
        for len in [1, SHORT_WALK - 1, SHORT_WALK, SHORT_WALK + 1, 4 * SHORT_WALK] {
            let mut v = Visited::new();
            for k in 0..len {
                assert!(v.insert(0x1000 + 16 * k), "{len}: node {k} is new");
            }
            for k in [0, len / 2, len - 1] {
                assert!(!v.insert(0x1000 + 16 * k), "{len}: node {k} again");
            }
            assert!(v.insert(0x9_0000), "{len}");
        }
    }

    fn world() -> World {
        World::default()
    }

    #[test]
    fn a_send_chain_reads_back_as_built() {
        let mut w = world();
        let head = w
            .nbls
            .build_send_chain(0x7E57_0000_0010, &[b"hello", b"", b"world!"])
            .unwrap();
        let data = read_chain(&w, head).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data[0].net_buffers, vec![b"hello".to_vec()]);
        assert_eq!(data[1].net_buffers, vec![Vec::<u8>::new()]);
        assert_eq!(data[2].net_buffers, vec![b"world!".to_vec()]);
        assert!(
            data.iter()
                .all(|d| d.source_handle == 0x7E57_0000_0010 && d.status == 0)
        );
        assert_eq!(w.nbls.chain(head).unwrap().len(), 3);
        for n in w.nbls.chain(head).unwrap() {
            assert_eq!(w.nbls.owner(n), Some(NblOwner::Client));
            assert_eq!(w.nbls.state(n), Some(NblState::OwnedByNdis));
        }
    }

    #[test]
    fn fragments_backfill_and_several_net_buffers_round_trip() {
        let mut w = world();
        let spec = NblSpec {
            net_buffers: vec![
                NbSpec::fragments(&[b"ab", b"", b"cde", b"f"]),
                NbSpec::with_backfill(32, b"payload"),
                NbSpec {
                    mdls: vec![b"0123".to_vec(), b"4567".to_vec(), b"89".to_vec()],
                    data_offset: 4,
                    data_length: 5,
                },
                NbSpec {
                    mdls: vec![b"0123".to_vec(), b"4567".to_vec()],
                    data_offset: 8,
                    data_length: 0,
                },
            ],
        };
        let head = w.nbls.build_chain(1, &[spec]).unwrap();
        let data = read_chain(&w, head).unwrap();
        assert_eq!(
            data[0].net_buffers,
            vec![b"abcdef".to_vec(), b"payload".to_vec(), b"45678".to_vec(), Vec::new()]
        );
    }

    #[test]
    fn bad_specs_are_refused_and_register_nothing() {
        let mut w = world();
        assert!(matches!(w.nbls.build_chain(1, &[]), Err(NblError::BadSpec(_))));
        assert!(matches!(
            w.nbls.build_chain(1, &[NblSpec::default()]),
            Err(NblError::BadSpec(_))
        ));
        let past = NbSpec {
            mdls: vec![b"abc".to_vec()],
            data_offset: 2,
            data_length: 2,
        };
        let r = w.nbls.build_chain(
            1,
            &[NblSpec {
                net_buffers: vec![past],
            }],
        );
        assert!(matches!(r, Err(NblError::BadSpec(_))), "{r:?}");
        assert_eq!(w.nbls.live().count(), 0);
        assert!(w.nbls.blocks.is_empty());
    }

    #[test]
    fn the_copy_audit_tells_shared_from_copied_receive_data() {
        let mut w = world();
        let send = w.nbls.build_send_chain(1, &[b"0123456789"]).unwrap();
        let mdl = first_mdl(&w, send);
        let over = NbInit::Over {
            chain: mdl,
            current: mdl,
            current_offset: 2,
            data_offset: 2,
            data_length: 8,
        };
        let lent = w.nbls.allocate(7, Some(over), (0, 0), "test").unwrap();
        let own = w.nbls.allocate(7, Some(NbInit::Data(5)), (0, 0), "test").unwrap();
        audit_receive(&mut w, lent);
        assert_eq!(w.nbls.audit, None, "nothing is counted before an audit starts");
        w.nbls.audit = Some(CopyAudit::default());
        audit_receive(&mut w, lent);
        audit_receive(&mut w, own);
        let want = CopyAudit {
            net_buffers: 2,
            shared_bytes: 8,
            copied_bytes: 5,
        };
        assert_eq!(w.nbls.audit, Some(want));
        // Only a live client NBL counts as the sender's buffer.
        w.nbls.release(send);
        w.nbls.audit = Some(CopyAudit::default());
        audit_receive(&mut w, own);
        assert_eq!(w.nbls.audit.map(|a| a.shared_bytes), Some(0));
    }

    fn nbl_field(nbl: usize, offset: usize) -> usize {
        nbl + offset
    }

    fn first_nb(w: &World, nbl: usize) -> usize {
        let k = Known::of(w);
        read::<NET_BUFFER_LIST>(&k, nbl).unwrap().FirstNetBuffer as usize
    }

    fn first_mdl(w: &World, nbl: usize) -> usize {
        let k = Known::of(w);
        read::<NET_BUFFER>(&k, first_nb(w, nbl)).unwrap().MdlChain as usize
    }

    #[test]
    fn malformed_chains_are_errors_not_crashes() {
        use core::mem::offset_of;
        // A DataLength past the chain.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abcd"]).unwrap();
        let nb = first_nb(&w, h);
        assert!(w.nbls.poke(nb + offset_of!(NET_BUFFER, stDataLength), 9usize));
        assert_eq!(read_chain(&w, h), Err(NblError::ShortChain { nb, missing: 5 }));

        // An NBL chain that loops.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"a", b"b"]).unwrap();
        let second = w.nbls.chain(h).unwrap()[1];
        assert!(w.nbls.poke(nbl_field(second, offset_of!(NET_BUFFER_LIST, Next)), h));
        assert!(matches!(read_chain(&w, h), Err(NblError::Cycle { .. })));
        assert!(matches!(w.nbls.chain(h), Err(NblError::Cycle { .. })));

        // A NET_BUFFER chain that loops.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"a"]).unwrap();
        let nb = first_nb(&w, h);
        assert!(w.nbls.poke(nb + offset_of!(NET_BUFFER, Next), nb));
        assert!(matches!(
            read_chain(&w, h),
            Err(NblError::Cycle {
                what: "NET_BUFFER chain",
                ..
            })
        ));

        // An MDL chain that loops.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        let mdl = first_mdl(&w, h);
        assert!(w.nbls.poke(mdl + offset_of!(MDL, Next), mdl));
        assert!(matches!(
            read_chain(&w, h),
            Err(NblError::Cycle { what: "MDL chain", .. })
        ));

        // An MDL pointer into nowhere.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        let nb = first_nb(&w, h);
        assert!(w.nbls.poke(nb + offset_of!(NET_BUFFER, MdlChain), 0x10usize));
        assert!(matches!(read_chain(&w, h), Err(NblError::Unmapped { what: "MDL", .. })));

        // CurrentMdl outside the chain.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        let nb = first_nb(&w, h);
        assert!(w.nbls.poke(nb + offset_of!(NET_BUFFER, CurrentMdl), 0x20usize));
        assert!(matches!(read_chain(&w, h), Err(NblError::Inconsistent { .. })));

        // DataOffset that disagrees with CurrentMdlOffset.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        let nb = first_nb(&w, h);
        assert!(w.nbls.poke(nb + offset_of!(NET_BUFFER, CurrentMdlOffset), 1u32));
        assert!(matches!(read_chain(&w, h), Err(NblError::Inconsistent { .. })));

        // CurrentMdlOffset past its MDL (with a DataOffset to match).
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        let nb = first_nb(&w, h);
        assert!(w.nbls.poke(nb + offset_of!(NET_BUFFER, CurrentMdlOffset), 7u32));
        assert!(w.nbls.poke(nb + offset_of!(NET_BUFFER, DataOffset), 7u32));
        assert!(matches!(read_chain(&w, h), Err(NblError::Inconsistent { .. })));

        // Data outside any known memory.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        let mdl = first_mdl(&w, h);
        assert!(w.nbls.poke(mdl + offset_of!(MDL, MappedSystemVa), 0x1000usize));
        assert!(w.nbls.poke(mdl + offset_of!(MDL, StartVa), 0x1000usize));
        assert!(w.nbls.poke(mdl + offset_of!(MDL, ByteOffset), 0u32));
        assert!(matches!(
            read_chain(&w, h),
            Err(NblError::Unmapped { what: "MDL data", .. })
        ));

        // A ByteCount larger than the buffer it maps.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        let nb = first_nb(&w, h);
        let mdl = first_mdl(&w, h);
        assert!(w.nbls.poke(mdl + offset_of!(MDL, ByteCount), 4096u32));
        assert!(w.nbls.poke(nb + offset_of!(NET_BUFFER, stDataLength), 4096usize));
        assert!(matches!(
            read_chain(&w, h),
            Err(NblError::Unmapped { what: "MDL data", .. })
        ));

        // An unmapped MDL.
        let mut w = world();
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        let mdl = first_mdl(&w, h);
        assert!(w.nbls.poke(mdl + offset_of!(MDL, MdlFlags), 0i16));
        assert_eq!(read_chain(&w, h), Err(NblError::MdlNotMapped(mdl)));

        // Not an NBL at all, and an NBL freed.
        let mut w = world();
        assert_eq!(read_chain(&w, 0x1234), Err(NblError::NotAnNbl(0x1234)));
        let h = w.nbls.build_send_chain(1, &[b"abc"]).unwrap();
        assert_eq!(w.nbls.release_client_chain(h), Ok(1));
        assert!(w.nbls.was_freed(h));
        assert_eq!(read_chain(&w, h), Err(NblError::NotAnNbl(h)));
    }

    #[test]
    fn pool_nbls_have_a_net_buffer_over_the_drivers_mdls() {
        let mut w = world();
        let pool = w.nbls.add_pool(zeroed(), "test");
        let client = w.nbls.build_chain(9, &[NblSpec::single(b"0123456789")]).unwrap();
        let mdl = first_mdl(&w, client);
        let nbl = w
            .nbls
            .allocate(
                pool,
                Some(NbInit::Over {
                    chain: mdl,
                    current: mdl,
                    current_offset: 3,
                    data_offset: 3,
                    data_length: 4,
                }),
                (16, 32),
                "test",
            )
            .unwrap();
        assert_eq!(read_chain(&w, nbl).unwrap()[0].net_buffers, vec![b"3456".to_vec()]);
        let k = Known::of(&w);
        let n: NET_BUFFER_LIST = read(&k, nbl).unwrap();
        assert_eq!(n.NdisPoolHandle as usize, pool);
        let ctx = n.Context as usize;
        assert_ne!(ctx, 0);
        assert_eq!(read::<u16>(&k, ctx + 8), Some(48));
        assert_eq!(read::<u16>(&k, ctx + 10), Some(32));
        assert!(k.contains(ctx + CONTEXT_HEADER, 48));
        assert_eq!(w.nbls.nbls_of_pool(pool), vec![nbl]);
        assert_eq!(w.nbls.owner(nbl), Some(NblOwner::DriverPool(pool)));
        // Ownership moves only from the states the caller names.
        assert_eq!(
            w.nbls
                .transition(nbl, &[NblState::OwnedByDriver], NblState::IndicatedToClient),
            Ok(NblState::OwnedByDriver)
        );
        assert_eq!(
            w.nbls.transition(nbl, &[NblState::OwnedByDriver], NblState::Returned),
            Err(NblError::WrongState {
                nbl,
                state: NblState::IndicatedToClient
            })
        );
        // A driver NBL is not the client's to release.
        assert!(matches!(
            w.nbls.release_client_chain(nbl),
            Err(NblError::WrongOwner { .. })
        ));
        let data_pool = w.nbls.allocate(pool, Some(NbInit::Data(64)), (0, 0), "test").unwrap();
        assert_eq!(read_chain(&w, data_pool).unwrap()[0].net_buffers, vec![vec![0; 64]]);
        let bare = w.nbls.allocate(pool, None, (0, 0), "test").unwrap();
        assert_eq!(read_chain(&w, bare).unwrap()[0].net_buffers, Vec::<Vec<u8>>::new());
        let empty = w.nbls.allocate(pool, Some(NbInit::Empty), (0, 0), "test").unwrap();
        assert_eq!(read_chain(&w, empty).unwrap()[0].net_buffers, vec![Vec::<u8>::new()]);
    }

    #[test]
    fn mdls_in_the_drivers_ledger_memory_are_readable() {
        let mut w = world();
        let mut buf = Block::zeroed(256, 16).unwrap();
        let base = buf.addr();
        w.ledger.insert(
            base,
            Allocation {
                size: 256,
                tag: 0,
                origin: "test",
            },
        );
        let va = base + 64;
        buf.copy_in(64, b"driver data");
        let mdl = MDL {
            Next: core::ptr::null_mut(),
            Size: 56,
            MdlFlags: MDL_SOURCE_IS_NONPAGED_POOL,
            AllocationProcessorNumber: 0,
            Reserved: 0,
            Process: core::ptr::null_mut(),
            MappedSystemVa: va as PVOID,
            StartVa: (va - va % PAGE_SIZE) as PVOID,
            ByteCount: 11,
            ByteOffset: (va % PAGE_SIZE) as u32,
        };
        assert!(buf.write(0, mdl));
        let pool = w.nbls.add_pool(zeroed(), "test");
        let k = Known::of(&w);
        let chain: Vec<(usize, usize)> = mdl_chain(&k, base)
            .unwrap()
            .iter()
            .map(|(a, m)| (*a, m.ByteCount as usize))
            .collect();
        let (current, current_offset) = locate(&chain, 7);
        let nbl = w
            .nbls
            .allocate(
                pool,
                Some(NbInit::Over {
                    chain: base,
                    current,
                    current_offset,
                    data_offset: 7,
                    data_length: 4,
                }),
                (0, 0),
                "test",
            )
            .unwrap();
        assert_eq!(read_chain(&w, nbl).unwrap()[0].net_buffers, vec![b"data".to_vec()]);
        w.ledger.clear();
        assert!(matches!(
            read_chain(&w, nbl),
            Err(NblError::Unmapped { what: "MDL", .. })
        ));
    }

    #[test]
    fn locate_picks_the_mdl_the_data_starts_in() {
        let chain = [(10, 4), (20, 0), (30, 4)];
        assert_eq!(locate(&chain, 0), (10, 0));
        assert_eq!(locate(&chain, 3), (10, 3));
        assert_eq!(locate(&chain, 4), (30, 0));
        assert_eq!(locate(&chain, 8), (30, 4));
        assert_eq!(locate(&[], 0), (0, 0));
    }

    #[test]
    fn freed_nbls_are_quarantined_then_forgotten() {
        let mut w = world();
        let first = w.nbls.build_send_chain(1, &[b"x"]).unwrap();
        w.nbls.release_client_chain(first).unwrap();
        assert!(w.nbls.was_freed(first));
        for _ in 0..QUARANTINE {
            let h = w.nbls.build_send_chain(1, &[b"y"]).unwrap();
            assert_ne!(h, first, "a quarantined address was reused");
            w.nbls.release_client_chain(h).unwrap();
        }
        assert!(!w.nbls.was_freed(first));
        assert_eq!(w.nbls.quarantine.len(), QUARANTINE);
    }

    #[test]
    fn leaks_name_the_pool_tag_and_origin() {
        let mut w = world();
        let mut params: NET_BUFFER_LIST_POOL_PARAMETERS = zeroed();
        params.PoolTag = pool_tag(b"Leak");
        let pool = w.nbls.add_pool(params, "MiniportInitializeEx");
        w.nbls.allocate(pool, None, (0, 0), "MiniportRestart").unwrap();
        leaks_at_unload(&mut w);
        assert_eq!(w.violations.len(), 2);
        assert!(w.violations.iter().all(|v| v.rule == NBL_LEAK));
        assert!(w.violations[0].detail.contains("tag Leak"));
        assert!(w.violations[0].detail.contains("MiniportInitializeEx"));
        assert!(w.violations[1].detail.contains("MiniportRestart"));
    }
}
