//! A user-mode program's side of a control device, as the I/O manager
//! serves it: CreateFile on the symbolic link (IRP_MJ_CREATE with a
//! FILE_OBJECT, refused by the device's SDDL), DeviceIoControl with
//! METHOD_BUFFERED semantics, CancelIo, and CloseHandle (IRP_MJ_CLEANUP,
//! then IRP_MJ_CLOSE).
//!
//! It owns the order of those steps and what the caller gets back; the
//! IRPs' memory and the calls into the driver are `crate::ffi::io`'s, the
//! rules `crate::io`'s. The emulator's facade ([`crate::Emulator`]) calls
//! these; nothing below the facade may.

use ndis_sys::*;

use crate::ffi::io::{self as raw, Request};
use crate::world::io::IrpState;
use crate::world::{self};

/// A user-mode handle to an open control device (its FILE_OBJECT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHandle(usize);

/// A DeviceIoControl that returned STATUS_PENDING: poll or wait for it,
/// or cancel it.
#[derive(Debug, PartialEq, Eq)]
pub struct PendingIrp(usize);

/// A completed request, as DeviceIoControl (or GetOverlappedResult)
/// returns it: the final status, IoStatus.Information, and the bytes the
/// I/O manager copied to the output buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoResult {
    /// IoStatus.Status.
    pub status: NTSTATUS,
    /// IoStatus.Information, as the driver set it.
    pub information: usize,
    /// What the I/O manager copied to the output buffer (at most
    /// OutputBufferLength bytes).
    pub output: Vec<u8>,
}

/// What DeviceIoControl did.
#[derive(Debug, PartialEq, Eq)]
pub enum IoOutcome {
    /// Completed before the call returned.
    Done(IoResult),
    /// The driver pended it.
    Pending(PendingIrp),
}

/// The device's handle and the DEVICE_OBJECT address of a file.
fn file_of(file: FileHandle) -> Option<(usize, usize)> {
    world::try_with(|w| {
        let f = w.io.files.get(&file.0).filter(|f| !f.cleaned_up)?;
        let d = w.io.devices.get(&f.device)?;
        Some((f.device, d.object))
    })
    .flatten()
}

/// Sends one IRP to the driver: its outcome, or the IRP pending.
fn send(device: usize, object: usize, file: usize, r: &Request<'_>) -> IoOutcome {
    let routine = world::try_with(|w| {
        w.io.devices
            .get(&device)
            .and_then(|d| d.dispatch.get(usize::from(r.major)).copied().flatten())
    })
    .flatten();
    let address = raw::build_irp(device, object, file, r);
    let Some(routine) = routine else {
        // A NULL entry: the I/O manager's default (what
        // IoCreateDevice's devices get, _IopInvalidDeviceRequest):
        // CREATE, CLEANUP and CLOSE succeed, others are refused. [B]
        let status = if matches!(r.major, IRP_MJ_CREATE | IRP_MJ_CLEANUP | IRP_MJ_CLOSE) {
            STATUS_SUCCESS
        } else {
            STATUS_INVALID_DEVICE_REQUEST
        };
        world::try_with(|w| {
            if let Some(i) = w.io.irps.get_mut(&address) {
                i.state = IrpState::Completed;
                i.status = Some(status);
            }
        });
        return collect(address).map_or(IoOutcome::Pending(PendingIrp(address)), IoOutcome::Done);
    };
    let (status, marked) = raw::dispatch(routine, object, address);
    let pending = world::try_with(|w| super::dispatch_returned(w, address, status, marked)).unwrap_or(false);
    if pending {
        return IoOutcome::Pending(PendingIrp(address));
    }
    collect(address).map_or(IoOutcome::Pending(PendingIrp(address)), IoOutcome::Done)
}

/// The result of a completed IRP (its record and memory are freed); None
/// while it is pending.
fn collect(address: usize) -> Option<IoResult> {
    let irp = world::try_with(|w| {
        let done = w.io.irps.get(&address).is_some_and(|i| i.state == IrpState::Completed);
        done.then(|| w.io.irps.remove(&address)).flatten()
    })
    .flatten()?;
    raw::free_irp(address, irp.buffer, irp.buffer_len);
    Some(IoResult {
        status: irp.status.unwrap_or(STATUS_UNSUCCESSFUL),
        information: irp.information,
        output: irp.output,
    })
}

/// CreateFile on `link` (`\\.\X`, `\DosDevices\X`, `\??\X` or `X`) by a
/// caller who is an administrator or not.
pub(crate) fn open(link: &str, admin: bool) -> Result<FileHandle, NTSTATUS> {
    let (device, object, admin_only) = world::try_with(|w| {
        let h = w.io.device_by_link(link)?;
        let d = w.io.devices.get(&h)?;
        Some((h, d.object, d.admin_only))
    })
    .flatten()
    .ok_or(STATUS_OBJECT_NAME_NOT_FOUND)?;
    if admin_only && !admin {
        world::try_with(|w| w.event("=>", "IoCreateFile", format!("{link}: access denied by the SDDL")));
        return Err(STATUS_ACCESS_DENIED);
    }
    let file = raw::new_file(device, object);
    let handle = file.object;
    world::try_with(|w| w.io.files.insert(handle, file));
    let r = Request {
        major: IRP_MJ_CREATE,
        code: 0,
        input: &[],
        output_length: 0,
    };
    match send(device, object, handle, &r) {
        IoOutcome::Done(res) if res.status >= 0 => Ok(FileHandle(handle)),
        IoOutcome::Done(res) => {
            forget_file(handle);
            Err(res.status)
        }
        // A pended create: the emulator does not wait for it (STATUS_PENDING
        // reaches the caller, and the handle is not opened).
        IoOutcome::Pending(_) => {
            forget_file(handle);
            Err(STATUS_PENDING)
        }
    }
}

fn forget_file(handle: usize) {
    if let Some(f) = world::try_with(|w| w.io.files.remove(&handle)).flatten() {
        raw::free_file(&f);
    }
}

/// DeviceIoControl with a METHOD_BUFFERED code.
pub(crate) fn ioctl(file: FileHandle, code: ULONG, input: &[u8], output_length: ULONG) -> Result<IoOutcome, NTSTATUS> {
    let (device, object) = file_of(file).ok_or(STATUS_INVALID_HANDLE)?;
    if code & 3 != METHOD_BUFFERED || ULONG::try_from(input.len()).is_err() {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let r = Request {
        major: IRP_MJ_DEVICE_CONTROL,
        code,
        input,
        output_length,
    };
    Ok(send(device, object, file.0, &r))
}

/// The result of a pended IRP once the driver completed it (None while it
/// is still pending).
pub(crate) fn poll(irp: &PendingIrp) -> Option<IoResult> {
    collect(irp.0)
}

/// Waits (releasing the world) until the driver completes `irp`, up to
/// `timeout`; then its result.
pub(crate) fn wait(irp: &PendingIrp, timeout: std::time::Duration) -> Option<IoResult> {
    let deadline = std::time::Instant::now() + timeout;
    world::wait_until_deadline(deadline, |w| {
        w.io.irps
            .get(&irp.0)
            .filter(|i| i.state == IrpState::Completed)
            .map(|_| ())
    })?;
    collect(irp.0)
}

/// CancelIo: the I/O manager cancels `irp` if the driver still owns it.
/// True when the driver's cancel routine was called.
pub(crate) fn cancel(irp: &PendingIrp) -> bool {
    let object = world::try_with(|w| {
        let i = w.io.irps.get_mut(&irp.0).filter(|i| i.state == IrpState::Pending)?;
        i.cancelled = true;
        let device = i.device;
        w.io.devices.get(&device).map(|d| d.object)
    })
    .flatten();
    object.is_some_and(|o| raw::cancel(o, irp.0))
}

/// CloseHandle: IRP_MJ_CLEANUP (after which no IRP of the file may be
/// pending), then IRP_MJ_CLOSE, then the FILE_OBJECT is freed.
pub(crate) fn close(file: FileHandle) -> Result<(), NTSTATUS> {
    let (device, object) = file_of(file).ok_or(STATUS_INVALID_HANDLE)?;
    let r = Request {
        major: IRP_MJ_CLEANUP,
        code: 0,
        input: &[],
        output_length: 0,
    };
    let cleanup = send(device, object, file.0, &r);
    world::try_with(|w| {
        if let Some(f) = w.io.files.get_mut(&file.0) {
            f.cleaned_up = true;
        }
        if matches!(cleanup, IoOutcome::Done(_)) {
            super::cleanup_done(w, device, file.0);
        }
    });
    let r = Request {
        major: IRP_MJ_CLOSE,
        code: 0,
        input: &[],
        output_length: 0,
    };
    let _ = send(device, object, file.0, &r);
    forget_file(file.0);
    Ok(())
}
