//! The flight recorder, end to end (issue #13): covmini under ndis-emu,
//! crashed (the emulator calls its KbCallbackSecondaryDumpData callback the
//! way Windows does at a bug check), hands over its ring under its own GUID,
//! and the blob decodes (with the decoder `covmini-lab flight` uses) to the
//! events covmini really recorded: the make call's entry, its
//! NdisMCmActivateVc calls with SUCCESS and its return with PENDING, the
//! adapter's transitions. After halt the callback is deregistered: no block.
//!
//! Runs against the host build, or the loaded x64 image with
//! `COVMINI_SYS=target/kernel/x64/covmini.sys` (tests/common/driver.rs).

mod common;

use common::scenario::{call_to, pair};

use covmini::flight::Event;
use covmini::flight::decode::{Blob, Entry};
use covmini::flight::event::{AdapterStateCode, Ddi, Handler, Machine};
use covmini::flight::layout::{BLOB_SIZE, CAPACITY, adapter_of_guid};
use ndis_emu::{Answer, DumpBlock, Emulator, secondary_dump_data};
use ndis_sys::*;

/// covmini's blocks in a crash's secondary dump data.
fn covmini_blocks(blocks: &[DumpBlock]) -> Vec<&DumpBlock> {
    blocks.iter().filter(|b| adapter_of_guid(&b.guid).is_some()).collect()
}

fn events(blob: &Blob<'_>) -> Vec<Entry> {
    blob.newest_first().collect()
}

/// The index of the newest event matching `f`, oldest-first position.
fn find(entries: &[Entry], f: impl Fn(&Event) -> bool) -> Option<u32> {
    entries.iter().find(|e| e.event.as_ref().is_ok_and(&f)).map(|e| e.index)
}

#[test]
fn a_crash_mid_call_dumps_the_recorded_make_call() {
    let mut emu = Emulator::new();
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let p = pair(&mut emu, Answer::Pend, NDIS_STATUS_SUCCESS);
    let status = emu.make_call(p.vc, &call_to(b"bob"));
    assert_eq!(status, NDIS_STATUS_PENDING, "bob has not answered yet");

    // The machine stops here.
    let blocks = secondary_dump_data();
    let ours = covmini_blocks(&blocks);
    assert_eq!(ours.len(), 1, "one adapter, one block: {blocks:?}");
    let block = ours[0];
    assert_eq!(block.component, "covmini");
    assert_eq!(block.data.len(), BLOB_SIZE, "the whole ring, header and records");
    let blob = Blob::parse(&block.data).expect("a valid blob");
    let entries = events(&blob);
    assert!(!entries.is_empty() && entries.len() <= CAPACITY);
    // Newest first: indexes strictly fall.
    assert!(entries.windows(2).all(|w| w[0].index > w[1].index), "newest first");

    let enter = find(&entries, |e| {
        matches!(
            e,
            Event::Enter {
                handler: Handler::ProtocolCmMakeCall,
                ..
            }
        )
    })
    .expect("the make call's entry is recorded");
    let activate = find(
        &entries,
        |e| matches!(e, Event::Ddi { ddi: Ddi::NdisMCmActivateVc, status, .. } if *status == NDIS_STATUS_SUCCESS),
    )
    .expect("NdisMCmActivateVc with SUCCESS is recorded");
    let dispatch = find(&entries, |e| {
        matches!(
            e,
            Event::Ddi {
                ddi: Ddi::NdisMCmDispatchIncomingCall,
                ..
            }
        )
    })
    .expect("the offer to bob is recorded");
    let ret = find(&entries, |e| {
        matches!(e, Event::Return { handler: Handler::ProtocolCmMakeCall, status, .. } if *status == NDIS_STATUS_PENDING)
    })
    .expect("the make call's return with PENDING is recorded");
    assert!(
        enter < activate && activate < dispatch && dispatch < ret,
        "in call order"
    );
    // Entry and return name the same context: alice's VC.
    let object_of = |i: u32| entries.iter().find(|e| e.index == i).and_then(|e| e.event.ok());
    match (object_of(enter), object_of(ret)) {
        (Some(Event::Enter { object: a, .. }), Some(Event::Return { object: b, .. })) => assert_eq!(a, b),
        other => panic!("{other:?}"),
    }
    // The adapter came up: Initializing -> Paused -> Running, recorded.
    let paused_to_running = find(&entries, |e| {
        *e == Event::Transition {
            machine: Machine::Adapter,
            object: usize::try_from(blob.adapter()).unwrap_or(0),
            from: AdapterStateCode::Paused.code(),
            to: AdapterStateCode::Running.code(),
        }
    });
    assert!(
        paused_to_running.is_some_and(|i| i < enter),
        "the restart came before the call"
    );
    // The adapter's first event is its initialize, recorded once the
    // context (and the ring in it) exists.
    let first = entries.last().expect("events");
    assert_eq!(first.index, 0);
    assert!(matches!(
        first.event,
        Ok(Event::Enter {
            handler: Handler::MiniportInitializeEx,
            ..
        })
    ));
    assert!(find(&entries, |e| matches!(e, Event::Ddi { ddi: Ddi::KeRegisterBugCheckReasonCallback, status, .. } if *status == NDIS_STATUS_SUCCESS)).is_some());
    // Every record carries a time, and times do not go backwards.
    let mut oldest_first: Vec<&Entry> = entries.iter().collect();
    oldest_first.reverse();
    assert!(
        oldest_first.windows(2).all(|w| w[0].time <= w[1].time),
        "monotonic interrupt time"
    );

    emu.answer_incoming(*emu.offered_vcs(p.bob).last().expect("offered"), NDIS_STATUS_SUCCESS)
        .expect("bob answers");
    emu.halt_adapter().expect("halt");
    assert!(
        covmini_blocks(&secondary_dump_data()).is_empty(),
        "halt deregistered the callback (KeDeregisterBugCheckReasonCallback)"
    );
    emu.unload().expect("unload");
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_refusal_is_recorded_with_its_reason() {
    let mut emu = Emulator::new();
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let p = pair(&mut emu, Answer::Sync, NDIS_STATUS_SUCCESS);
    let status = emu.make_call(p.vc, &call_to(b"nobody"));
    assert_eq!(status, NDIS_STATUS_NO_ROUTE_TO_DESTINATION);
    let blocks = secondary_dump_data();
    let block = covmini_blocks(&blocks).into_iter().next().expect("covmini's block");
    let blob = Blob::parse(&block.data).expect("a valid blob");
    let entries = events(&blob);
    let refused = find(
        &entries,
        |e| matches!(e, Event::Refused { reason: covmini::flight::event::Reason::NoRoute, status, .. } if *status == NDIS_STATUS_NO_ROUTE_TO_DESTINATION),
    );
    assert!(refused.is_some(), "NoRoute refusal recorded: {entries:?}");
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    assert!(emu.finish().is_clean());
}
