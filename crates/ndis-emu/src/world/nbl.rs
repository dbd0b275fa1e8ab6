//! The NBL registry (a field of the world): the driver's NBL pools, every
//! live NBL the emulator knows (who created it, who holds it now), the
//! blocks it allocated for them, and the builder and reader of chains.
//!
//! It owns that state and the object model's logic (building a chain,
//! walking MDLs, transitions of an NBL's holder). The rules of NBLs, the
//! checks that report them and the client API over the world are
//! `crate::nbl`; the raw memory is `crate::ffi::block`. A leaf of the world:
//! it must not name the world nor anything that does.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::fmt;

use ndis_sys::*;

use crate::ffi::block::{Block, Known, read, read_bytes, zeroed};

/// `sizeof(NET_BUFFER_LIST)` for NDIS 6.30 on x64 (ndis-sys).
pub(crate) const NBL_SIZE: usize = core::mem::size_of::<NET_BUFFER_LIST>();
/// `sizeof(NET_BUFFER)` on x64.
pub(crate) const NB_SIZE: usize = core::mem::size_of::<NET_BUFFER>();
/// `sizeof(MDL)` on x64, without its PFN array.
const MDL_SIZE: usize = core::mem::size_of::<MDL>();
/// `MEMORY_ALLOCATION_ALIGNMENT` on x64: what NDIS aligns its blocks to and
/// what context sizes must be multiples of.
pub const MEMORY_ALLOCATION_ALIGNMENT: usize = 16;
pub(crate) const PAGE_SIZE: usize = 4096;
/// Bytes one MDL the emulator builds may map: its `Size` (a CSHORT) must
/// hold the header and the PFN array.
pub const MAX_MDL_BYTES: usize = 8 << 20;
/// `sizeof(NET_BUFFER_LIST_CONTEXT)` on x64: Next, Size, Offset, then
/// ContextData aligned to MEMORY_ALLOCATION_ALIGNMENT [H nbl.h].
pub(crate) const CONTEXT_HEADER: usize = 16;
/// Freed NBLs kept (poisoned) before their memory is released.
pub(crate) const QUARANTINE: usize = 256;
/// NBLs, NET_BUFFERs or MDLs one chain may have before it is called a loop.
pub(crate) const WALK_LIMIT: usize = 1 << 16;

/// Nodes a [`Visited`] keeps in place before it builds a set.
pub(crate) const SHORT_WALK: usize = 16;

/// The nodes a walk of a driver-made list (NBLs, NET_BUFFERs, MDLs) has
/// visited, so the walk stops at a loop. The data path's lists are short:
/// the first [`SHORT_WALK`] nodes stay in place (no allocation, no hashing
/// per walk), the rest go to a set.
///
/// INVARIANT: `n <= SHORT_WALK`; `first[..n]` are the nodes recorded first,
/// `more` the rest.
pub(crate) struct Visited {
    first: [usize; SHORT_WALK],
    n: usize,
    more: Option<HashSet<usize>>,
}

impl Visited {
    pub(crate) fn new() -> Self {
        Self {
            first: [0; SHORT_WALK],
            n: 0,
            more: None,
        }
    }

    /// Records `node`; false if the walk was there before.
    pub(crate) fn insert(&mut self, node: usize) -> bool {
        if self.first.get(..self.n).is_some_and(|f| f.contains(&node)) {
            return false;
        }
        if let Some(slot) = self.first.get_mut(self.n) {
            *slot = node;
            self.n += 1;
            return true;
        }
        self.more.get_or_insert_with(HashSet::new).insert(node)
    }
}
/// Pool handles, like the world's handles, are values far from any mapping.
const POOL_HANDLE_BASE: usize = 0x0000_7E5B_0000_0000;
/// The `NdisPoolHandle` of every NBL the emulator builds for a client.
pub const CLIENT_POOL: usize = POOL_HANDLE_BASE;
/// What freed NBL memory is filled with.
const POISON: u8 = 0xDD;

/// Who created an NBL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NblOwner {
    /// The driver, from the NDIS pool with this handle.
    DriverPool(usize),
    /// The emulator, for a scripted client (a send NBL); NDIS frees it.
    Client,
}

/// Who holds an NBL now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NblState {
    /// The driver: a fresh NBL from its pool, or a client's NBL NDIS handed
    /// to MiniportCoSendNetBufferLists and the driver has not completed yet.
    OwnedByDriver,
    /// NDIS: a client's NBL not sent yet, or sent and completed.
    OwnedByNdis,
    /// A client: the driver indicated it and the client has not returned it.
    IndicatedToClient,
    /// The driver again: the client returned it (MiniportReturnNetBufferLists).
    Returned,
}

impl NblState {
    /// The driver holds the NBL and may touch (or, if from its pool, free) it.
    #[must_use]
    pub fn held_by_driver(self) -> bool {
        matches!(self, Self::OwnedByDriver | Self::Returned)
    }
}

/// One live NBL.
#[derive(Debug)]
pub struct NblRec {
    /// Who created it.
    pub owner: NblOwner,
    /// Who holds it now.
    pub state: NblState,
    /// The handler (or emulator step) that allocated it.
    pub origin: &'static str,
    /// The driver freed its pool with this NBL still out; that was reported
    /// then, so the NBL is not reported again as a leak.
    pub orphaned: bool,
    /// The memory NDIS allocated for it: the NBL first, then NET_BUFFERs,
    /// MDLs, data and context blocks that go with it.
    pub(crate) blocks: Vec<Block>,
}

/// One NBL pool the driver allocated.
#[derive(Clone, Copy, Debug)]
pub struct PoolRec {
    /// The handle NdisAllocateNetBufferListPool returned.
    pub handle: usize,
    /// The parameters it was created with.
    pub params: NET_BUFFER_LIST_POOL_PARAMETERS,
    /// The handler that allocated it.
    pub origin: &'static str,
    /// NdisFreeNetBufferListPool was called on it.
    pub freed: bool,
}

/// How the NET_BUFFER of an NBL NDIS allocates is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NbInit {
    /// Over the driver's MDL chain (NdisAllocateNetBufferAndNetBufferList),
    /// already located: CurrentMdl and CurrentMdlOffset for DataOffset.
    Over {
        chain: usize,
        current: usize,
        current_offset: usize,
        data_offset: usize,
        data_length: usize,
    },
    /// With `n` bytes of data NDIS allocates (a pool with DataSize `n`).
    Data(usize),
    /// With no MDL and no data.
    Empty,
}

/// The registry: NBL pools, every live NBL, and the memory behind them.
#[derive(Debug, Default)]
pub struct Nbls {
    pub(crate) pools: BTreeMap<usize, PoolRec>,
    pub(crate) nbls: BTreeMap<usize, NblRec>,
    /// Every live block the driver may reach, address → size (bounds checks).
    pub(crate) blocks: BTreeMap<usize, usize>,
    /// Freed NBLs, oldest first, with their (poisoned) memory.
    pub(crate) quarantine: VecDeque<(usize, Vec<Block>)>,
    /// Addresses of the quarantined NBLs: a free of one is a double free.
    freed: BTreeSet<usize>,
    next_pool: usize,
    /// Where received data lives, counted while an audit runs
    /// ([`crate::Emulator::audit_receive_copies`]); None: not counting.
    pub audit: Option<CopyAudit>,
}

/// What the receive indications carried since the audit started: bytes the
/// receiver read straight from a client's send NBL (shared, zero copy) and
/// bytes it read from anywhere else (memory the driver copied them into).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyAudit {
    /// NET_BUFFERs indicated.
    pub net_buffers: u64,
    /// Data bytes that lie inside a live client NBL's memory.
    pub shared_bytes: u64,
    /// Data bytes that lie anywhere else.
    pub copied_bytes: u64,
}

/// Why an NBL chain could not be built or read, or an NBL not moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NblError {
    /// No emulator runs on this thread.
    NoEmulator,
    /// Not a live NBL NDIS (the emulator) allocated.
    NotAnNbl(usize),
    /// A structure or data range lies in no memory the emulator knows is live.
    Unmapped {
        /// What was to be read.
        what: &'static str,
        /// Its address.
        at: usize,
        /// Its length.
        len: usize,
    },
    /// A chain loops (or is longer than any real one).
    Cycle {
        /// Which chain.
        what: &'static str,
        /// The element seen twice.
        at: usize,
    },
    /// An MDL with no system address (neither MAPPED_TO_SYSTEM_VA nor
    /// SOURCE_IS_NONPAGED_POOL).
    MdlNotMapped(usize),
    /// A NET_BUFFER whose fields disagree with its MDL chain.
    Inconsistent {
        /// The NET_BUFFER (or MDL).
        at: usize,
        /// What disagrees.
        detail: String,
    },
    /// A NET_BUFFER's DataLength runs past the end of its MDL chain.
    ShortChain {
        /// The NET_BUFFER.
        nb: usize,
        /// Bytes missing.
        missing: usize,
    },
    /// The NBL is not owned as the operation needs.
    WrongOwner {
        /// The NBL.
        nbl: usize,
        /// Its owner.
        owner: NblOwner,
    },
    /// The NBL is not in the state the transition starts from.
    WrongState {
        /// The NBL.
        nbl: usize,
        /// Its state.
        state: NblState,
    },
    /// A chain description the emulator cannot build.
    BadSpec(String),
    /// The host is out of memory.
    OutOfMemory,
}

impl fmt::Display for NblError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoEmulator => f.write_str("no emulator runs on this thread"),
            Self::NotAnNbl(a) => write!(f, "{a:#x} is not a live NET_BUFFER_LIST allocated by NDIS"),
            Self::Unmapped { what, at, len } => write!(
                f,
                "{what} at {at:#x} ({len} bytes) lies in no memory NDIS knows (its own blocks or the driver's NDIS allocations)"
            ),
            Self::Cycle { what, at } => write!(f, "the {what} loops back to {at:#x}"),
            Self::MdlNotMapped(a) => write!(
                f,
                "MDL {a:#x} has no system address (neither MDL_MAPPED_TO_SYSTEM_VA nor MDL_SOURCE_IS_NONPAGED_POOL)"
            ),
            Self::Inconsistent { at, detail } => write!(f, "{at:#x}: {detail}"),
            Self::ShortChain { nb, missing } => {
                write!(
                    f,
                    "NET_BUFFER {nb:#x}: DataLength runs {missing} byte(s) past its MDL chain"
                )
            }
            Self::WrongOwner { nbl, owner } => write!(f, "NBL {nbl:#x} is owned by {owner:?}"),
            Self::WrongState { nbl, state } => write!(f, "NBL {nbl:#x} is {state:?}"),
            Self::BadSpec(s) => f.write_str(s),
            Self::OutOfMemory => f.write_str("out of memory"),
        }
    }
}

impl std::error::Error for NblError {}

/// One NET_BUFFER of a chain the emulator builds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NbSpec {
    /// The bytes each MDL of the NET_BUFFER's chain maps, in order.
    pub mdls: Vec<Vec<u8>>,
    /// Where the used data starts in the MDL chain; the bytes before it are
    /// backfill (NET_BUFFER DataOffset).
    pub data_offset: usize,
    /// The bytes of data from there (NET_BUFFER DataLength).
    pub data_length: usize,
}

impl NbSpec {
    /// One MDL mapping `bytes`, all of them data.
    #[must_use]
    pub fn payload(bytes: &[u8]) -> Self {
        Self {
            mdls: vec![bytes.to_vec()],
            data_offset: 0,
            data_length: bytes.len(),
        }
    }

    /// One MDL per fragment, all of them data.
    #[must_use]
    pub fn fragments(fragments: &[&[u8]]) -> Self {
        Self {
            mdls: fragments.iter().map(|f| f.to_vec()).collect(),
            data_offset: 0,
            data_length: fragments.iter().map(|f| f.len()).sum(),
        }
    }

    /// One MDL of `backfill` zero bytes and then `bytes`; the data is `bytes`.
    #[must_use]
    pub fn with_backfill(backfill: usize, bytes: &[u8]) -> Self {
        let mut mdl = vec![0; backfill];
        mdl.extend_from_slice(bytes);
        Self {
            mdls: vec![mdl],
            data_offset: backfill,
            data_length: bytes.len(),
        }
    }
}

/// One NET_BUFFER_LIST of a chain the emulator builds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NblSpec {
    /// Its NET_BUFFERs, in order (at least one).
    pub net_buffers: Vec<NbSpec>,
}

impl NblSpec {
    /// One NET_BUFFER with one MDL carrying `bytes`.
    #[must_use]
    pub fn single(bytes: &[u8]) -> Self {
        Self {
            net_buffers: vec![NbSpec::payload(bytes)],
        }
    }
}

/// What one NET_BUFFER_LIST of a chain carries, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NblData {
    /// The NBL's address.
    pub nbl: usize,
    /// Its SourceHandle (the NdisVcHandle on the CoNDIS data path).
    pub source_handle: usize,
    /// Its Status.
    pub status: NDIS_STATUS,
    /// The data of each NET_BUFFER: DataLength bytes from CurrentMdl at
    /// CurrentMdlOffset.
    pub net_buffers: Vec<Vec<u8>>,
}

impl Nbls {
    /// `[addr, addr + len)` lies inside the memory of one live client NBL
    /// (its NBL, NET_BUFFER, MDL or data blocks): the sender's own buffer.
    #[must_use]
    pub fn in_client_memory(&self, addr: usize, len: usize) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        self.nbls.values().filter(|r| r.owner == NblOwner::Client).any(|r| {
            r.blocks
                .iter()
                .any(|b| addr >= b.addr() && b.addr().checked_add(b.size()).is_some_and(|e| end <= e))
        })
    }

    /// The NBL is one NDIS allocated (for the driver or a client) and not freed.
    #[must_use]
    pub fn is_live(&self, nbl: usize) -> bool {
        self.nbls.contains_key(&nbl)
    }

    /// The record of a live NBL.
    #[must_use]
    pub fn get(&self, nbl: usize) -> Option<&NblRec> {
        self.nbls.get(&nbl)
    }

    /// Who created a live NBL.
    #[must_use]
    pub fn owner(&self, nbl: usize) -> Option<NblOwner> {
        self.nbls.get(&nbl).map(|r| r.owner)
    }

    /// Who holds a live NBL now.
    #[must_use]
    pub fn state(&self, nbl: usize) -> Option<NblState> {
        self.nbls.get(&nbl).map(|r| r.state)
    }

    /// Sets who holds a live NBL; returns who held it (None: not live).
    pub fn set_state(&mut self, nbl: usize, state: NblState) -> Option<NblState> {
        self.nbls.get_mut(&nbl).map(|r| core::mem::replace(&mut r.state, state))
    }

    /// Moves a live NBL to `to` if it is in one of `from`; returns the state
    /// it left.
    ///
    /// # Errors
    /// [`NblError::NotAnNbl`] if it is not live, [`NblError::WrongState`]
    /// if it is in none of `from` (it is left as it was).
    pub fn transition(&mut self, nbl: usize, from: &[NblState], to: NblState) -> Result<NblState, NblError> {
        let rec = self.nbls.get_mut(&nbl).ok_or(NblError::NotAnNbl(nbl))?;
        if !from.contains(&rec.state) {
            return Err(NblError::WrongState { nbl, state: rec.state });
        }
        Ok(core::mem::replace(&mut rec.state, to))
    }

    /// The NBL was freed recently (it is in the quarantine): using or
    /// freeing it again is a use after free.
    #[must_use]
    pub fn was_freed(&self, nbl: usize) -> bool {
        self.freed.contains(&nbl)
    }

    /// Every live NBL, by address.
    pub fn live(&self) -> impl Iterator<Item = (usize, &NblRec)> {
        self.nbls.iter().map(|(&a, r)| (a, r))
    }

    /// A pool the driver allocated (also after it freed it).
    #[must_use]
    pub fn pool(&self, handle: usize) -> Option<&PoolRec> {
        self.pools.get(&handle)
    }

    /// The live NBLs allocated from `pool` and not orphaned.
    #[must_use]
    pub fn nbls_of_pool(&self, pool: usize) -> Vec<usize> {
        self.nbls
            .iter()
            .filter(|(_, r)| r.owner == NblOwner::DriverPool(pool) && !r.orphaned)
            .map(|(&a, _)| a)
            .collect()
    }

    /// Records a new pool; returns its handle.
    pub(crate) fn add_pool(&mut self, params: NET_BUFFER_LIST_POOL_PARAMETERS, origin: &'static str) -> usize {
        self.next_pool += 1;
        let handle = POOL_HANDLE_BASE + (self.next_pool << 4);
        self.pools.insert(
            handle,
            PoolRec {
                handle,
                params,
                origin,
                freed: false,
            },
        );
        handle
    }

    /// Marks a pool freed, and `orphans` (its NBLs still out, reported by
    /// the caller) as orphaned.
    pub(crate) fn free_pool(&mut self, handle: usize, orphans: &[usize]) {
        if let Some(p) = self.pools.get_mut(&handle) {
            p.freed = true;
        }
        for o in orphans {
            if let Some(r) = self.nbls.get_mut(o) {
                r.orphaned = true;
            }
        }
    }

    fn register(&mut self, nbl: usize, rec: NblRec) {
        for b in &rec.blocks {
            self.blocks.insert(b.addr(), b.size());
        }
        self.freed.remove(&nbl);
        self.nbls.insert(nbl, rec);
    }

    /// Frees a live NBL: its memory is poisoned and quarantined.
    pub(crate) fn release(&mut self, nbl: usize) -> Option<NblRec> {
        let mut rec = self.nbls.remove(&nbl)?;
        let mut blocks = core::mem::take(&mut rec.blocks);
        for b in &mut blocks {
            self.blocks.remove(&b.addr());
            b.fill(POISON);
        }
        self.freed.insert(nbl);
        self.quarantine.push_back((nbl, blocks));
        while self.quarantine.len() > QUARANTINE {
            if let Some((old, _)) = self.quarantine.pop_front() {
                self.freed.remove(&old);
            }
        }
        Some(rec)
    }

    /// Allocates an NBL from the driver's pool `pool` (already checked):
    /// with a NET_BUFFER set up as `nb` says, and a NET_BUFFER_LIST_CONTEXT
    /// of `context_size + context_backfill` bytes when that is non-zero.
    pub(crate) fn allocate(
        &mut self,
        pool: usize,
        nb: Option<NbInit>,
        context: (usize, usize),
        origin: &'static str,
    ) -> Result<usize, NblError> {
        let mut blocks = vec![new_block(NBL_SIZE)?];
        let first_nb = match nb {
            None => 0,
            Some(NbInit::Over {
                chain,
                current,
                current_offset,
                data_offset,
                data_length,
            }) => {
                let mut b = new_block(NB_SIZE)?;
                write_nb(
                    &mut b,
                    0,
                    chain,
                    current,
                    current_offset,
                    data_offset,
                    data_length,
                    pool,
                )?;
                let a = b.addr();
                blocks.push(b);
                a
            }
            Some(NbInit::Data(n)) => build_nb(&mut blocks, &NbSpec::payload(&vec![0; n]), 0, pool)?,
            Some(NbInit::Empty) => build_nb(&mut blocks, &NbSpec::default(), 0, pool)?,
        };
        let ctx = build_context(&mut blocks, context.0, context.1)?;
        write_nbl(&mut blocks[0], 0, first_nb, ctx, pool, 0)?;
        let nbl = blocks[0].addr();
        self.register(
            nbl,
            NblRec {
                owner: NblOwner::DriverPool(pool),
                state: NblState::OwnedByDriver,
                origin,
                orphaned: false,
                blocks,
            },
        );
        Ok(nbl)
    }

    /// Builds a chain of NBLs for a scripted client (owner
    /// [`NblOwner::Client`], state [`NblState::OwnedByNdis`]), each with
    /// `SourceHandle` = `source_handle`, and returns the first. The payloads
    /// are copied into memory the emulator keeps until the NBL is released.
    ///
    /// # Errors
    /// [`NblError::BadSpec`] for an empty chain, an NBL with no NET_BUFFER,
    /// data outside its MDLs or an MDL over [`MAX_MDL_BYTES`];
    /// [`NblError::OutOfMemory`]. Nothing is registered on error.
    pub fn build_chain(&mut self, source_handle: usize, specs: &[NblSpec]) -> Result<usize, NblError> {
        if specs.is_empty() {
            return Err(NblError::BadSpec("a chain has at least one NET_BUFFER_LIST".into()));
        }
        let mut built: Vec<Vec<Block>> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            if spec.net_buffers.is_empty() {
                return Err(NblError::BadSpec(format!("NBL #{i} has no NET_BUFFER")));
            }
            let mut blocks = vec![new_block(NBL_SIZE)?];
            let mut next = 0;
            for nb in spec.net_buffers.iter().rev() {
                next = build_nb(&mut blocks, nb, next, CLIENT_POOL)?;
            }
            write_nbl(&mut blocks[0], 0, next, 0, CLIENT_POOL, source_handle)?;
            built.push(blocks);
        }
        let addrs: Vec<usize> = built.iter().map(|b| b[0].addr()).collect();
        for (i, blocks) in built.iter_mut().enumerate() {
            // A pointer, not the bare address: the driver dereferences Next,
            // and an integer stored where it loads a pointer gives a pointer
            // with no provenance (UB to follow; Miri). Blocks expose theirs.
            let next =
                core::ptr::with_exposed_provenance_mut::<NET_BUFFER_LIST>(addrs.get(i + 1).copied().unwrap_or(0));
            if !blocks[0].write(core::mem::offset_of!(NET_BUFFER_LIST, Next), next) {
                return Err(NblError::BadSpec("NBL block too small".into()));
            }
        }
        for (addr, blocks) in addrs.iter().zip(built) {
            self.register(
                *addr,
                NblRec {
                    owner: NblOwner::Client,
                    state: NblState::OwnedByNdis,
                    origin: "the emulator's client",
                    orphaned: false,
                    blocks,
                },
            );
        }
        Ok(addrs[0])
    }

    /// [`Nbls::build_chain`] with one NBL per payload, each with one
    /// NET_BUFFER and one MDL.
    ///
    /// # Errors
    /// As [`Nbls::build_chain`].
    pub fn build_send_chain(&mut self, source_handle: usize, payloads: &[&[u8]]) -> Result<usize, NblError> {
        let specs: Vec<NblSpec> = payloads.iter().map(|p| NblSpec::single(p)).collect();
        self.build_chain(source_handle, &specs)
    }

    /// The NBLs of the chain that starts at `head`, following `Next`; every
    /// one must be live.
    ///
    /// # Errors
    /// [`NblError::NotAnNbl`] for an NBL that is not live,
    /// [`NblError::Cycle`] for a chain that loops.
    pub fn chain(&self, head: usize) -> Result<Vec<usize>, NblError> {
        let mut out = Vec::new();
        let mut seen = Visited::new();
        let mut at = head;
        while at != 0 {
            if !seen.insert(at) || out.len() >= WALK_LIMIT {
                return Err(NblError::Cycle {
                    what: "NET_BUFFER_LIST chain",
                    at,
                });
            }
            let rec = self.nbls.get(&at).ok_or(NblError::NotAnNbl(at))?;
            let next = rec.blocks[0]
                .read::<usize>(core::mem::offset_of!(NET_BUFFER_LIST, Next))
                .ok_or(NblError::NotAnNbl(at))?;
            out.push(at);
            at = next;
        }
        Ok(out)
    }

    /// Frees a chain of client NBLs (after the driver completed them): every
    /// NBL of the chain must be a live client NBL NDIS holds. Returns how
    /// many were freed.
    ///
    /// # Errors
    /// As [`Nbls::chain`]; [`NblError::WrongOwner`] for a driver NBL,
    /// [`NblError::WrongState`] for one the driver still holds. Nothing is
    /// freed on error.
    pub fn release_client_chain(&mut self, head: usize) -> Result<usize, NblError> {
        let members = self.chain(head)?;
        for &m in &members {
            let rec = &self.nbls[&m];
            if rec.owner != NblOwner::Client {
                return Err(NblError::WrongOwner {
                    nbl: m,
                    owner: rec.owner,
                });
            }
            if rec.state != NblState::OwnedByNdis {
                return Err(NblError::WrongState {
                    nbl: m,
                    state: rec.state,
                });
            }
        }
        for &m in &members {
            self.release(m);
        }
        Ok(members.len())
    }

    /// Writes `value` at `addr`, which must lie inside a block of a live NBL
    /// (an NBL, NET_BUFFER, MDL, context or data block the emulator made):
    /// how the client side sets fields, and how tests corrupt chains.
    /// False (nothing written) otherwise.
    pub fn poke<T: Copy>(&mut self, addr: usize, value: T) -> bool {
        let len = core::mem::size_of::<T>();
        let fits = |b: &Block| {
            let start = b.addr();
            addr >= start && addr.checked_add(len).is_some_and(|e| e <= start + b.size())
        };
        // Blocks never overlap, so the first block that fits is the one.
        // Most writes land in an NBL's own block (Status, Next, an info
        // slot): the NBL at or below `addr` first, then every block (a
        // scan of every live NBL, which the data path pays per write
        // otherwise: thousands of instructions with a driver's pools).
        if let Some((_, rec)) = self.nbls.range_mut(..=addr).next_back()
            && let Some(b) = rec.blocks.iter_mut().find(|b| fits(b))
        {
            let start = b.addr();
            return b.write(addr - start, value);
        }
        for rec in self.nbls.values_mut() {
            for b in &mut rec.blocks {
                if fits(b) {
                    let start = b.addr();
                    return b.write(addr - start, value);
                }
            }
        }
        false
    }
}

fn new_block(size: usize) -> Result<Block, NblError> {
    Block::zeroed(size, MEMORY_ALLOCATION_ALIGNMENT).ok_or(NblError::OutOfMemory)
}

fn to_u32(v: usize, what: &str) -> Result<ULONG, NblError> {
    ULONG::try_from(v).map_err(|_| NblError::BadSpec(format!("{what} {v} does not fit a ULONG")))
}

/// Writes a NET_BUFFER_LIST at the start of `block`.
fn write_nbl(
    block: &mut Block,
    next: usize,
    first_nb: usize,
    context: usize,
    pool: usize,
    source: usize,
) -> Result<(), NblError> {
    let mut nbl: NET_BUFFER_LIST = zeroed();
    nbl.Next = next as *mut NET_BUFFER_LIST;
    nbl.FirstNetBuffer = first_nb as PNET_BUFFER;
    nbl.Context = context as PVOID;
    nbl.NdisPoolHandle = pool as NDIS_HANDLE;
    nbl.SourceHandle = source as NDIS_HANDLE;
    if block.write(0, nbl) {
        Ok(())
    } else {
        Err(NblError::BadSpec("NBL block too small".into()))
    }
}

/// Writes a NET_BUFFER at the start of `block`.
#[allow(
    clippy::too_many_arguments,
    reason = "one argument per NET_BUFFER field the emulator sets"
)]
fn write_nb(
    block: &mut Block,
    next: usize,
    chain: usize,
    current: usize,
    current_offset: usize,
    data_offset: usize,
    data_length: usize,
    pool: usize,
) -> Result<(), NblError> {
    let mut nb: NET_BUFFER = zeroed();
    nb.Next = next as PNET_BUFFER;
    nb.MdlChain = chain as PMDL;
    nb.CurrentMdl = current as PMDL;
    nb.CurrentMdlOffset = to_u32(current_offset, "CurrentMdlOffset")?;
    nb.stDataLength = to_u32(data_length, "DataLength")? as SIZE_T;
    nb.DataOffset = to_u32(data_offset, "DataOffset")?;
    nb.NdisPoolHandle = pool as NDIS_HANDLE;
    if block.write(0, nb) {
        Ok(())
    } else {
        Err(NblError::BadSpec("NET_BUFFER block too small".into()))
    }
}

/// Builds the MDLs and data of `spec`, then its NET_BUFFER (with `Next` =
/// `next`); the blocks go into `blocks`. Returns the NET_BUFFER's address.
fn build_nb(blocks: &mut Vec<Block>, spec: &NbSpec, next: usize, pool: usize) -> Result<usize, NblError> {
    let total: usize = spec.mdls.iter().map(Vec::len).sum();
    if spec
        .data_offset
        .checked_add(spec.data_length)
        .is_none_or(|end| end > total)
    {
        return Err(NblError::BadSpec(format!(
            "DataOffset {} + DataLength {} run past the {total} bytes of the MDLs",
            spec.data_offset, spec.data_length
        )));
    }
    let mut mdls = Vec::with_capacity(spec.mdls.len());
    for bytes in &spec.mdls {
        if bytes.len() > MAX_MDL_BYTES {
            return Err(NblError::BadSpec(format!(
                "an MDL of {} bytes is over the {MAX_MDL_BYTES} the emulator builds",
                bytes.len()
            )));
        }
        let mut data = new_block(bytes.len())?;
        data.copy_in(0, bytes);
        let va = data.addr();
        let pages = ((va % PAGE_SIZE) + bytes.len()).div_ceil(PAGE_SIZE);
        let mdl = new_block(MDL_SIZE + 8 * pages)?;
        mdls.push((mdl, va, bytes.len()));
        blocks.push(data);
    }
    let mut located = Vec::with_capacity(mdls.len());
    let mut link = 0;
    for (mut mdl, va, len) in mdls.into_iter().rev() {
        let size = CSHORT::try_from(mdl.size()).map_err(|_| NblError::BadSpec("MDL too large".into()))?;
        let value = MDL {
            Next: link as PMDL,
            Size: size,
            MdlFlags: MDL_SOURCE_IS_NONPAGED_POOL,
            AllocationProcessorNumber: 0,
            Reserved: 0,
            Process: core::ptr::null_mut(),
            MappedSystemVa: va as PVOID,
            StartVa: (va - va % PAGE_SIZE) as PVOID,
            ByteCount: to_u32(len, "ByteCount")?,
            ByteOffset: to_u32(va % PAGE_SIZE, "ByteOffset")?,
        };
        if !mdl.write(0, value) {
            return Err(NblError::BadSpec("MDL block too small".into()));
        }
        link = mdl.addr();
        located.push((link, len));
        blocks.push(mdl);
    }
    located.reverse();
    let (current, current_offset) = locate(&located, spec.data_offset);
    let mut nb = new_block(NB_SIZE)?;
    write_nb(
        &mut nb,
        next,
        link,
        current,
        current_offset,
        spec.data_offset,
        spec.data_length,
        pool,
    )?;
    let a = nb.addr();
    blocks.push(nb);
    Ok(a)
}

/// Builds a NET_BUFFER_LIST_CONTEXT with `size` bytes of used space after
/// `backfill` bytes of backfill (Size = both, Offset = backfill [I]: what
/// NET_BUFFER_LIST_CONTEXT_DATA_START/_SIZE compute from). 0 if both are 0.
fn build_context(blocks: &mut Vec<Block>, size: usize, backfill: usize) -> Result<usize, NblError> {
    let total = size + backfill;
    if total == 0 {
        return Ok(0);
    }
    let total16 = USHORT::try_from(total).map_err(|_| NblError::BadSpec("context too large".into()))?;
    let backfill16 = USHORT::try_from(backfill).map_err(|_| NblError::BadSpec("context too large".into()))?;
    let mut b = new_block(CONTEXT_HEADER + total)?;
    if !(b.write(8, total16) && b.write(10, backfill16)) {
        return Err(NblError::BadSpec("context block too small".into()));
    }
    let a = b.addr();
    blocks.push(b);
    Ok(a)
}

/// Where data at `data_offset` of an MDL chain starts: the MDL and the
/// offset in it. `mdls` is (address, ByteCount) in chain order. The data
/// starts in the first MDL that has bytes at that offset (an offset at the
/// very end stays in the last MDL); an empty chain gives (0, 0).
pub(crate) fn locate(mdls: &[(usize, usize)], data_offset: usize) -> (usize, usize) {
    let mut off = data_offset;
    for (i, &(mdl, len)) in mdls.iter().enumerate() {
        if off < len || i + 1 == mdls.len() {
            return (mdl, off);
        }
        off -= len;
    }
    (0, 0)
}

/// The MDLs of the chain at `first`, each read from known memory.
///
/// # Errors
/// [`NblError::Unmapped`] for an MDL outside known memory,
/// [`NblError::Cycle`] for a chain that loops.
pub(crate) fn mdl_chain(k: &Known<'_>, first: usize) -> Result<Vec<(usize, MDL)>, NblError> {
    let mut out = Vec::new();
    let mut seen = Visited::new();
    let mut at = first;
    while at != 0 {
        if !seen.insert(at) || out.len() >= WALK_LIMIT {
            return Err(NblError::Cycle { what: "MDL chain", at });
        }
        let m: MDL = read(k, at).ok_or(NblError::Unmapped {
            what: "MDL",
            at,
            len: MDL_SIZE,
        })?;
        out.push((at, m));
        at = m.Next as usize;
    }
    Ok(out)
}

/// The system address of an MDL's buffer (MmGetSystemAddressForMdlSafe
/// without mapping: the MDLs of the data path are nonpaged or mapped).
fn system_va(at: usize, m: &MDL) -> Result<usize, NblError> {
    if m.MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) == 0 {
        return Err(NblError::MdlNotMapped(at));
    }
    let va = m.MappedSystemVa as usize;
    let start = (m.StartVa as usize).checked_add(m.ByteOffset as usize);
    if m.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA == 0 && start != Some(va) {
        return Err(NblError::Inconsistent {
            at,
            detail: format!(
                "a nonpaged-pool MDL whose MappedSystemVa {va:#x} is not StartVa {:p} + ByteOffset {}",
                m.StartVa, m.ByteOffset
            ),
        });
    }
    Ok(va)
}

/// Where the data a NET_BUFFER describes lies: (address, length) pieces in
/// order, with the NET_BUFFER's fields checked against its MDL chain:
/// CurrentMdl is in the chain, DataOffset is the bytes of the MDLs before
/// it plus CurrentMdlOffset, CurrentMdlOffset lies within CurrentMdl, and
/// DataLength within the chain. The pieces are not checked to be readable.
pub(crate) fn nb_spans(k: &Known<'_>, at: usize, nb: &NET_BUFFER) -> Result<Vec<(usize, usize)>, NblError> {
    // DataLength is the low 32 bits of the union (little-endian).
    let length = nb.stDataLength & 0xFFFF_FFFF;
    let chain = mdl_chain(k, nb.MdlChain as usize)?;
    let current = nb.CurrentMdl as usize;
    let mut before = 0usize;
    let mut start = None;
    for (i, (mdl, m)) in chain.iter().enumerate() {
        if *mdl == current {
            start = Some(i);
            break;
        }
        before += m.ByteCount as usize;
    }
    let Some(start) = start else {
        if current == 0 && length == 0 {
            return Ok(Vec::new());
        }
        return Err(NblError::Inconsistent {
            at,
            detail: format!("CurrentMdl {current:#x} is not in the NET_BUFFER's MDL chain"),
        });
    };
    let mut off = nb.CurrentMdlOffset as usize;
    if before + off != nb.DataOffset as usize {
        return Err(NblError::Inconsistent {
            at,
            detail: format!(
                "DataOffset is {} but CurrentMdl starts {before} bytes into the chain and CurrentMdlOffset is {off}",
                nb.DataOffset
            ),
        });
    }
    let mut spans = Vec::new();
    let mut remaining = length;
    for (mdl, m) in chain.iter().skip(start) {
        let count = m.ByteCount as usize;
        if off > count {
            return Err(NblError::Inconsistent {
                at,
                detail: format!("CurrentMdlOffset {off} is past the {count} bytes of MDL {mdl:#x}"),
            });
        }
        if remaining == 0 {
            break;
        }
        let take = (count - off).min(remaining);
        if take > 0 {
            let va = system_va(*mdl, m)?;
            let from = va.checked_add(off).ok_or(NblError::Unmapped {
                what: "MDL data",
                at: va,
                len: take,
            })?;
            spans.push((from, take));
        }
        remaining -= take;
        off = 0;
    }
    if remaining > 0 {
        return Err(NblError::ShortChain {
            nb: at,
            missing: remaining,
        });
    }
    Ok(spans)
}

/// The data a NET_BUFFER describes ([`nb_spans`]), every byte read from
/// known memory.
pub(crate) fn nb_data(k: &Known<'_>, at: usize, nb: &NET_BUFFER) -> Result<Vec<u8>, NblError> {
    let spans = nb_spans(k, at, nb)?;
    let mut data = Vec::with_capacity(spans.iter().map(|s| s.1).sum::<usize>().min(1 << 20));
    for (from, take) in spans {
        let bytes = read_bytes(k, from, take).ok_or(NblError::Unmapped {
            what: "MDL data",
            at: from,
            len: take,
        })?;
        data.extend_from_slice(&bytes);
    }
    Ok(data)
}
