//! What the glue must do after a core method returns, in order.
//!
//! The core decides under the adapter lock; the glue performs the effects
//! after releasing it, because NDIS re-enters the driver from most of these
//! calls (contract §2.3). `H` is the glue's token for a context.

use ndis_sys::NDIS_STATUS;

/// One NDIS call (or context release) the glue performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect<H> {
    /// `NdisMCmCreateVc` for the VC's context on the AF (a callee's or a
    /// leaf's VC); a set-up step: its status goes to `CallManager::resume`.
    CreateVc {
        /// The new VC's context.
        vc: H,
        /// The AF it is created on.
        af: H,
    },
    /// `NdisMCmActivateVc` on the VC, with covmini's own parameters for its
    /// call (its call block); a set-up step.
    ActivateVc(H),
    /// `NdisMCmDispatchIncomingCall` on the SAP for the (activated, MCM)
    /// VC, with its call block's parameters; a set-up step. The client may
    /// answer inside (ProtocolCmIncomingCallComplete).
    DispatchIncomingCall {
        /// The SAP the call is offered on.
        sap: H,
        /// The VC offered.
        vc: H,
    },
    /// `NdisMCmDeactivateVc` on the VC.
    DeactivateVc(H),
    /// `NdisMCmDispatchCallConnected` on the (MCM-created) VC.
    DispatchCallConnected(H),
    /// `NdisMCmMakeCallComplete(status)` for a make call the handler pended.
    CompleteMakeCall(H, NDIS_STATUS),
    /// `NdisMCmDispatchIncomingCloseCall(SUCCESS)` on the VC: its peer hung up.
    DispatchIncomingClose(H),
    /// `NdisMCmCloseCallComplete(SUCCESS)` for a close the handler pended.
    CompleteCloseCall(H),
    /// `NdisMCmDeleteVc` on an MCM-created, deactivated VC, then free its context.
    DeleteVc(H),
    /// Free a client-created VC's context (ProtocolCoDeleteVc).
    FreeVc(H),
    /// `NdisMCmDeregisterSapComplete(SUCCESS)` for a pended deregistration.
    CompleteDeregisterSap(H),
    /// Free a SAP context.
    FreeSap(H),
    /// `NdisMCmCloseAddressFamilyComplete(SUCCESS)` for a pended close.
    CompleteCloseAf(H),
    /// Free an AF context.
    FreeAf(H),
    /// An AF MiniportHaltEx waits for is done with (closed, its context
    /// freed or kept only for a notification still due): take one off
    /// halt's count (`CallManager::begin_halt`).
    HaltAfDone,
    /// `NdisMCmMakeCallComplete(status)` for a pended multipoint make call
    /// (root VC, initial party): the party's context goes with SUCCESS.
    CompleteMakeCallParty(H, H, NDIS_STATUS),
    /// `NdisMCmAddPartyComplete(status)` for a pended add party.
    CompleteAddParty(H, NDIS_STATUS),
    /// `NdisMCmDispatchIncomingDropParty(SUCCESS)`: the party's leaf hung
    /// up and the root has other parties. The party is pinned for the call:
    /// the glue ends with `CallManager::party_dispatched`.
    DispatchIncomingDropParty(H),
    /// `NdisMCmDropPartyComplete(SUCCESS)` for a pended drop party.
    CompleteDropParty(H),
    /// Free a party context.
    FreeParty(H),
}

/// The longest list any core method returns (a pended multipoint make call
/// whose initial party is refused, with the leaf's AF close finishing: 7,
/// and 8 at halt, where that close also releases halt's hold on the AF; a
/// close of an MCM-created VC that also finishes its AF's pended close: 6,
/// 7 at halt). Per-party work at a root's close is asked for one party at a time
/// (`CallManager::detach_party`), so no list grows with the parties.
pub const MAX_EFFECTS: usize = 8;

/// An ordered, fixed-capacity list of effects (no allocation).
///
/// INVARIANT: `len <= MAX_EFFECTS` and `items[..len]` are all `Some`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effects<H> {
    items: [Option<Effect<H>>; MAX_EFFECTS],
    len: usize,
    overflowed: bool,
}

impl<H: Copy> Default for Effects<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Copy> Effects<H> {
    /// No effects.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            items: [None; MAX_EFFECTS],
            len: 0,
            overflowed: false,
        }
    }

    /// Appends an effect. The capacity covers every path (checked by the
    /// unit tests through [`Self::overflowed`]); should it not, the effect is
    /// dropped and the overflow recorded rather than panicking.
    pub fn push(&mut self, effect: Effect<H>) {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(effect);
                // INVARIANT: the slot just filled was at `len < MAX_EFFECTS`.
                self.len += 1;
            }
            None => self.overflowed = true,
        }
    }

    /// Appends all of `other`.
    pub fn extend(&mut self, other: Self) {
        for e in other.iter() {
            self.push(e);
        }
        self.overflowed |= other.overflowed;
    }

    /// The effects in order.
    pub fn iter(&self) -> impl Iterator<Item = Effect<H>> + '_ {
        self.items.iter().take(self.len).flatten().copied()
    }

    /// How many effects there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether an effect was dropped for lack of room (a core bug).
    #[must_use]
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_keep_their_order_and_report_overflow() {
        let mut e = Effects::<u8>::new();
        assert!(e.is_empty());
        for i in 0..MAX_EFFECTS {
            e.push(Effect::FreeVc(i as u8));
        }
        assert!(!e.overflowed());
        e.push(Effect::FreeVc(99));
        assert!(e.overflowed());
        assert_eq!(e.len(), MAX_EFFECTS);
        assert_eq!(e.iter().next(), Some(Effect::FreeVc(0)));
    }
}
