//! `outline::reoutline` (the split redone only around an edit) against
//! `outline::outline` (the whole text split again), on random edits.

use flowc_grammar::lexer::lex;
use flowc_grammar::outline::{OutlineDecl, outline, reoutline};

const BASE: &str = r#"// A file with every kind of piece.
agent helper { command "sh helper.sh" }

workflow first {
  input go: bool = true
  step a { command "echo ${inputs.go} // not a comment" }
  /* a comment { with a brace */
  step b: notify after a {
    channel "c"
    message "done: $a.stdout"
  }
  parallel both after b {
    step c { command "echo c" }
    phase inner {
      step d { command "echo {d}" }
    }
  }
  step e: branch after both {
    when `inputs.go` -> f
  }
  step f { command "echo f" } // trailing
}

workflow second {
  step only { command "echo 2" }
}
"#;

/// Whether every piece of an outline parses cleanly (what the compiler
/// requires of the outline it keeps).
fn clean(text: &str, decls: &[OutlineDecl]) -> bool {
    let pieces = decls.iter().flat_map(|d| match d {
        OutlineDecl::Workflow(w) => w.items.iter().map(|p| (p.kind, p.span)).collect::<Vec<_>>(),
        OutlineDecl::Other(p) => vec![(p.kind, p.span)],
    });
    pieces.into_iter().all(|(kind, span)| flowc_grammar::parse_piece(kind, &text[span.range()]).is_some_and(|(_, clean)| clean))
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

#[test]
fn reoutline_equals_a_fresh_outline_after_random_edits() {
    let inserts = ["x", "\"", "{", "}", "`", "\n", "$", "${", "//", "/*", "*/", " ", "\n  step z { command \"z\" }\n", "step", "phase", "(", "é"];
    let mut rng = Lcg(0x0071_11e5);
    let (mut redone, mut agreed_none) = (0, 0);
    for series in 0..60 {
        let mut old = BASE.to_string();
        let mut decls = outline(&old, &lex(&old)).expect("the base file splits");
        for _ in 0..25 {
            let mut at = rng.next(old.len() + 1);
            while !old.is_char_boundary(at) {
                at -= 1;
            }
            let new = if rng.next(3) == 0 {
                let mut end = (at + 1 + rng.next(10)).min(old.len());
                while !old.is_char_boundary(end) {
                    end += 1;
                }
                format!("{}{}", &old[..at], &old[end..])
            } else {
                format!("{}{}{}", &old[..at], inserts[rng.next(inserts.len())], &old[at..])
            };
            let fresh = outline(&new, &lex(&new));
            match reoutline(&old, &decls, &new) {
                Some(quick) => {
                    assert_eq!(Some(&quick), fresh.as_ref(), "series {series}: edit at {at} of\n{old}\ngave\n{new}");
                    redone += 1;
                }
                None => agreed_none += usize::from(fresh.is_none()),
            }
            // Keep going from the new text when its outline is one the
            // compiler would keep; else edit the old one again.
            if let Some(f) = fresh
                && clean(&new, &f)
            {
                old = new;
                decls = f;
            }
        }
    }
    assert!(redone > 300, "only {redone} edits were redone around the change ({agreed_none} fell back with the fresh split refusing too)");
}

#[test]
fn an_edit_inside_one_step_is_split_again_around_it() {
    let decls = outline(BASE, &lex(BASE)).unwrap();
    let new = BASE.replace("echo f", "echo ff");
    assert_eq!(reoutline(BASE, &decls, &new), outline(&new, &lex(&new)));
    assert!(reoutline(BASE, &decls, &new).is_some());
    // Outside a workflow's body, or across the file's split: the caller splits it whole.
    let header = BASE.replace("workflow second", "workflow second2");
    assert_eq!(reoutline(BASE, &decls, &header), None);
    // A line comment typed before a workflow's closing brace swallows it.
    let swallowed = BASE.replace("step only { command \"echo 2\" }\n}", "step only { command \"echo 2\" }\n//}");
    assert_eq!(reoutline(BASE, &decls, &swallowed), None);
    assert_eq!(outline(&swallowed, &lex(&swallowed)), None);
}
