//! A small miniport driver with a control device, to test ndis-emu's I/O
//! manager (`ndis_emu::io`): DriverEntry registers the miniport driver and
//! then `\Device\EmuIoFixture` (link `\DosDevices\EmuIoFixture`, admin-only
//! SDDL); MiniportDriverUnload completes what is still pended and
//! deregisters both. The device serves:
//!
//! - [`IOCTL_ECHO`]: copies the input to the output (Information = the
//!   input's length; STATUS_BUFFER_TOO_SMALL if the output is shorter);
//! - [`IOCTL_WAIT`]: pended (IoMarkIrpPending, a cancel routine) until
//!   [`IOCTL_FIRE`] or [`complete_waiting`] completes it with 4 bytes, a
//!   cancel completes it with STATUS_CANCELLED, or the file's
//!   IRP_MJ_CLEANUP does. One at a time.
//!
//! Well-behaved by default; each [`Fault`] is wrong in exactly one way.
//! It shares no code with covclient (only ndis-fixture's no-op miniport
//! blocks) and keeps its state in thread-locals: the deterministic emulator
//! runs the driver on the test's thread.
#![allow(dead_code, unsafe_code)]

use std::cell::Cell;
use std::ptr::null_mut;

use ndis_emu::{Emulator, Report};
use ndis_sys::*;

/// CTL_CODE(FILE_DEVICE_UNKNOWN, function, METHOD_BUFFERED, FILE_ANY_ACCESS).
const fn ctl_code(function: u32) -> u32 {
    (0x22 << 16) | (function << 2) | METHOD_BUFFERED
}
pub const IOCTL_ECHO: u32 = ctl_code(0x800);
pub const IOCTL_WAIT: u32 = ctl_code(0x801);
pub const IOCTL_FIRE: u32 = ctl_code(0x802);
/// What a completed IOCTL_WAIT returns.
pub const EVENT: [u8; 4] = *b"evnt";
pub const LINK: &str = "\\\\.\\EmuIoFixture";

/// The one thing the fixture gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// The echo completes its IRP twice.
    CompleteTwice,
    /// The echo completes with IoStatus.Status = STATUS_PENDING (and
    /// returns STATUS_PENDING, marked).
    CompletePending,
    /// IOCTL_WAIT returns STATUS_PENDING without IoMarkIrpPending.
    PendWithoutMark,
    /// The echo completes with STATUS_SUCCESS and returns STATUS_UNSUCCESSFUL.
    ReturnOtherStatus,
    /// The echo sets Information to the output length + 8.
    LongInformation,
    /// IOCTL_FIRE completes the waiting IRP without clearing its cancel routine.
    CompleteWithCancelRoutine,
    /// The cancel routine never calls IoReleaseCancelSpinLock.
    CancelKeepsLock,
    /// IRP_MJ_CLEANUP leaves the file's waiting IRP pending.
    CleanupLeavesPending,
    /// Unload deregisters the device with the waiting IRP still pending.
    DeregisterWithPending,
    /// Unload never calls NdisDeregisterDeviceEx.
    NoDeregister,
    /// The attributes' header says size 48 (revision 1's is 56).
    ShortHeader,
    /// The device has an SDDL that lets everyone in (`(A;;GA;;;WD)`).
    OpenSddl,
    /// The cancel routine calls IoAcquireCancelSpinLock before releasing
    /// the lock it was called with.
    AcquireInCancel,
}

thread_local! {
    static FAULT: Cell<Fault> = const { Cell::new(Fault::None) };
    static DRIVER: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static DEVICE: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static WAITING: Cell<PIRP> = const { Cell::new(null_mut()) };
    static REGISTER_STATUS: Cell<NDIS_STATUS> = const { Cell::new(NDIS_STATUS_SUCCESS) };
}

fn fault() -> Fault {
    FAULT.with(Cell::get)
}

/// What NdisRegisterDeviceEx returned in the last DriverEntry.
pub fn register_status() -> NDIS_STATUS {
    REGISTER_STATUS.with(Cell::get)
}

/// Loads the fixture with `fault`, runs `script`, unloads it and returns
/// the report.
pub fn run(f: Fault, script: impl FnOnce(&Emulator)) -> Report {
    let mut emu = Emulator::new();
    FAULT.with(|c| c.set(f));
    WAITING.with(|c| c.set(null_mut()));
    DEVICE.with(|c| c.set(null_mut()));
    emu.load(driver_entry).expect("load");
    script(&emu);
    emu.unload().expect("unload");
    DRIVER.with(|c| c.set(null_mut()));
    emu.finish()
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn counted(units: &mut [u16]) -> UNICODE_STRING {
    // CAST: the fixture's names are a few dozen bytes.
    let bytes = (units.len() * 2) as u16;
    UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: units.as_mut_ptr(),
    }
}

ndis_fn! {
    unsafe fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
        let mut c = ndis_fixture::miniport_characteristics(set_options, initialize, halt, unload);
        let mut handle = null_mut();
        // SAFETY: characteristics and handle slot live across the call.
        let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), &raw mut c, &raw mut handle) };
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        DRIVER.with(|d| d.set(handle));
        let mut name = utf16("\\Device\\EmuIoFixture");
        let mut link = utf16("\\DosDevices\\EmuIoFixture");
        let sddl_text = if fault() == Fault::OpenSddl { "D:P(A;;GA;;;SY)(A;;GA;;;WD)" } else { "D:P(A;;GA;;;SY)(A;;GA;;;BA)" };
        let mut sddl = utf16(sddl_text);
        let (mut name, mut link, sddl) = (counted(&mut name), counted(&mut link), counted(&mut sddl));
        let mut table: [Option<DRIVER_DISPATCH>; IRP_MJ_MAXIMUM_FUNCTION as usize + 1] = [None; IRP_MJ_MAXIMUM_FUNCTION as usize + 1];
        for mj in [IRP_MJ_CREATE, IRP_MJ_CLOSE, IRP_MJ_CLEANUP, IRP_MJ_DEVICE_CONTROL] {
            table[usize::from(mj)] = Some(dispatch);
        }
        let size = if fault() == Fault::ShortHeader { 48 } else { NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1 };
        let mut attributes = NDIS_DEVICE_OBJECT_ATTRIBUTES {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES, NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1, size),
            DeviceName: &raw mut name,
            SymbolicName: &raw mut link,
            MajorFunctions: table.as_mut_ptr(),
            ExtensionSize: 16,
            DefaultSDDLString: &raw const sddl,
            DeviceClassGuid: core::ptr::null(),
        };
        let mut object_out: PDEVICE_OBJECT = null_mut();
        let mut device = null_mut();
        // SAFETY: the driver handle just returned; every block lives across
        // the call; PASSIVE_LEVEL.
        let status = unsafe { NdisRegisterDeviceEx(handle, &raw mut attributes, &raw mut object_out, &raw mut device) };
        REGISTER_STATUS.with(|c| c.set(status));
        if status == NDIS_STATUS_SUCCESS {
            DEVICE.with(|d| d.set(device));
        }
        // The device is optional: the miniport loads either way.
        NDIS_STATUS_SUCCESS
    }
}

ndis_fn! {
    unsafe fn set_options(handle: NDIS_HANDLE, _ctx: NDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: the driver handle NDIS passed to this MiniportSetOptions.
        unsafe { ndis_fixture::set_co_and_cm_handlers(handle, ndis_fixture::co_characteristics(), ndis_fixture::cm_handlers()) }
    }
}

ndis_fn! {
    unsafe fn initialize(_h: NDIS_HANDLE, _d: NDIS_HANDLE, _p: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        NDIS_STATUS_FAILURE
    }
}

ndis_fn! {
    unsafe fn halt(_c: NDIS_HANDLE, _a: NDIS_HALT_ACTION) {}
}

ndis_fn! {
    unsafe fn unload(_o: PDRIVER_OBJECT) {
        if fault() != Fault::DeregisterWithPending {
            // SAFETY: at PASSIVE_LEVEL, as a dispatch routine would.
            unsafe { complete_waiting_with(STATUS_CANCELLED, 0) };
        }
        let device = DEVICE.with(|d| d.replace(null_mut()));
        if !device.is_null() && fault() != Fault::NoDeregister {
            // SAFETY: the handle NdisRegisterDeviceEx returned, once.
            unsafe { NdisDeregisterDeviceEx(device) };
        }
        // SAFETY: the driver handle from DriverEntry.
        unsafe { NdisMDeregisterMiniportDriver(DRIVER.with(Cell::get)) };
    }
}

/// Completes `irp` with `status` and `information`.
///
/// # Safety
/// The caller owns `irp` (it was dispatched to this driver, not completed).
unsafe fn complete(irp: PIRP, status: NTSTATUS, information: usize) {
    // SAFETY: an IRP the caller owns (precondition).
    unsafe { (*irp).IoStatus.set(status, information) };
    // SAFETY: the caller owns it, and gives it back here.
    unsafe { IofCompleteRequest(irp, IO_NO_INCREMENT) };
}

/// Completes the waiting IOCTL_WAIT, if any and if its cancel routine has
/// not taken it, writing [`EVENT`] when `information` is 4. True when it
/// completed one.
///
/// # Safety
/// Called at <= DISPATCH_LEVEL, from the driver's own paths.
unsafe fn complete_waiting_with(status: NTSTATUS, information: usize) -> bool {
    let irp = WAITING.with(|w| w.replace(null_mut()));
    if irp.is_null() {
        return false;
    }
    if fault() != Fault::CompleteWithCancelRoutine {
        // The legacy pattern, legal with a queue of one's own too: take the
        // cancel spin lock around the change of the IRP's cancelable state.
        let mut old: KIRQL = 0;
        // SAFETY: a KIRQL slot on this stack; <= DISPATCH_LEVEL (precondition).
        unsafe { IoAcquireCancelSpinLock(&raw mut old) };
        // SAFETY: the waiting IRP is ours until its cancel routine is taken.
        let routine = unsafe { IoSetCancelRoutine(irp, None) };
        // SAFETY: taken just above; `old` is the IRQL it saved.
        unsafe { IoReleaseCancelSpinLock(old) };
        if routine.is_none() {
            // The cancel routine is running: it completes the IRP.
            return false;
        }
    }
    if information == EVENT.len() {
        // SAFETY: the waiting IRP is ours (its cancel routine was taken).
        let buffer = unsafe { (*irp).AssociatedIrp_SystemBuffer }.cast::<u8>();
        // SAFETY: the SystemBuffer holds at least OutputBufferLength bytes,
        // which IOCTL_WAIT checked is >= 4.
        unsafe { core::ptr::copy_nonoverlapping(EVENT.as_ptr(), buffer, EVENT.len()) };
    }
    // SAFETY: ours (taken from WAITING with its cancel routine cleared).
    unsafe { complete(irp, status, information) };
    true
}

/// What a DPC or another driver path would do: complete the waiting IRP
/// with the event (for the IRQL test, called from the test thread).
pub fn complete_waiting() -> bool {
    // SAFETY: the fixture's own path; the test picks the IRQL.
    unsafe { complete_waiting_with(STATUS_SUCCESS, EVENT.len()) }
}

ndis_fn! {
    unsafe fn cancel(_device: PDEVICE_OBJECT, irp: PIRP) {
        WAITING.with(|w| {
            if w.get() == irp {
                w.set(null_mut());
            }
        });
        if fault() == Fault::AcquireInCancel {
            let mut again: KIRQL = 0;
            // SAFETY: a KIRQL slot on this stack; taking the lock the routine
            // already holds is the bug under test.
            unsafe { IoAcquireCancelSpinLock(&raw mut again) };
        }
        if fault() != Fault::CancelKeepsLock {
            // SAFETY: the cancel routine owns the IRP it is called with.
            let irql = unsafe { (*irp).CancelIrql };
            // SAFETY: called with the cancel spin lock held; CancelIrql is
            // the IRQL the I/O manager saved.
            unsafe { IoReleaseCancelSpinLock(irql) };
        }
        // SAFETY: the cancel routine owns the IRP it is called with.
        unsafe { complete(irp, STATUS_CANCELLED, 0) };
    }
}

ndis_fn! {
    unsafe fn dispatch(_device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS {
        // SAFETY: the I/O manager's IRP.
        let stack = unsafe { IoGetCurrentIrpStackLocation(irp) };
        // SAFETY: its current stack location, which the I/O manager set.
        let stack = unsafe { &*stack };
        match stack.MajorFunction {
            IRP_MJ_DEVICE_CONTROL => {
                // SAFETY: an IOCTL's parameters.
                let p = unsafe { stack.Parameters.DeviceIoControl };
                // SAFETY: the IRP is ours until completed.
                unsafe { ioctl(irp, p) }
            }
            IRP_MJ_CLEANUP => {
                let file = stack.FileObject;
                let waiting = WAITING.with(Cell::get);
                let same_file = !waiting.is_null() && {
                    // SAFETY: the waiting IRP is live (pended, ours).
                    let location = unsafe { IoGetCurrentIrpStackLocation(waiting) };
                    // SAFETY: its stack location, set by the I/O manager.
                    let theirs = unsafe { (*location).FileObject };
                    theirs == file
                };
                if same_file && fault() != Fault::CleanupLeavesPending {
                    // SAFETY: PASSIVE_LEVEL, our own path.
                    unsafe { complete_waiting_with(STATUS_CANCELLED, 0) };
                }
                // SAFETY: ours.
                unsafe { complete(irp, STATUS_SUCCESS, 0) };
                STATUS_SUCCESS
            }
            _ => {
                // SAFETY: ours.
                unsafe { complete(irp, STATUS_SUCCESS, 0) };
                STATUS_SUCCESS
            }
        }
    }
}

/// IRP_MJ_DEVICE_CONTROL.
///
/// # Safety
/// `irp` is an IOCTL the driver owns, with parameters `p`.
unsafe fn ioctl(irp: PIRP, p: IO_STACK_LOCATION_DeviceIoControl) -> NTSTATUS {
    match p.IoControlCode {
        IOCTL_ECHO => {
            if p.OutputBufferLength < p.InputBufferLength {
                // SAFETY: ours.
                unsafe { complete(irp, STATUS_BUFFER_TOO_SMALL, 0) };
                return STATUS_BUFFER_TOO_SMALL;
            }
            // The input is already in the buffer, where the output goes.
            let info = if fault() == Fault::LongInformation {
                p.OutputBufferLength as usize + 8
            } else {
                p.InputBufferLength as usize
            };
            match fault() {
                Fault::CompletePending => {
                    // SAFETY: ours.
                    unsafe { IoMarkIrpPending(irp) };
                    // SAFETY: ours; the status is the bug.
                    unsafe { complete(irp, STATUS_PENDING, info) };
                    STATUS_PENDING
                }
                Fault::CompleteTwice => {
                    // SAFETY: ours.
                    unsafe { complete(irp, STATUS_SUCCESS, info) };
                    // SAFETY: none: the IRP is no longer ours, the bug under
                    // test; ndis-emu keeps its memory and refuses the call.
                    unsafe { IofCompleteRequest(irp, IO_NO_INCREMENT) };
                    STATUS_SUCCESS
                }
                Fault::ReturnOtherStatus => {
                    // SAFETY: ours.
                    unsafe { complete(irp, STATUS_SUCCESS, info) };
                    STATUS_UNSUCCESSFUL
                }
                _ => {
                    // SAFETY: ours.
                    unsafe { complete(irp, STATUS_SUCCESS, info) };
                    STATUS_SUCCESS
                }
            }
        }
        IOCTL_WAIT => {
            if (p.OutputBufferLength as usize) < EVENT.len() || !WAITING.with(Cell::get).is_null() {
                // SAFETY: ours.
                unsafe { complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
                return STATUS_INVALID_DEVICE_REQUEST;
            }
            if fault() != Fault::PendWithoutMark {
                // SAFETY: ours, before it is reachable from anywhere else.
                unsafe { IoMarkIrpPending(irp) };
            }
            // SAFETY: ours; the routine has DRIVER_CANCEL's signature.
            unsafe { IoSetCancelRoutine(irp, Some(cancel)) };
            // SAFETY: the IRP is ours until completed; Cancel is a byte the
            // I/O manager sets.
            let cancelled = unsafe { (*irp).Cancel } != 0;
            // SAFETY: ours; the exchange is atomic against a cancel.
            if cancelled && unsafe { IoSetCancelRoutine(irp, None) }.is_some() {
                // Cancelled before the routine was set: complete it here.
                // SAFETY: ours (the routine was taken back).
                unsafe { complete(irp, STATUS_CANCELLED, 0) };
                return STATUS_PENDING;
            }
            WAITING.with(|w| w.set(irp));
            STATUS_PENDING
        }
        IOCTL_FIRE => {
            // SAFETY: PASSIVE_LEVEL, our own path.
            let fired = unsafe { complete_waiting_with(STATUS_SUCCESS, EVENT.len()) };
            let status = if fired { STATUS_SUCCESS } else { STATUS_UNSUCCESSFUL };
            // SAFETY: ours.
            unsafe { complete(irp, status, 0) };
            status
        }
        _ => {
            // SAFETY: ours.
            unsafe { complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
            STATUS_INVALID_DEVICE_REQUEST
        }
    }
}
