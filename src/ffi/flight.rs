//! The flight recorder's ring and its crash-dump registration.
//!
//! Owns: [`Ring`], the per-adapter array of the last
//! [`CAPACITY`](crate::flight::layout::CAPACITY) events, in the adapter
//! context (nonpaged pool); [`emit`], THE entry point every recorded event
//! goes through (the fan-out point: a second sink, e.g. ETW, is added there
//! and nowhere else), with its helpers for DDI calls ([`ddi`],
//! [`completed`]) and the core's refusals ([`refused`]); and [`DumpHook`],
//! the adapter's registration of its `KbCallbackSecondaryDumpData` callback
//! (`recorder::dump_callback`), which hands the ring to the crash dump under
//! the adapter's [`dump_guid`](crate::flight::layout::dump_guid).
//!
//! Rules: [`emit`] runs at any IRQL, takes no lock, allocates nothing and
//! cannot panic: a writer claims an event index with one atomic add and
//! writes its slot; the slot's sequence number, zeroed first and stored last
//! with Release, says the record is complete, so a record the machine
//! stopped in the middle of is skipped by the decoder. Two writers on one
//! slot at once (one a whole ring of events behind the other) can mix their
//! fields; the decoder cannot tell that case.
//!
//! Must not: format, allocate, or call any DDI on the recording path but the
//! two any-IRQL ones (KeQueryInterruptTimePrecise,
//! KeGetCurrentProcessorNumberEx); the registration's two calls run at
//! PASSIVE_LEVEL (initialize, halt).

use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering, fence};

use ndis_sys::*;

use crate::call_manager::Refusal;
use crate::flight::Event;
use crate::flight::event::{Ddi, Handler};
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
        // The stamps first: the event is encoded after the two calls, so
        // its fields need not be kept across them.
        let (time, cpu) = now();
        let e = event.encode();
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
/// Fan-out point: every sink of covmini's events is fed from here (the ring,
/// then the ETW provider, `ffi::etw::emit`, which returns at once when no
/// session wants the event), so every event reaches all of them.
pub(crate) fn emit(ring: &Ring, event: Event) {
    ring.record(&event);
    super::etw::emit(&event);
}

/// The adapter's registration of its dump callback (`recorder::dump_callback`): the record the kernel
/// links into its list while registered, and which block GUID it writes.
///
/// INVARIANT: `record` is touched by covmini only while `registered` is
/// false (zeroed at allocation: State = BufferEmpty, as
/// KeInitializeCallbackRecord makes it); while registered the kernel owns it.
#[repr(C)]
pub(crate) struct DumpHook {
    record: core::cell::UnsafeCell<KBUGCHECK_REASON_CALLBACK_RECORD>,
    registered: core::sync::atomic::AtomicBool,
    /// This adapter's number: the last byte of its block's GUID.
    ordinal: AtomicU8,
}

/// How many adapters registered a dump callback since the driver loaded
/// (the next one's [`DumpHook::ordinal`], modulo 256).
static ADAPTERS: AtomicU32 = AtomicU32::new(0);

/// The Component name the kernel stores (static, so nonpaged image data).
static COMPONENT: [u8; 8] = *b"covmini\0";

impl DumpHook {
    /// The record's address (the kernel's handle for the registration).
    pub(crate) fn record(&self) -> PKBUGCHECK_REASON_CALLBACK_RECORD {
        self.record.get()
    }

    /// Registers `callback` (`recorder::dump_callback`) for this hook's adapter. Runs at
    /// PASSIVE_LEVEL (MiniportInitializeEx). Returns what the kernel said.
    ///
    /// # Safety
    /// The hook is inside an adapter context that lives until
    /// [`Self::deregister`] has run (AdapterContext::free calls it), and is
    /// not registered.
    pub(crate) unsafe fn register(&self, callback: KBUGCHECK_REASON_CALLBACK_ROUTINE) -> bool {
        // CAST: the low byte of the count: adapter numbers wrap at 256.
        let n = ADAPTERS.fetch_add(1, Ordering::Relaxed) as u8;
        self.ordinal.store(n, Ordering::Relaxed);
        // SAFETY: the record lives in the adapter context until deregister
        // (precondition), in nonpaged pool, zeroed (State = BufferEmpty) and
        // not registered; the routine is covmini's callback of the documented
        // type; COMPONENT is a static NUL-terminated string.
        let ok = unsafe {
            KeRegisterBugCheckReasonCallback(
                self.record(),
                callback,
                KbCallbackSecondaryDumpData,
                COMPONENT.as_ptr().cast_mut(),
            )
        };
        let ok = ok != FALSE;
        self.registered.store(ok, Ordering::Release);
        ok
    }

    /// Deregisters, if registered. Runs at PASSIVE_LEVEL (halt, or a failed
    /// initialize). Returns whether a registration was removed.
    pub(crate) fn deregister(&self) -> bool {
        if !self.registered.swap(false, Ordering::AcqRel) {
            return false;
        }
        // SAFETY: the record was registered by `register` (the flag) and is
        // still in the live adapter context (the caller is freeing it after
        // this call).
        unsafe { KeDeregisterBugCheckReasonCallback(self.record()) != FALSE }
    }

    /// This adapter's block GUID.
    pub(crate) fn guid(&self) -> GUID {
        layout::dump_guid(self.ordinal.load(Ordering::Relaxed))
    }
}

/// What a handler returned, as a status for the [`Event::Return`] record.
pub(crate) trait AsStatus {
    /// The status (SUCCESS for a VOID handler).
    fn as_status(&self) -> NDIS_STATUS;
}

impl AsStatus for () {
    fn as_status(&self) -> NDIS_STATUS {
        NDIS_STATUS_SUCCESS
    }
}

impl AsStatus for NDIS_STATUS {
    fn as_status(&self) -> NDIS_STATUS {
        *self
    }
}

/// The core refused an operation with `r`: records [`Event::Refused`]
/// (handler [`Handler::CallManagerCore`]: the handler is the one the same
/// CPU entered last in the ring). Takes the refusal alone, not the
/// operation's result, so a result of effects is not copied through it.
/// Any IRQL.
pub(crate) fn refused(ring: &Ring, r: Refusal) {
    emit(
        ring,
        Event::Refused {
            handler: Handler::CallManagerCore,
            object: 0,
            reason: r.into(),
            status: r.status(),
        },
    );
}

/// covmini called `ddi` about `object` (an NDIS handle) and it returned
/// `ret`: records it and passes `ret` on. Any IRQL.
pub(crate) fn ddi<S: AsStatus>(ring: &Ring, ddi: Ddi, object: NDIS_HANDLE, ret: S) -> S {
    emit(
        ring,
        Event::Ddi {
            ddi,
            object: object.addr(),
            status: ret.as_status(),
        },
    );
    ret
}

/// covmini made the VOID call `ddi` about `object` (an NDIS handle),
/// passing `status` (a completion's status; SUCCESS for a call that takes
/// none): records it. Any IRQL.
pub(crate) fn completed(ring: &Ring, ddi: Ddi, object: NDIS_HANDLE, status: NDIS_STATUS) {
    emit(
        ring,
        Event::Ddi {
            ddi,
            object: object.addr(),
            status,
        },
    );
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::boxed::Box;
    use std::vec::Vec;

    use super::*;
    use crate::flight::decode::Blob;
    use crate::flight::event::Handler;

    /// A zeroed, initialized ring on the heap (as the adapter context's is).
    fn ring() -> Box<Ring> {
        // SAFETY: all-zero bytes are a valid Ring (atomics only), as
        // AdapterContext::allocate relies on.
        let r = unsafe { Box::<Ring>::new_zeroed().assume_init() };
        r.init(0x1234_5670);
        r
    }

    fn blob(r: &Ring) -> &[u8] {
        let (p, n) = r.as_blob();
        // SAFETY: the ring's own bytes, alive and not written while borrowed.
        unsafe { core::slice::from_raw_parts(p, n) }
    }

    /// More events than the ring holds: the blob keeps exactly the last
    /// CAPACITY, newest first, each decoded back to what was emitted.
    #[test]
    #[cfg_attr(miri, ignore = "calls ndis-emu's clock and CPU DDIs through the win64 ABI")]
    fn the_ring_keeps_the_newest_events_and_wraps() {
        let r = ring();
        let total = CAPACITY + 44;
        for i in 0..total {
            emit(
                &r,
                Event::Enter {
                    handler: Handler::ProtocolCmMakeCall,
                    object: i,
                },
            );
        }
        let b = Blob::parse(blob(&r)).expect("a valid blob");
        assert_eq!(b.adapter(), 0x1234_5670);
        assert_eq!(b.written() as usize, total);
        let entries: Vec<_> = b.newest_first().collect();
        assert_eq!(entries.len(), CAPACITY);
        for (back, e) in entries.iter().enumerate() {
            let i = total - 1 - back;
            assert_eq!(e.index as usize, i);
            assert_eq!(
                e.event,
                Ok(Event::Enter {
                    handler: Handler::ProtocolCmMakeCall,
                    object: i
                })
            );
        }
    }

    /// A record the machine stopped in the middle of (its sequence still
    /// 0) is skipped, not misread.
    #[test]
    #[cfg_attr(miri, ignore = "calls ndis-emu's clock and CPU DDIs through the win64 ABI")]
    fn a_record_being_written_is_skipped() {
        let r = ring();
        for i in 0..3 {
            emit(
                &r,
                Event::Ddi {
                    ddi: Ddi::NdisMCmActivateVc,
                    object: i,
                    status: NDIS_STATUS_SUCCESS,
                },
            );
        }
        // Event 1's writer has zeroed its sequence and not finished.
        r.records.get(1).expect("slot 1").seq.store(0, Ordering::Relaxed);
        let b = Blob::parse(blob(&r)).expect("a valid blob");
        let indices: Vec<u32> = b.newest_first().map(|e| e.index).collect();
        assert_eq!(indices, [2, 0]);
    }
}
