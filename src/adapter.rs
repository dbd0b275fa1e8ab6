//! The adapter lifecycle, as a state machine with no FFI, and the data-path
//! gate that makes a pause wait for the sends covmini holds.
//!
//! NDIS 6 miniport states (MiniportInitializeEx leaves the adapter *Paused*;
//! NDIS then restarts it; it pauses it again before HaltEx). A pause that
//! finds sends in flight leaves the adapter *Pausing* until the last one is
//! completed ("Pausing an Adapter", MiniportPause \[D\]):
//!
//! ```text
//!  Initializing --InitComplete--> Paused --Restart--> Running
//!                                  ^ ^ |                 |
//!                                  | | +--Halt--> Halted |
//!                                  | +-----PauseDrained--+-- Pausing
//!                                  +--------Pause----------+ (nothing in flight)
//! ```
//!
//! The glue in `ffi` asks [`Lifecycle`] for the transition and refuses
//! (with a trace and the NDIS status the handler owes) whatever it rejects,
//! so an NDIS that calls handlers out of order cannot corrupt the adapter.
//!
//! # The data-path gate
//!
//! [`Lifecycle`] also counts the send NBLs covmini holds (`in_flight`): a
//! send is admitted only while the adapter is Running, and is counted from
//! MiniportCoSendNetBufferLists until NdisMCoSendNetBufferListsComplete. A
//! send NBL is held exactly as long as a receive NBL that lends its data is
//! indicated to (held by) a protocol (`ffi::data`), so "nothing in flight"
//! is MiniportPause's condition: every send completed and every receive
//! returned. The count and the state move together under one lock, so a
//! send is either admitted before the pause (and the pause waits for it) or
//! refused after it (NDIS_STATUS_PAUSED), never lost between the two.

use core::fmt;

/// Where the adapter is in its NDIS lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterState {
    /// Inside MiniportInitializeEx.
    Initializing,
    /// Initialized or paused: no sends, no receives, no status indications
    /// other than the ones NDIS allows while paused.
    Paused,
    /// MiniportPause returned NDIS_STATUS_PENDING: new sends are refused and
    /// the pause completes (NdisMPauseComplete) with the last one in flight.
    Pausing,
    /// Running: the data path is open.
    Running,
    /// MiniportHaltEx has run; the context is about to be freed.
    Halted,
}

/// What NDIS asks of the adapter (and the one event the data path makes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterEvent {
    /// MiniportInitializeEx finished its work successfully.
    InitComplete,
    /// MiniportRestart.
    Restart,
    /// MiniportPause.
    Pause,
    /// The last send in flight of a pending pause completed.
    PauseDrained,
    /// MiniportHaltEx.
    Halt,
}

/// A transition the lifecycle does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTransition {
    /// The state the adapter was in.
    pub from: AdapterState,
    /// The event that was refused.
    pub event: AdapterEvent,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "adapter event {:?} is not valid in state {:?}",
            self.event, self.from
        )
    }
}

impl AdapterState {
    /// The state after `event`, or why the event is refused.
    pub fn on(self, event: AdapterEvent) -> Result<Self, InvalidTransition> {
        use AdapterEvent as E;
        use AdapterState as S;
        match (self, event) {
            // InitializeEx returns with the adapter paused (NDIS 6 state model).
            (S::Initializing, E::InitComplete) => Ok(S::Paused),
            // Restart opens the data path ("NDIS calls MiniportRestart ... for a
            // miniport adapter that is paused", MiniportPause [D]).
            (S::Paused, E::Restart) => Ok(S::Running),
            // Pause must not fail (MiniportPause); the adapter is Pausing until
            // it has nothing in flight. Pausing a paused or pausing adapter is
            // refused rather than silently accepted: NDIS never does it ("NDIS
            // does not initiate other PnP operations ... in the Pausing state").
            (S::Running, E::Pause) => Ok(S::Pausing),
            // The last send came back: the pause is complete.
            (S::Pausing, E::PauseDrained) => Ok(S::Paused),
            // NDIS halts only a paused adapter.
            (S::Paused, E::Halt) => Ok(S::Halted),
            (from, event) => Err(InvalidTransition { from, event }),
        }
    }

    /// Whether sends and receives may flow.
    #[must_use]
    pub fn data_path_open(self) -> bool {
        matches!(self, Self::Running)
    }
}

/// How MiniportPause ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseOutcome {
    /// Nothing was in flight: the adapter is Paused (return SUCCESS).
    Complete,
    /// Sends are in flight: the adapter is Pausing (return PENDING; the
    /// data path calls NdisMPauseComplete with the last one).
    Pending,
}

/// The adapter's state and the count of send NBLs it holds, kept together.
///
/// INVARIANT: `in_flight` is 0 whenever `state` is Paused, Initializing or
/// Halted (sends are admitted only while Running, and a pause completes only
/// at 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    state: AdapterState,
    in_flight: u32,
}

impl Lifecycle {
    /// A new adapter, inside MiniportInitializeEx.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            state: AdapterState::Initializing,
            in_flight: 0,
        }
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> AdapterState {
        self.state
    }

    /// Send NBLs covmini holds now.
    #[must_use]
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Applies `event` (InitComplete, Restart, Halt); the state is unchanged
    /// when it is refused. A pause goes through [`Self::pause`].
    pub fn transition(&mut self, event: AdapterEvent) -> Result<AdapterState, InvalidTransition> {
        if matches!(event, AdapterEvent::Pause | AdapterEvent::PauseDrained) {
            return Err(InvalidTransition {
                from: self.state,
                event,
            });
        }
        self.state = self.state.on(event)?;
        Ok(self.state)
    }

    /// MiniportPause: Paused at once with nothing in flight, else Pausing.
    pub fn pause(&mut self) -> Result<PauseOutcome, InvalidTransition> {
        let pausing = self.state.on(AdapterEvent::Pause)?;
        if self.in_flight == 0 {
            self.state = pausing.on(AdapterEvent::PauseDrained)?;
            Ok(PauseOutcome::Complete)
        } else {
            self.state = pausing;
            Ok(PauseOutcome::Pending)
        }
    }

    /// Admits `sends` send NBLs into the data path, or says why not (the
    /// state: Pausing or Paused mean NDIS_STATUS_PAUSED).
    pub fn admit(&mut self, sends: u32) -> Result<(), AdapterState> {
        if !self.state.data_path_open() {
            return Err(self.state);
        }
        self.in_flight = self.in_flight.saturating_add(sends);
        Ok(())
    }

    /// `sends` admitted send NBLs were completed. True when this completes a
    /// pending pause: the caller then calls NdisMPauseComplete, once.
    pub fn release(&mut self, sends: u32) -> bool {
        self.in_flight = self.in_flight.saturating_sub(sends);
        if self.in_flight == 0
            && let Ok(next) = self.state.on(AdapterEvent::PauseDrained)
        {
            self.state = next;
            return true;
        }
        false
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::AdapterEvent as E;
    use super::AdapterState as S;
    use super::*;

    const ALL_STATES: [S; 5] = [S::Initializing, S::Paused, S::Pausing, S::Running, S::Halted];
    const ALL_EVENTS: [E; 5] = [E::InitComplete, E::Restart, E::Pause, E::PauseDrained, E::Halt];

    fn running() -> Lifecycle {
        let mut l = Lifecycle::new();
        l.transition(E::InitComplete).unwrap();
        l.transition(E::Restart).unwrap();
        l
    }

    #[test]
    fn the_ndis_lifecycle_is_accepted_in_order() {
        let s = S::Initializing.on(E::InitComplete).unwrap();
        assert_eq!(s, S::Paused);
        let s = s.on(E::Restart).unwrap();
        assert!(s.data_path_open());
        let s = s.on(E::Pause).unwrap().on(E::PauseDrained).unwrap();
        let s = s
            .on(E::Restart)
            .unwrap()
            .on(E::Pause)
            .unwrap()
            .on(E::PauseDrained)
            .unwrap();
        assert_eq!(s.on(E::Halt), Ok(S::Halted));
    }

    #[test]
    fn exactly_five_transitions_are_legal_and_the_rest_name_state_and_event() {
        let mut legal = 0;
        for from in ALL_STATES {
            for event in ALL_EVENTS {
                match from.on(event) {
                    Ok(_) => legal += 1,
                    Err(e) => assert_eq!(e, InvalidTransition { from, event }),
                }
            }
        }
        assert_eq!(legal, 5);
    }

    #[test]
    fn halt_while_running_or_pausing_is_refused() {
        assert!(S::Running.on(E::Halt).is_err());
        assert!(S::Pausing.on(E::Halt).is_err());
    }

    #[test]
    fn nothing_leaves_halted() {
        for event in ALL_EVENTS {
            assert!(S::Halted.on(event).is_err());
        }
    }

    #[test]
    fn a_pause_with_nothing_in_flight_completes_at_once() {
        let mut l = running();
        assert_eq!(l.pause(), Ok(PauseOutcome::Complete));
        assert_eq!(l.state(), S::Paused);
        assert_eq!(l.admit(1), Err(S::Paused));
    }

    #[test]
    fn a_pause_with_sends_held_pends_until_the_last_is_released_once() {
        let mut l = running();
        l.admit(3).unwrap();
        assert_eq!(l.pause(), Ok(PauseOutcome::Pending));
        assert_eq!(l.state(), S::Pausing);
        // New sends are refused while pausing; the held ones still count.
        assert_eq!(l.admit(1), Err(S::Pausing));
        assert!(!l.release(2));
        assert_eq!(l.state(), S::Pausing);
        assert!(l.release(1), "the last release completes the pause");
        assert_eq!(l.state(), S::Paused);
        assert!(!l.release(1), "a pause completes once");
        assert_eq!(l.in_flight(), 0);
    }

    #[test]
    fn releases_while_running_never_complete_a_pause() {
        let mut l = running();
        l.admit(2).unwrap();
        assert!(!l.release(2));
        assert_eq!(l.state(), S::Running);
    }

    #[test]
    fn restart_reopens_the_data_path_and_pause_goes_only_through_pause() {
        let mut l = running();
        assert_eq!(l.pause(), Ok(PauseOutcome::Complete));
        assert!(l.transition(E::Pause).is_err());
        assert!(l.transition(E::PauseDrained).is_err());
        assert_eq!(
            l.pause(),
            Err(InvalidTransition {
                from: S::Paused,
                event: E::Pause
            })
        );
        assert_eq!(l.transition(E::Restart), Ok(S::Running));
        assert_eq!(l.admit(1), Ok(()));
    }
}
