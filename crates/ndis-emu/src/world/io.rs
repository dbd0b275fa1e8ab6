//! The I/O manager's state (a field of the world): the control devices a
//! driver registered with NdisRegisterDeviceEx, the files user-mode callers
//! opened on them, the IRPs sent to them, and the cancel spin lock.
//!
//! It owns these records and their bookkeeping only. The DDIs' checks and
//! the rules of IRPs are `crate::io`; the memory the driver sees (device
//! objects, IRPs, buffers) is `crate::ffi::io`'s, recorded here by address.
//! A leaf of the world: it must not name the world nor anything that does.

use std::collections::BTreeMap;

use ndis_sys::*;

use super::base::CpuId;

/// Every dispatch entry of a device (`IRP_MJ_MAXIMUM_FUNCTION + 1`).
pub type DispatchTable = [Option<DRIVER_DISPATCH>; IRP_MJ_MAXIMUM_FUNCTION as usize + 1];

/// One device object NdisRegisterDeviceEx created.
#[derive(Clone, Debug)]
pub struct Device {
    /// `\Device\...`, as the driver spelled it.
    pub name: String,
    /// The symbolic link (`\DosDevices\X` or `\??\X`), if any.
    pub link: Option<String>,
    /// The driver's dispatch routines, copied at registration.
    pub dispatch: DispatchTable,
    /// The SDDL lets only LocalSystem and Administrators open it.
    pub admin_only: bool,
    /// The address of the DEVICE_OBJECT block the driver was given.
    pub object: usize,
    /// The device extension (`ExtensionSize` bytes; 0: none).
    pub extension: usize,
    pub extension_len: usize,
    /// The driver handle it was registered with.
    pub owner: usize,
    /// NdisDeregisterDeviceEx was called.
    pub deregistered: bool,
}

/// Where an IRP is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrpState {
    /// Its dispatch routine is running.
    Dispatching,
    /// The dispatch routine returned STATUS_PENDING: the driver owns it.
    Pending,
    /// IofCompleteRequest was called: the I/O manager owns it again.
    Completed,
}

/// One IRP the I/O manager sent to a device.
#[derive(Clone, Debug)]
pub struct Irp {
    /// The device's NDIS handle.
    pub device: usize,
    /// The file object's address (the user-mode handle it came from).
    pub file: usize,
    /// `OutputBufferLength` of an IOCTL (0 otherwise).
    pub output_length: ULONG,
    /// The SystemBuffer (max(in, out) bytes; 0: none).
    pub buffer: usize,
    pub buffer_len: usize,
    pub state: IrpState,
    /// Times IofCompleteRequest was called with it.
    pub completions: u32,
    /// What it was completed with: `IoStatus.Status`, `Information` (as
    /// the driver set it) and the bytes copied back to the caller.
    pub status: Option<NTSTATUS>,
    pub information: usize,
    pub output: Vec<u8>,
    /// The I/O manager has cancelled it (`Irp->Cancel`).
    pub cancelled: bool,
}

/// One open file (a user-mode handle).
#[derive(Clone, Copy, Debug)]
pub struct File {
    /// The device's NDIS handle.
    pub device: usize,
    /// The FILE_OBJECT block's address.
    pub object: usize,
    /// IRP_MJ_CLEANUP was sent (the handle is closing).
    pub cleaned_up: bool,
}

/// The I/O manager's state.
#[derive(Debug, Default)]
pub struct Io {
    /// By NDIS device handle.
    pub devices: BTreeMap<usize, Device>,
    /// By user-mode handle (the FILE_OBJECT's address).
    pub files: BTreeMap<usize, File>,
    /// By the IRP's address, while the I/O manager tracks it.
    pub irps: BTreeMap<usize, Irp>,
    /// The CPU holding the system cancel spin lock.
    pub cancel_lock: Option<CpuId>,
}

impl Io {
    /// The device a symbolic link (compared case-insensitively, after the
    /// `\DosDevices\` or `\??\` prefix) names, if registered and live.
    #[must_use]
    pub fn device_by_link(&self, link: &str) -> Option<usize> {
        let want = strip_prefix(link).to_ascii_lowercase();
        self.devices
            .iter()
            .find(|(_, d)| {
                !d.deregistered
                    && d.link
                        .as_deref()
                        .is_some_and(|l| strip_prefix(l).eq_ignore_ascii_case(&want))
            })
            .map(|(h, _)| *h)
    }

    /// The IRPs the driver owns now (pended, not completed) for `device`,
    /// or for one file of it.
    #[must_use]
    pub fn pending(&self, device: usize, file: Option<usize>) -> Vec<usize> {
        self.irps
            .iter()
            .filter(|(_, i)| i.device == device && i.state == IrpState::Pending && file.is_none_or(|f| i.file == f))
            .map(|(a, _)| *a)
            .collect()
    }
}

/// `\DosDevices\X`, `\??\X`, `\\.\X` and `X` all name link `X`.
fn strip_prefix(link: &str) -> &str {
    for p in ["\\DosDevices\\", "\\??\\", "\\\\.\\", "\\GLOBAL??\\"] {
        if let Some(rest) = link
            .get(..p.len())
            .filter(|h| h.eq_ignore_ascii_case(p))
            .and_then(|_| link.get(p.len()..))
        {
            return rest;
        }
    }
    link
}
