//! The I/O manager's DDIs (NdisRegisterDeviceEx, NdisDeregisterDeviceEx,
//! IofCompleteRequest, IoAcquireCancelSpinLock, IoReleaseCancelSpinLock),
//! the memory a control device's driver sees (DEVICE_OBJECT, FILE_OBJECT,
//! IRP with one stack location, the METHOD_BUFFERED SystemBuffer) and the
//! calls into its dispatch and cancel routines.
//!
//! It owns that memory and those calls only: each shim reads the driver's
//! arguments into checked values and hands them to `crate::io`, which holds
//! the rules; `crate::io::user` decides what to send. Blocks are allocated
//! here and freed here, recorded in the world by address.
//!
//! Layout notes \[C, from wdm.h's field lists, WDK 10.0.22621\]: in
//! `DEVICE_OBJECT` (0x150 bytes on x64) `DeviceExtension` is at 0x40; in
//! `FILE_OBJECT` (0xD8 bytes) `DeviceObject` is at 0x08 and `FsContext` at
//! 0x18. The rest of both blocks is zero.

use ndis_sys::*;

use super::calls;
use super::zero::read_prefix;
use crate::io::{self, Completion, Registration};
use crate::world::io::{Device, DispatchTable, File, Irp, IrpState};
use crate::world::{self, Frame};

/// sizeof(DEVICE_OBJECT) on x64 \[C\].
const DEVICE_OBJECT_SIZE: usize = 0x150;
/// offsetof(DEVICE_OBJECT, DeviceExtension) \[C\].
const DEVICE_EXTENSION_OFFSET: usize = 0x40;
/// The largest device extension the emulator allocates (16 MiB).
const MAX_EXTENSION: usize = 16 << 20;
/// sizeof(FILE_OBJECT) on x64 \[C\].
const FILE_OBJECT_SIZE: usize = 0xD8;
/// offsetof(FILE_OBJECT, DeviceObject) \[C\].
const FILE_DEVICE_OBJECT_OFFSET: usize = 0x08;

/// A DEVICE_OBJECT as the driver sees it: opaque but for DeviceExtension;
/// zero elsewhere.
#[repr(C, align(16))]
struct DeviceBlock {
    head: [u8; DEVICE_EXTENSION_OFFSET],
    device_extension: usize,
    rest: [u8; DEVICE_OBJECT_SIZE - DEVICE_EXTENSION_OFFSET - 8],
}

/// A FILE_OBJECT as the driver sees it: opaque but for DeviceObject; zero
/// elsewhere (FsContext, at 0x18, is the driver's to use).
#[repr(C, align(16))]
struct FileBlock {
    head: [u8; FILE_DEVICE_OBJECT_OFFSET],
    device_object: usize,
    rest: [u8; FILE_OBJECT_SIZE - FILE_DEVICE_OBJECT_OFFSET - 8],
}

/// An IRP and its one stack location, as the I/O manager allocates them
/// for a device with StackSize 1.
#[repr(C)]
struct IrpBlock {
    irp: IRP,
    stack: IO_STACK_LOCATION,
}

/// Gives `n` zero bytes to the driver: (address, n); (0, 0) for none.
fn leak_bytes(bytes: Vec<u8>) -> (usize, usize) {
    if bytes.is_empty() {
        return (0, 0);
    }
    let n = bytes.len();
    (Box::into_raw(bytes.into_boxed_slice()).cast::<u8>() as usize, n)
}

/// Frees what [`leak_bytes`] gave out.
fn free_bytes(address: usize, n: usize) {
    if address != 0 && n != 0 {
        let slice = core::ptr::slice_from_raw_parts_mut(address as *mut u8, n);
        // SAFETY: (address, n) came from leak_bytes (a boxed slice of n
        // bytes), and each is freed once: the world forgets it here.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// Reads a counted string the driver passed (None for NULL).
///
/// # Safety
/// `s` is NULL or points to a UNICODE_STRING whose Buffer holds Length bytes.
unsafe fn read_string(s: *const UNICODE_STRING) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: non-null (checked), a UNICODE_STRING (precondition).
    let u = unsafe { s.read() };
    if u.Buffer.is_null() || u.Length == 0 {
        return Some(String::new());
    }
    // SAFETY: Buffer holds Length bytes (precondition), Length / 2 units.
    let units = unsafe { core::slice::from_raw_parts(u.Buffer, usize::from(u.Length) / 2) };
    Some(String::from_utf16_lossy(units))
}

ddi_fn! {
    /// NdisRegisterDeviceEx. PASSIVE_LEVEL \[D: nf-ndis-ndisregisterdeviceex\].
    /// Creates a DEVICE_OBJECT (with a zeroed extension of ExtensionSize
    /// bytes at its DeviceExtension) whose IRPs go to the driver's
    /// MajorFunctions; `*pDeviceObject` is NULL when it fails.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisRegisterDeviceEx(
        ndis_handle: NDIS_HANDLE,
        attributes: PNDIS_DEVICE_OBJECT_ATTRIBUTES,
        device_object_out: *mut PDEVICE_OBJECT,
        device_handle_out: PNDIS_HANDLE,
    ) -> NDIS_STATUS {
        const CALL: &str = "NdisRegisterDeviceEx";
        world::with(CALL, |w| w.check_irql(CALL, PASSIVE_LEVEL));
        if !device_object_out.is_null() {
            // SAFETY: non-null; the driver passed a pointer slot.
            unsafe { device_object_out.write(core::ptr::null_mut()) };
        }
        let (reg, extension_size) = if attributes.is_null() {
            (Registration { header: NDIS_OBJECT_HEADER::default(), name: None, link: None, dispatch: None, sddl: None }, 0)
        } else {
            // SAFETY: non-null; the header is the block's first 4 bytes.
            let header = unsafe { read_prefix(attributes.cast::<NDIS_OBJECT_HEADER>(), 4) };
            // SAFETY: non-null; NDIS reads as many bytes as the header announces.
            let a = unsafe { read_prefix(attributes, usize::from(header.Size)) };
            let reg = Registration {
                header,
                // SAFETY: NULL or the driver's counted string (the attributes' contract).
                name: unsafe { read_string(a.DeviceName) },
                // SAFETY: SymbolicName is NULL or the driver's counted string (the attributes' contract).
                link: unsafe { read_string(a.SymbolicName) }.filter(|l| !l.is_empty()),
                // SAFETY: MajorFunctions is NULL or points to IRP_MJ_MAXIMUM_FUNCTION + 1 entries (the attributes' contract).
                dispatch: (!a.MajorFunctions.is_null()).then(|| unsafe { a.MajorFunctions.cast::<DispatchTable>().read() }),
                // SAFETY: a PCUNICODE_STRING: NULL or a counted string.
                sddl: unsafe { read_string(a.DefaultSDDLString) },
            };
            // Read within the announced size too (zero past it).
            (reg, usize::try_from(a.ExtensionSize).unwrap_or(0))
        };
        if device_handle_out.is_null() {
            world::with(CALL, io::null_device_handle_slot);
            return NDIS_STATUS_FAILURE;
        }
        // IoCreateDevice allocates the extension from nonpaged pool; a size
        // no pool grants fails the call (NDIS_STATUS_FAILURE, "the driver's
        // attempt to register the device failed") instead of the emulator.
        if extension_size > MAX_EXTENSION {
            world::with(CALL, |w| w.event("=>", CALL, format!("ExtensionSize {extension_size}: no pool for it")));
            return NDIS_STATUS_FAILURE;
        }
        let extension = leak_bytes(vec![0; extension_size]);
        let object = Box::into_raw(Box::new(DeviceBlock {
            head: [0; DEVICE_EXTENSION_OFFSET],
            device_extension: extension.0,
            rest: [0; DEVICE_OBJECT_SIZE - DEVICE_EXTENSION_OFFSET - 8],
        }));
        let detail = format!("{:?} link {:?} extension {extension_size}", reg.name, reg.link);
        let result = world::with(CALL, |w| {
            w.event("=>", CALL, detail);
            io::register_device(w, ndis_handle as usize, reg, object as usize, extension)
        });
        match result {
            Ok(handle) => {
                // SAFETY: checked non-null above; the driver's handle slot.
                unsafe { device_handle_out.write(handle as NDIS_HANDLE) };
                if !device_object_out.is_null() {
                    // SAFETY: non-null (checked); the driver's pointer slot.
                    unsafe { device_object_out.write(object.cast()) };
                }
                NDIS_STATUS_SUCCESS
            }
            Err(status) => {
                free_device(object as usize, extension);
                status
            }
        }
    }
}

/// Frees a device object block and its extension.
fn free_device(object: usize, extension: (usize, usize)) {
    if object != 0 {
        // SAFETY: `object` came from Box::into_raw of a DeviceBlock in
        // NdisRegisterDeviceEx, freed once (its record is gone).
        drop(unsafe { Box::from_raw(object as *mut DeviceBlock) });
    }
    free_bytes(extension.0, extension.1);
}

ddi_fn! {
    /// NdisDeregisterDeviceEx. PASSIVE_LEVEL \[D: nf-ndis-ndisderegisterdeviceex\]:
    /// deletes the device object and its symbolic link.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisDeregisterDeviceEx(device_handle: NDIS_HANDLE) {
        const CALL: &str = "NdisDeregisterDeviceEx";
        let gone = world::with(CALL, |w| {
            w.event("=>", CALL, format!("{device_handle:p}"));
            w.check_irql(CALL, PASSIVE_LEVEL);
            io::deregister_device(w, device_handle as usize)
        });
        if let Some(d) = gone {
            free_device(d.object, (d.extension, d.extension_len));
        }
    }
}

/// Frees the device records [`crate::io::at_unload`] took out.
pub(crate) fn free_devices(devices: Vec<Device>) {
    for d in devices {
        free_device(d.object, (d.extension, d.extension_len));
    }
}

ddi_fn! {
    /// IofCompleteRequest (IoCompleteRequest is a macro over it). <=
    /// DISPATCH_LEVEL \[D: nf-wdm-iocompleterequest\]. Reads IoStatus and
    /// the cancel routine, copies Information bytes of a METHOD_BUFFERED
    /// IOCTL's SystemBuffer back (at most OutputBufferLength), and gives
    /// the IRP back to the I/O manager.
    #[unsafe(no_mangle)]
    pub unsafe fn IofCompleteRequest(irp: PIRP, _priority_boost: CHAR) {
        const CALL: &str = "IofCompleteRequest";
        let address = irp as usize;
        let Some((output_length, buffer, buffer_len)) = world::with(CALL, |w| io::admit_completion(w, address)) else {
            return;
        };
        // SAFETY: the IRP is one build_irp allocated and the driver still
        // owns (admitted above), so it is live; it is only read here.
        let b = unsafe { block(address) };
        let (status, information, routine) = (b.irp.IoStatus.status(), b.irp.IoStatus.Information, b.irp.CancelRoutine.is_some());
        let major = b.stack.MajorFunction;
        // SAFETY: every IRP here was built with the DeviceIoControl member
        // written (zero for other majors), so the union member is initialized.
        let code = unsafe { b.stack.Parameters.DeviceIoControl.IoControlCode };
        let method_buffered_ioctl = major == IRP_MJ_DEVICE_CONTROL && code & 3 == METHOD_BUFFERED;
        let n = information.min(output_length as usize).min(buffer_len);
        let output = if method_buffered_ioctl && buffer != 0 {
            // SAFETY: the SystemBuffer this module allocated, buffer_len >= n bytes.
            unsafe { core::slice::from_raw_parts(buffer as *const u8, n) }.to_vec()
        } else {
            Vec::new()
        };
        let c = Completion { status, information, cancel_routine_set: routine, method_buffered_ioctl };
        world::with(CALL, |w| io::completed(w, address, &c, output));
        world::changed();
    }
}

ddi_fn! {
    /// IoReleaseCancelSpinLock. DISPATCH_LEVEL \[D:
    /// nf-wdm-ioreleasecancelspinlock\]: releases the system cancel spin
    /// lock and lowers the CPU to `irql` (a cancel routine passes
    /// `Irp->CancelIrql`).
    #[unsafe(no_mangle)]
    pub unsafe fn IoReleaseCancelSpinLock(irql: KIRQL) {
        const CALL: &str = "IoReleaseCancelSpinLock";
        let held = world::with(CALL, |w| {
            w.event("=>", CALL, format!("irql {irql}"));
            io::release_cancel_lock(w, CALL)
        });
        if held {
            world::set_irql(irql);
        }
    }
}

ddi_fn! {
    /// IoAcquireCancelSpinLock. <= DISPATCH_LEVEL \[D:
    /// nf-wdm-ioacquirecancelspinlock\]: takes the system cancel spin lock,
    /// saves the caller's IRQL in `*irql` and raises to DISPATCH_LEVEL.
    #[unsafe(no_mangle)]
    pub unsafe fn IoAcquireCancelSpinLock(irql: *mut KIRQL) {
        const CALL: &str = "IoAcquireCancelSpinLock";
        let caller = world::irql();
        let taken = world::with(CALL, |w| {
            w.event("=>", CALL, format!("{irql:p}"));
            io::acquire_cancel_lock(w, CALL)
        });
        if !irql.is_null() {
            // SAFETY: non-null; the driver's KIRQL slot.
            unsafe { irql.write(caller) };
        }
        if taken {
            world::set_irql(DISPATCH_LEVEL);
        }
    }
}

/// Creates a FILE_OBJECT for `device` (its DEVICE_OBJECT at `object`).
pub(crate) fn new_file(device: usize, object: usize) -> File {
    let file = Box::into_raw(Box::new(FileBlock {
        head: [0; FILE_DEVICE_OBJECT_OFFSET],
        device_object: object,
        rest: [0; FILE_OBJECT_SIZE - FILE_DEVICE_OBJECT_OFFSET - 8],
    }));
    File {
        device,
        object: file as usize,
        cleaned_up: false,
    }
}

/// Frees a FILE_OBJECT from [`new_file`].
pub(crate) fn free_file(file: &File) {
    // SAFETY: from Box::into_raw in new_file, freed once (at close).
    drop(unsafe { Box::from_raw(file.object as *mut FileBlock) });
}

/// What the I/O manager puts in an IRP.
pub(crate) struct Request<'a> {
    pub major: UCHAR,
    pub code: ULONG,
    pub input: &'a [u8],
    pub output_length: ULONG,
}

/// Builds an IRP for `file` of `device` (whose DEVICE_OBJECT is at
/// `object`): one stack location, and for an IOCTL a SystemBuffer of
/// max(in, out) bytes holding the input. Records it as being dispatched;
/// returns its address.
pub(crate) fn build_irp(device: usize, object: usize, file: usize, r: &Request<'_>) -> usize {
    let len = r.input.len().max(r.output_length as usize);
    let mut bytes = vec![0u8; len];
    if let Some(head) = bytes.get_mut(..r.input.len()) {
        head.copy_from_slice(r.input);
    }
    let (buffer, buffer_len) = leak_bytes(bytes);
    // SAFETY: an IRP and a stack location are integers, raw pointers and
    // Option<fn>s, for which zero is valid.
    let mut b: Box<IrpBlock> = unsafe { Box::<IrpBlock>::new_zeroed().assume_init() };
    b.stack.MajorFunction = r.major;
    b.stack.Parameters.DeviceIoControl = IO_STACK_LOCATION_DeviceIoControl {
        OutputBufferLength: r.output_length,
        _Pad0: 0,
        // CAST: the caller's input is at most a ULONG's worth (user.rs checks).
        InputBufferLength: r.input.len() as ULONG,
        _Pad1: 0,
        IoControlCode: r.code,
        _Pad2: 0,
        Type3InputBuffer: core::ptr::null_mut(),
    };
    b.stack.DeviceObject = object as PDEVICE_OBJECT;
    b.stack.FileObject = file as PVOID;
    b.irp.Type = 6; // IO_TYPE_IRP (wdm.h) [H].
    // CAST: sizeof(IRP) + one stack location, 280 bytes, fits a USHORT.
    b.irp.Size = core::mem::size_of::<IrpBlock>() as USHORT;
    b.irp.StackCount = 1;
    b.irp.CurrentLocation = 1;
    b.irp.RequestorMode = 1; // UserMode.
    b.irp.AssociatedIrp_SystemBuffer = buffer as PVOID;
    b.irp.Tail_Overlay_OriginalFileObject = file as PVOID;
    let irp = Box::into_raw(b);
    // SAFETY: `irp` is live (just leaked) and not yet shared.
    let b = unsafe { &mut *irp };
    b.irp.Tail_Overlay_CurrentStackLocation = &raw mut b.stack;
    let address = irp as usize;
    world::with("the I/O manager", |w| {
        crate::io::sent(
            w,
            address,
            Irp {
                device,
                file,
                output_length: if r.major == IRP_MJ_DEVICE_CONTROL {
                    r.output_length
                } else {
                    0
                },
                buffer,
                buffer_len,
                state: IrpState::Dispatching,
                completions: 0,
                status: None,
                information: 0,
                output: Vec::new(),
                cancelled: false,
            },
        );
    });
    address
}

/// The IRP block at `address`.
///
/// # Safety
/// `address` is a live IRP from [`build_irp`], and no other reference to it
/// is used while the returned one is.
unsafe fn block<'a>(address: usize) -> &'a mut IrpBlock {
    // SAFETY: a live, aligned IrpBlock (precondition).
    unsafe { &mut *(address as *mut IrpBlock) }
}

/// Frees an IRP from [`build_irp`] and its SystemBuffer.
pub(crate) fn free_irp(address: usize, buffer: usize, buffer_len: usize) {
    // SAFETY: from Box::into_raw in build_irp; the caller removed its record,
    // so it is freed once.
    drop(unsafe { Box::from_raw(address as *mut IrpBlock) });
    free_bytes(buffer, buffer_len);
}

/// Calls `routine` with the IRP at PASSIVE_LEVEL, as the I/O manager calls a
/// dispatch routine for a user-mode request. Returns its status and whether
/// SL_PENDING_RETURNED is set in the stack location (read after it returned:
/// the IRP's memory lives until the I/O manager frees it).
pub(crate) fn dispatch(routine: DRIVER_DISPATCH, object: usize, address: usize) -> (NTSTATUS, bool) {
    const NAME: &str = "DriverDispatch";
    let irp = address as PIRP;
    // SAFETY: a live IRP from build_irp, not yet given to the driver.
    let major = unsafe { block(address) }.stack.MajorFunction;
    let caller = calls::enter(NAME, PASSIVE_LEVEL, format!("IRP {address:#x} major {major:#x}").into());
    // SAFETY: the driver's dispatch routine, with its device object and an
    // IRP built for it; the driver owns the IRP until it completes it.
    let status = unsafe { routine(object as PDEVICE_OBJECT, irp) };
    calls::leave(NAME, caller, format!("{status:#x}").into());
    // SAFETY: the IRP is still allocated (only the I/O manager frees it);
    // the dispatch routine has returned, so nothing else writes it now.
    let marked = unsafe { block(address) }.stack.Control & SL_PENDING_RETURNED != 0;
    (status, marked)
}

/// The I/O manager cancels the IRP at `address` (IoCancelIrp): sets
/// `Irp->Cancel`, takes the cancel spin lock (saving the caller's IRQL in
/// `Irp->CancelIrql`), exchanges the cancel routine with NULL and, if one
/// was set, calls it at DISPATCH_LEVEL with the lock held; otherwise
/// releases the lock. True when a cancel routine was called.
pub(crate) fn cancel(object: usize, address: usize) -> bool {
    const NAME: &str = "DriverCancel";
    let irp = address as PIRP;
    let caller = world::irql();
    world::with("IoCancelIrp", |w| {
        w.event("=>", "IoCancelIrp", format!("IRP {address:#x}"));
        io::take_cancel_lock(w);
    });
    world::set_irql(DISPATCH_LEVEL);
    {
        // SAFETY: the IRP is pending in the driver (the caller checked), so
        // it is live; Cancel and CancelIrql are the I/O manager's to write.
        let b = unsafe { block(address) };
        b.irp.Cancel = 1;
        b.irp.CancelIrql = caller;
    }
    // SAFETY: the pending IRP is live (the caller checked its state); the
    // exchange is atomic against the driver's own IoSetCancelRoutine.
    let routine = unsafe { IoSetCancelRoutine(irp, None) };
    let Some(routine) = routine else {
        world::with("IoCancelIrp", |w| w.io.cancel_lock = None);
        world::set_irql(caller);
        return false;
    };
    world::cpu(NAME, |c| {
        c.frames.push(Frame {
            handler: NAME,
            irql_at_entry: DISPATCH_LEVEL,
        });
    });
    world::with(NAME, |w| w.event("->", NAME, format!("IRP {address:#x}")));
    // SAFETY: the driver's cancel routine, called as the I/O manager calls
    // it: with the cancel spin lock held, at DISPATCH_LEVEL.
    unsafe { routine(object as PDEVICE_OBJECT, irp) };
    // It returns at the IRQL it released the lock to (Irp->CancelIrql), not
    // the one it entered at: no irql.balance check here.
    world::cpu(NAME, |c| {
        c.frames.pop();
        c.irql = caller;
    });
    world::with(NAME, |w| {
        w.event("<-", NAME, format!("IRP {address:#x}"));
        io::cancel_routine_returned(w, address);
    });
    true
}
