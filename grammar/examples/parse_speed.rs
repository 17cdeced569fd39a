use pest::Parser;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    for _ in 0..2 {
        let t = std::time::Instant::now();
        let pairs = flowc_grammar::parser::FlowParser::parse(flowc_grammar::parser::Rule::file, &src).unwrap();
        let el = t.elapsed();
        let n = pairs.flatten().count();
        println!("pest only: {:?} {} pairs, {:.1} MB/s", el, n, src.len() as f64 / el.as_secs_f64() / 1e6);
        let t = std::time::Instant::now();
        let l = flowc_grammar::lexer::lex(&src);
        println!("lex: {:?} {}", t.elapsed(), l.tokens.len());
        let t = std::time::Instant::now();
        let p = flowc_grammar::parse(&src);
        let el = t.elapsed();
        println!("full: {} bytes, {} errors, {:?}, {:.1} MB/s", src.len(), p.errors.len(), el, src.len() as f64 / el.as_secs_f64() / 1e6);
    }
}
