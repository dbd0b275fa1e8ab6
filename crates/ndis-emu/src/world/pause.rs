//! The data path's pause state (a field of the world): where the data path
//! is ([`DataPath`]), the pause in flight, and what holding clients keep.
//!
//! It owns that state only; the rules of a pause and the calls that move it
//! are `crate::pause`. A leaf of the world: it must not name the world nor
//! anything that does.

use std::collections::{BTreeMap, BTreeSet};

use crate::condis::ClientId;

/// The adapter's data path as NDIS sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataPath {
    /// Initialized or paused (a completed pause): no data flows.
    #[default]
    Paused,
    /// MiniportRestart succeeded.
    Running,
    /// MiniportPause is running, or returned PENDING and its
    /// NdisMPauseComplete has not come yet.
    Pausing,
}

/// The pause bookkeeping and the holding clients (a field of the world).
#[derive(Debug, Default)]
pub struct PauseState {
    /// Where the data path is.
    pub data_path: DataPath,
    /// MiniportPause is running now.
    pub(crate) in_handler: bool,
    /// NdisMPauseComplete came while MiniportPause was still running (legal
    /// only if it then returns PENDING).
    pub(crate) early: bool,
    /// Clients that keep the receive NBLs indicated to them.
    pub(crate) holding: BTreeSet<ClientId>,
    /// What each of them keeps: (VC, NBLs of one indication), oldest first.
    pub(crate) held: BTreeMap<ClientId, Vec<(usize, Vec<usize>)>>,
    /// Send NBLs whose MiniportCoSendNetBufferLists has not returned yet:
    /// on another CPU the driver may not have seen them when a pause
    /// completes, so the drain check leaves them out.
    pub(crate) sending: BTreeSet<usize>,
}

impl PauseState {
    /// NBLs on their way into MiniportCoSendNetBufferLists.
    pub(crate) fn sending(&mut self, nbls: &[usize]) {
        self.sending.extend(nbls.iter().copied());
    }

    /// MiniportCoSendNetBufferLists returned for these NBLs.
    pub(crate) fn sent(&mut self, nbls: &[usize]) {
        for n in nbls {
            self.sending.remove(n);
        }
    }

    /// MiniportRestart returned SUCCESS (or is about to run: the data path
    /// may flow from the moment the driver opens it inside).
    pub(crate) fn restarted(&mut self) {
        self.data_path = DataPath::Running;
    }

    /// NDIS is about to call MiniportPause.
    pub(crate) fn pause_begins(&mut self) {
        self.data_path = DataPath::Pausing;
        self.in_handler = true;
        self.early = false;
    }

    /// Whether MiniportPause has to be called before a halt.
    pub(crate) fn running(&self) -> bool {
        self.data_path == DataPath::Running
    }

    /// An indication of `nbls` on `vc` to `client`: true when the client
    /// keeps them (they stay indicated until the client returns them,
    /// `crate::Emulator::return_held`).
    pub(crate) fn keep(&mut self, client: ClientId, vc: usize, nbls: &[usize]) -> bool {
        if !self.holding.contains(&client) {
            return false;
        }
        self.held.entry(client).or_default().push((vc, nbls.to_vec()));
        true
    }

    /// Whether `client` keeps the receive NBLs indicated to it from now on.
    pub(crate) fn hold(&mut self, client: ClientId, hold: bool) {
        if hold {
            self.holding.insert(client);
        } else {
            self.holding.remove(&client);
        }
    }

    /// The receive NBLs `client` holds now.
    pub(crate) fn held_count(&self, client: ClientId) -> usize {
        self.held
            .get(&client)
            .map_or(0, |h| h.iter().map(|(_, n)| n.len()).sum())
    }
}
