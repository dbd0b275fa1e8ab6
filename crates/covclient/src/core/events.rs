//! One open's event queue: bounded, sequence-numbered, delivered in batches
//! to one pended WAIT_EVENTS IRP at a time (docs/covclient-ioctl.md,
//! "Events").
//!
//! Owns: the ring of events, the next sequence number, the count of events
//! lost to overflow since the last batch, and whether a WAIT_EVENTS is
//! pended (the glue holds the IRP itself). Overflow drops the *oldest*
//! event and counts it: the next batch's `lost` says how many, and the
//! sequence gap shows where. Nothing is dropped without being counted.
//!
//! Must not: allocate, or hold an IRP.

use covclient_abi::response::encode_events;
use covclient_abi::{AbiError, Event};

/// Events one open can hold before the oldest is dropped: two full batches
/// (`COVCLIENT_MAX_EVENTS` is 64).
pub const QUEUE_EVENTS: usize = 128;

/// The queue.
///
/// INVARIANT: `len <= QUEUE_EVENTS`; the queued events are
/// `ring[(head + i) % QUEUE_EVENTS]` for `i < len`, in sequence order.
#[derive(Debug)]
pub struct EventQueue {
    ring: [Event; QUEUE_EVENTS],
    head: usize,
    len: usize,
    next_sequence: u64,
    lost: u32,
    waiter: bool,
}

const EMPTY: Event = Event {
    kind: 0,
    ndis_status: 0,
    sequence: 0,
    adapter: 0,
    object: 0,
    related: 0,
    arg0: 0,
    arg1: 0,
    arg2: 0,
};

/// What a WAIT_EVENTS gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Complete now: this many bytes written.
    Now(usize),
    /// Pend the IRP; it completes when an event is queued.
    Pend,
    /// A WAIT_EVENTS is already pended: refuse this one
    /// (STATUS_INVALID_DEVICE_REQUEST, the contract).
    Busy,
}

impl Default for EventQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl EventQueue {
    /// An empty queue whose first event is sequence 1.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            ring: [EMPTY; QUEUE_EVENTS],
            head: 0,
            len: 0,
            next_sequence: 1,
            lost: 0,
            waiter: false,
        }
    }

    /// Queues `event` (its `sequence` is assigned here). Returns `true` if
    /// a WAIT_EVENTS is pended and should now be completed (the glue calls
    /// [`Self::take`] with it).
    pub fn push(&mut self, mut event: Event) -> bool {
        event.sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        if self.len == QUEUE_EVENTS {
            // Full: the oldest goes, counted.
            self.head = (self.head + 1) % QUEUE_EVENTS;
            self.len -= 1;
            self.lost = self.lost.saturating_add(1);
        }
        let tail = (self.head + self.len) % QUEUE_EVENTS;
        if let Some(slot) = self.ring.get_mut(tail) {
            *slot = event;
            self.len += 1;
        }
        self.waiter
    }

    /// Events queued.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// No event queued.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Events lost since the last batch.
    #[must_use]
    pub const fn lost(&self) -> u32 {
        self.lost
    }

    /// A WAIT_EVENTS of `max_events` with output buffer `out`.
    pub fn wait(&mut self, max_events: u32, out: &mut [u8]) -> Result<Wait, AbiError> {
        if self.waiter {
            return Ok(Wait::Busy);
        }
        if self.is_empty() {
            self.waiter = true;
            return Ok(Wait::Pend);
        }
        self.take(max_events, out).map(Wait::Now)
    }

    /// The pended WAIT_EVENTS went (cancelled, or the file closed): the
    /// queued events stay.
    pub fn waiter_gone(&mut self) {
        self.waiter = false;
    }

    /// Is a WAIT_EVENTS pended?
    #[must_use]
    pub const fn has_waiter(&self) -> bool {
        self.waiter
    }

    /// Writes a batch of at most `max_events` (and what `out` holds) and
    /// dequeues them; the waiter, if any, is done. Returns the bytes
    /// written.
    pub fn take(&mut self, max_events: u32, out: &mut [u8]) -> Result<usize, AbiError> {
        let mut batch = [EMPTY; covclient_abi::COVCLIENT_MAX_EVENTS as usize];
        let n = self.len.min(batch.len());
        for (i, slot) in batch.iter_mut().take(n).enumerate() {
            if let Some(e) = self.ring.get((self.head + i) % QUEUE_EVENTS) {
                *slot = *e;
            }
        }
        let (bytes, taken) = encode_events(self.lost, batch.get(..n).unwrap_or(&[]), max_events, out)?;
        self.head = (self.head + taken) % QUEUE_EVENTS;
        self.len -= taken;
        self.lost = 0;
        self.waiter = false;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use covclient_abi::layout::Wire;
    use covclient_abi::{COVCLIENT_EVENT_STATUS, EventBatch};

    use super::*;

    fn ev(arg0: u64) -> Event {
        Event {
            kind: COVCLIENT_EVENT_STATUS,
            arg0,
            ..EMPTY
        }
    }

    fn batch(out: &[u8]) -> (EventBatch, std::vec::Vec<Event>) {
        let h = EventBatch::read(out).unwrap();
        let events = (0..h.count as usize)
            .map(|i| Event::read(&out[EventBatch::SIZE + i * Event::SIZE..]).unwrap())
            .collect();
        (h, events)
    }

    /// Proves an empty queue pends one waiter, refuses a second, and a push
    /// asks for the waiter's completion, which takes the event.
    #[test]
    fn pends_one_waiter_and_wakes_it() {
        let mut q = EventQueue::new();
        let mut out = [0u8; 1024];
        assert_eq!(q.wait(8, &mut out), Ok(Wait::Pend));
        assert_eq!(q.wait(8, &mut out), Ok(Wait::Busy));
        assert!(q.push(ev(5)));
        let n = q.take(8, &mut out).unwrap();
        assert_eq!(n, EventBatch::SIZE + Event::SIZE);
        let (h, e) = batch(&out);
        assert_eq!((h.count, h.lost, h.first_sequence), (1, 0, 1));
        assert_eq!(e[0].arg0, 5);
        assert!(!q.has_waiter());
        assert!(!q.push(ev(6)), "no waiter: nothing to wake");
    }

    /// Proves a cancelled waiter leaves the queued events queued.
    #[test]
    fn cancel_keeps_events() {
        let mut q = EventQueue::new();
        let mut out = [0u8; 1024];
        assert_eq!(q.wait(8, &mut out), Ok(Wait::Pend));
        q.waiter_gone();
        q.push(ev(1));
        assert_eq!(q.len(), 1);
        assert!(matches!(q.wait(8, &mut out), Ok(Wait::Now(_))));
        assert!(q.is_empty());
    }

    /// Proves overflow drops the oldest events, counts them in the next
    /// batch's `lost`, and the sequence numbers show the gap.
    #[test]
    fn overflow_is_counted_not_silent() {
        let mut q = EventQueue::new();
        for i in 0..(QUEUE_EVENTS as u64 + 3) {
            q.push(ev(i));
        }
        assert_eq!(q.lost(), 3);
        let mut out = [0u8; EventBatch::SIZE + 64 * Event::SIZE];
        q.take(64, &mut out).unwrap();
        let (h, e) = batch(&out);
        assert_eq!((h.count, h.lost, h.first_sequence), (64, 3, 4));
        assert_eq!(e[0].arg0, 3);
        assert!(e.windows(2).all(|w| w[1].sequence == w[0].sequence + 1));
        q.take(64, &mut out).unwrap();
        assert_eq!(batch(&out).0.lost, 0, "lost is reported once");
        assert!(q.is_empty());
    }

    /// Proves a batch holds at most `max_events` and what the buffer holds;
    /// the rest stay queued in order.
    #[test]
    fn batch_bounded_by_max_and_buffer() {
        let mut q = EventQueue::new();
        for i in 0..10 {
            q.push(ev(i));
        }
        let mut out = [0u8; 1024];
        q.take(3, &mut out).unwrap();
        assert_eq!(batch(&out).0.count, 3);
        let mut small = [0u8; EventBatch::SIZE + 2 * Event::SIZE + 10];
        q.take(64, &mut small).unwrap();
        let (h, e) = batch(&small);
        assert_eq!((h.count, e[0].arg0), (2, 3));
        assert_eq!(q.len(), 5);
        let mut tiny = [0u8; 4];
        assert!(q.take(64, &mut tiny).is_err());
        assert_eq!(q.len(), 5, "a refused batch takes nothing");
    }
}
