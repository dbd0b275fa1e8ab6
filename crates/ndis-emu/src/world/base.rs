//! The plain types the world's state records name: a CPU's number and an
//! outstanding allocation.
//!
//! It owns these types only. A leaf: the state files under `world/` name
//! it, so it must name none of them, nor the world.

use ndis_sys::ULONG;

/// A CPU's number: 0 is the thread that created the emulator; the threaded
/// mode numbers its worker, DPC and client threads from 1.
pub type CpuId = u32;

/// One outstanding allocation.
#[derive(Clone, Debug)]
pub struct Allocation {
    pub size: usize,
    pub tag: ULONG,
    /// The handler (or NDIS call) that allocated it.
    pub origin: &'static str,
}
