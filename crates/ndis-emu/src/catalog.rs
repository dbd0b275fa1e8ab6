//! The rules catalog: every area's rules in catalog order ([`all`]) and
//! the catalog as Markdown ([`catalog_markdown`], what `RULES.md` holds).
//!
//! It owns the list of areas only; each area declares its rules with
//! [`crate::define_rules!`] next to the code that enforces them, and
//! [`crate::rules`] defines what a rule is. Nothing but the catalog's
//! readers (tests, covmini-lab) may depend on this module: it names every
//! area, so an area that named it would close an import circle.

use crate::rules::Rule;

/// Every rule ndis-emu enforces, area by area, in catalog order.
#[must_use]
pub fn all() -> Vec<Rule> {
    [
        crate::rules::LIFECYCLE,
        crate::condis::rules::CONDIS,
        crate::condis::pended::PENDED,
        crate::sched::SCHED,
        crate::sync::SYNC,
        crate::memory::MEMORY,
        crate::lookaside::LOOKASIDE,
        crate::nbl::NBLS,
        crate::pause::PAUSE,
        crate::config::CONFIG,
    ]
    .concat()
}

/// The rules catalog as Markdown (what `RULES.md` holds).
#[must_use]
pub fn catalog_markdown() -> String {
    let mut s = String::from(
        "# ndis-emu rules catalog\n\nGenerated from `crates/ndis-emu/src/rules.rs` and the rules each area \
         declares next to the code that enforces them (`define_rules!`), with Microsoft's NDIS compliance rules \
         mapped to them at the end (`src/compliance.rs`): regenerate with \
         `NDIS_EMU_BLESS=1 cargo test -p ndis-emu --test catalog`; the test `rules_catalog_is_in_sync` fails \
         if this file and the code differ. Each rule's proving test is in `crates/ndis-emu/tests/` (`teeth*.rs`). \
         \"Stricter\" marks rules the shipping ndis.sys does not check.\n\n\
         | id | statement | source | stricter | proving test |\n|---|---|---|---|---|\n",
    );
    for r in all() {
        let r = r.info();
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | `{}` |\n",
            r.id,
            r.statement,
            r.source,
            if r.stricter_than_windows { "yes" } else { "no" },
            r.proving_test
        ));
    }
    s.push_str(&crate::compliance::table_markdown());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_proving_tests_are_unique_across_areas() {
        let all = all();
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(a.id(), b.id());
                assert_ne!(a.info().proving_test, b.info().proving_test);
            }
        }
    }
}
