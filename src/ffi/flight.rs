//! The flight recorder's ring and its crash-dump hand-off.
//!
//! Owns: [`Ring`], the per-adapter array of the last
//! [`CAPACITY`](crate::flight::layout::CAPACITY) events, in the adapter
//! context (nonpaged pool); [`emit`], THE entry point every recorded event
//! goes through (the fan-out point: a second sink, e.g. ETW, is added there
//! and nowhere else); and [`DumpHook`], the `KbCallbackSecondaryDumpData`
//! callback that hands the ring to the crash dump under
//! [`DUMP_GUID`](crate::flight::layout::DUMP_GUID).
//!
//! Rules: [`emit`] runs at any IRQL, takes no lock, allocates nothing and
//! cannot panic: a writer claims an event index with one atomic add and
//! writes its slot; the slot's sequence number, stored last with Release,
//! says the record is complete. Two writers on one slot (an index lapped a
//! whole ring behind) can tear a record, which the decoder then skips: the
//! sequence it holds is one writer's, and it is checked against the slot.
//! The dump callback runs at HIGH_LEVEL with the other processors stopped: it
//! reads only the adapter context (nonpaged), takes no lock and calls nothing.
//!
//! Must not: format, allocate, or call any DDI but the two any-IRQL ones
//! (KeQueryInterruptTimePrecise, KeGetCurrentProcessorNumberEx).

use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering, fence};

use ndis_sys::*;

use crate::flight::Event;
use crate::flight::layout::{self, BLOB_SIZE, CAPACITY, HEADER_SIZE, MAGIC, RECORD_SIZE, VERSION};

/// The ring's header, as [`layout`] describes it.
#[repr(C)]
struct Header {
    magic: AtomicU32,
    version: AtomicU16,
    header_size: AtomicU16,
    record_size: AtomicU16,
    reserved: AtomicU16,
    capacity: AtomicU32,
    /// How many events were claimed (wrapping); event `i` is in slot
    /// `i % CAPACITY`.
    written: AtomicU32,
    reserved2: AtomicU32,
    adapter: AtomicU64,
}

/// One record, as [`layout`] describes it.
#[repr(C)]
struct Slot {
    time: AtomicU64,
    object: AtomicU64,
    /// The event index + 1 once the record is complete; 0 while written.
    seq: AtomicU32,
    cpu: AtomicU32,
    value: AtomicU32,
    code: AtomicU16,
    kind: AtomicU8,
    detail: AtomicU8,
}

/// A flight recorder ring: exactly the bytes of a [`layout`] blob.
///
/// INVARIANT: after [`Ring::init`] the header holds this build's magic,
/// version, sizes and [`CAPACITY`], and only `written` and the slots change.
#[repr(C)]
pub(crate) struct Ring {
    header: Header,
    records: [Slot; CAPACITY],
}

// The atomics have their integers' layout: the ring is the blob.
const _: () = {
    assert!(size_of::<Header>() == HEADER_SIZE);
    assert!(size_of::<Slot>() == RECORD_SIZE);
    assert!(size_of::<Ring>() == BLOB_SIZE);
    assert!(offset_of!(Header, magic) == layout::header::MAGIC);
    assert!(offset_of!(Header, version) == layout::header::VERSION);
    assert!(offset_of!(Header, header_size) == layout::header::HEADER_SIZE);
    assert!(offset_of!(Header, record_size) == layout::header::RECORD_SIZE);
    assert!(offset_of!(Header, capacity) == layout::header::CAPACITY);
    assert!(offset_of!(Header, written) == layout::header::WRITTEN);
    assert!(offset_of!(Header, adapter) == layout::header::ADAPTER);
    assert!(offset_of!(Slot, time) == layout::record::TIME);
    assert!(offset_of!(Slot, object) == layout::record::OBJECT);
    assert!(offset_of!(Slot, seq) == layout::record::SEQ);
    assert!(offset_of!(Slot, cpu) == layout::record::CPU);
    assert!(offset_of!(Slot, value) == layout::record::VALUE);
    assert!(offset_of!(Slot, code) == layout::record::CODE);
    assert!(offset_of!(Slot, kind) == layout::record::KIND);
    assert!(offset_of!(Slot, detail) == layout::record::DETAIL);
    assert!(offset_of!(Ring, records) == HEADER_SIZE);
};

/// The slot index mask.
const MASK: u32 = {
    // CAST: CAPACITY is a small power of two (asserted in `layout`).
    (CAPACITY as u32) - 1
};

impl Ring {
    /// Writes the header. The ring's memory must be zeroed before (all zero
    /// is a valid, empty ring: every `seq` is 0). Runs at any IRQL.
    pub(crate) fn init(&self, adapter: usize) {
        let h = &self.header;
        h.magic.store(MAGIC, Ordering::Relaxed);
        h.version.store(VERSION, Ordering::Relaxed);
        // CAST: both sizes are 32 (asserted above).
        h.header_size.store(HEADER_SIZE as u16, Ordering::Relaxed);
        h.record_size.store(RECORD_SIZE as u16, Ordering::Relaxed);
        h.capacity.store(MASK + 1, Ordering::Relaxed);
        // CAST: an address fits 64 bits on every target.
        h.adapter.store(adapter as u64, Ordering::Release);
    }

    /// The ring as the bytes of a blob: its address and length.
    pub(crate) fn as_blob(&self) -> (*const u8, usize) {
        (core::ptr::from_ref(self).cast::<u8>(), BLOB_SIZE)
    }

    /// Writes one event. Any IRQL, lock-free, no allocation, no panic.
    fn record(&self, event: &Event) {
        let e = event.encode();
        let (time, cpu) = now();
        let index = self.header.written.fetch_add(1, Ordering::Relaxed);
        // CAST: the masked index is below CAPACITY.
        let Some(slot) = self.records.get((index & MASK) as usize) else {
            return;
        };
        slot.seq.store(0, Ordering::Relaxed);
        // The 0 above reaches memory before any field below.
        fence(Ordering::Release);
        slot.time.store(time, Ordering::Relaxed);
        slot.object.store(e.object, Ordering::Relaxed);
        slot.cpu.store(cpu, Ordering::Relaxed);
        slot.value.store(e.value, Ordering::Relaxed);
        slot.code.store(e.code, Ordering::Relaxed);
        slot.kind.store(e.kind, Ordering::Relaxed);
        slot.detail.store(e.detail, Ordering::Relaxed);
        slot.seq.store(index.wrapping_add(1), Ordering::Release);
    }
}

/// The interrupt time (100 ns units) and the processor index.
fn now() -> (u64, u32) {
    let mut qpc: ULONG64 = 0;
    // SAFETY: KeQueryInterruptTimePrecise may be called at any IRQL
    // (Learn: "IRQL: Any level") and writes one ULONG64 to the valid local.
    let time = unsafe { KeQueryInterruptTimePrecise(&raw mut qpc) };
    // SAFETY: KeGetCurrentProcessorNumberEx may be called at any IRQL
    // (Learn: "IRQL: Any level"); its ProcNumber is optional and NULL here.
    let cpu = unsafe { KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) };
    (time, cpu)
}

/// Records `event` in `ring`: the one entry point of the flight recorder.
/// Any IRQL, no lock, no allocation, no panic.
///
/// Fan-out point: every sink of covmini's events is fed from here (today the
/// ring; an ETW sink is added beside it), so every event reaches all of them.
pub(crate) fn emit(ring: &Ring, event: Event) {
    ring.record(&event);
    super::etw::emit(&event);
}
