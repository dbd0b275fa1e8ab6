//! The handles of the scripted client API ([`crate::Emulator`]'s client
//! calls, `crate::client`): a client, and the AF, SAP, VC and party handles
//! NDIS gave it.
//!
//! It owns these value types only. A leaf: the Emulator's own file names
//! them, so they must not live in a file that names the Emulator.

/// A scripted client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client(pub usize);
/// An open address family (NdisAfHandle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Af(pub usize);
/// A registered SAP (NdisSapHandle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sap(pub usize);
/// A VC (NdisVcHandle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vc(pub usize);
/// A party (NdisPartyHandle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Party(pub usize);
