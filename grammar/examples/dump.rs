fn main() {
    let path = std::env::args().nth(1).expect("path");
    let src = std::fs::read_to_string(&path).unwrap();
    let p = flowc_grammar::parse(&src);
    if std::env::args().nth(2).is_some() { println!("{:#?}", p.file); }
    for e in &p.errors {
        let line = src[..e.span.start as usize].matches('\n').count() + 1;
        println!("{} line {} {:?} {} | {} | {:?}", e.kind.code(), line, e.span, e.message, e.label, e.help);
    }
    println!("{} decls, {} errors", p.file.decls.len(), p.errors.len());
}
