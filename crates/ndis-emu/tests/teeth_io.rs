//! ndis-emu's I/O manager proves its teeth: a well-behaved control device
//! (open, echo, pend, complete, cancel, cleanup with a pended IRP,
//! deregister) breaks no rule and gets METHOD_BUFFERED semantics; for each
//! rule of `ndis_emu::io`, a fixture wrong in exactly one way makes exactly
//! that rule fire; the SDDL keeps a non-administrator out.

mod fixture_device;

use fixture_device::{EVENT, Fault, IOCTL_ECHO, IOCTL_FIRE, IOCTL_WAIT, LINK, run};
use ndis_emu::{Emulator, IoOutcome, IoResult, PendingIrp, Report, Rule, io, rules};
use ndis_sys::*;

/// Asserts that `rule`, and no other rule, fired.
fn only(report: &Report, rule: Rule) {
    assert!(report.of(rule).count() > 0, "{rule} did not fire:\n{report}");
    assert_eq!(report.rules(), vec![rule], "other rules fired too:\n{report}");
}

fn done(outcome: Result<IoOutcome, NTSTATUS>) -> IoResult {
    match outcome {
        Ok(IoOutcome::Done(r)) => r,
        other => panic!("expected a completed request, got {other:?}"),
    }
}

fn pended(outcome: Result<IoOutcome, NTSTATUS>) -> PendingIrp {
    match outcome {
        Ok(IoOutcome::Pending(p)) => p,
        other => panic!("expected a pended request, got {other:?}"),
    }
}

/// Opens the device as an administrator and pends one IOCTL_WAIT.
fn open_and_wait(emu: &Emulator) -> (ndis_emu::FileHandle, PendingIrp) {
    let f = emu.open_device(LINK, true).expect("open");
    let p = pended(emu.device_io_control(f, IOCTL_WAIT, &[], 4));
    (f, p)
}

// --- The well-behaved device ------------------------------------------------

#[test]
fn the_well_behaved_device_breaks_no_rule_through_its_whole_life() {
    let report = run(Fault::None, |emu| {
        let f = emu.open_device(LINK, true).expect("open");
        // Echo: the input comes back, Information = its length.
        let r = done(emu.device_io_control(f, IOCTL_ECHO, b"hello", 16));
        assert_eq!(
            (r.status, r.information, r.output.as_slice()),
            (STATUS_SUCCESS, 5, &b"hello"[..])
        );
        // An output shorter than the input: the driver's error, no bytes.
        let r = done(emu.device_io_control(f, IOCTL_ECHO, b"hello", 2));
        assert_eq!((r.status, r.output.len()), (STATUS_BUFFER_TOO_SMALL, 0));
        // Pend, then complete it by another IOCTL.
        let p = pended(emu.device_io_control(f, IOCTL_WAIT, &[], 8));
        assert_eq!(emu.poll_irp(&p), None, "still pending");
        let fire = done(emu.device_io_control(f, IOCTL_FIRE, &[], 0));
        assert_eq!(fire.status, STATUS_SUCCESS);
        let r = emu.poll_irp(&p).expect("completed by the fire");
        assert_eq!(
            (r.status, r.information, r.output.as_slice()),
            (STATUS_SUCCESS, 4, &EVENT[..])
        );
        // Pend, then cancel: the cancel routine completes it.
        let p = pended(emu.device_io_control(f, IOCTL_WAIT, &[], 4));
        assert!(emu.cancel_io(&p), "the cancel routine was set and called");
        assert_eq!(emu.poll_irp(&p).map(|r| r.status), Some(STATUS_CANCELLED));
        // Pend, then close: IRP_MJ_CLEANUP completes it.
        let p = pended(emu.device_io_control(f, IOCTL_WAIT, &[], 4));
        emu.close_device(f).expect("close");
        assert_eq!(emu.poll_irp(&p).map(|r| r.status), Some(STATUS_CANCELLED));
        // The closed handle is gone.
        assert_eq!(
            emu.device_io_control(f, IOCTL_ECHO, b"x", 1),
            Err(STATUS_INVALID_HANDLE)
        );
        // Pend on a second handle and unload: the driver completes it before
        // NdisDeregisterDeviceEx.
        let _ = open_and_wait(emu);
    });
    assert!(report.is_clean(), "{report}");
    assert_eq!(fixture_device::register_status(), NDIS_STATUS_SUCCESS);
    for name in [
        "NdisRegisterDeviceEx",
        "NdisDeregisterDeviceEx",
        "DriverCancel",
        "IoReleaseCancelSpinLock",
    ] {
        assert!(
            report.events.iter().any(|e| e.name == name),
            "no {name} in the trace:\n{report}"
        );
    }
}

#[test]
fn the_cancel_routine_runs_at_dispatch_level_with_the_lock_and_completes_at_cancel_irql() {
    let report = run(Fault::None, |emu| {
        let (_f, p) = open_and_wait(emu);
        assert!(emu.cancel_io(&p));
    });
    assert!(report.is_clean(), "{report}");
    let entry = report
        .events
        .iter()
        .find(|e| e.dir == "->" && e.name == "DriverCancel")
        .expect("cancel routine ran");
    assert_eq!(entry.irql, DISPATCH_LEVEL);
    let completion = report
        .events
        .iter()
        .rfind(|e| e.name == "IofCompleteRequest")
        .expect("completed");
    assert_eq!(
        completion.irql, PASSIVE_LEVEL,
        "released to Irp->CancelIrql first:\n{report}"
    );
}

#[test]
fn an_admin_only_sddl_refuses_a_non_administrator_and_an_open_one_admits_it() {
    let report = run(Fault::None, |emu| {
        assert_eq!(emu.open_device(LINK, false), Err(STATUS_ACCESS_DENIED));
        assert!(emu.open_device("\\DosDevices\\EmuIoFixture", true).is_ok());
        assert_eq!(
            emu.open_device("\\\\.\\NoSuchDevice", true),
            Err(STATUS_OBJECT_NAME_NOT_FOUND)
        );
    });
    assert!(report.is_clean(), "{report}");
    let report = run(Fault::OpenSddl, |emu| {
        let f = emu.open_device(LINK, false).expect("everyone may open it");
        emu.close_device(f).expect("close");
    });
    assert!(report.is_clean(), "{report}");
    assert!(io::admin_only("D:P(A;;GA;;;SY)(A;;GA;;;BA)"));
    assert!(!io::admin_only("D:P(A;;GA;;;SY)(A;;GA;;;WD)"));
    assert!(!io::admin_only("O:BA"), "no DACL: not restricted");
}

#[test]
fn a_cancel_of_a_request_already_completed_calls_nothing() {
    // A fire completes the IRP first; CancelIo then finds no IRP to cancel.
    let report = run(Fault::None, |emu| {
        let (f, p) = open_and_wait(emu);
        let _ = done(emu.device_io_control(f, IOCTL_FIRE, &[], 0));
        assert!(!emu.cancel_io(&p), "completed already");
        assert_eq!(emu.poll_irp(&p).map(|r| r.status), Some(STATUS_SUCCESS));
    });
    assert!(report.is_clean(), "{report}");
}

// --- One rule each ------------------------------------------------------------

#[test]
fn io_device_attributes_fires_on_a_short_header() {
    let report = run(Fault::ShortHeader, |emu| {
        assert_eq!(
            emu.open_device(LINK, true),
            Err(STATUS_OBJECT_NAME_NOT_FOUND),
            "no device was created"
        );
    });
    only(&report, io::IO_DEVICE_ATTRIBUTES);
    assert_eq!(fixture_device::register_status(), NDIS_STATUS_FAILURE);
}

#[test]
fn io_complete_once_fires_on_a_second_completion() {
    let report = run(Fault::CompleteTwice, |emu| {
        let f = emu.open_device(LINK, true).expect("open");
        let _ = done(emu.device_io_control(f, IOCTL_ECHO, b"ab", 2));
    });
    only(&report, io::IO_COMPLETE_ONCE);
}

#[test]
fn io_complete_not_pending_fires_on_status_pending() {
    let report = run(Fault::CompletePending, |emu| {
        let f = emu.open_device(LINK, true).expect("open");
        let _ = emu.device_io_control(f, IOCTL_ECHO, b"ab", 2);
    });
    only(&report, io::IO_COMPLETE_NOT_PENDING);
}

#[test]
fn io_mark_pending_fires_on_pending_without_the_mark() {
    let report = run(Fault::PendWithoutMark, |emu| {
        let (_f, p) = open_and_wait(emu);
        assert!(emu.cancel_io(&p));
    });
    only(&report, io::IO_MARK_PENDING);
}

#[test]
fn io_dispatch_status_fires_on_a_different_return() {
    let report = run(Fault::ReturnOtherStatus, |emu| {
        let f = emu.open_device(LINK, true).expect("open");
        let r = done(emu.device_io_control(f, IOCTL_ECHO, b"ab", 2));
        assert_eq!(r.status, STATUS_SUCCESS, "the caller sees the completion's status");
    });
    only(&report, io::IO_DISPATCH_STATUS);
}

#[test]
fn io_information_within_output_fires_on_a_long_information() {
    let report = run(Fault::LongInformation, |emu| {
        let f = emu.open_device(LINK, true).expect("open");
        let r = done(emu.device_io_control(f, IOCTL_ECHO, b"abcd", 4));
        assert_eq!(r.output.len(), 4, "never more than OutputBufferLength is copied out");
    });
    only(&report, io::IO_INFORMATION_WITHIN_OUTPUT);
}

#[test]
fn io_cancel_routine_cleared_fires_on_a_completion_with_the_routine_set() {
    let report = run(Fault::CompleteWithCancelRoutine, |emu| {
        let (f, p) = open_and_wait(emu);
        let _ = done(emu.device_io_control(f, IOCTL_FIRE, &[], 0));
        assert!(emu.poll_irp(&p).is_some());
    });
    only(&report, io::IO_CANCEL_ROUTINE_CLEARED);
}

#[test]
fn io_cancel_releases_lock_fires_when_the_routine_keeps_it() {
    let report = run(Fault::CancelKeepsLock, |emu| {
        let (_f, p) = open_and_wait(emu);
        assert!(emu.cancel_io(&p));
        assert_eq!(emu.poll_irp(&p).map(|r| r.status), Some(STATUS_CANCELLED));
        assert_eq!(
            emu.current_irql(),
            PASSIVE_LEVEL,
            "the I/O manager restored the caller's IRQL"
        );
    });
    only(&report, io::IO_CANCEL_RELEASES_LOCK);
}

#[test]
fn io_cleanup_completes_pended_fires_on_an_irp_left_pending() {
    let report = run(Fault::CleanupLeavesPending, |emu| {
        let (f, p) = open_and_wait(emu);
        emu.close_device(f).expect("close");
        assert_eq!(emu.poll_irp(&p), None, "still pending after the cleanup");
        // The process exits: the I/O manager cancels its thread's IRPs.
        assert!(emu.cancel_io(&p));
    });
    only(&report, io::IO_CLEANUP_COMPLETES_PENDED);
}

#[test]
fn io_deregister_idle_fires_on_a_pending_irp() {
    let report = run(Fault::DeregisterWithPending, |emu| {
        let _ = open_and_wait(emu);
    });
    only(&report, io::IO_DEREGISTER_IDLE);
}

#[test]
fn io_deregister_before_unload_fires_when_unload_forgets() {
    let report = run(Fault::NoDeregister, |_| {});
    only(&report, io::IO_DEREGISTER_BEFORE_UNLOAD);
}

#[test]
fn iof_complete_request_above_dispatch_level_breaks_the_irql_limit() {
    let report = run(Fault::None, |emu| {
        let (_f, p) = open_and_wait(emu);
        assert!(emu.at_irql(DISPATCH_LEVEL + 1, fixture_device::complete_waiting));
        assert_eq!(emu.poll_irp(&p).map(|r| r.status), Some(STATUS_SUCCESS));
    });
    only(&report, rules::IRQL_LIMIT);
    assert!(
        report.of(rules::IRQL_LIMIT).any(|v| v.call == "IofCompleteRequest"),
        "{report}"
    );
}

#[test]
fn a_caller_can_wait_for_a_pended_request_with_a_timeout() {
    let report = run(Fault::None, |emu| {
        let (f, p) = open_and_wait(emu);
        let short = std::time::Duration::from_millis(10);
        assert_eq!(emu.wait_irp(&p, short), None, "nothing completes it yet");
        let _ = done(emu.device_io_control(f, IOCTL_FIRE, &[], 0));
        let r = emu.wait_irp(&p, short).expect("completed by the fire");
        assert_eq!((r.status, r.output.as_slice()), (STATUS_SUCCESS, &EVENT[..]));
        assert_eq!(emu.poll_irp(&p), None, "a result is collected once");
    });
    assert!(report.is_clean(), "{report}");
}

#[test]
fn io_cancel_releases_lock_fires_on_a_second_acquire_in_the_cancel_routine() {
    let report = run(Fault::AcquireInCancel, |emu| {
        let (_f, p) = open_and_wait(emu);
        assert!(emu.cancel_io(&p));
    });
    only(&report, io::IO_CANCEL_RELEASES_LOCK);
    assert!(
        report
            .of(io::IO_CANCEL_RELEASES_LOCK)
            .any(|v| v.call == "IoAcquireCancelSpinLock"),
        "{report}"
    );
}
