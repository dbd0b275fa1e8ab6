//! Compile-time layout assertions and the tags that say where each value
//! comes from.
//!
//! Every `#[repr(C)]` structure in this crate carries an [`crate::assert_layout!`]
//! with its x64 size and field offsets. ARM64 Windows has the same data model
//! (LLP64, 8-byte pointers, natural alignment), so the same numbers hold there;
//! 32-bit targets are not supported and the assertions are skipped on them.
//!
//! Source tags, as in `shared/reference/condis-mcm-contract.md`:
//! * `\[H\]` the value is in a real WDK header (or a header derived from it);
//! * `\[D\]` Microsoft Learn WDK documentation;
//! * `\[B\]` observed behaviour/accesses of the shipping `ndis.sys`;
//! * `\[C\]` computed from a confirmed field list by the x64 C layout rules;
//! * `\[I\]` inferred and not confirmed.
//!
//! `crates/ndis-sys/LAYOUT.md` names the sources and lists what is still open.
//!
//! On Windows the driver's build script also runs bindgen over the WDK's
//! `ndis.h` and asserts every size and offset here against it (build 3).

/// Asserts a structure's size (and optionally alignment) and field offsets on
/// 64-bit targets, at compile time.
#[macro_export]
macro_rules! assert_layout {
    ($ty:ty, size = $size:expr $(, align = $align:expr)? $(, { $($field:ident : $off:expr),* $(,)? })?) => {
        #[cfg(target_pointer_width = "64")]
        const _: () = {
            assert!(core::mem::size_of::<$ty>() == $size, concat!("size of ", stringify!($ty)));
            $(assert!(core::mem::align_of::<$ty>() == $align, concat!("alignment of ", stringify!($ty)));)?
            $($(
                assert!(
                    core::mem::offset_of!($ty, $field) == $off,
                    concat!("offset of ", stringify!($ty), "::", stringify!($field))
                );
            )*)?
        };
    };
}
