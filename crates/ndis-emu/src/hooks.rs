//! The calls the layers below the scripted clients make up into them:
//! running the clients' answers (`crate::answers`), and the reactions of a
//! client inside a DDI call that reached it (a completion, an incoming
//! close or drop, [`Reached`]). The scheduler
//! (`crate::sched`), NDIS events' waits (`crate::sync`), the interleavings
//! (`crate::interleave`) and the DDI shims (a ProtocolClNotifyCloseAf
//! answered inside NdisCmNotifyCloseAddressFamily, `crate::ffi::cm`) run
//! those answers on the CPU they free up or are on, but an answer is made
//! of client requests, which sit above them. So the dependency is inverted:
//! `crate::lifecycle` installs `crate::answers`' functions here when an
//! emulator starts, and the layers below call them through [`client`].
//!
//! It owns the hook table only. It must not name `crate::answers` (that is
//! the edge it removes) nor hold any state of a run.

use std::sync::OnceLock;

use ndis_sys::NDIS_STATUS;

use crate::condis::{ClientAction, ReqKind};
use crate::world::World;

/// The shims' entry points the layers below call.
pub(crate) struct ClientHooks {
    /// Runs the clients' answers queued on the calling CPU (`crate::answers::pump`).
    pub(crate) pump: fn(),
    /// Runs one client answer on the calling CPU (`crate::answers::run_action`).
    pub(crate) run_action: fn(ClientAction),
    /// At a halt's NdisWaitEvent, the clients unbind from their open AFs
    /// (`crate::answers::unbind_clients_at_halt_wait`).
    pub(crate) unbind_clients_at_halt_wait: fn(&mut World),
    /// NDIS's call into a client, made inside a driver's DDI call
    /// (`crate::answers::inside`): the client may react before it returns.
    pub(crate) inside: fn(Reached),
}

/// What a driver's DDI call just delivered to a client, which NDIS calls
/// before the DDI returns.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reached {
    /// A completion (`Ndis(M)Cm*Complete`) of the request `kind` on the
    /// object `h`, with its status, applied: the client's
    /// `ProtocolCl*Complete`.
    Completed(ReqKind, usize, NDIS_STATUS),
    /// NdisMCmDispatchIncomingCloseCall on VC `h`: ProtocolClIncomingCloseCall.
    IncomingClose(usize),
    /// NdisMCmDispatchIncomingDropParty on party `h`:
    /// ProtocolClIncomingDropParty.
    IncomingDropParty(usize),
}

/// Installed once per process: every Emulator installs the same functions.
static HOOKS: OnceLock<ClientHooks> = OnceLock::new();

/// Installs the shims' entry points (the Emulator, before its world opens;
/// a second install finds the same functions there and changes nothing).
pub(crate) fn install(hooks: ClientHooks) {
    let _ = HOOKS.set(hooks);
}

/// The shims' entry points. Reached only from code an Emulator runs, so
/// they are installed; if not, that is an ndis-emu bug and fails loudly, as
/// a DDI called with no emulator does (`crate::world::with`).
pub(crate) fn client() -> &'static ClientHooks {
    HOOKS.get().unwrap_or_else(|| {
        eprintln!("ndis-emu: a client answer ran before any Emulator started (an ndis-emu bug)");
        std::process::abort();
    })
}
