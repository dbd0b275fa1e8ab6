//! Response encoding into the caller's output buffer: each function writes
//! the exact bytes of the response and returns how many, which the driver
//! reports as `IoStatus.Information`.
//!
//! Owns: the byte layout of variable responses (a header followed by
//! entries) and the "as many entries as fit" rule. Must not: decide what to
//! report (the driver's state) or write past the buffer (every write is
//! bounds-checked; a buffer too small for the fixed part is refused with
//! [`AbiError::OutputTooSmall`] and nothing is written).

use crate::layout::Wire;
use crate::request::AbiError;
use crate::wire::{AdapterInfo, AdapterList, Event, EventBatch, OidResult};

/// Writes `value` at the start of `out`; returns its size.
pub fn encode<T: Wire>(value: &T, out: &mut [u8]) -> Result<usize, AbiError> {
    value.write(out).map(|()| T::SIZE).ok_or(AbiError::OutputTooSmall {
        need: T::SIZE,
        got: out.len(),
    })
}

/// Writes a header and as many `entries` as `out` holds after it (at most
/// `max`); `header` is called with how many were written. Returns the bytes
/// written and the entries written.
fn encode_list<H: Wire, E: Wire>(
    header: impl FnOnce(u32) -> H,
    entries: &[E],
    max: usize,
    out: &mut [u8],
) -> Result<(usize, usize), AbiError> {
    if out.len() < H::SIZE {
        return Err(AbiError::OutputTooSmall {
            need: H::SIZE,
            got: out.len(),
        });
    }
    let (head, body) = out.split_at_mut(H::SIZE);
    let mut n = 0usize;
    for (e, slot) in entries.iter().take(max).zip(body.chunks_exact_mut(E::SIZE.max(1))) {
        e.write(slot).ok_or(AbiError::OutputTooSmall {
            need: E::SIZE,
            got: slot.len(),
        })?;
        n += 1;
    }
    // n <= max <= what the caller's u32 counts allow (entries come from the
    // driver's bounded tables); saturate rather than wrap.
    let count = u32::try_from(n).unwrap_or(u32::MAX);
    header(count).write(head).ok_or(AbiError::OutputTooSmall {
        need: H::SIZE,
        got: head.len(),
    })?;
    // n entries of E::SIZE fit in `body`, so the sum is at most out.len().
    Ok((H::SIZE + n * E::SIZE, n))
}

/// LIST_ADAPTERS' response: the list header, then as many of `adapters`
/// (the adapters from index `first` on, of `total`) as fit.
pub fn encode_adapters(total: u32, first: u32, adapters: &[AdapterInfo], out: &mut [u8]) -> Result<usize, AbiError> {
    let header = |returned| AdapterList {
        total,
        returned,
        first,
        reserved: 0,
    };
    encode_list(header, adapters, usize::MAX, out).map(|(bytes, _)| bytes)
}

/// WAIT_EVENTS' response: the batch header, then as many of `events` as fit
/// (at most `max_events`). Returns the bytes written and how many events
/// were taken (the driver dequeues that many).
pub fn encode_events(lost: u32, events: &[Event], max_events: u32, out: &mut [u8]) -> Result<(usize, usize), AbiError> {
    let first_sequence = events.first().map_or(0, |e| e.sequence);
    let header = |count| EventBatch {
        count,
        lost,
        first_sequence,
    };
    encode_list(header, events, max_events as usize, out)
}

/// OID_REQUEST's response: the result, then (a query) the `data` NDIS
/// wrote. `result.bytes_written` is set to `data.len()`.
pub fn encode_oid(mut result: OidResult, data: &[u8], out: &mut [u8]) -> Result<usize, AbiError> {
    let need = OidResult::SIZE.saturating_add(data.len());
    let got = out.len();
    let (head, body) = out
        .split_at_mut_checked(OidResult::SIZE)
        .ok_or(AbiError::OutputTooSmall { need, got })?;
    let body = body
        .get_mut(..data.len())
        .ok_or(AbiError::OutputTooSmall { need, got })?;
    result.bytes_written = u32::try_from(data.len()).map_err(|_| AbiError::OutputTooSmall { need, got })?;
    body.copy_from_slice(data);
    result.write(head).ok_or(AbiError::OutputTooSmall { need, got })?;
    Ok(need)
}
