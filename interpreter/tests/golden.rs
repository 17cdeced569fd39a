//! Golden tests of the plan disassembly, starlark-style: each
//! `tests/golden/NAME.json` plan is loaded, disassembled and compared with
//! `NAME.golden`. `FLOWC_BLESS=1 cargo test -p flowc-interpreter --test golden`
//! rewrites the golden files; review the diff before committing it. Each
//! golden file starts with a line saying so, which the comparison skips.

use std::path::Path;

use flowc_interpreter::plan::{LoadedPlan, Plan};

/// The first line of every golden file.
const HEADER: &str = "# regenerate: FLOWC_BLESS=1 cargo test -p flowc-interpreter --test golden\n";

#[test]
fn disassembly_matches_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("FLOWC_BLESS").is_some();
    let mut plans: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    plans.sort();
    assert!(!plans.is_empty());
    let mut mismatches = Vec::new();
    for path in plans {
        let text = std::fs::read_to_string(&path).unwrap();
        let plan = Plan::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Every golden plan must also pass the loader's checks.
        let loaded = LoadedPlan::load(plan.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The plan survives a serde round trip unchanged.
        assert_eq!(Plan::from_json(&loaded.plan.to_json()).unwrap(), plan);
        let actual = plan.disassemble();
        let golden = path.with_extension("golden");
        if bless {
            std::fs::write(&golden, format!("{HEADER}{actual}")).unwrap();
            continue;
        }
        let file = std::fs::read_to_string(&golden).unwrap_or_default();
        let Some(expected) = file.strip_prefix(HEADER) else {
            mismatches.push(format!("--- {} does not start with `{}`", golden.display(), HEADER.trim_end()));
            continue;
        };
        if expected != actual {
            mismatches.push(format!("--- {}\n{actual}", golden.display()));
        }
    }
    assert!(mismatches.is_empty(), "disassembly changed (FLOWC_BLESS=1 to accept):\n{}", mismatches.join("\n"));
}
