//! A VC's send and receive counters and the received-data pattern check
//! (IOCTL_COVCLIENT_GET_COUNTERS, IOCTL_COVCLIENT_EXPECT_PATTERN).
//!
//! Owns: the counts and the expected pattern. The receive path feeds each
//! NET_BUFFER's data as the chunks its MDLs map ([`VcCounters::receive`]),
//! so nothing is copied: the check reads the bytes where NDIS put them.
//! Must not: allocate, or overflow (every count saturates).
//!
//! The expected byte `k` of a received NET_BUFFER is
//! `covclient_abi::pattern_byte(pattern, seed, j, k)`, where `j` counts the
//! NET_BUFFERs this VC received since the pattern was set (the sender's
//! NBL index of a one-NET_BUFFER-per-NBL send that arrives in order,
//! which covmini's loopback and echo keep).

use covclient_abi::{COVCLIENT_PATTERN_NONE, Counters, pattern_byte};

/// A VC's counters.
///
/// INVARIANT: `first_mismatch` is `u64::MAX` until a NET_BUFFER mismatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcCounters {
    c: Counters,
    pattern: u32,
    seed: u32,
    /// NET_BUFFERs received since the pattern was set (`j`).
    index: u32,
}

const ZERO: Counters = Counters {
    sends: 0,
    send_bytes: 0,
    sends_completed: 0,
    sends_failed: 0,
    last_send_status: 0,
    reserved: 0,
    receives: 0,
    receive_bytes: 0,
    receives_matched: 0,
    receives_mismatched: 0,
    first_mismatch: u64::MAX,
};

impl Default for VcCounters {
    fn default() -> Self {
        Self::new()
    }
}

/// One NET_BUFFER being checked, chunk by chunk.
#[derive(Debug)]
pub struct Check<'a> {
    counters: &'a mut VcCounters,
    offset: u64,
    first_wrong: Option<u64>,
}

impl Check<'_> {
    /// The next `bytes` of the NET_BUFFER.
    pub fn chunk(&mut self, bytes: &[u8]) {
        let (pattern, seed, j) = (self.counters.pattern, self.counters.seed, self.counters.index);
        if self.first_wrong.is_none() && pattern != COVCLIENT_PATTERN_NONE {
            for (i, b) in bytes.iter().enumerate() {
                let at = self.offset.saturating_add(i as u64);
                // CAST: the pattern is a byte function: k's low byte is what counts.
                let k = at as u32;
                if pattern_byte(pattern, seed, j, k) != Some(*b) {
                    self.first_wrong = Some(at);
                    break;
                }
            }
        }
        self.offset = self.offset.saturating_add(bytes.len() as u64);
    }

    /// The NET_BUFFER ended: count it.
    pub fn finish(self) {
        let c = &mut self.counters.c;
        c.receives = c.receives.saturating_add(1);
        c.receive_bytes = c.receive_bytes.saturating_add(self.offset);
        if self.counters.pattern != COVCLIENT_PATTERN_NONE {
            match self.first_wrong {
                None => c.receives_matched = c.receives_matched.saturating_add(1),
                Some(at) => {
                    c.receives_mismatched = c.receives_mismatched.saturating_add(1);
                    if c.first_mismatch == u64::MAX {
                        c.first_mismatch = at;
                    }
                }
            }
        }
        self.counters.index = self.counters.index.wrapping_add(1);
    }
}

impl VcCounters {
    /// Zero counts, no pattern.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            c: ZERO,
            pattern: COVCLIENT_PATTERN_NONE,
            seed: 0,
            index: 0,
        }
    }

    /// EXPECT_PATTERN: check what arrives from now on against `pattern`.
    pub fn expect(&mut self, pattern: u32, seed: u32) {
        self.pattern = pattern;
        self.seed = seed;
        self.index = 0;
    }

    /// Starts checking one received NET_BUFFER.
    pub fn receive(&mut self) -> Check<'_> {
        Check {
            counters: self,
            offset: 0,
            first_wrong: None,
        }
    }

    /// `nbls` NBLs of `bytes` each were posted.
    pub fn sent(&mut self, nbls: u32, bytes: u32) {
        let c = &mut self.c;
        c.sends = c.sends.saturating_add(u64::from(nbls));
        c.send_bytes = c.send_bytes.saturating_add(u64::from(nbls) * u64::from(bytes));
    }

    /// A send completion: `ok` NBLs succeeded, `failed` failed, the last
    /// failure's status.
    pub fn send_completed(&mut self, ok: u32, failed: u32, status: u32) {
        let c = &mut self.c;
        c.sends_completed = c.sends_completed.saturating_add(u64::from(ok));
        c.sends_failed = c.sends_failed.saturating_add(u64::from(failed));
        if failed != 0 {
            c.last_send_status = status;
        }
    }

    /// GET_COUNTERS: the counts; with `reset`, zeroed after (the pattern
    /// stays).
    pub fn read(&mut self, reset: bool) -> Counters {
        let out = self.c;
        if reset {
            self.c = ZERO;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use covclient_abi::{COVCLIENT_PATTERN_CONSTANT, COVCLIENT_PATTERN_COUNTER};

    use super::*;

    fn counter_nb(seed: u32, j: u32, len: u32) -> std::vec::Vec<u8> {
        (0..len)
            .map(|k| pattern_byte(COVCLIENT_PATTERN_COUNTER, seed, j, k).unwrap())
            .collect()
    }

    /// Proves NET_BUFFERs of the sender's counter pattern match, whether
    /// they arrive in one chunk or split across MDLs, and bytes are counted.
    #[test]
    fn counter_pattern_matches_across_chunks() {
        let mut v = VcCounters::new();
        v.expect(COVCLIENT_PATTERN_COUNTER, 7);
        let nb0 = counter_nb(7, 0, 300);
        let mut c = v.receive();
        c.chunk(&nb0);
        c.finish();
        let nb1 = counter_nb(7, 1, 300);
        let mut c = v.receive();
        c.chunk(&nb1[..100]);
        c.chunk(&nb1[100..]);
        c.finish();
        let r = v.read(false);
        assert_eq!(
            (r.receives, r.receive_bytes, r.receives_matched, r.receives_mismatched),
            (2, 600, 2, 0)
        );
        assert_eq!(r.first_mismatch, u64::MAX);
    }

    /// Proves a wrong byte is a mismatch at its offset (in the second
    /// chunk), and only the first mismatch's offset is kept.
    #[test]
    fn mismatch_offset_recorded_once() {
        let mut v = VcCounters::new();
        v.expect(COVCLIENT_PATTERN_CONSTANT, 0x1AB);
        let mut c = v.receive();
        c.chunk(&[0xAB; 10]);
        c.chunk(&[0xAB, 0xAB, 0x00, 0xAB]);
        c.finish();
        let mut c = v.receive();
        c.chunk(&[0x00]);
        c.finish();
        let r = v.read(false);
        assert_eq!(
            (r.receives_matched, r.receives_mismatched, r.first_mismatch),
            (0, 2, 12)
        );
    }

    /// Proves PATTERN_NONE counts without checking, and reset zeroes the
    /// counts but keeps the pattern.
    #[test]
    fn none_counts_only_and_reset_zeroes() {
        let mut v = VcCounters::new();
        let mut c = v.receive();
        c.chunk(&[1, 2, 3]);
        c.finish();
        v.sent(4, 100);
        v.send_completed(3, 1, 0xC000_0001);
        let r = v.read(true);
        assert_eq!(
            (r.receives, r.receive_bytes, r.receives_matched, r.receives_mismatched),
            (1, 3, 0, 0)
        );
        assert_eq!(
            (r.sends, r.send_bytes, r.sends_completed, r.sends_failed),
            (4, 400, 3, 1)
        );
        assert_eq!(r.last_send_status, 0xC000_0001);
        assert_eq!(v.read(false), ZERO);
        v.expect(COVCLIENT_PATTERN_CONSTANT, 1);
        v.read(true);
        let mut c = v.receive();
        c.chunk(&[2]);
        c.finish();
        assert_eq!(v.read(false).receives_mismatched, 1, "the pattern survives a reset");
    }
}
