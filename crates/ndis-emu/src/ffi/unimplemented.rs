//! DDIs the driver may import that ndis-emu does not implement yet.
//!
//! Each is defined, so the host build links and the PE loader can bind every
//! name, but a call records `emu.unimplemented-ddi` (failing the run), says so
//! on stderr at once, and returns a failure status or NULL: never a silent
//! success. The call-manager, data-path, work-item, timer and NBL-pool DDIs
//! arrive with the emulator's call paths (issue #3).

use ndis_sys::*;

use crate::rules;
use crate::world;

fn unimplemented_ddi(name: &'static str) {
    eprintln!("ndis-emu: the driver called {name}, which ndis-emu does not implement yet");
    world::with(name, |w| {
        w.event("=>", name, "NOT IMPLEMENTED");
        w.violate(
            rules::UNIMPLEMENTED_DDI,
            name,
            format!("{name} is not implemented by ndis-emu"),
            &[],
        );
    });
}

macro_rules! unimplemented_ddis {
    ($(fn $name:ident($($a:ident: $t:ty),* $(,)?) $(-> $r:ty = $default:expr)?;)*) => {
        $(
            ddi_fn! {
                #[doc = concat!("`", stringify!($name), "`: not implemented yet (records `emu.unimplemented-ddi`).")]
                #[unsafe(no_mangle)]
                pub unsafe fn $name($($a: $t),*) $(-> $r)? {
                    $(let _ = $a;)*
                    unimplemented_ddi(stringify!($name));
                    $($default)?
                }
            }
        )*
    };
}

unimplemented_ddis! {
    fn NdisMCoActivateVcComplete(s: NDIS_STATUS, vc: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS);
    fn NdisMCoDeactivateVcComplete(s: NDIS_STATUS, vc: NDIS_HANDLE);
}
