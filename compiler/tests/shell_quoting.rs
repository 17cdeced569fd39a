//! Property: a hole's value, escaped for the context the shell lexer found,
//! reaches the command as exactly its text. Random values (every character
//! but NUL, the shell's metacharacters over-represented) in random contexts
//! are rendered into a command, run by `/bin/sh` (dash on Debian) and by
//! `bash` when present, printed back with `printf '%s'` (or `cat`), and
//! compared byte for byte. Here-document values that would end the body
//! early may be refused instead, and only then.

use std::process::Command;

use flowc_compiler::shell_lex::{Seg, hole_contexts};
use flowc_plan::table::{ShellContext, heredoc_breaks, shell_escape};
use proptest::prelude::*;

/// A command with `@` for holes, and its expected output for values `v`
/// under `shell` ("sh" or "bash").
struct Case {
    template: &'static str,
    expect: fn(&[String], &str) -> String,
}

const CASES: &[Case] = &[
    Case { template: "printf '%s' @", expect: |v, _| v[0].clone() },
    Case { template: "printf '%s' a@b@", expect: |v, _| format!("a{}b{}", v[0], v[1]) },
    Case { template: r#"printf '%s' "a @ \$ b""#, expect: |v, _| format!("a {} $ b", v[0]) },
    Case { template: "printf '%s' 'a\" @ $HOME'", expect: |v, _| format!("a\" {} $HOME", v[0]) },
    Case { template: "printf '%s' x\"@\"'@'y", expect: |v, _| format!("x{}{}y", v[0], v[1]) },
    Case {
        template: "printf '%s' $'a @ b'",
        // dash reads `$'…'` as `$` and `'…'`: the value is still literal.
        expect: |v, sh| if sh == "bash" { format!("a {} b", v[0]) } else { format!("$a {}$ b", v[0]) },
    },
    Case { template: "X=@; printf '%s' \"$X\"", expect: |v, _| v[0].clone() },
    Case { template: "printf '%s' ~@ a=~@", expect: |v, _| format!("~{}a=~{}", v[0], v[1]) },
    Case { template: "[[ @ == \"@\" ]] && printf '%s' same", expect: |v, sh| if sh == "bash" && v[0] == v[1] { "same".into() } else { String::new() } },
    Case { template: "sh -c 'printf \"%s\" \"$1\"' sh @", expect: |v, _| v[0].clone() },
    Case { template: "cat <<EOF\n<@> $HOME\nEOF", expect: |v, _| format!("<{}> {}\n", v[0], home()) },
    Case { template: "cat <<'EOF'\n<@> $HOME\nEOF\n", expect: |v, _| format!("<{}> $HOME\n", v[0]) },
    Case { template: "cat <<-EOF\n\t@\n\tEOF", expect: |v, _| format!("{}\n", v[0]) },
    Case { template: "cat <<-'E O'\n\t@\n\tE O", expect: |v, _| format!("{}\n", v[0]) },
    Case { template: "printf '%s' \"$(( @ + 0 ))\"", expect: |v, _| v[0].parse::<i64>().unwrap_or_default().to_string() },
    Case { template: "if true; then printf '%s' \"@\"; fi # done", expect: |v, _| v[0].clone() },
];

fn home() -> String {
    std::env::var("HOME").unwrap_or_default()
}

fn shells() -> Vec<&'static str> {
    let mut out = vec!["sh"];
    if Command::new("bash").arg("-c").arg("true").status().is_ok_and(|s| s.success()) {
        out.push("bash");
    }
    out
}

/// Renders `template` with `values` the way the runtime does.
fn render(template: &str, values: &[String]) -> Result<String, String> {
    let pieces: Vec<&str> = template.split('@').collect();
    let mut segs = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            segs.push(Seg::Hole);
        }
        segs.push(Seg::Text(p));
    }
    let contexts = hole_contexts(&segs);
    let mut out = String::new();
    let mut heredocs = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            let ctx = contexts[i - 1].clone().unwrap_or_else(|r| panic!("{template:?}: refused: {}", r.reason));
            let start = out.len();
            out.push_str(&shell_escape(&ctx, &values[i - 1])?);
            if let ShellContext::Heredoc { delimiter, strip_tabs, .. } = &ctx {
                heredocs.push((start..out.len(), delimiter.clone(), *strip_tabs));
            }
        }
        out.push_str(p);
    }
    for (range, delimiter, strip_tabs) in heredocs {
        if let Some(why) = heredoc_breaks(&out, range, &delimiter, strip_tabs) {
            return Err(why);
        }
    }
    Ok(out)
}

fn value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "$(", ")", "`", ";", "|", "&&", "\n", "\"", "'", "\\", "*", "~", "-", "$HOME", "${", "}", " ", "\t",
            "#", "!", "<", ">", "?", "[", "]", "=", "%s", "EOF", "E O", "\u{e9}", "\u{1F600}", "$'", "\r",
        ])
        .prop_map(str::to_string),
        1 => any::<char>().prop_filter("no NUL", |c| *c != '\0').prop_map(|c| c.to_string()),
    ];
    prop_oneof![
        6 => prop::collection::vec(piece, 0..10).prop_map(|p| p.concat()),
        1 => any::<i32>().prop_map(|n| n.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn values_reach_the_command_literally(case in 0..CASES.len(), a in value(), b in value()) {
        let case = &CASES[case];
        let values = [a, b];
        match render(case.template, &values) {
            Err(why) if why.contains("not an integer") => {
                prop_assert!(case.template.contains("$(("), "{}", why);
                let canonical = values[0].parse::<i64>().map(|n| n.to_string());
                prop_assert!(canonical != Ok(values[0].clone()), "{}", why);
            }
            Err(why) => {
                // Only a here-document value that would end the body, lose
                // its tabs or meet dash's non-ASCII slip may be refused.
                prop_assert!(case.template.contains("<<"), "{}", why);
                prop_assert!(
                    ["end the here-document", "tabs", "dash misreads"].iter().any(|w| why.contains(w)),
                    "{}", why
                );
            }
            Ok(cmd) => {
                for sh in shells() {
                    let out = Command::new(sh).arg("-c").arg(&cmd).env("HOME", home()).output().expect("a shell");
                    let expected = (case.expect)(&values, sh);
                    prop_assert_eq!(
                        String::from_utf8_lossy(&out.stdout).to_string(), expected,
                        "{} ran {:?} (stderr {})", sh, cmd, String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
    }
}

#[test]
fn a_nul_is_refused_in_every_context() {
    for ctx in [ShellContext::Word, ShellContext::Double, ShellContext::Single, ShellContext::DollarSingle] {
        assert!(shell_escape(&ctx, "a\0b").is_err());
    }
}
