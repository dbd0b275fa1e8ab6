//! The registry configuration an adapter reads with NdisOpenConfigurationEx,
//! NdisReadConfiguration and NdisCloseConfiguration (the DDIs are in
//! `ffi::exports`).
//!
//! What it owns: the adapter's parameters (the values of its software key,
//! where an INF's `HKR` values of the install section land, as a test sets
//! them with [`crate::Emulator::set_adapter_parameter`]), the configuration
//! handles the driver has open, and the `NDIS_CONFIGURATION_PARAMETER`
//! blocks NdisReadConfiguration handed out on each (NDIS owns them until
//! NdisCloseConfiguration, which frees them). It models integer values only
//! (`REG_DWORD`); the registry's case-insensitive value names are kept.
//!
//! Its rule: every configuration handle is closed by the end of the handler
//! that owns its key's object: MiniportHaltEx (or a failed
//! MiniportInitializeEx) for the adapter's key (Microsoft's NDIS rule
//! NdisOpenConfigurationEx: "every configuration handle opened is closed by
//! the end of MiniportHaltEx").
//!
//! What it must not do: hand out a parameter that was not set, or free a
//! block the driver may still read (only the close frees them).

use std::collections::BTreeMap;

use ndis_sys::ULONG;

crate::define_rules! { CONFIG:
    CONFIG_CLOSED, "config.closed", false, "NdisOpenConfigurationEx (Microsoft's NDIS rule of that name); NdisCloseConfiguration", "config_closed_fires_on_a_handle_kept_past_halt",
        "Every configuration handle NdisOpenConfigurationEx gave is closed with NdisCloseConfiguration before MiniportHaltEx (or a failed MiniportInitializeEx) of its adapter returns.";
}

/// One open configuration handle.
pub(crate) struct OpenKey {
    /// The adapter handle it was opened with.
    pub owner: usize,
    /// The handler it was opened in, for reports.
    pub origin: String,
    /// The `NDIS_CONFIGURATION_PARAMETER` blocks handed out on it (the FFI
    /// layer's owners of them), freed when the key is closed.
    pub blocks: Vec<Box<dyn Send>>,
}

impl core::fmt::Debug for OpenKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenKey")
            .field("owner", &self.owner)
            .field("origin", &self.origin)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

/// The configuration state of one emulator.
#[derive(Debug, Default)]
pub struct Config {
    /// The adapter's parameters, by lower-cased value name.
    pub(crate) adapter_parameters: BTreeMap<String, ULONG>,
    /// Open configuration handles.
    pub(crate) open: BTreeMap<usize, OpenKey>,
}

impl Config {
    /// Sets a parameter of the adapter's key (a `REG_DWORD`).
    pub(crate) fn set(&mut self, name: &str, value: ULONG) {
        self.adapter_parameters.insert(name.to_ascii_lowercase(), value);
    }

    /// The value of `name`, if set (names compare case-insensitively, as
    /// registry value names do).
    pub(crate) fn get(&self, name: &str) -> Option<ULONG> {
        self.adapter_parameters.get(&name.to_ascii_lowercase()).copied()
    }

    /// Keeps `block` (the owner of a parameter block handed out on `h`)
    /// until `h` is closed; false if `h` is not open.
    pub(crate) fn keep(&mut self, h: usize, block: Box<dyn Send>) -> bool {
        match self.open.get_mut(&h) {
            Some(key) => {
                key.blocks.push(block);
                true
            }
            None => false,
        }
    }

    /// Closes handle `h`: frees the blocks handed out on it.
    pub(crate) fn close(&mut self, h: usize) -> bool {
        self.open.remove(&h).is_some()
    }
}

impl Config {
    /// Closes every handle `owner` still has open and returns them with the
    /// handler each was opened in: its MiniportHaltEx (or failed
    /// MiniportInitializeEx) returned, or the run ended, so each breaks
    /// [`CONFIG_CLOSED`] (the emulator reports them, once: they are closed).
    pub(crate) fn close_all_of(&mut self, owner: usize) -> Vec<(usize, String)> {
        let left: Vec<(usize, String)> = self
            .open
            .iter()
            .filter(|(_, k)| k.owner == owner)
            .map(|(h, k)| (*h, k.origin.clone()))
            .collect();
        for (h, _) in &left {
            self.close(*h);
        }
        left
    }

    /// The owners with a handle still open.
    pub(crate) fn owners(&self) -> Vec<usize> {
        let owners: std::collections::BTreeSet<usize> = self.open.values().map(|k| k.owner).collect();
        owners.into_iter().collect()
    }
}
