//! Differential check for grammar changes that must not change what is
//! parsed: prints, for every `.flow` file and ```` ```flow ```` block under
//! ROOT, and for each of them with a character deleted, `x ` inserted, a `"`
//! inserted or the text cut at 60 places, a hash of the whole parse (tree,
//! spans, syntax errors) and of every piece parse. Run it before and after a
//! change and compare:
//!
//! ```sh
//! cargo run --release -p flowc-grammar --example parse_diff -- . > before.txt
//! # change the grammar
//! cargo run --release -p flowc-grammar --example parse_diff -- . > after.txt
//! diff before.txt after.txt   # nothing: the change is invisible
//! ```
use std::hash::{Hash, Hasher};

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut v: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    v.sort();
    for p in v {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "target" && name != ".git" && name != "node_modules" {
                walk(&p, out);
            }
        } else if name.ends_with(".flow") || name.ends_with(".md") {
            out.push(p);
        }
    }
}

fn h(s: &str) -> u64 {
    let mut x = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut x);
    x.finish()
}

fn one(id: &str, text: &str) {
    let p = flowc_grammar::parse(text);
    let mut line = format!("{id} {:x} {}", h(&format!("{p:?}")), p.errors.len());
    let lexed = flowc_grammar::lexer::lex(text);
    if let Some(decls) = flowc_grammar::outline::outline(text, &lexed) {
        let mut acc = String::new();
        for d in decls {
            let pieces = match d {
                flowc_grammar::outline::OutlineDecl::Workflow(w) => w.items,
                flowc_grammar::outline::OutlineDecl::Other(p) => vec![p],
            };
            for piece in pieces {
                let t = &text[piece.span.start as usize..piece.span.end as usize];
                acc.push_str(&format!("{:?}", flowc_grammar::parse_piece(piece.kind, t)));
            }
        }
        line.push_str(&format!(" pieces {:x}", h(&acc)));
    }
    println!("{line}");
}

fn main() {
    let root = std::env::args().nth(1).expect("root");
    let mut files = Vec::new();
    walk(std::path::Path::new(&root), &mut files);
    let mut inputs: Vec<(String, String)> = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        let name = f.strip_prefix(&root).unwrap().display().to_string();
        if name.ends_with(".md") {
            let mut n = 0;
            let mut rest = text.as_str();
            while let Some(i) = rest.find("```flow") {
                let after = &rest[i + 7..];
                let after = after.split_once('\n').map(|x| x.1).unwrap_or("");
                let end = after.find("```").unwrap_or(after.len());
                inputs.push((format!("{name}#{n}"), after[..end].to_string()));
                n += 1;
                rest = &after[end.min(after.len())..];
                if rest.len() >= 3 { rest = &rest[3..]; }
            }
        } else {
            inputs.push((name, text));
        }
    }
    for (id, text) in &inputs {
        one(id, text);
        if text.len() > 6000 { continue; }
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let stride = (chars.len() / 60).max(1);
        for (k, (i, c)) in chars.iter().enumerate().step_by(stride) {
            let j = i + c.len_utf8();
            one(&format!("{id}@del{k}"), &format!("{}{}", &text[..*i], &text[j..]));
            one(&format!("{id}@ins{k}"), &format!("{}x {}", &text[..*i], &text[*i..]));
            one(&format!("{id}@q{k}"), &format!("{}\"{}", &text[..*i], &text[*i..]));
            one(&format!("{id}@cut{k}"), &text[..*i]);
        }
    }
}
