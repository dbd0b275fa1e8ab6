//! The world as the process-global lock in `crate::world` holds it, and
//! why it may cross threads (the `Send` promise, the FFI seam's to make).
//!
//! It owns that promise only. It must not name the world's type (that
//! would make the world, which holds this, and this module name each other):
//! the promise is for every [`Locked`] type, and only the world is one.
#![allow(unsafe_code)]

/// Marks the type of the state behind the process-global world lock.
///
/// INVARIANT: implemented by `crate::world::World` alone, whose raw pointers
/// name memory the emulator allocated (NBL and MDL blocks, OID request
/// blocks, call parameters) or the driver's memory: none of it tied to a
/// thread (no thread-local storage, no thread-affine handle).
pub(crate) trait Locked {}

/// The world as the process-global lock in `crate::world` holds it.
///
/// INVARIANT: reached only through that lock, so by one thread at a time.
#[derive(Default)]
pub(crate) struct SharedWorld<T: Locked>(pub(crate) Option<T>);

// SAFETY: T is the World (Locked's INVARIANT), whose pointers name memory
// tied to no thread; the lock (this type's INVARIANT) lets one thread at a
// time reach it, as the kernel lets any CPU touch nonpaged memory.
unsafe impl<T: Locked> Send for SharedWorld<T> {}
