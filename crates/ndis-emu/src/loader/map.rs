//! The image's memory: one anonymous private mapping of `SizeOfImage`
//! bytes, written while it is read-write, then protected page range by page
//! range. Every write is bounds-checked against the mapping.

use super::error::LoadError;

/// The page size the loader protects in (x86_64 Linux: 4 KiB).
pub(crate) const PAGE: usize = 0x1000;

/// A page protection. Never both `write` and `execute` (the plan refuses
/// such a section before anything is mapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Prot {
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) execute: bool,
}

impl Prot {
    /// Read-only.
    pub(crate) const READ: Prot = Prot {
        read: true,
        write: false,
        execute: false,
    };

    fn bits(self) -> libc::c_int {
        let mut bits = libc::PROT_NONE;
        if self.read {
            bits |= libc::PROT_READ;
        }
        if self.write {
            bits |= libc::PROT_WRITE;
        }
        if self.execute {
            bits |= libc::PROT_EXEC;
        }
        bits
    }
}

/// `value` rounded up to a whole number of pages.
pub(crate) fn page_up(value: usize) -> usize {
    value.div_ceil(PAGE).saturating_mul(PAGE)
}

/// An anonymous mapping, unmapped on drop unless [`leak`](Self::leak)ed.
///
/// INVARIANT: `base` is the start of a live mapping of `len` bytes owned by
/// this value.
pub(crate) struct Mapping {
    base: *mut u8,
    len: usize,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl Mapping {
    /// Maps `len` zeroed read-write bytes.
    pub(crate) fn new(len: usize) -> Result<Self, LoadError> {
        let len = page_up(len);
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choice replaces nothing; the arguments are plain values.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(LoadError::Os {
                call: "mmap",
                errno: errno(),
            });
        }
        Ok(Self { base: base.cast(), len })
    }

    /// The address of byte 0.
    pub(crate) fn base(&self) -> usize {
        self.base as usize
    }

    /// The mapped length (whole pages).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The range `offset..offset + len`, if it lies in the mapping.
    fn check(&self, offset: usize, len: usize, what: &'static str) -> Result<(), LoadError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(LoadError::OutsideImage {
                what,
                rva: u32::try_from(offset).unwrap_or(u32::MAX),
            }),
        }
    }

    /// Copies `bytes` to `offset`. Only while the pages are writable (before
    /// [`protect`](Self::protect)).
    pub(crate) fn write(&mut self, offset: usize, bytes: &[u8], what: &'static str) -> Result<(), LoadError> {
        self.check(offset, bytes.len(), what)?;
        // SAFETY: `offset + bytes.len() <= self.len` (checked), so the
        // destination lies in the live mapping (INVARIANT), which is still
        // read-write and which no reference aliases; `bytes` is a separate
        // Rust allocation.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.wrapping_add(offset), bytes.len()) };
        Ok(())
    }

    /// The 8 bytes at `offset`, little-endian.
    pub(crate) fn read_u64(&self, offset: usize, what: &'static str) -> Result<u64, LoadError> {
        self.check(offset, 8, what)?;
        // SAFETY: the 8 bytes lie in the live, readable mapping (checked,
        // INVARIANT); read_unaligned has no alignment requirement.
        let value = unsafe { self.base.wrapping_add(offset).cast::<u64>().read_unaligned() };
        Ok(u64::from_le(value))
    }

    /// Writes `value` little-endian at `offset`.
    pub(crate) fn write_u64(&mut self, offset: usize, value: u64, what: &'static str) -> Result<(), LoadError> {
        self.write(offset, &value.to_le_bytes(), what)
    }

    /// Sets the protection of the pages covering `offset..offset + len`
    /// (`offset` page aligned).
    pub(crate) fn protect(&self, offset: usize, len: usize, prot: Prot) -> Result<(), LoadError> {
        debug_assert!(!(prot.write && prot.execute), "W^X");
        let len = page_up(len);
        self.check(offset, len, "protected range")?;
        // SAFETY: the pages lie in the live mapping (checked, INVARIANT) that
        // this value owns; no Rust reference into it exists.
        let rc = unsafe { libc::mprotect(self.base.wrapping_add(offset).cast(), len, prot.bits()) };
        if rc != 0 {
            return Err(LoadError::Os {
                call: "mprotect",
                errno: errno(),
            });
        }
        Ok(())
    }

    /// Keeps the mapping for the rest of the process (a loaded driver's code
    /// and data are referenced from the emulator's world) and returns its
    /// address.
    pub(crate) fn leak(self) -> usize {
        let base = self.base();
        core::mem::forget(self);
        base
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is live and owned by this value (INVARIANT);
        // nothing was handed out from it (a handed-out mapping is leaked).
        let _ = unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
