//! The data path: a send on one VC is indicated on its peer (or, for an
//! echo call, on the same VC; for a multipoint root, on every connected
//! leaf) without copying a byte and without allocating.
//!
//! # Design
//!
//! * **Receive NBLs.** At the adapter's first AF open (not at
//!   MiniportInitializeEx, so an adapter no client uses allocates nothing)
//!   covmini makes one NBL pool
//!   (`NdisAllocateNetBufferListPool`, fAllocateNetBuffer TRUE, DataSize 0,
//!   tag `CvmR`) and takes [`RX_NBLS`](super::rx_pool::RX_NBLS) NBLs from
//!   it, each with one empty NET_BUFFER (`NdisAllocateNetBufferAndNetBufferList` over no MDL). They
//!   wait on an adapter-wide free list (linked through `NBL->Next`, under
//!   its own spin lock) and go back to the pool at MiniportHaltEx. The
//!   send path pops from that list: it never allocates.
//! * **Zero copy.** For each NET_BUFFER of a send NBL one receive NBL is
//!   taken and its own NET_BUFFER re-pointed at the sender's data (MdlChain,
//!   CurrentMdl, CurrentMdlOffset, DataOffset, DataLength): the receiver
//!   reads the sender's MDLs. One NET_BUFFER per receive NBL is the NDIS
//!   receive convention; covmini's own NET_BUFFER (rather than the sender's)
//!   keeps the receiver's ProtocolReserved from landing on the sender's.
//! * **Fan-out.** A multipoint root's send NBL of n NET_BUFFERs takes n
//!   receive NBLs per connected leaf, all at once (every leaf gets it, or
//!   none), each leaf's n indicated together on that leaf's VC.
//! * **Lending and completion.** The receive NBLs of one send NBL for one
//!   target are indicated together (SourceHandle = the target's
//!   NdisVcHandle). The send NBL stays covmini's until the last of them
//!   (over all targets) comes back through
//!   MiniportReturnNetBufferLists, which completes it with SUCCESS. Its
//!   MiniportReserved holds the count of receive NBLs out (`[0]`, updated
//!   atomically: returns may run on several CPUs) and the sender's VC
//!   context (`[1]`); each receive NBL's MiniportReserved holds the send
//!   NBL (`[0]`) and the receiving VC context (`[1]`).
//! * **Running low.** When the free list falls under
//!   [`RX_LOW_WATER`](super::rx_pool::RX_LOW_WATER), the indication
//!   carries NDIS_RECEIVE_FLAGS_RESOURCES: the NBLs are covmini's
//!   again when the indication returns, go straight back to the list, and
//!   the send completes there and then. A send NBL for which the list has
//!   too few NBLs is completed at once with NDIS_STATUS_RESOURCES.
//! * **Drain.** Every send NBL held pins the sender and every receive NBL
//!   out pins the target in the call manager ([`crate::call_manager`]'s
//!   `route`/`unpin`); a close pends until its VC has no pin, so no VC is
//!   deactivated with a send held or a receive unreturned (contract §3.3),
//!   and a VC named by an NBL in flight is never freed. A send that is
//!   inside the handler but holds no pin yet (it has not reached the call
//!   manager) holds its VC through the handshake below.
//! * **The handshake.** NDIS may call MiniportCoSendNetBufferLists on one
//!   CPU while the VC's close runs on another (the peer hung up, the
//!   client closes). The send's first act, before any lock or NDIS call,
//!   is to count itself in the VC context's handshake word
//!   (`VcContext::enter`); ProtocolCmCloseCall, under the adapter lock,
//!   raises the word's CLOSING bit and reads the count in the same
//!   read-modify-write (`VcContext::begin_close`). The two are atomic
//!   operations on one word, so one comes first: either the close sees the
//!   send and pends (`CallManager::close_call_with_handlers`: the core
//!   waits for the handlers as for a pin, and the last one out,
//!   `Inside::leave`, finishes the close as the last `unpin` does), or the
//!   send sees CLOSING, takes nothing (no count in the word, no pin, no
//!   receive NBL: `VcContext::enter_unless_closing`) and completes at once
//!   with NDIS_STATUS_VC_NOT_ACTIVATED, its completion its only NDIS call,
//!   after which it touches the context no more. Either way no VC is
//!   deactivated, deleted or freed under a send covmini has started on,
//!   and the refusal paths (paused, closing, no route) write counters and
//!   complete on a context that lives. A callee's refusal of a make call
//!   (the core's `answer_offer`, through `ffi::setup`'s `Marks`) does the same handshake on both VCs,
//!   which the make call activated before the offer: with handlers inside
//!   one, the last one out deactivates it and fails the make call (the
//!   caller's) or deletes it (the callee's). So does a leaf's refusal of a
//!   party (on the leaf, and on the root of a multipoint make call), and a
//!   make call or add party whose NdisMCmActivateVc failed after another
//!   VC of it was activated. A VC's OID requests
//!   (MiniportCoOidRequest, ProtocolCoOidRequest) and QoS changes
//!   (ProtocolCmModifyCallQoS) take the same first step.
//! * **The window.** No driver can count a call before its handler's
//!   first instruction: between NDIS's call and that instruction the
//!   handler holds nothing. That window is NDIS's. NdisMCmDeactivateVc
//!   "notifies NDIS that there will be no further transfers on a
//!   particular active VC", and "When NdisMCmDeleteVc returns control, the
//!   NdisVcHandle is no longer valid. The MCM driver can release the
//!   resources it allocated to maintain state about the deleted VC"
//!   (Microsoft Learn, NdisMCmDeactivateVc and NdisMCmDeleteVc): a call NDIS
//!   has made with the context but the driver cannot have seen would make
//!   that permission unsound, so NDIS does not have one in flight when the
//!   deletion returns. The drain rule ("Before it deactivates a VC, the
//!   miniport driver must complete any pending transfers on the VC",
//!   NdisMCoDeactivateVcComplete) is about the sends the miniport has,
//!   which is why a send that sees CLOSING completes before it does
//!   anything else. ndis-emu models that window as NDIS's: it dispatches a
//!   send and enters its handler in one step, and until the handler has
//!   come back from a DDI call and made another it neither counts the send
//!   against a deactivation on another CPU nor lets the VC be deleted under
//!   it (ndis-emu's `ffi/data.rs`, "NDIS's window"). covmini counts itself
//!   before its first DDI call; a send that sees CLOSING makes its
//!   completion its only DDI call and writes nothing after it (a count it
//!   gave back after the completion could land in a context the close,
//!   which did not wait for it, freed meanwhile: `tests/send_race.rs`'s
//!   threaded test found that write).
//!
//! * **Pause.** Every send NBL is admitted through the adapter's data-path
//!   gate ([`crate::adapter::Lifecycle`]) and counted until it is
//!   completed. While the adapter is Pausing or Paused a send is refused,
//!   each NBL with NDIS_STATUS_PAUSED (MiniportPause \[D\]), so no new
//!   receive is indicated either. A pause that found sends held pends; the
//!   completion that releases the last of them (here, or in
//!   MiniportReturnNetBufferLists once the protocol returned the last
//!   receive NBL) calls NdisMPauseComplete, after the send completions.
//!
//! * **Views.** Every walk of an NBL chain, a NET_BUFFER chain or an
//!   NBL's fields (Next, Status, SourceHandle, MiniportReserved, the
//!   NET_BUFFER's MDL fields) is `super::nbl`'s, behind types that say who
//!   holds what (`SendChain`, `SendNbl`, `LentSend`, `Share`, `RxNbl`,
//!   `RxChain`, `Returned`, `Completions`). This file keeps the NDIS calls
//!   and the few `unsafe` constructors that turn what NDIS handed over into
//!   those views.
//!
//! No send is ever queued: each one is either completed in the send handler
//! or lent to the receiver, and a lent receive cannot be recalled. So
//! MiniportCancelSend has nothing to cancel.

use ndis_sys::*;

use super::cm_context::{Inside, Signed, VcContext};
use super::context::AdapterContext;
use super::effects::perform;
use super::nbl::{AfterIndication, Completions, LentSend, Returned, RxChain, SendChain, SendNbl};
use super::trace::WARN;
use crate::call_manager::{MAX_LEAVES, Refusal, Route};

/// Indicates `seg` on `target` (its SourceHandle is already the target's
/// NdisVcHandle) and returns its head: covmini's again when `flags` carry
/// NDIS_RECEIVE_FLAGS_RESOURCES, NDIS's otherwise.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL, as `flags` say.
fn indicate(target: &VcContext, seg: RxChain, flags: ULONG) -> PNET_BUFFER_LIST {
    let count = seg.len();
    let head = seg.into_raw();
    // SAFETY: `count` of covmini's own receive NBLs, given up by their chain,
    // each lending a NET_BUFFER of a send covmini holds, SourceHandle = the
    // target's NdisVcHandle, on a VC the core says is active and has pinned
    // for these receives.
    unsafe { NdisMCoIndicateReceiveNetBufferLists(target.ndis(), head, count, flags) };
    head
}

/// MiniportCoSendNetBufferLists, past the context check.
///
/// Each send NBL of n NET_BUFFERs is indicated to every target of the route
/// (one for a point-to-point or echo call, every connected leaf for a
/// multipoint root): n receive NBLs per target, all taken at once, so a
/// send reaches every target or (too few receive NBLs) none and completes
/// with NDIS_STATUS_RESOURCES. The send's outstanding count is n × targets
/// from the start; whoever brings it to zero (the last return, or this
/// handler after an indication with NDIS_RECEIVE_FLAGS_RESOURCES) completes
/// it. The send is not read after its last share was indicated
/// ([`AfterIndication`], `nbl::LentSend::lent_out`).
///
/// # Safety
/// `nbls` is the chain NDIS handed MiniportCoSendNetBufferLists on `vc`.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub(super) unsafe fn send(vc: &VcContext, nbls: PNET_BUFFER_LIST, send_flags: ULONG) {
    // SAFETY: NULL or the chain NDIS handed MiniportCoSendNetBufferLists
    // (precondition): NULL-terminated, its NBLs and NET_BUFFERs covmini's
    // alone until completed, and `nbls` is not used again, so the SendChain
    // alone names them.
    let Some(mut chain) = (unsafe { SendChain::from_raw(nbls) }) else {
        return;
    };
    // First act on the context, before any lock or NDIS call: the handshake
    // with the close (module docs). From here until `inside` leaves, `vc`
    // lives and its VC is not deactivated under this send. A send that
    // finds the close begun takes no count
    // (`VcContext::enter_unless_closing`).
    let inside = vc.enter_unless_closing();
    let adapter = vc.adapter();
    let flags = SendFlags::of(send_flags);
    let (sends, receives) = chain.count();
    let Some(inside) = inside else {
        // The VC is closing (contract §3.3 [I]: VC_NOT_ACTIVATED). The close
        // began before this handler entered and did not wait for it, and no
        // count was taken: nothing is taken, everything this handler needs
        // from the context is read before its one NDIS call, the
        // completion, and nothing is touched after it (module docs, "The
        // window"): the close may delete and free the VC once it is made.
        // SAFETY: refuse's precondition: the chain as NDIS gave it, with its
        // `sends`; the VC's handle is valid for this completion: NDIS does
        // not finish deleting a VC under a call it made with it that the
        // driver has not yet seen through an NDIS call (module docs, "The
        // window"), and this is this call's first.
        unsafe { refuse(vc, chain, sends, NDIS_STATUS_VC_NOT_ACTIVATED, flags.complete) };
        return;
    };
    if let Err(state) = adapter.admit_sends(sends) {
        // Pausing or paused: "Rejects all new send requests ... It should set
        // the complete status in each NET_BUFFER_LIST to NDIS_STATUS_PAUSED"
        // (MiniportPause [D]). Nothing was pinned or taken.
        trace!(WARN, "CoSendNetBufferLists while {:?}: {} NBL(s) refused", state, sends);
        // SAFETY: refuse's precondition: the chain as NDIS gave it, with its
        // `sends`, on a VC whose handle is valid while this handler is
        // inside.
        unsafe { refuse(vc, chain, sends, NDIS_STATUS_PAUSED, flags.complete) };
        inside.leave();
        return;
    }
    let route = match route_of(vc, sends, receives) {
        Ok(route) => route,
        Err(status) => {
            // The context lives and the VC is not deactivated (let alone
            // deleted) while this handler is inside, though the core may
            // have let the VC go closing.
            // SAFETY: refuse's precondition: the chain as NDIS gave it, with
            // its `sends`, on a VC whose handle is valid while this handler
            // is inside.
            unsafe { refuse(vc, chain, sends, status, flags.complete) };
            inside.leave();
            adapter.release_sends(sends);
            return;
        }
    };
    deliver_all(vc, inside, &route, chain, &flags);
}

/// The flags a send's completion and its receives' indications carry:
/// DISPATCH_LEVEL when the send came at DISPATCH_LEVEL.
struct SendFlags {
    complete: ULONG,
    receive: ULONG,
}

impl SendFlags {
    fn of(send_flags: ULONG) -> Self {
        let at_dispatch = send_flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0;
        Self {
            complete: if at_dispatch {
                NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
            } else {
                0
            },
            receive: if at_dispatch {
                NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
            } else {
                0
            },
        }
    }
}

/// The pins a send hands back to the core at its end: one per send NBL
/// completed here, and per target (in route order) one per receive NBL
/// that is back here (never lent, or lent with RESOURCES).
struct Pins {
    sends: u32,
    receives: [u32; MAX_LEAVES],
}

impl Pins {
    fn new() -> Self {
        Self {
            sends: 0,
            receives: [0; MAX_LEAVES],
        }
    }
}

/// Completes the whole `chain` of `sends` NBLs on `vc` with `status`,
/// counting them failed: the send's only NDIS call when it refuses.
///
/// # Safety
/// `chain` is the chain NDIS handed MiniportCoSendNetBufferLists on `vc`,
/// and `vc`'s NdisVcHandle is valid for this completion (the caller says
/// why).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL, as `complete_flags` say.
unsafe fn refuse(vc: &VcContext, mut chain: SendChain, sends: u32, status: NDIS_STATUS, complete_flags: ULONG) {
    chain.set_status(status);
    vc.counters().failed(u64::from(sends));
    vc.adapter().counters().failed(u64::from(sends));
    let ndis_vc = vc.ndis();
    // SAFETY: the chain as NDIS gave it (precondition), completed once on
    // its VC, whose handle is valid for it (precondition); nothing reads
    // the context after it.
    unsafe { NdisMCoSendNetBufferListsComplete(ndis_vc, chain.into_raw(), complete_flags) };
}

/// The core's route for a send of `sends` NBLs (`receives` NET_BUFFERs) on
/// `vc`, pinned; else the status its NBLs complete with: a leaf does not
/// send (the call carries data root to leaves): FAILURE,
/// NET_BUFFER_LIST.Status's "any other reason"; not active, closing, or
/// its peer is going: VC_NOT_ACTIVATED (contract §3.3 [I]).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL; takes the adapter lock.
fn route_of(vc: &VcContext, sends: u32, receives: u32) -> Result<Route<usize>, NDIS_STATUS> {
    let route = {
        let mut cm = vc.adapter().cm();
        if cm.vc_is(vc.id(), vc.token()) {
            cm.route(vc.id(), sends, receives)
        } else {
            Err(Refusal::Invalid)
        }
    };
    route.map_err(|r| {
        if r == Refusal::LeafSend {
            r.status()
        } else {
            NDIS_STATUS_VC_NOT_ACTIVATED
        }
    })
}

/// Delivers one send NBL of `vc` to every target of `route`, or completes
/// it into `done` (empty, or too few receive NBLs), counting in `pins`
/// what comes back here.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL, as `receive_flags` say.
fn deliver(
    vc: &VcContext,
    route: &Route<usize>,
    send: SendNbl,
    receive_flags: ULONG,
    done: &mut Completions,
    pins: &mut Pins,
) {
    let adapter = vc.adapter();
    let (n, bytes) = send.measure();
    if n == 0 {
        // Nothing to deliver: an empty NBL is sent (to nobody) at once.
        done.push(send, NDIS_STATUS_SUCCESS);
        pins.sends += 1;
        return;
    }
    // CAST: at most MAX_LEAVES (16) targets.
    let total = n.saturating_mul(route.len() as u32);
    let Some((mut rx, low)) = adapter.rx().take_chain(total) else {
        done.push(send, NDIS_STATUS_RESOURCES);
        vc.counters().failed(1);
        adapter.counters().failed(1);
        pins.sends += 1;
        for back in pins.receives.iter_mut() {
            *back += n;
        }
        return;
    };
    // The outstanding count (every share, all of them this handler's
    // until indicated) and the sender, for the return path.
    let mut lent = Some(send.lend(total, vc.token()));
    vc.counters().sent(u64::from(n), bytes);
    adapter.counters().sent(u64::from(n), bytes);
    let flags = receive_flags | if low { NDIS_RECEIVE_FLAGS_RESOURCES } else { 0 };
    for ((_, token), back) in route.targets().zip(pins.receives.iter_mut()) {
        let Some(held) = lent.take() else { break };
        // SAFETY: the core pinned the target for these receives: it lives.
        let target = unsafe { VcContext::from_token(token) };
        let seg = rx.lend_segment(&held, n, target.ndis(), target.token());
        target.counters().received(u64::from(n), bytes);
        adapter.counters().received(u64::from(n), bytes);
        if !low {
            // The n shares go to NDIS with their NBLs: after the last
            // target's indication this handler holds none, and the send
            // may be completed on another CPU: it is not touched again.
            lent = held.lent_out(n);
            indicate(target, seg, flags);
            continue;
        }
        let seg = indicate(target, seg, flags);
        // SAFETY: `seg` was just indicated with NDIS_RECEIVE_FLAGS_RESOURCES
        // on `target`, from this adapter's free list (`take_chain` above).
        lent = unsafe { take_back(adapter, seg, held, n, back, done, &mut pins.sends) };
    }
}

/// After an indication with NDIS_RECEIVE_FLAGS_RESOURCES the NBLs are
/// covmini's again: puts them back on the free list (the sender's data was
/// only borrowed during the indication), counts their `n` pins back in
/// `back`, and gives `held` its `n` shares back: the send, if shares remain
/// lent or held, or (its last share back) into `done`.
///
/// # Safety
/// `seg` is the head of covmini's receive NBLs, from this adapter's free
/// list, that were just indicated with NDIS_RECEIVE_FLAGS_RESOURCES.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL; takes the free list's lock per NBL.
unsafe fn take_back(
    adapter: &AdapterContext,
    seg: PNET_BUFFER_LIST,
    held: LentSend,
    n: u32,
    back: &mut u32,
    done: &mut Completions,
    sends_back: &mut u32,
) -> Option<LentSend> {
    // SAFETY: covmini's receive NBLs, from this adapter's pool, indicated
    // with NDIS_RECEIVE_FLAGS_RESOURCES (precondition): NDIS gave them back
    // when the call returned; `seg` is not used again.
    for r in unsafe { Returned::from_raw(seg) } {
        // SAFETY: from this adapter's free list (precondition).
        unsafe { adapter.rx().put(r) };
    }
    *back += n;
    match held.came_back(n) {
        AfterIndication::Held(held) => Some(held),
        AfterIndication::Back(send) => {
            // The last share is back: the send is ours alone.
            done.push(send, NDIS_STATUS_SUCCESS);
            *sends_back += 1;
            None
        }
        AfterIndication::Lent => None,
    }
}

/// An admitted, routed send: delivers each NBL of `chain` ([`deliver`]),
/// then completes the NBLs done here, gives the core back the pins that
/// came back here (the sender's, then each target's) and last the
/// handler's place inside `vc`, one VC at a time, performing what the
/// core decided for each before the next, and releases the completed sends
/// from the data-path gate (a pending pause completes after them).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL, as `flags` say.
fn deliver_all(vc: &VcContext, inside: Inside<'_>, route: &Route<usize>, chain: SendChain, flags: &SendFlags) {
    let adapter = vc.adapter();
    let mut done = Completions::new();
    let mut pins = Pins::new();
    // Each NBL is detached (its successor read first) before it is lent.
    for send in chain {
        deliver(vc, route, send, flags.receive, &mut done, &mut pins);
    }
    let completed_here = done.count();
    if let Some(head) = done.into_raw() {
        // SAFETY: send NBLs NDIS gave covmini on this VC, each completed
        // once, Status set; the VC's handle is valid while this handler is
        // inside.
        unsafe { NdisMCoSendNetBufferListsComplete(vc.ndis(), head, flags.complete) };
    }
    // One VC's pins at a time, its effects performed before the next: each
    // drop may finish a close (deactivate, complete, delete: up to six
    // effects), and a root's send drops the pins of up to MAX_LEAVES
    // leaves, more than one effect list holds (a list that overflows loses
    // effects the core has already acted on: a close never completed).
    if pins.sends > 0 {
        let fx = adapter.cm().unpin(vc.id(), pins.sends);
        perform(adapter, &fx);
    }
    for ((target, _), back) in route.targets().zip(pins.receives) {
        if back > 0 {
            let fx = adapter.cm().unpin(target, back);
            perform(adapter, &fx);
        }
    }
    // Last use of `vc`: the effects may delete it.
    let fx = inside.leave_locked(&mut adapter.cm());
    perform(adapter, &fx);
    // Last: a pending pause completes after the completions it waited for.
    adapter.release_sends(completed_here);
}

/// MiniportReturnNetBufferLists: each receive NBL goes back on the free
/// list; a send whose last receive came back is completed with SUCCESS; the
/// pins are dropped, which may finish a pended close; the send leaves the
/// data-path gate, which may complete a pending pause.
///
/// # Safety
/// `nbls` is a chain of receive NBLs covmini indicated on this adapter
/// (without RESOURCES).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub(super) unsafe fn return_nbls(adapter: &AdapterContext, nbls: PNET_BUFFER_LIST, return_flags: ULONG) {
    let complete_flags = if return_flags & NDIS_RETURN_FLAGS_DISPATCH_LEVEL != 0 {
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    // SAFETY: NDIS gives back, in MiniportReturnNetBufferLists, NBLs of this
    // adapter's receive pool that covmini indicated (precondition); `nbls`
    // is not used again.
    let returned = unsafe { Returned::from_raw(nbls) };
    for mut rx in returned {
        // The tags `lend` wrote, taken before the NBL is recycled.
        let share = rx.take_share();
        // SAFETY: one of this adapter's pool NBLs (precondition).
        unsafe { adapter.rx().put(rx) };
        let Some((share, receiver)) = share else {
            trace!(WARN, "ReturnNetBufferLists: an NBL covmini did not lend");
            continue;
        };
        let last = share.release();
        // SAFETY: the receiving VC, pinned while this NBL was out; the pin
        // goes below, after this context's last use.
        let receiver = unsafe { VcContext::from_token(receiver) };
        if let Some((send, sender_token)) = last {
            // SAFETY: the sender, pinned while this send is held (its last
            // share came back just now, and the pin goes below).
            let sender = unsafe { VcContext::from_token(sender_token) };
            let send = send.finish(NDIS_STATUS_SUCCESS);
            // SAFETY: NDIS's send NBL, covmini's alone again (its last share
            // is back), completed once on the VC it was sent on, whose
            // handle is valid while the send's pin holds it.
            unsafe { NdisMCoSendNetBufferListsComplete(sender.ndis(), send, complete_flags) };
            // Both pins under one lock, after the completion: the receiver's
            // pin is held across it (a close of the receiver waits that
            // much longer), and its effects come first, as before.
            // The guard is dropped by name, not by a block the effects
            // would be moved (copied) out of.
            let mut cm = adapter.cm();
            let mut fx = cm.unpin(receiver.id(), 1);
            fx.extend(cm.unpin(sender.id(), 1));
            drop(cm);
            perform(adapter, &fx);
            // The send is completed: a pending pause may complete now.
            adapter.release_sends(1);
        } else {
            let fx = adapter.cm().unpin(receiver.id(), 1);
            perform(adapter, &fx);
        }
    }
}
