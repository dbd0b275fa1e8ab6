//! The I/O manager a driver's control device meets: the rules of
//! NdisRegisterDeviceEx's attributes, of IRPs (dispatch, pend, complete,
//! cancel, cleanup) and of the device's lifetime, and their checks.
//!
//! It owns those rules and the decisions over the world's records
//! (`crate::world::io`): what a DDI or a user-mode request does to them.
//! The memory the driver sees (device objects, IRPs, buffers) and the
//! calls into its dispatch and cancel routines are `crate::ffi::io`'s; the
//! user-mode side (open, DeviceIoControl, CancelIo, close) is
//! [`user`], above the FFI layer. What it must not do: read driver memory
//! or call the driver (the layers above do, and hand it checked values).
//!
//! Sources, quoted where each rule is declared: learn.microsoft.com's
//! IoCompleteRequest, IoMarkIrpPending, IoSetCancelRoutine,
//! IoReleaseCancelSpinLock, "Points to Consider When Canceling IRPs",
//! "Implementing a Cancel Routine", "DispatchCleanup Routines",
//! IRP_MJ_CLEANUP, NdisRegisterDeviceEx, NdisDeregisterDeviceEx and
//! NDIS_DEVICE_OBJECT_ATTRIBUTES pages.

pub mod user;

use ndis_sys::*;

use crate::world::io::{Device, Irp, IrpState};
use crate::world::{HandleKind, World, cpu_id};

crate::define_rules! { IO:
    IO_DEVICE_ATTRIBUTES, "io.device-attributes", false, "NDIS_DEVICE_OBJECT_ATTRIBUTES page: \"Set the Type member ... to NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES, the Revision member to NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1, and the Size member to NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1\"; DeviceName \"must be a full path name--for example, \\Device\\DeviceName\"", "io_device_attributes_fires_on_a_short_header",
        "NdisRegisterDeviceEx gets a device-object attributes block of type 0x85, revision 1 and size 56, a \\Device\\ name, a dispatch table, and names no device already registered.";
    IO_COMPLETE_ONCE, "io.complete-once", false, "IoCompleteRequest page: the caller \"has completed all processing for a given I/O request and is returning the given IRP to the I/O manager\"", "io_complete_once_fires_on_a_second_completion",
        "IofCompleteRequest gets an IRP the I/O manager sent to the driver and the driver still owns: never one already completed.";
    IO_COMPLETE_NOT_PENDING, "io.complete-not-pending", false, "How to Complete an IRP in a Dispatch Routine: \"The dispatch routine sets Status either to STATUS_SUCCESS or to an appropriate error (STATUS_XXX)\" before it calls IoCompleteRequest; STATUS_PENDING is what a routine returns for an IRP it has not completed", "io_complete_not_pending_fires_on_status_pending",
        "An IRP is completed with a final status in IoStatus.Status, never STATUS_PENDING.";
    IO_MARK_PENDING, "io.mark-pending", false, "IoMarkIrpPending page: \"Unless the driver's dispatch routine completes the IRP ... it must call IoMarkIrpPending with the IRP\"; \"After calling IoMarkIrpPending, the dispatch routine must return STATUS_PENDING\"", "io_mark_pending_fires_on_pending_without_the_mark",
        "A dispatch routine that returns STATUS_PENDING called IoMarkIrpPending (SL_PENDING_RETURNED in the stack location's Control), and one that called it returns STATUS_PENDING.";
    IO_DISPATCH_STATUS, "io.dispatch-status", false, "How to Complete an IRP in a Dispatch Routine, step 3: \"Returns the appropriate STATUS_XXX that it already set in the I/O status block\"; IoMarkIrpPending page: unless it completes the IRP it must pend it", "io_dispatch_status_fires_on_a_different_return",
        "A dispatch routine that did not pend its IRP completed it, and returns the IoStatus.Status it completed it with.";
    IO_INFORMATION_WITHIN_OUTPUT, "io.information-within-output", true, "\"Buffer Descriptions for I/O Control Codes\" (METHOD_BUFFERED: the I/O manager copies IoStatus.Information bytes to the caller's output buffer)", "io_information_within_output_fires_on_a_long_information",
        "A METHOD_BUFFERED IOCTL is completed with IoStatus.Information no larger than its OutputBufferLength.";
    IO_CANCEL_ROUTINE_CLEARED, "io.cancel-routine-cleared", false, "DispatchCleanup Routines: \"Call IoSetCancelRoutine to set the Cancel routine pointer to NULL\" before \"Call IoCompleteRequest\"; \"Implementing a Cancel Routine\": the I/O manager sets CancelRoutine to NULL before it calls one, so a routine left set could run on a completed IRP", "io_cancel_routine_cleared_fires_on_a_completion_with_the_routine_set",
        "An IRP is completed with no cancel routine set (IoSetCancelRoutine(Irp, NULL) first).";
    IO_CANCEL_RELEASES_LOCK, "io.cancel-releases-lock", false, "Points to Consider When Canceling IRPs: \"The I/O manager holds the cancel spin lock any time it calls a driver's Cancel routine. Consequently, every Cancel routine must: Call IoReleaseCancelSpinLock before it returns control. Not call IoAcquireCancelSpinLock unless it calls IoReleaseCancelSpinLock first\" and \"must pass Irp->CancelIrql\"", "io_cancel_releases_lock_fires_when_the_routine_keeps_it",
        "A cancel routine releases the cancel spin lock it is called with, once, with IoReleaseCancelSpinLock(Irp->CancelIrql), and takes it again only after; nothing releases it that does not hold it, nor takes it while it is held.";
    IO_CLEANUP_COMPLETES_PENDED, "io.cleanup-completes-pended", false, "IRP_MJ_CLEANUP: \"the driver must cancel and complete only the currently queued IRPs that are associated with the file object handle that is being released ... After canceling these queued IRPs, the driver completes the cleanup IRP\"", "io_cleanup_completes_pended_fires_on_an_irp_left_pending",
        "When the IRP_MJ_CLEANUP of a file object completes, no IRP of that file object is still pending in the driver.";
    IO_DEREGISTER_IDLE, "io.deregister-idle", true, "NdisDeregisterDeviceEx page (it deletes the device object and its symbolic link); an IRP pending on a deleted device is never completed", "io_deregister_idle_fires_on_a_pending_irp",
        "NdisDeregisterDeviceEx is called with no IRP of the device still pending in the driver.";
    IO_DEREGISTER_BEFORE_UNLOAD, "io.deregister-before-unload", false, "NdisRegisterDeviceEx page: the handle \"is a required parameter to the NdisDeregisterDeviceEx function that the driver calls subsequently\"; a device object left behind outlives the driver's code", "io_deregister_before_unload_fires_when_unload_forgets",
        "Every device a driver registered is deregistered with NdisDeregisterDeviceEx before its unload routine returns.";
}

/// NdisRegisterDeviceEx's checked arguments.
pub(crate) struct Registration {
    pub header: NDIS_OBJECT_HEADER,
    pub name: Option<String>,
    pub link: Option<String>,
    pub dispatch: Option<crate::world::io::DispatchTable>,
    pub sddl: Option<String>,
}

/// Checks NdisRegisterDeviceEx's arguments; the device's handle, or the
/// status the call fails with (nothing is created then).
pub(crate) fn register_device(
    w: &mut World,
    owner: usize,
    reg: Registration,
    object: usize,
    extension: (usize, usize),
) -> Result<usize, NDIS_STATUS> {
    const CALL: &str = "NdisRegisterDeviceEx";
    // The NdisRegisterDeviceEx page: "NDIS_STATUS_NOT_SUPPORTED: The
    // caller is not an NDIS driver."
    if !w.check_handle(owner, HandleKind::Driver, CALL) {
        return Err(NDIS_STATUS_NOT_SUPPORTED);
    }
    let h = reg.header;
    let problem = if h.Type != NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES
        || h.Revision < NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1
        || usize::from(h.Size) < NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1
    {
        Some(format!(
            "header type {:#x} revision {} size {}, not 0x85, 1, {}",
            h.Type, h.Revision, h.Size, NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1
        ))
    } else if !reg
        .name
        .as_deref()
        .is_some_and(|n| n.len() > 8 && n[..8].eq_ignore_ascii_case("\\Device\\"))
    {
        Some(format!("DeviceName {:?} is not a full \\Device\\ path", reg.name))
    } else if reg.dispatch.is_none() {
        Some("MajorFunctions is NULL".to_string())
    } else if w
        .io
        .devices
        .values()
        .any(|d| !d.deregistered && Some(&d.name) == reg.name.as_ref())
        || reg.link.as_deref().is_some_and(|l| w.io.device_by_link(l).is_some())
    {
        Some(format!(
            "{:?} or {:?} names a device already registered",
            reg.name, reg.link
        ))
    } else {
        None
    };
    if let Some(p) = problem {
        w.violate(IO_DEVICE_ATTRIBUTES, CALL, p, &[owner]);
        // The page's "NDIS_STATUS_FAILURE: The driver's attempt to register
        // the device failed."
        return Err(NDIS_STATUS_FAILURE);
    }
    let (Some(name), Some(dispatch)) = (reg.name, reg.dispatch) else {
        return Err(NDIS_STATUS_FAILURE);
    };
    let admin_only = reg.sddl.as_deref().is_some_and(admin_only);
    let handle = w.new_handle(HandleKind::Device, format!("device {name}"));
    w.io.devices.insert(
        handle,
        Device {
            name,
            link: reg.link,
            dispatch,
            admin_only,
            object,
            extension: extension.0,
            extension_len: extension.1,
            owner,
            deregistered: false,
        },
    );
    Ok(handle)
}

/// NdisRegisterDeviceEx got no slot for the device handle.
pub(crate) fn null_device_handle_slot(w: &mut World) {
    w.violate(
        IO_DEVICE_ATTRIBUTES,
        "NdisRegisterDeviceEx",
        "NdisDeviceHandle is NULL",
        &[],
    );
}

/// Does an SDDL string allow only LocalSystem and Administrators? Every
/// allow ACE (`(A;...;SID)`) must name `SY` or `BA`, and there must be a
/// DACL (`D:`). The emulator models a caller as an administrator or not;
/// a missing SDDL string (NULL) is treated as open to all callers.
#[must_use]
pub fn admin_only(sddl: &str) -> bool {
    let Some(dacl) = sddl.find("D:").and_then(|i| sddl.get(i + 2..)) else {
        return false;
    };
    let aces: Vec<&str> = dacl.split('(').skip(1).filter_map(|a| a.split(')').next()).collect();
    aces.iter().all(|ace| {
        let fields: Vec<&str> = ace.split(';').collect();
        fields.first() != Some(&"A") || matches!(fields.get(5), Some(&"SY" | &"BA"))
    })
}

/// NdisDeregisterDeviceEx: the device record, taken out (its memory is the
/// caller's to free), or None for a bad handle.
pub(crate) fn deregister_device(w: &mut World, handle: usize) -> Option<Device> {
    const CALL: &str = "NdisDeregisterDeviceEx";
    if !w.check_handle(handle, HandleKind::Device, CALL) {
        return None;
    }
    let pending = w.io.pending(handle, None);
    if !pending.is_empty() {
        w.violate(
            IO_DEREGISTER_IDLE,
            CALL,
            format!("{} IRP(s) still pending in the driver: {pending:#x?}", pending.len()),
            &[handle],
        );
        // Nothing will ever complete them now.
        for irp in pending {
            w.io.irps.remove(&irp);
        }
    }
    w.kill(handle, "NdisDeregisterDeviceEx");
    let mut d = w.io.devices.remove(&handle)?;
    d.deregistered = true;
    w.io.files.retain(|_, f| f.device != handle);
    Some(d)
}

/// The I/O manager sends an IRP: record it as being dispatched.
pub(crate) fn sent(w: &mut World, address: usize, irp: Irp) {
    w.io.irps.insert(address, irp);
}

/// IofCompleteRequest's admission: the IRP is one the driver owns. Returns
/// its output length and buffer (address, length) to copy back from.
pub(crate) fn admit_completion(w: &mut World, address: usize) -> Option<(ULONG, usize, usize)> {
    const CALL: &str = "IofCompleteRequest";
    w.check_irql(CALL, DISPATCH_LEVEL);
    match w.io.irps.get_mut(&address) {
        None => {
            w.violate(
                IO_COMPLETE_ONCE,
                CALL,
                format!("IRP {address:#x} is none the I/O manager sent (or it was completed and freed)"),
                &[],
            );
            None
        }
        Some(irp) if irp.state == IrpState::Completed => {
            irp.completions = irp.completions.saturating_add(1);
            let n = irp.completions;
            w.violate(
                IO_COMPLETE_ONCE,
                CALL,
                format!("IRP {address:#x} completed again (completion {n})"),
                &[],
            );
            None
        }
        Some(irp) => Some((irp.output_length, irp.buffer, irp.buffer_len)),
    }
}

/// What IofCompleteRequest read from the IRP.
pub(crate) struct Completion {
    pub status: NTSTATUS,
    pub information: usize,
    pub cancel_routine_set: bool,
    pub method_buffered_ioctl: bool,
}

/// IofCompleteRequest's checks; records the completion. `output` is what
/// the I/O manager copies back (at most OutputBufferLength bytes).
pub(crate) fn completed(w: &mut World, address: usize, c: &Completion, output: Vec<u8>) {
    const CALL: &str = "IofCompleteRequest";
    let Some(irp) = w.io.irps.get(&address) else { return };
    let output_length = irp.output_length;
    if c.status == STATUS_PENDING {
        w.violate(
            IO_COMPLETE_NOT_PENDING,
            CALL,
            format!("IRP {address:#x} completed with IoStatus.Status STATUS_PENDING"),
            &[],
        );
    }
    if c.cancel_routine_set {
        w.violate(
            IO_CANCEL_ROUTINE_CLEARED,
            CALL,
            format!("IRP {address:#x} completed with its cancel routine still set"),
            &[],
        );
    }
    if c.method_buffered_ioctl && c.information > output_length as usize {
        w.violate(
            IO_INFORMATION_WITHIN_OUTPUT,
            CALL,
            format!(
                "IRP {address:#x}: IoStatus.Information {} exceeds OutputBufferLength {output_length}",
                c.information
            ),
            &[],
        );
    }
    if let Some(irp) = w.io.irps.get_mut(&address) {
        irp.state = IrpState::Completed;
        irp.completions = irp.completions.saturating_add(1);
        irp.status = Some(c.status);
        irp.information = c.information;
        irp.output = output;
    }
    w.event(
        "=>",
        CALL,
        format!("IRP {address:#x} status {:#x} information {}", c.status, c.information),
    );
}

/// The dispatch routine returned `status` for the IRP at `address`;
/// `marked`: SL_PENDING_RETURNED is set in its stack location. Checks the
/// pend/complete contract; true when the IRP is now pending in the driver.
pub(crate) fn dispatch_returned(w: &mut World, address: usize, status: NTSTATUS, marked: bool) -> bool {
    const CALL: &str = "DriverDispatch";
    let Some(irp) = w.io.irps.get(&address) else {
        return false;
    };
    let state = irp.state;
    let completed_with = irp.status;
    if status == STATUS_PENDING && !marked {
        w.violate(
            IO_MARK_PENDING,
            CALL,
            format!("returned STATUS_PENDING for IRP {address:#x} without IoMarkIrpPending"),
            &[],
        );
    } else if status != STATUS_PENDING && marked {
        w.violate(
            IO_MARK_PENDING,
            CALL,
            format!("marked IRP {address:#x} pending and returned {status:#x}, not STATUS_PENDING"),
            &[],
        );
    }
    match state {
        IrpState::Completed => {
            if status != STATUS_PENDING && Some(status) != completed_with {
                w.violate(
                    IO_DISPATCH_STATUS,
                    CALL,
                    format!(
                        "returned {status:#x} for IRP {address:#x}, which it completed with {:#x}",
                        completed_with.unwrap_or(0)
                    ),
                    &[],
                );
            }
            false
        }
        _ if status == STATUS_PENDING => {
            if let Some(irp) = w.io.irps.get_mut(&address) {
                irp.state = IrpState::Pending;
            }
            true
        }
        _ => {
            w.violate(
                IO_DISPATCH_STATUS,
                CALL,
                format!("returned {status:#x} for IRP {address:#x} without completing or pending it"),
                &[],
            );
            // The I/O manager would wait forever; the run goes on as if it
            // had been completed with what the routine returned.
            if let Some(irp) = w.io.irps.get_mut(&address) {
                irp.state = IrpState::Completed;
                irp.status = Some(status);
            }
            false
        }
    }
}

/// The I/O manager takes the cancel spin lock (before a cancel routine).
pub(crate) fn take_cancel_lock(w: &mut World) {
    w.io.cancel_lock = Some(cpu_id());
}

/// IoAcquireCancelSpinLock: true when the calling CPU took the lock. On
/// Windows a CPU that already holds it (a cancel routine that did not
/// release it first) spins forever; here that breaks the rule and the lock
/// stays with its holder.
pub(crate) fn acquire_cancel_lock(w: &mut World, call: &'static str) -> bool {
    w.check_irql(call, DISPATCH_LEVEL);
    match w.io.cancel_lock {
        None => {
            w.io.cancel_lock = Some(cpu_id());
            true
        }
        Some(holder) => {
            w.violate(
                IO_CANCEL_RELEASES_LOCK,
                call,
                format!("took the cancel spin lock, already held by CPU {holder}: it would spin forever"),
                &[],
            );
            false
        }
    }
}

/// IoReleaseCancelSpinLock: true when the calling CPU held it (released now).
pub(crate) fn release_cancel_lock(w: &mut World, call: &'static str) -> bool {
    w.check_irql(call, DISPATCH_LEVEL);
    if w.io.cancel_lock == Some(cpu_id()) {
        w.io.cancel_lock = None;
        true
    } else {
        let holder = w.io.cancel_lock.map_or("nobody".to_string(), |c| format!("CPU {c}"));
        w.violate(
            IO_CANCEL_RELEASES_LOCK,
            call,
            format!("released the cancel spin lock, held by {holder}"),
            &[],
        );
        false
    }
}

/// A cancel routine returned: it must have released the cancel spin lock.
pub(crate) fn cancel_routine_returned(w: &mut World, address: usize) {
    if w.io.cancel_lock.is_some() {
        w.violate(
            IO_CANCEL_RELEASES_LOCK,
            "DriverCancel",
            format!("returned for IRP {address:#x} still holding the cancel spin lock"),
            &[],
        );
        w.io.cancel_lock = None;
    }
}

/// The IRP_MJ_CLEANUP of `file` completed: nothing of it may be pending.
pub(crate) fn cleanup_done(w: &mut World, device: usize, file: usize) {
    let pending = w.io.pending(device, Some(file));
    if !pending.is_empty() {
        w.violate(
            IO_CLEANUP_COMPLETES_PENDED,
            "DriverDispatch",
            format!("IRP_MJ_CLEANUP of file {file:#x} completed with IRP(s) {pending:#x?} still pending"),
            &[device],
        );
    }
}

/// The driver's unload routine returned: every device it registered must
/// be deregistered. Takes the records out (the caller frees their memory).
pub(crate) fn at_unload(w: &mut World, call: &'static str) -> Vec<Device> {
    let left: Vec<usize> = w.io.devices.keys().copied().collect();
    let mut out = Vec::new();
    for h in left {
        let (name, owner) =
            w.io.devices
                .get(&h)
                .map(|d| (d.name.clone(), d.owner))
                .unwrap_or_default();
        w.violate(
            IO_DEREGISTER_BEFORE_UNLOAD,
            call,
            format!("returned with device {name} still registered"),
            &[h, owner],
        );
        w.io.irps.retain(|_, i| i.device != h);
        w.io.files.retain(|_, f| f.device != h);
        if let Some(d) = w.io.devices.remove(&h) {
            out.push(d);
        }
    }
    out
}
