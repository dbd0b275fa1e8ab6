//! The layout machinery: one macro declares a wire struct *and* its field
//! table, so the table that `tests/c_header.rs` compares with
//! `include/covmini.h` cannot miss a field; a second declares the constants
//! and their table.
//!
//! Owns: the [`Wire`] trait (little-endian, bounds-checked reads and writes
//! of fixed-size values, no panics, no unsafe), [`StructLayout`] and
//! [`Field`], and the compile-time proof of every struct's layout: each
//! field starts where the previous one ends (no implicit padding), the
//! fields cover the struct exactly, and the struct has its stated size.
//! Must not: know what any struct means (that is [`crate::wire`]).
//!
//! Byte order: every field is little-endian, the byte order of every
//! Windows target (x64 and ARM64), so a struct's wire bytes are its memory
//! bytes in a C client.

/// One field of a wire struct: its name (the same in Rust and in C), offset
/// and size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's name, in Rust and in `include/covmini.h`.
    pub name: &'static str,
    /// `offset_of!` the field.
    pub offset: usize,
    /// `size_of` the field's type.
    pub size: usize,
}

/// A wire struct's layout, as its declaring macro records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructLayout {
    /// The Rust name.
    pub rust: &'static str,
    /// The C typedef name in `include/covmini.h`.
    pub c: &'static str,
    /// `size_of` the struct (checked equal to the stated size).
    pub size: usize,
    /// Every field, in order.
    pub fields: &'static [Field],
}

/// A fixed-size value with a little-endian wire form.
pub trait Wire: Sized + Copy {
    /// Bytes on the wire (equal to `size_of::<Self>()`, checked for every
    /// struct at compile time).
    const SIZE: usize;
    /// The all-zero value.
    const ZERO: Self;
    /// The value in the first [`Self::SIZE`] bytes of `b`, or `None` when
    /// `b` is shorter.
    fn read(b: &[u8]) -> Option<Self>;
    /// Writes the value into the first [`Self::SIZE`] bytes of `out`;
    /// `None` (and nothing written) when `out` is shorter.
    fn write(&self, out: &mut [u8]) -> Option<()>;
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            const ZERO: Self = 0;
            fn read(b: &[u8]) -> Option<Self> {
                let bytes = b.get(..Self::SIZE)?.try_into().ok()?;
                Some(<$t>::from_le_bytes(bytes))
            }
            fn write(&self, out: &mut [u8]) -> Option<()> {
                out.get_mut(..Self::SIZE)?.copy_from_slice(&self.to_le_bytes());
                Some(())
            }
        }
    )*};
}
wire_int!(u8, u16, u32, u64, i32);

impl<T: Wire, const N: usize> Wire for [T; N] {
    const SIZE: usize = T::SIZE * N;
    const ZERO: Self = [T::ZERO; N];
    fn read(b: &[u8]) -> Option<Self> {
        let b = b.get(..Self::SIZE)?;
        let mut out = [T::ZERO; N];
        for (slot, chunk) in out.iter_mut().zip(b.chunks_exact(T::SIZE.max(1))) {
            *slot = T::read(chunk)?;
        }
        Some(out)
    }
    fn write(&self, out: &mut [u8]) -> Option<()> {
        let out = out.get_mut(..Self::SIZE)?;
        for (v, chunk) in self.iter().zip(out.chunks_exact_mut(T::SIZE.max(1))) {
            v.write(chunk)?;
        }
        Some(())
    }
}

/// Declares wire structs: each gets `#[repr(C)]`, [`Wire`], a
/// `LAYOUT: StructLayout`, and compile-time asserts that it has no padding
/// and the stated size. The invocation also defines `STRUCTS`, every
/// declared struct's layout, which the C header test walks.
macro_rules! abi_structs {
    ($(
        $(#[$m:meta])*
        pub struct $name:ident ($c:literal, $size:literal) {
            $( $(#[$fm:meta])* pub $f:ident : $t:ty ),* $(,)?
        }
    )*) => {
        $(
            $(#[$m])*
            #[repr(C)]
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub struct $name {
                $( $(#[$fm])* pub $f: $t, )*
            }

            impl $name {
                /// This struct's layout: name, C name, size, fields.
                pub const LAYOUT: $crate::layout::StructLayout = $crate::layout::StructLayout {
                    rust: stringify!($name),
                    c: $c,
                    size: core::mem::size_of::<$name>(),
                    fields: &[$($crate::layout::Field {
                        name: stringify!($f),
                        offset: core::mem::offset_of!($name, $f),
                        size: core::mem::size_of::<$t>(),
                    }),*],
                };
            }

            // The layout proof: fields back to back from offset 0 (no
            // implicit padding: every gap is a named reserved field), the
            // last ending at the struct's end, and the stated size.
            const _: () = {
                let mut at = 0usize;
                $(
                    assert!(core::mem::offset_of!($name, $f) == at,
                        concat!(stringify!($name), ".", stringify!($f), ": implicit padding before it"));
                    assert!(<$t as $crate::layout::Wire>::SIZE == core::mem::size_of::<$t>());
                    at += core::mem::size_of::<$t>();
                )*
                assert!(at == core::mem::size_of::<$name>(),
                    concat!(stringify!($name), ": implicit padding at the end"));
                assert!(core::mem::size_of::<$name>() == $size,
                    concat!(stringify!($name), ": not its stated size"));
            };

            impl $crate::layout::Wire for $name {
                const SIZE: usize = $size;
                const ZERO: Self = Self { $($f: <$t as $crate::layout::Wire>::ZERO),* };
                fn read(b: &[u8]) -> Option<Self> {
                    let b = b.get(..Self::SIZE)?;
                    Some(Self {$(
                        $f: <$t as $crate::layout::Wire>::read(
                            b.get(core::mem::offset_of!($name, $f)..)?,
                        )?,
                    )*})
                }
                fn write(&self, out: &mut [u8]) -> Option<()> {
                    let out = out.get_mut(..Self::SIZE)?;
                    $(
                        self.$f.write(out.get_mut(core::mem::offset_of!($name, $f)..)?)?;
                    )*
                    Some(())
                }
            }
        )*

        /// Every wire struct's layout, in declaration order (what
        /// `tests/c_header.rs` compares with `include/covmini.h`).
        pub const STRUCTS: &[$crate::layout::StructLayout] = &[$($name::LAYOUT),*];
    };
}

/// Declares integer constants and `$table`, their `(name, value)` list that
/// the C header test compares with `include/covmini.h`'s `#define`s.
macro_rules! abi_consts {
    ($table:ident; $(
        $(#[$m:meta])*
        pub const $name:ident : $t:ty = $v:expr;
    )*) => {
        $( $(#[$m])* pub const $name: $t = $v; )*

        /// Every constant of this module by its name (the same in C), as a
        /// u64 (every type here is unsigned and at most 64 bits: the cast
        /// widens, never truncates).
        pub const $table: &[(&str, u64)] = &[$((stringify!($name), $name as u64)),*];
    };
}
