//! The adapter lifecycle, as a state machine with no FFI.
//!
//! NDIS 6 miniport states (MiniportInitializeEx leaves the adapter *Paused*;
//! NDIS then restarts it; it pauses it again before HaltEx):
//!
//! ```text
//!  Initializing --InitComplete--> Paused --Restart--> Running
//!                                   ^  |                 |
//!                                   |  +--Halt--> Halted |
//!                                   +------Pause---------+
//! ```
//!
//! The glue in `ffi` asks [`AdapterState::on`] for the transition and refuses
//! (with a trace and the NDIS status the handler owes) whatever it rejects,
//! so an NDIS that calls handlers out of order cannot corrupt the adapter.

use core::fmt;

/// Where the adapter is in its NDIS lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterState {
    /// Inside MiniportInitializeEx.
    Initializing,
    /// Initialized or paused: no sends, no receives, no status indications
    /// other than the ones NDIS allows while paused.
    Paused,
    /// Running: the data path is open.
    Running,
    /// MiniportHaltEx has run; the context is about to be freed.
    Halted,
}

/// What NDIS asks of the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterEvent {
    /// MiniportInitializeEx finished its work successfully.
    InitComplete,
    /// MiniportRestart.
    Restart,
    /// MiniportPause.
    Pause,
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
            // Restart opens the data path.
            (S::Paused, E::Restart) => Ok(S::Running),
            // Pause must not fail (MiniportPause); pausing a paused adapter is
            // refused rather than silently accepted: NDIS never does it.
            (S::Running, E::Pause) => Ok(S::Paused),
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

#[cfg(test)]
mod tests {
    use super::AdapterEvent as E;
    use super::AdapterState as S;
    use super::*;

    const ALL_STATES: [S; 4] = [S::Initializing, S::Paused, S::Running, S::Halted];
    const ALL_EVENTS: [E; 4] = [E::InitComplete, E::Restart, E::Pause, E::Halt];

    #[test]
    fn the_ndis_lifecycle_is_accepted_in_order() {
        let s = S::Initializing.on(E::InitComplete).unwrap();
        assert_eq!(s, S::Paused);
        let s = s.on(E::Restart).unwrap();
        assert!(s.data_path_open());
        let s = s.on(E::Pause).unwrap().on(E::Restart).unwrap().on(E::Pause).unwrap();
        assert_eq!(s.on(E::Halt), Ok(S::Halted));
    }

    #[test]
    fn exactly_four_transitions_are_legal_and_the_rest_name_state_and_event() {
        let mut legal = 0;
        for from in ALL_STATES {
            for event in ALL_EVENTS {
                match from.on(event) {
                    Ok(_) => legal += 1,
                    Err(e) => assert_eq!(e, InvalidTransition { from, event }),
                }
            }
        }
        assert_eq!(legal, 4);
    }

    #[test]
    fn halt_while_running_is_refused() {
        assert!(S::Running.on(E::Halt).is_err());
    }

    #[test]
    fn nothing_leaves_halted() {
        for event in ALL_EVENTS {
            assert!(S::Halted.on(event).is_err());
        }
    }
}
