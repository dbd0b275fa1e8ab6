//! The PE image checksum (`CheckSumMappedFile` in imagehlp; the value
//! `link /RELEASE` writes and the kernel loader verifies for drivers).
//!
//! The file is summed as little-endian 16-bit words (an odd trailing byte is
//! the low byte of a last word), with the four bytes of the `CheckSum` field
//! counted as zero. After each addition the carry out of the low 16 bits is
//! folded back in (a one's-complement style sum kept to 16 bits). The file
//! length is added at the end.

/// The checksum of `bytes`, treating the four bytes at `checksum_offset` as
/// zero. An offset outside the file zeroes nothing.
pub fn compute_checksum(bytes: &[u8], checksum_offset: usize) -> u32 {
    let field = checksum_offset..checksum_offset.saturating_add(4);
    let byte_at = |index: usize, b: Option<&u8>| -> u32 {
        match b {
            Some(&b) if !field.contains(&index) => u32::from(b),
            _ => 0,
        }
    };
    let mut sum: u32 = 0;
    let mut index: usize = 0;
    for word in bytes.chunks(2) {
        let lo = byte_at(index, word.first());
        let hi = byte_at(index.wrapping_add(1), word.get(1));
        sum = fold(sum.wrapping_add(lo | (hi << 8)));
        index = index.wrapping_add(2);
    }
    // The length is added modulo 2^32, as imagehlp adds its DWORD FileLength.
    let len = (bytes.len() as u64 & u64::from(u32::MAX)) as u32;
    fold(sum).wrapping_add(len)
}

/// Folds the carry out of the low 16 bits back into them. Called after
/// every addition, `sum` never exceeds 0x1_FFFE before folding.
fn fold(sum: u32) -> u32 {
    (sum & 0xffff).wrapping_add(sum >> 16)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_sums_to_zero() {
        assert_eq!(compute_checksum(&[], 0), 0);
    }

    #[test]
    fn words_are_little_endian_plus_length() {
        // 0x0201 + 0x0403 = 0x0604, plus length 4.
        assert_eq!(compute_checksum(&[1, 2, 3, 4], 100), 0x0604 + 4);
    }

    #[test]
    fn odd_trailing_byte_is_a_low_byte() {
        assert_eq!(compute_checksum(&[1, 2, 3], 100), 0x0201 + 0x0003 + 3);
    }

    #[test]
    fn carries_fold_back_into_the_low_16_bits() {
        // 0xffff + 0x0002 = 0x1_0001 -> 0x0002; plus length 4.
        assert_eq!(compute_checksum(&[0xff, 0xff, 0x02, 0x00], 100), 0x0002 + 4);
        // Many 0xffff words stay at 0xffff.
        let ones = [0xffu8; 1000];
        assert_eq!(compute_checksum(&ones, 5000), 0xffff + 1000);
    }

    #[test]
    fn checksum_field_counts_as_zero() {
        let mut a = vec![0x11u8; 64];
        let b = a.clone();
        // Whatever the field holds, the sum is the same.
        a.get_mut(8..12).unwrap().copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(compute_checksum(&a, 8), compute_checksum(&b, 8));
        // And equals the sum of the file with the field really zero.
        let mut z = b.clone();
        z.get_mut(8..12).unwrap().fill(0);
        assert_eq!(compute_checksum(&a, 8), compute_checksum(&z, 1000));
        // An unaligned field is handled too.
        assert_eq!(compute_checksum(&a, 9), {
            let mut z = a.clone();
            z.get_mut(9..13).unwrap().fill(0);
            compute_checksum(&z, 1000)
        });
    }

    #[test]
    fn offset_at_the_very_end_does_not_panic() {
        let a = [1u8; 7];
        let _ = compute_checksum(&a, 5);
        let _ = compute_checksum(&a, usize::MAX);
        let _ = compute_checksum(&a, usize::MAX - 1);
    }

    /// Worked by hand: the words 0x8000, 0x8000, 0x8001. 0x8000 + 0x8000 =
    /// 0x1_0000, folded to 0x0001; 0x0001 + 0x8001 = 0x8002. Plus length 6.
    #[test]
    fn reference_vector() {
        assert_eq!(compute_checksum(&[0, 0x80, 0, 0x80, 1, 0x80], 100), 0x8002 + 6);
    }
}
