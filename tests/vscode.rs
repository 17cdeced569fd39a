//! The VS Code extension in `editors/vscode`: its TypeScript client compiles
//! and its TextMate grammar tokenizes the examples with the engine VS Code
//! uses (`npm test`, node's test runner over vscode-textmate and Oniguruma).
//!
//! Node.js and npm are needed; the extension's packages come from the npm
//! registry through its lock file (`npm ci`, run here when they are absent).

use std::path::Path;
use std::process::Command;

fn npm(dir: &Path, args: &[&str]) {
    let out = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run npm (Node.js and npm are needed for the VS Code extension): {e}"));
    assert!(
        out.status.success(),
        "npm {} failed in {}:\n{}\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_extension_compiles_and_its_grammar_tokenizes_the_examples() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode");
    if !dir.join("node_modules/vscode-textmate").is_dir() {
        npm(&dir, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(&dir, &["run", "compile"]);
    assert!(dir.join("out/extension.js").is_file(), "the client compiles to out/extension.js");
    npm(&dir, &["test"]);
}
