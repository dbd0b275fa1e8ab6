//! The unbind's teardown of the control device's objects on an adapter:
//! reject pended incoming calls, close calls, delete the client's VCs,
//! deregister SAPs, close the opens' AFs (`Core::unbind_next`'s order, the
//! NdisClCloseAddressFamily page's), waiting for pended completions, before
//! the binding closes its own AF and NdisCloseAdapterEx runs.
//!
//! Must not: run anywhere but PASSIVE_LEVEL in ProtocolUnbindAdapterEx, or
//! wait forever (a call manager that never completes is traced and the
//! unbind goes on: NDIS then fails the close of what is left).

use covclient_abi::layout::Wire;
use covclient_abi::{Handle, HandleKind};

use super::control::locked;
use super::trace::ERROR;
use super::{calls, objects, waiter};

/// Rounds of waiting for completions (`pause` each), about ten seconds.
const WAIT_ROUNDS: u32 = 1000;

/// Undoes every object of the opens on `adapter` (the core handle's raw
/// value); `pause` waits a little (about 10 ms) for completions.
///
/// # IRQL
/// PASSIVE_LEVEL; no covclient lock held.
pub(super) fn unbind(adapter: u64, pause: impl Fn()) {
    let Ok(adapter) = Handle::parse(adapter, &[HandleKind::Adapter]) else {
        return;
    };
    let mut scratch = [0u8; covclient_abi::OpResult::SIZE];
    let mut rounds = 0;
    loop {
        match locked(|inner| inner.core.unbind_next(adapter)) {
            Some(Some(call)) => {
                let status = calls::make(&call);
                let _ = locked(|inner| inner.core.returned(&call, status, &mut scratch));
            }
            Some(None) if locked(|inner| inner.core.adapter_busy(adapter)) == Some(true) => {
                rounds += 1;
                if rounds > WAIT_ROUNDS {
                    trace!(ERROR, c"unbind: completions never came; going on");
                    break;
                }
                pause();
            }
            _ => break,
        }
    }
    objects::reap();
    waiter::wake_all();
}
