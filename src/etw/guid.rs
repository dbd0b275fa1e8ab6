//! The provider GUID from the provider's name, the way TraceLogging and
//! EventSource derive it (the "ETW name-hashing algorithm" that the
//! TRACELOGGING_DEFINE_PROVIDER page of Microsoft Learn recommends):
//!
//! 1. SHA-1 over the 16 bytes of the namespace GUID
//!    482C2DB2-C390-47C8-87F8-1A15BFC130FB written most significant byte
//!    first, followed by the provider name upper-cased and encoded as
//!    UTF-16 big-endian;
//! 2. the first 16 bytes of the hash, with the high nibble of byte 7 set to
//!    5 (the version nibble; no variant is set);
//! 3. read as a Windows `GUID` (Data1..Data3 little-endian).
//!
//! Sources: .NET's `EventSource.GenerateGuidFromName` (the namespace bytes
//! and the upper-casing), microsoft/go-winio `pkg/etw/provider.go`
//! `providerIDFromName` (the same steps, "No variant is set on the result
//! UUID", "treated as being in little-endian format"). The published pair the
//! tests check is the Learn page's own example: "MyCompany.MyComponent" is
//! {ce5fa4ea-ab00-5402-8b76-9f76ac858fb5}.
//!
//! Everything here is `const fn`: the provider GUID is computed by the
//! compiler. Names are ASCII (upper-casing beyond ASCII would need Unicode
//! tables; a non-ASCII name is a compile error).
//!
//! What it must not do: run at run time on a driver path (it is evaluated in
//! constants only) or depend on anything but `core`.

use ndis_sys::GUID;

/// The namespace, most significant byte first.
const NAMESPACE: [u8; 16] = [
    0x48, 0x2C, 0x2D, 0xB2, 0xC3, 0x90, 0x47, 0xC8, 0x87, 0xF8, 0x1A, 0x15, 0xBF, 0xC1, 0x30, 0xFB,
];

/// The longest provider name accepted (the hash input is built in a fixed
/// buffer at compile time).
const MAX_NAME: usize = 100;

/// The provider GUID of `name` (ASCII). A compile error for a longer or
/// non-ASCII name when used in a constant.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range is a compile error"
)]
pub const fn provider_id(name: &str) -> GUID {
    let name = name.as_bytes();
    assert!(name.len() <= MAX_NAME, "provider name too long");
    let mut input = [0u8; 16 + 2 * MAX_NAME];
    let mut i = 0;
    while i < 16 {
        input[i] = NAMESPACE[i];
        i += 1;
    }
    let mut j = 0;
    while j < name.len() {
        let c = name[j];
        assert!(c.is_ascii(), "provider name must be ASCII");
        // UTF-16BE of an ASCII character: 0x00, then the upper-cased byte.
        input[16 + 2 * j] = 0;
        input[16 + 2 * j + 1] = c.to_ascii_uppercase();
        j += 1;
    }
    let hash = sha1(&input, 16 + 2 * name.len());
    let b7 = (hash[7] & 0x0F) | 0x50;
    GUID {
        Data1: u32::from_le_bytes([hash[0], hash[1], hash[2], hash[3]]),
        Data2: u16::from_le_bytes([hash[4], hash[5]]),
        Data3: u16::from_le_bytes([hash[6], b7]),
        Data4: [
            hash[8], hash[9], hash[10], hash[11], hash[12], hash[13], hash[14], hash[15],
        ],
    }
}

/// SHA-1 (FIPS 180-4) of the first `len` bytes of `data`.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range is a compile error"
)]
const fn sha1(data: &[u8], len: usize) -> [u8; 20] {
    let mut h: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
    // The message, a 0x80 byte, zeros, and the 64-bit bit length, in
    // 64-byte blocks.
    let blocks = (len + 8) / 64 + 1;
    let mut block = 0;
    while block < blocks {
        let mut w = [0u32; 80];
        let mut t = 0;
        while t < 16 {
            let mut word = 0u32;
            let mut k = 0;
            while k < 4 {
                let at = block * 64 + t * 4 + k;
                let byte = if at < len {
                    data[at]
                } else if at == len {
                    0x80
                } else if at >= blocks * 64 - 8 {
                    // CAST: the bit length's byte at this position.
                    let shift = (blocks * 64 - 1 - at) * 8;
                    (((len as u64) * 8) >> shift) as u8
                } else {
                    0
                };
                word = (word << 8) | byte as u32;
                k += 1;
            }
            w[t] = word;
            t += 1;
        }
        while t < 80 {
            w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
            t += 1;
        }
        let (mut a, mut b, mut c, mut d, mut e) = (h[0], h[1], h[2], h[3], h[4]);
        t = 0;
        while t < 80 {
            let (f, k) = if t < 20 {
                ((b & c) | (!b & d), 0x5A82_7999)
            } else if t < 40 {
                (b ^ c ^ d, 0x6ED9_EBA1)
            } else if t < 60 {
                ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
            } else {
                (b ^ c ^ d, 0xCA62_C1D6)
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(w[t]);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
            t += 1;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
        block += 1;
    }
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 5 {
        let bytes = h[i].to_be_bytes();
        out[i * 4] = bytes[0];
        out[i * 4 + 1] = bytes[1];
        out[i * 4 + 2] = bytes[2];
        out[i * 4 + 3] = bytes[3];
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2 appendix A's examples: SHA-1("abc") and the two-block
    /// message, so the hash itself is right before it names anything.
    #[test]
    fn sha1_matches_the_fips_examples() {
        let abc = sha1(b"abc", 3);
        assert_eq!(abc[..4], [0xa9, 0x99, 0x3e, 0x36]);
        assert_eq!(abc[16..], [0x9c, 0xd0, 0xd8, 0x9d]);
        let two = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        let h = sha1(two, two.len());
        assert_eq!(h[..4], [0x84, 0x98, 0x3e, 0x44]);
        assert_eq!(h[16..], [0xe5, 0x46, 0x70, 0xf1]);
    }

    /// The Learn page of TRACELOGGING_DEFINE_PROVIDER names the provider
    /// "MyCompany.MyComponent" with the GUID {ce5fa4ea-ab00-5402-8b76-9f76ac858fb5}.
    #[test]
    fn the_published_example_pair_is_reproduced() {
        let id = provider_id("MyCompany.MyComponent");
        assert_eq!(
            id,
            GUID {
                Data1: 0xce5f_a4ea,
                Data2: 0xab00,
                Data3: 0x5402,
                Data4: [0x8b, 0x76, 0x9f, 0x76, 0xac, 0x85, 0x8f, 0xb5],
            }
        );
    }

    /// Upper-casing: the name's case does not change the GUID.
    #[test]
    fn case_does_not_matter() {
        assert_eq!(
            provider_id("mycompany.mycomponent"),
            provider_id("MyCompany.MyComponent")
        );
        assert_ne!(
            provider_id("MyCompany.MyComponent2"),
            provider_id("MyCompany.MyComponent")
        );
    }
}
