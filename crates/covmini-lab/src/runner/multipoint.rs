//! The runner's point-to-multipoint steps (docs/call-manager.md, "Point to
//! multipoint"): adding a party (its leaf is the client owning the party's
//! address, offered a VC of its own), a leaf's pended answer completing the
//! root's add party, dropping a party, a root's close taking every leaf
//! with it, a leaf hanging up, and the leaves a root's send fans out to.
//!
//! Each step checks what the root and the leaves would rely on, from
//! ndis-emu's client view only (statuses, inbox lines, VC states, NDIS's
//! parties of the root VC); it must not look inside covmini.

use ndis_emu::{Event, Vc};
use ndis_sys::{NDIS_STATUS, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS};

use super::{Done, PartyRt, Receiver, Runner, call_spec};
use crate::scenario::{Flow, Target};
use crate::steps::{Counters, Step};

impl<F: FnMut(usize, &Step, &Counters, &[Event])> Runner<'_, F> {
    /// The index of a party of call `call` in `self.parties`: the one
    /// named `party`, or the first party when none is named.
    pub(super) fn party_index(&self, call: &str, party: Option<&str>) -> Option<usize> {
        self.parties.iter().position(|p| {
            p.call == call
                && match party {
                    Some(n) => p.name.as_deref() == Some(n),
                    None => p.first,
                }
        })
    }

    /// How a party is named in failures.
    fn party_name(&self, i: usize) -> String {
        self.parties.get(i).map_or_else(
            || "?".to_owned(),
            |p| {
                let leaf = p.leaf.map_or("nobody", |l| self.name(l));
                match &p.name {
                    Some(n) => format!("party {n:?} (leaf {leaf:?})"),
                    None => format!("the first party (leaf {leaf:?})"),
                }
            },
        )
    }

    /// The root VC of call `call`.
    fn root_vc(&self, call: &str) -> Option<Vc> {
        self.calls.get(call).and_then(|c| c.caller_vc)
    }

    /// Party `i` is connected: its leaf's VC is connected and active, and
    /// NDIS lists the party on the root's VC.
    pub(super) fn check_party_up(&self, i: usize) -> Result<(), Done> {
        let Some(p) = self.parties.get(i) else {
            return Ok(());
        };
        self.check_up(&format!("leaf {:?}", p.leaf.map_or("?", |l| self.name(l))), p.leaf_vc)?;
        let listed = self
            .root_vc(&p.call)
            .is_some_and(|v| self.emu.parties(v).contains(&p.handle));
        if listed {
            Ok(())
        } else {
            Err(Done {
                status: Some(NDIS_STATUS_SUCCESS),
                failure: Some(format!(
                    "{} reported SUCCESS but NDIS does not list it on the root's VC",
                    self.party_name(i)
                )),
            })
        }
    }

    /// Party `i` is gone after a failure or a drop: NDIS no longer lists it
    /// on the root's VC, and covmini deleted the VC it created for its leaf.
    /// Forgets it.
    fn party_gone(&mut self, i: usize, s: NDIS_STATUS) -> Result<Done, Done> {
        let Some(p) = (i < self.parties.len()).then(|| self.parties.remove(i)) else {
            return Ok(Done::status(s));
        };
        let fail = |why: String| {
            Err(Done {
                status: Some(s),
                failure: Some(why),
            })
        };
        let leaf = p.leaf.map_or("?", |l| self.name(l));
        if self
            .root_vc(&p.call)
            .is_some_and(|v| self.emu.parties(v).contains(&p.handle))
        {
            return fail(format!("NDIS still lists the party of leaf {leaf:?} on the root's VC"));
        }
        if let Some(state) = p.leaf_vc.and_then(|v| self.emu.vc_state(v)) {
            return fail(format!(
                "covmini did not delete the VC it created for leaf {leaf:?} (still {state:?})"
            ));
        }
        Ok(Done::status(s))
    }

    /// The root's add party of party `i` came to `s` (at once, or when its
    /// leaf answered).
    pub(super) fn party_answered(&mut self, i: usize, s: NDIS_STATUS) -> Result<Done, Done> {
        if s != NDIS_STATUS_SUCCESS {
            return self.party_gone(i, s);
        }
        if let Some(p) = self.parties.get_mut(i) {
            p.connected = true;
        }
        self.check_party_up(i)?;
        self.counters.parties_joined += 1;
        Ok(Done::status(s))
    }

    /// NdisClAddParty by the root of `call`; the new leaf's VC is the one
    /// covmini offers the client owning `to`.
    pub(super) fn add_party(&mut self, who: usize, call: &str, party: &str, to: &Target) -> Result<Done, Done> {
        let vc = self.vc_of(who, call, None)?;
        let leaf = match to {
            Target::Sap { owner, .. } => Some(*owner),
            Target::Echo | Target::Undeclared(_) => None,
        };
        let leaf_handle = leaf.and_then(|l| self.clients.get(l)).map(|c| c.handle);
        let before = leaf_handle.map(|h| self.emu.offered_vcs(h)).unwrap_or_default();
        let (s, handle) = self.emu.add_party(vc, &call_spec(to.address(), Flow::default()));
        let offered = self.new_offer(leaf_handle, &before);
        let Some(handle) = handle.filter(|_| matches!(s, NDIS_STATUS_SUCCESS | NDIS_STATUS_PENDING)) else {
            if let Some(state) = offered.and_then(|v| self.emu.vc_state(v)) {
                return Err(Done {
                    status: Some(s),
                    failure: Some(format!(
                        "covmini did not delete the VC it created for the refused leaf (still {state:?})"
                    )),
                });
            }
            if s == NDIS_STATUS_SUCCESS {
                return Err(Done {
                    status: Some(s),
                    failure: Some("NdisClAddParty returned SUCCESS without a party handle".to_owned()),
                });
            }
            return Ok(Done::status(s));
        };
        self.own(handle.0, who);
        self.parties.push(PartyRt {
            name: Some(party.to_owned()),
            call: call.to_owned(),
            handle,
            first: false,
            leaf,
            leaf_vc: offered,
            connected: false,
        });
        if s == NDIS_STATUS_SUCCESS {
            self.party_answered(self.parties.len() - 1, s)
        } else {
            Ok(Done::status(s))
        }
    }

    /// NdisClDropParty by the root: a leaf still on the call is told
    /// (IncomingCloseCall), closes, and covmini deletes its VC.
    pub(super) fn drop_party(&mut self, call: &str, party: &str) -> Result<Done, Done> {
        let i = self
            .party_index(call, Some(party))
            .ok_or_else(|| Done::fail(format!("party {party:?} was never added (its add step failed)")))?;
        let (handle, leaf, leaf_vc) = self
            .parties
            .get(i)
            .map(|p| (p.handle, p.leaf, p.leaf_vc))
            .ok_or_else(|| Done::fail("no party".into()))?;
        let leaf_handle = leaf.and_then(|l| self.clients.get(l)).map(|c| c.handle);
        let seen = self.inbox_len(leaf_handle);
        let s = self.emu.drop_party(handle, &[]);
        if s != NDIS_STATUS_SUCCESS {
            return Ok(Done::status(s));
        }
        self.emu.pump();
        if let Some(v) = leaf_vc {
            if !self.told(leaf_handle, seen, "IncomingCloseCall", &format!("VC {:#x}", v.0)) {
                return Err(Done {
                    status: Some(s),
                    failure: Some(format!(
                        "leaf {:?} was not told its party was dropped (no IncomingCloseCall on its VC)",
                        leaf.map_or("?", |l| self.name(l))
                    )),
                });
            }
            self.counters.parties_left += 1;
        }
        self.party_gone(i, s)
    }

    /// The connected leaves of call `call`, one receiver per client (a
    /// client that is the leaf of several parties gets one copy per party),
    /// labelled `{root} → {leaf}`.
    pub(super) fn leaves(&self, call: &str, root: &str) -> Vec<Receiver> {
        let mut out: Vec<Receiver> = Vec::new();
        for p in &self.parties {
            let Some(leaf) = p.leaf.filter(|_| p.call == call && p.connected && p.leaf_vc.is_some()) else {
                continue;
            };
            if let Some(r) = out.iter_mut().find(|r| r.client == leaf) {
                r.ends += 1;
            } else {
                out.push(Receiver {
                    client: leaf,
                    label: format!("{root} → {}", self.name(leaf)),
                    ends: 1,
                });
            }
        }
        out
    }

    /// NdisClCloseCall by the root: every leaf still on the call is told
    /// and covmini deletes its VC; the root then deletes its own.
    pub(super) fn close_root(&mut self, call: &str, vc: Vc) -> Result<Done, Done> {
        let leaves: Vec<(usize, Vc, usize)> = self
            .parties
            .iter()
            .filter(|p| p.call == call)
            .filter_map(|p| {
                let (leaf, v) = (p.leaf?, p.leaf_vc?);
                let h = self.clients.get(leaf).map(|c| c.handle);
                Some((leaf, v, self.inbox_len(h)))
            })
            .collect();
        let s = self.emu.close_call(vc, &[]);
        if s != NDIS_STATUS_SUCCESS {
            return Ok(Done::status(s));
        }
        self.emu.pump();
        let fail = |why: String| Done {
            status: Some(s),
            failure: Some(why),
        };
        for (leaf, v, seen) in &leaves {
            let h = self.clients.get(*leaf).map(|c| c.handle);
            if !self.told(h, *seen, "IncomingCloseCall", &format!("VC {:#x}", v.0)) {
                return Err(fail(format!(
                    "leaf {:?} was not told the call closed (no IncomingCloseCall on its VC)",
                    self.name(*leaf)
                )));
            }
            if let Some(state) = self.emu.vc_state(*v) {
                return Err(fail(format!(
                    "covmini did not delete the VC it created for leaf {:?} (still {state:?})",
                    self.name(*leaf)
                )));
            }
        }
        self.counters.parties_left += leaves.len() as u64;
        self.parties.retain(|p| p.call != call);
        if !self.emu.parties(vc).is_empty() {
            return Err(fail("NDIS still lists parties on the closed root's VC".to_owned()));
        }
        self.delete_caller_vc(call, s)
    }

    /// NdisClCloseCall by a leaf (of `party`, or the first party): covmini
    /// deletes the leaf's VC, and the root is told — an incoming drop party
    /// while the call has other parties (the party stays until the root
    /// drops it), an incoming close for the last (the root closes, and
    /// deletes its VC).
    pub(super) fn hang_up_leaf(&mut self, call: &str, party: Option<&str>, vc: Vc) -> Result<Done, Done> {
        let i = self
            .party_index(call, party)
            .ok_or_else(|| Done::fail("no such party".into()))?;
        let handle = self
            .parties
            .get(i)
            .map(|p| p.handle)
            .ok_or_else(|| Done::fail("no party".into()))?;
        let root = self.calls.get(call).map(|c| c.caller).unwrap_or(usize::MAX);
        let root_handle = self.clients.get(root).map(|c| c.handle);
        let root_vc = self.root_vc(call);
        let others = root_vc.map_or(0, |v| self.emu.parties(v).len()) > 1;
        let seen = self.inbox_len(root_handle);
        let s = self.emu.close_call(vc, &[]);
        if s != NDIS_STATUS_SUCCESS {
            return Ok(Done::status(s));
        }
        self.emu.pump();
        let fail = |why: String| Done {
            status: Some(s),
            failure: Some(why),
        };
        if let Some(state) = self.emu.vc_state(vc) {
            return Err(fail(format!(
                "covmini did not delete the VC it created for the leaf (still {state:?})"
            )));
        }
        if let Some(p) = self.parties.get_mut(i) {
            p.leaf_vc = None;
            p.connected = false;
        }
        self.counters.parties_left += 1;
        if others {
            if !self.told(
                root_handle,
                seen,
                "IncomingDropParty",
                &format!("party {:#x}", handle.0),
            ) {
                return Err(fail(format!(
                    "the root {:?} was not told (no IncomingDropParty for the party)",
                    self.name(root)
                )));
            }
            return Ok(Done::status(s));
        }
        let tail = root_vc.map_or_else(String::new, |v| format!("VC {:#x}", v.0));
        if !self.told(root_handle, seen, "IncomingCloseCall", &tail) {
            return Err(fail(format!(
                "the root {:?} was not told its last party hung up (no IncomingCloseCall)",
                self.name(root)
            )));
        }
        self.parties.retain(|p| p.call != call);
        self.delete_caller_vc(call, s)
    }
}

#[cfg(test)]
mod tests {
    use super::super::same_payloads;

    #[test]
    fn several_copies_match_in_any_order_and_one_copy_in_order() {
        let (a, b) = (vec![1u8], vec![2u8]);
        let sent = [a.clone(), b.clone()];
        assert!(same_payloads(&[a.clone(), b.clone()], &sent, 1));
        assert!(!same_payloads(&[b.clone(), a.clone()], &sent, 1), "one end: in order");
        assert!(same_payloads(&[a.clone(), a.clone(), b.clone(), b.clone()], &sent, 2));
        assert!(!same_payloads(&[a.clone(), a.clone(), a.clone(), b.clone()], &sent, 2));
        assert!(!same_payloads(&[a, b], &sent, 2), "too few copies");
    }
}
