//! The shell lexer: where in a command's shell syntax each template hole sits.
//!
//! A command template is the author's shell text with holes whose values are
//! hostile (they come from inputs, outputs, HTTP events). To make a value
//! arrive as exactly its own text, its escaping must fit the quoting context
//! the shell is in at the hole: unquoted, `"…"`, `'…'`, `$'…'`, or a line of
//! a here-document (POSIX Shell Command Language §2.2 quoting, §2.3 token
//! recognition, §2.6.3 command substitution, §2.7.4 here-documents). Some
//! contexts cannot be made safe — the text is run as code again (`$(…)`,
//! backticks, `eval`, `sh -c`'s script, a here-document fed to a shell), is
//! arithmetic (`$((…))`, `[[ a -eq b ]]`), is a here-document's delimiter,
//! sits right after a `\` or `$`, or inside a comment a newline would end;
//! those are refused with a reason (E0701).
//!
//! Why our own: the maintained shell parsers (`yash-syntax`) parse whole
//! scripts into an AST and do not report the quoting state at a byte offset
//! inside a word, and `conch-parser` is unmaintained; `shlex` only splits
//! words. This lexer tracks exactly the state the question needs and is
//! tolerant: text that is not valid shell still gets an answer per hole.
//!
//! Never panics; runs at compile time only (the plan records the answer).

use flowc_plan::table::ShellContext;

/// A piece of a command template: the author's text or a hole.
pub enum Seg<'a> {
    Text(&'a str),
    Hole,
}

/// Why a hole's context cannot be made safe, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Self {
        Refusal { reason: reason.into() }
    }
}

/// The context of each hole of `segs`, in order.
pub fn hole_contexts(segs: &[Seg<'_>]) -> Vec<Result<ShellContext, Refusal>> {
    let mut lx = Lexer::default();
    lx.frames.push(Frame::List(List::new(None)));
    for seg in segs {
        match seg {
            Seg::Text(t) => {
                let chars: Vec<char> = t.chars().collect();
                let mut i = 0;
                while i < chars.len() {
                    i += lx.step(&chars[i..]);
                }
            }
            Seg::Hole => {
                let ctx = lx.hole_context();
                lx.out.push(ctx);
                lx.after_hole();
            }
        }
    }
    // A word that ended with the text closes now (`[[ x -eq ${a} ]]` is decided at `]]`).
    lx.end_word();
    lx.out
}

/// The context of each hole of a command template, in order.
pub fn template_contexts(t: &flowc_grammar::ast::TemplateStr) -> Vec<Result<ShellContext, Refusal>> {
    use flowc_grammar::ast::TemplatePart;
    let segs: Vec<Seg<'_>> = t
        .parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text { text, .. } => Seg::Text(text),
            TemplatePart::Hole(_) => Seg::Hole,
        })
        .collect();
    hole_contexts(&segs)
}

#[derive(Debug)]
enum Frame {
    /// A command list: the top level, or the inside of `$(…)`, `<(…)`.
    List(List),
    Double,
    Single,
    /// `$'…'`; `true` while a `\` that ended the text awaits its character.
    DollarSingle(bool),
    /// `${…}`, with its brace depth.
    Param(u32),
    /// `$((…))`, `((…))` or `$[…]`, with its paren depth.
    Arith(u32),
    Backtick,
    Comment,
    /// The body of a here-document, line by line.
    Heredoc(Heredoc),
}

#[derive(Clone, Debug)]
struct Heredoc {
    delimiter: String,
    quoted: bool,
    strip_tabs: bool,
    /// Fed to a shell (`sh <<EOF`): the body is code.
    evaluated: bool,
    /// The current line so far, and whether it holds a hole.
    line: String,
    line_has_hole: bool,
    escape: bool,
    dollar: bool,
}

/// What the command being read does with its words.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// No command name yet (only assignments and redirections so far).
    Start,
    /// A command whose arguments are plain data.
    Plain,
    /// A command whose name comes from a hole: the value could make it
    /// `eval` or `sh -c`, so its arguments take no holes.
    Dynamic,
    /// `eval`, `let`, `alias`, `trap`, `watch`: every argument is code.
    Eval(&'static str),
    /// `sh`, `bash`…: options (a value there could be `-c`), then with `-c`
    /// the script, then `$0` and the arguments (data).
    Shell { name: String, c: bool, stdin: bool, state: ShellArgs },
    /// `ssh`: the words after the host run in the remote shell.
    Ssh { host_seen: bool, skip_next: bool },
    /// `env`, `sudo`, `nohup`…: options, then a command of its own.
    Wrapper { skip_next: bool, operands: u32 },
    /// `[[ … ]]` (bash): operands of arithmetic comparisons are evaluated.
    Test,
    /// `declare`, `typeset`, `local`, `export`, `readonly`; `true` after a
    /// `-i` option, which makes bash evaluate the values as arithmetic.
    Declare(bool),
}

#[derive(Clone, Debug, PartialEq)]
enum ShellArgs {
    Options,
    OptionArg,
    Script,
    Data,
}

#[derive(Debug)]
struct List {
    closer: Option<char>,
    paren_depth: u32,
    kind: Kind,
    word: Word,
    /// The next word is a redirection target, or (`Some(strip)`) a here-document delimiter.
    redirect: Option<Redirect>,
    /// Here-documents whose bodies start at the next newline.
    pending: Vec<Heredoc>,
    /// Indices into `pending` registered by the current command.
    cmd_heredocs: Vec<usize>,
    /// `[[`: the previous word, to spot `-eq` and friends, and the holes of the last word.
    prev_word_holes: Vec<usize>,
    prev_word_arith_op: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Redirect {
    File,
    Heredoc { strip_tabs: bool },
}

#[derive(Debug, Default)]
struct Word {
    started: bool,
    /// The text with quotes removed, when it is known statically.
    text: String,
    quoted: bool,
    /// The word starts with quoted text, so it is no assignment.
    lead_quoted: bool,
    dynamic: bool,
    holes: Vec<usize>,
    escape: bool,
    dollar: bool,
}

impl List {
    fn new(closer: Option<char>) -> Self {
        List {
            closer,
            paren_depth: 0,
            kind: Kind::Start,
            word: Word::default(),
            redirect: None,
            pending: Vec::new(),
            cmd_heredocs: Vec::new(),
            prev_word_holes: Vec::new(),
            prev_word_arith_op: false,
        }
    }
}

#[derive(Default)]
struct Lexer {
    frames: Vec<Frame>,
    out: Vec<Result<ShellContext, Refusal>>,
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish"];
const EVAL: &[&str] = &["eval", "let", "alias", "trap", "watch"];
const WRAPPERS: &[&str] =
    &["env", "sudo", "doas", "nohup", "exec", "command", "builtin", "nice", "time", "timeout", "xargs", "setsid", "stdbuf", "busybox", "su"];
const ARITH_OPS: &[&str] = &["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];

fn shell_name(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

impl Lexer {
    /// The list whose current word the text at the top belongs to (none
    /// inside a here-document body or a comment).
    fn list(&mut self) -> Option<&mut List> {
        for f in self.frames.iter_mut().rev() {
            match f {
                Frame::List(l) => return Some(l),
                Frame::Heredoc(_) | Frame::Comment => return None,
                _ => {}
            }
        }
        None
    }

    /// The context at a hole, looking at every enclosing frame.
    fn hole_context(&mut self) -> Result<ShellContext, Refusal> {
        let mut arith = false;
        for f in &self.frames {
            match f {
                Frame::List(l) if l.closer.is_some() => {
                    return Err(Refusal::new("it is inside a command substitution `$(…)`, whose text is run as a command"));
                }
                Frame::Backtick => return Err(Refusal::new("it is inside backticks, whose text is run as a command")),
                Frame::Param(_) => return Err(Refusal::new("it is inside a parameter expansion `${…}`")),
                Frame::Arith(_) => arith = true,
                Frame::Comment => return Err(Refusal::new("it is inside a shell comment, which a newline in the value would end")),
                Frame::Heredoc(h) if h.evaluated => {
                    return Err(Refusal::new("it is inside a here-document that a shell runs as a script"));
                }
                _ => {}
            }
        }
        let index = self.out.len();
        if arith {
            // Arithmetic evaluates names and `a[$(…)]` in its text: only an
            // integer may go there, which the runtime checks.
            if self.list().is_some_and(|l| l.word.dollar) {
                return Err(Refusal::new("it comes right after a `$`, which would join the value into an expansion"));
            }
            return Ok(ShellContext::Number);
        }
        let Some(top) = self.frames.last_mut() else { return Ok(ShellContext::Word) };
        match top {
            Frame::Heredoc(h) => {
                if h.escape {
                    return Err(Refusal::new("it comes right after a `\\`, which would escape the value's first character"));
                }
                if h.dollar && !h.quoted {
                    return Err(Refusal::new("it comes right after a `$`, which would join the value into an expansion"));
                }
                h.line_has_hole = true;
                Ok(ShellContext::Heredoc { delimiter: h.delimiter.clone(), quoted: h.quoted, strip_tabs: h.strip_tabs })
            }
            Frame::DollarSingle(true) => {
                Err(Refusal::new("it comes right after a `\\`, which would escape the value's first character"))
            }
            Frame::Single | Frame::DollarSingle(false) | Frame::Double | Frame::List(_) => {
                let ctx = match top {
                    Frame::Single => ShellContext::Single,
                    Frame::DollarSingle(_) => ShellContext::DollarSingle,
                    Frame::Double => ShellContext::Double,
                    _ => ShellContext::Word,
                };
                let Some(list) = self.list() else { return Ok(ctx) };
                let w = &list.word;
                if matches!(ctx, ShellContext::Word | ShellContext::Double) {
                    if w.escape {
                        return Err(Refusal::new("it comes right after a `\\`, which would escape the value's first character"));
                    }
                    if w.dollar {
                        return Err(Refusal::new("it comes right after a `$`, which would join the value into an expansion"));
                    }
                }
                if let Some(Redirect::Heredoc { .. }) = list.redirect {
                    return Err(Refusal::new("it is part of a here-document's delimiter, which must be the author's text"));
                }
                let mut ctx = ctx;
                if list.redirect.is_none() {
                    if let Some(why) = argument_refusal(&list.kind, &list.word) {
                        return Err(Refusal::new(why));
                    }
                    // bash evaluates these as arithmetic: `[[ a -eq ${x} ]]`,
                    // `declare -i n=${x}`, an array subscript `a[${x}]=1`.
                    let subscript = list.kind == Kind::Start && list.word.text.contains('[') && !list.word.text.contains('=');
                    if (list.kind == Kind::Test && list.prev_word_arith_op) || list.kind == Kind::Declare(true) || subscript {
                        ctx = ShellContext::Number;
                    }
                }
                list.word.holes.push(index);
                Ok(ctx)
            }
            _ => Ok(ShellContext::Word),
        }
    }

    fn after_hole(&mut self) {
        self.mark_dynamic();
        if let Some(l) = self.list() {
            l.word.dollar = false;
        }
    }

    /// Reads from `c` (the rest of a text piece); returns how many chars it took.
    fn step(&mut self, c: &[char]) -> usize {
        let ch = c[0];
        let next = c.get(1).copied();
        match self.frames.last_mut() {
            None => 1,
            Some(Frame::Single) => {
                if ch == '\'' {
                    self.frames.pop();
                } else {
                    self.word_text(ch);
                }
                1
            }
            Some(Frame::DollarSingle(escape)) => {
                // The word's text keeps escaped characters as written (`\x`
                // as `x`): enough to recognise `$'eval'` as a command name.
                if *escape {
                    *escape = false;
                    self.word_text(ch);
                    return 1;
                }
                if ch == '\\' {
                    if let Some(n) = next {
                        self.word_text(n);
                        return 2;
                    }
                    *escape = true;
                    return 1;
                }
                if ch == '\'' {
                    self.frames.pop();
                } else {
                    self.word_text(ch);
                }
                1
            }
            Some(Frame::Comment) => {
                if ch == '\n' {
                    self.frames.pop();
                    return 0; // the newline ends the command too
                }
                1
            }
            Some(Frame::Heredoc(h)) => {
                if ch == '\n' {
                    let line = std::mem::take(&mut h.line);
                    let body = if h.strip_tabs { line.trim_start_matches('\t') } else { &line };
                    let ends = !h.line_has_hole && body == h.delimiter;
                    h.line_has_hole = false;
                    h.escape = false;
                    h.dollar = false;
                    if ends {
                        self.frames.pop();
                        self.next_heredoc();
                    }
                    return 1;
                }
                h.line.push(ch);
                if h.quoted {
                    return 1;
                }
                if h.escape {
                    h.escape = false;
                    return 1;
                }
                h.dollar = false;
                match ch {
                    '\\' => h.escape = true,
                    '$' => return self.dollar(c),
                    '`' => self.frames.push(Frame::Backtick),
                    _ => {}
                }
                1
            }
            Some(Frame::Double) => {
                if let Some(l) = self.list() {
                    if l.word.escape {
                        l.word.escape = false;
                        l.word.text.push(ch);
                        return 1;
                    }
                    l.word.dollar = false;
                }
                match ch {
                    '"' => {
                        self.frames.pop();
                    }
                    '\\' => {
                        if let Some(l) = self.list() {
                            l.word.escape = true;
                        }
                    }
                    '$' => return self.dollar(c),
                    '`' => self.frames.push(Frame::Backtick),
                    _ => self.word_text(ch),
                }
                1
            }
            Some(Frame::Backtick) => {
                match (ch, next) {
                    ('\\', Some(_)) => return 2,
                    ('`', _) => {
                        self.frames.pop();
                        self.mark_dynamic();
                    }
                    _ => {}
                }
                1
            }
            Some(Frame::Param(depth)) => {
                match (ch, next) {
                    ('\\', Some(_)) => return 2,
                    ('{', _) => *depth += 1,
                    ('}', _) if *depth == 0 => {
                        self.frames.pop();
                        self.mark_dynamic();
                    }
                    ('}', _) => *depth -= 1,
                    ('\'', _) => self.frames.push(Frame::Single),
                    ('"', _) => self.frames.push(Frame::Double),
                    ('$', _) => return self.dollar(c),
                    ('`', _) => self.frames.push(Frame::Backtick),
                    _ => {}
                }
                1
            }
            Some(Frame::Arith(depth)) => {
                match (ch, next) {
                    ('(', _) | ('[', _) => *depth += 1,
                    (')', Some(')')) | (']', _) if *depth == 0 => {
                        let n = if ch == ')' { 2 } else { 1 };
                        self.frames.pop();
                        self.mark_dynamic();
                        return n;
                    }
                    (')', _) | (']', _) => *depth = depth.saturating_sub(1),
                    ('$', _) => return self.dollar(c),
                    ('`', _) => self.frames.push(Frame::Backtick),
                    _ => {}
                }
                1
            }
            Some(Frame::List(_)) => self.list_step(c),
        }
    }

    /// A `$` (unquoted, in `"…"`, in a here-document): what it starts.
    fn dollar(&mut self, c: &[char]) -> usize {
        let in_double = matches!(self.frames.last(), Some(Frame::Double | Frame::Heredoc(_)));
        match (c.get(1), c.get(2)) {
            (Some('('), Some('(')) => {
                self.frames.push(Frame::Arith(0));
                3
            }
            (Some('('), _) => {
                self.frames.push(Frame::List(List::new(Some(')'))));
                2
            }
            (Some('['), _) => {
                self.frames.push(Frame::Arith(0));
                2
            }
            (Some('{'), _) => {
                self.frames.push(Frame::Param(0));
                2
            }
            (Some('\''), _) if !in_double => {
                self.frames.push(Frame::DollarSingle(false));
                self.mark_started();
                2
            }
            (Some('"'), _) if !in_double => {
                self.frames.push(Frame::Double);
                self.mark_started();
                2
            }
            (None, _) => {
                // The `$` ends the text: a hole follows.
                match self.frames.last_mut() {
                    Some(Frame::Heredoc(h)) => h.dollar = true,
                    _ => {
                        if let Some(l) = self.list() {
                            l.word.dollar = true;
                            l.word.started = true;
                        }
                    }
                }
                1
            }
            _ => {
                self.mark_dynamic();
                1
            }
        }
    }

    fn word_text(&mut self, ch: char) {
        if let Some(l) = self.list() {
            l.word.text.push(ch);
            l.word.started = true;
        }
    }

    fn mark_started(&mut self) {
        if let Some(l) = self.list() {
            l.word.lead_quoted |= !l.word.started;
            l.word.started = true;
            l.word.quoted = true;
        }
    }

    fn mark_dynamic(&mut self) {
        if let Some(l) = self.list() {
            l.word.started = true;
            l.word.dynamic = true;
        }
    }

    fn list_step(&mut self, c: &[char]) -> usize {
        let ch = c[0];
        let next = c.get(1).copied();
        let Some(Frame::List(l)) = self.frames.last_mut() else { return 1 };
        if l.word.escape {
            l.word.escape = false;
            if ch != '\n' {
                l.word.text.push(ch);
                l.word.quoted = true;
            }
            return 1;
        }
        l.word.dollar = false;
        if l.kind == Kind::Test && matches!(ch, '&' | '|' | '(' | ')' | '<' | '>' | '!') {
            // Inside `[[ … ]]` these are the test's own operators, not the shell's.
            self.end_word();
            return if matches!(ch, '&' | '|') && next == Some(ch) { 2 } else { 1 };
        }
        match ch {
            '\\' => {
                l.word.lead_quoted |= !l.word.started;
                l.word.escape = true;
                l.word.started = true;
                1
            }
            '\'' => {
                l.word.lead_quoted |= !l.word.started;
                l.word.started = true;
                l.word.quoted = true;
                self.frames.push(Frame::Single);
                1
            }
            '"' => {
                l.word.lead_quoted |= !l.word.started;
                l.word.started = true;
                l.word.quoted = true;
                self.frames.push(Frame::Double);
                1
            }
            '`' => {
                l.word.started = true;
                self.frames.push(Frame::Backtick);
                1
            }
            '$' => self.dollar(c),
            '#' if !l.word.started => {
                self.frames.push(Frame::Comment);
                1
            }
            ' ' | '\t' => {
                self.end_word();
                1
            }
            '\n' => {
                self.end_word();
                self.end_command();
                self.start_heredocs();
                1
            }
            '&' if next == Some('>') => {
                // bash's `&>FILE` / `&>>FILE`: a redirection, not a separator.
                self.end_word();
                if let Some(l) = self.list() {
                    l.redirect = Some(Redirect::File);
                }
                if c.get(2) == Some(&'>') { 3 } else { 2 }
            }
            ';' | '&' | '|' => {
                self.end_word();
                self.end_command();
                if next == Some(ch) { 2 } else { 1 }
            }
            '(' => {
                let started = l.word.started;
                self.end_word();
                let Some(l) = self.list() else { return 1 };
                if !started && next == Some('(') && l.kind == Kind::Start {
                    self.frames.push(Frame::Arith(0));
                    return 2;
                }
                l.paren_depth += 1;
                self.end_command();
                1
            }
            ')' => {
                self.end_word();
                let Some(Frame::List(l)) = self.frames.last_mut() else { return 1 };
                if l.paren_depth == 0 && l.closer == Some(')') {
                    self.end_command();
                    self.frames.pop();
                    self.mark_dynamic();
                    return 1;
                }
                l.paren_depth = l.paren_depth.saturating_sub(1);
                self.end_command();
                1
            }
            '<' | '>' => {
                let digits_only = !l.word.text.is_empty() && l.word.text.chars().all(|d| d.is_ascii_digit()) && !l.word.quoted;
                if digits_only {
                    l.word = Word::default(); // an fd number, not a word
                } else {
                    self.end_word();
                }
                let Some(l) = self.list() else { return 1 };
                if next == Some('(') {
                    // bash process substitution: a command list.
                    self.frames.push(Frame::List(List::new(Some(')'))));
                    return 2;
                }
                if ch == '<' && next == Some('<') {
                    if c.get(2) == Some(&'<') {
                        l.redirect = Some(Redirect::File); // bash here-string
                        return 3;
                    }
                    let strip_tabs = c.get(2) == Some(&'-');
                    l.redirect = Some(Redirect::Heredoc { strip_tabs });
                    return if strip_tabs { 3 } else { 2 };
                }
                l.redirect = Some(Redirect::File);
                match next {
                    Some('>' | '&' | '|') => 2,
                    Some('<') if ch == '>' => 2,
                    _ => 1,
                }
            }
            _ => {
                l.word.text.push(ch);
                l.word.started = true;
                1
            }
        }
    }

    /// The current word of the innermost list is complete.
    fn end_word(&mut self) {
        let Some(l) = self.list() else { return };
        if !l.word.started {
            return;
        }
        let w = std::mem::take(&mut l.word);
        match l.redirect.take() {
            Some(Redirect::Heredoc { strip_tabs }) => {
                let i = l.pending.len();
                l.pending.push(Heredoc {
                    delimiter: w.text,
                    quoted: w.quoted,
                    strip_tabs,
                    evaluated: false,
                    line: String::new(),
                    line_has_hole: false,
                    escape: false,
                    dollar: false,
                });
                l.cmd_heredocs.push(i);
                return;
            }
            Some(Redirect::File) => return,
            None => {}
        }
        let text = if w.dynamic { None } else { Some(w.text.as_str()) };
        // `[[ a -eq b ]]`: both operands are arithmetic in bash.
        if l.kind == Kind::Test {
            let is_op = text.is_some_and(|t| ARITH_OPS.contains(&t));
            let prev = std::mem::replace(&mut l.prev_word_holes, w.holes);
            l.prev_word_arith_op = is_op;
            if text == Some("]]") {
                l.kind = Kind::Plain;
            }
            if is_op {
                for h in prev {
                    if let Some(slot @ Ok(_)) = self.out.get_mut(h) {
                        *slot = Ok(ShellContext::Number);
                    }
                }
            }
            return;
        }
        l.kind = next_kind(std::mem::replace(&mut l.kind, Kind::Plain), text, &w);
    }

    fn end_command(&mut self) {
        let Some(l) = self.list() else { return };
        // A shell with no `-c` and no script file (or with `-s`) reads its script from stdin.
        let evaluated = match &l.kind {
            Kind::Shell { c: false, stdin, state, .. } => *stdin || matches!(state, ShellArgs::Options | ShellArgs::OptionArg),
            Kind::Ssh { .. } => true,
            _ => false,
        };
        for i in std::mem::take(&mut l.cmd_heredocs) {
            if let Some(h) = l.pending.get_mut(i) {
                h.evaluated = evaluated;
            }
        }
        l.kind = Kind::Start;
        l.redirect = None;
        l.prev_word_holes.clear();
    }

    fn start_heredocs(&mut self) {
        self.next_heredoc();
    }

    /// At a newline (or the end of a body): the next pending body begins.
    fn next_heredoc(&mut self) {
        let Some(l) = self.list() else { return };
        if l.pending.is_empty() {
            return;
        }
        let h = l.pending.remove(0);
        self.frames.push(Frame::Heredoc(h));
    }
}

/// What the command does with the next word, given the words so far.
fn next_kind(kind: Kind, text: Option<&str>, w: &Word) -> Kind {
    match kind {
        Kind::Start => {
            if !w.lead_quoted && is_assignment(&w.text) {
                return Kind::Start;
            }
            if !w.holes.is_empty() {
                return Kind::Dynamic;
            }
            let Some(t) = text else { return Kind::Plain };
            if !w.quoted && matches!(t, "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "{" | "!" | "}" | "fi" | "done") {
                return Kind::Start;
            }
            if t == "[[" {
                return Kind::Test;
            }
            if matches!(t, "declare" | "typeset" | "local" | "export" | "readonly") {
                return Kind::Declare(false);
            }
            let name = shell_name(t);
            if let Some(e) = EVAL.iter().find(|e| **e == name) {
                return Kind::Eval(e);
            }
            if SHELLS.contains(&name) {
                return Kind::Shell { name: name.to_string(), c: false, stdin: false, state: ShellArgs::Options };
            }
            if name == "ssh" {
                return Kind::Ssh { host_seen: false, skip_next: false };
            }
            if WRAPPERS.contains(&name) {
                if name == "su" {
                    return Kind::Shell { name: "su".into(), c: false, stdin: false, state: ShellArgs::Options };
                }
                return Kind::Wrapper { skip_next: false, operands: if name == "timeout" { 1 } else { 0 } };
            }
            Kind::Plain
        }
        Kind::Shell { name, c, stdin, state } => {
            let t = text.unwrap_or("");
            let next = |c, stdin, state| Kind::Shell { name, c, stdin, state };
            match state {
                ShellArgs::OptionArg => next(c, stdin, ShellArgs::Options),
                ShellArgs::Options if text.is_some() && t == "--" => next(c, stdin, if c { ShellArgs::Script } else { ShellArgs::Data }),
                ShellArgs::Options if text.is_some() && (t.starts_with('-') || t.starts_with('+')) && t.len() > 1 => {
                    let short = !t.starts_with("--");
                    let c = c || (short && t[1..].contains('c')) || t == "--command" || t.starts_with("--command=");
                    let stdin = stdin || (short && t.starts_with('-') && t[1..].contains('s'));
                    let takes_arg = short && (t.ends_with('o') || t.ends_with('O'));
                    next(c, stdin, if takes_arg { ShellArgs::OptionArg } else { ShellArgs::Options })
                }
                ShellArgs::Options | ShellArgs::Script | ShellArgs::Data => next(c, stdin, ShellArgs::Data),
            }
        }
        Kind::Ssh { host_seen, skip_next } => {
            let t = text.unwrap_or("");
            if host_seen {
                return Kind::Ssh { host_seen, skip_next };
            }
            if skip_next {
                return Kind::Ssh { host_seen: false, skip_next: false };
            }
            if t.starts_with('-') && text.is_some() {
                // Options that take an argument as the next word.
                let takes = t.len() == 2 && "BbcDEeFIiJLlmOopQRSWw".contains(&t[1..]);
                return Kind::Ssh { host_seen: false, skip_next: takes };
            }
            Kind::Ssh { host_seen: true, skip_next: false }
        }
        Kind::Wrapper { skip_next, operands } => {
            if skip_next {
                return Kind::Wrapper { skip_next: false, operands };
            }
            if !w.lead_quoted && is_assignment(&w.text) {
                return Kind::Wrapper { skip_next: false, operands };
            }
            if let Some(t) = text
                && t.starts_with('-')
                && t.len() > 1
            {
                let takes = t.len() == 2 && "nugCDhprtUIdELPsaki".contains(&t[1..]);
                return Kind::Wrapper { skip_next: takes, operands };
            }
            if operands > 0 {
                return Kind::Wrapper { skip_next: false, operands: operands - 1 };
            }
            // The wrapped command's name.
            next_kind(Kind::Start, text, w)
        }
        // `find … -exec CMD …`: CMD is a command of its own.
        Kind::Plain if matches!(text, Some("-exec" | "-execdir" | "-ok" | "-okdir")) => Kind::Start,
        Kind::Declare(int) => {
            let int = int || text.is_some_and(|t| t.starts_with('-') && t[1..].contains('i'));
            Kind::Declare(int)
        }
        other => other,
    }
}

fn is_assignment(t: &str) -> bool {
    match t.split_once('=') {
        Some((name, _)) => {
            let name = name.split('[').next().unwrap_or(name);
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Why a hole in the current word of a command of `kind` is code, not data.
fn argument_refusal(kind: &Kind, word: &Word) -> Option<String> {
    match kind {
        Kind::Eval(name) => Some(format!("it is an argument of `{name}`, which runs its arguments as shell code")),
        Kind::Shell { name, c, state, .. } => match state {
            ShellArgs::Options if *c && !word.text.starts_with('-') => {
                Some(format!("it is the script of `{name} -c`, which the shell runs as code"))
            }
            ShellArgs::Options | ShellArgs::OptionArg if !word.started || word.text.starts_with('-') || word.text.starts_with('+') => {
                Some(format!("it is in the options of `{name}`, where the value could be `-c` and make the next word a script"))
            }
            ShellArgs::Options if *c => Some(format!("it is the script of `{name} -c`, which the shell runs as code")),
            ShellArgs::Script => Some(format!("it is the script of `{name} -c`, which the shell runs as code")),
            _ => None,
        },
        Kind::Dynamic => Some(
            "it is an argument of a command whose name comes from a hole, and a value could make that command `eval` or `sh -c`"
                .to_string(),
        ),
        Kind::Ssh { host_seen: true, .. } => {
            Some("it is part of the command `ssh` sends, which the remote shell runs as code".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contexts of the holes of `text`, where `@` marks a hole.
    fn ctx(text: &str) -> Vec<Result<ShellContext, String>> {
        let pieces: Vec<&str> = text.split('@').collect();
        let mut segs = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                segs.push(Seg::Hole);
            }
            segs.push(Seg::Text(p));
        }
        hole_contexts(&segs).into_iter().map(|r| r.map_err(|e| e.reason)).collect()
    }

    fn one(text: &str) -> Result<ShellContext, String> {
        let mut v = ctx(text);
        assert_eq!(v.len(), 1, "{text}");
        v.remove(0)
    }

    fn refused(text: &str, needle: &str) {
        match one(text) {
            Err(why) => assert!(why.contains(needle), "{text}: {why}"),
            Ok(c) => panic!("{text}: expected a refusal, got {c:?}"),
        }
    }

    #[test]
    fn quoting_contexts() {
        use ShellContext::*;
        assert_eq!(one("echo @"), Ok(Word));
        assert_eq!(one("echo a@b"), Ok(Word));
        assert_eq!(one(r#"echo "hello @ from $HOME""#), Ok(Double));
        assert_eq!(one("echo 'it is @'"), Ok(Single));
        assert_eq!(one("echo $'a\\'b @'"), Ok(DollarSingle));
        assert_eq!(one(r#"echo "a 'b' @""#), Ok(Double));
        assert_eq!(one(r#"echo 'a "b" @'"#), Ok(Single));
        assert_eq!(one(r#"echo \"@"#), Ok(Word));
        assert_eq!(one("X=@ cmd"), Ok(Word));
        assert_eq!(one("cat > @"), Ok(Word));
        assert_eq!(ctx("echo @; echo '@'"), vec![Ok(Word), Ok(Single)]);
    }

    #[test]
    fn here_documents() {
        let here = |d: &str, quoted, strip_tabs| ShellContext::Heredoc { delimiter: d.into(), quoted, strip_tabs };
        assert_eq!(one("cat <<EOF\nhi @\nEOF\n"), Ok(here("EOF", false, false)));
        assert_eq!(one("cat <<'EOF'\nhi @\nEOF"), Ok(here("EOF", true, false)));
        assert_eq!(one("cat <<-\"E\"OF\n\thi @\n\tEOF"), Ok(here("EOF", true, true)));
        assert_eq!(one("cat <<\\EOF\n@\nEOF"), Ok(here("EOF", true, false)));
        // After the body, back to commands; two bodies in order.
        assert_eq!(ctx("cat <<A <<'B'\n@\nA\n@\nB\necho @"), vec![Ok(here("A", false, false)), Ok(here("B", true, false)), Ok(ShellContext::Word)]);
        // A line with a hole is never the delimiter line.
        assert_eq!(ctx("cat <<EOF\n@\nEOF\necho '@'"), vec![Ok(here("EOF", false, false)), Ok(ShellContext::Single)]);
        refused("cat <<@\nx\n", "delimiter");
        refused("cat <<E@\nx\n", "delimiter");
        refused("sh <<EOF\necho @\nEOF", "runs as a script");
        refused("bash -s <<'EOF'\necho @\nEOF", "runs as a script");
        refused("bash -s arg <<'EOF'\necho @\nEOF", "runs as a script");
        assert_eq!(one("bash script.sh <<EOF\n@\nEOF"), Ok(here("EOF", false, false)));
        assert_eq!(one("sh -c 'cat' <<EOF\n@\nEOF"), Ok(here("EOF", false, false)));
        refused("cat <<EOF\n$(echo @)\nEOF", "command substitution");
        refused("cat <<EOF\n\\@\nEOF", "`\\`");
    }

    #[test]
    fn code_contexts_are_refused() {
        refused("echo $(echo @)", "command substitution");
        refused(r#"echo "$(echo "@")""#, "command substitution");
        refused("echo `echo @`", "backticks");
        refused("echo $(( $(echo @) ))", "command substitution");
        refused("echo $(( $@ ))", "`$`");
        refused("echo ${x:-@}", "parameter expansion");
        refused("eval echo @", "`eval`");
        refused("eval \"echo @\"", "`eval`");
        refused("sh -c 'echo @'", "script of `sh -c`");
        refused("bash -ec \"echo @\"", "script of `bash -c`");
        refused("/bin/sh -c @", "script");
        refused("sudo -u root sh -c 'echo @'", "script of `sh -c`");
        refused("env A=1 bash -c \"@\"", "script");
        refused("sh @ x", "options of `sh`");
        refused("trap 'rm @' EXIT", "`trap`");
        refused("ssh host ls @", "remote shell");
        refused("echo hi # @", "comment");
        refused("echo \\@", "`\\`");
        refused("echo $@", "`$`");
        refused(r#"echo "$@""#, "`$`");
        assert_eq!(one("local n=@"), Ok(ShellContext::Word));
        assert_eq!(ctx("ev@ @")[1], Err("it is an argument of a command whose name comes from a hole, and a value could make that command `eval` or `sh -c`".into()));
        assert!(ctx("sudo @ -c @")[1].is_err());
        refused("$'eval' @", "`eval`");
        refused("eval x &> /dev/null @", "`eval`");
        refused("find . -exec sh -c 'echo @' \\;", "script of `sh -c`");
        assert_eq!(one("find . -name @ -exec rm {} +"), Ok(ShellContext::Word));
        assert_eq!(ctx("timeout @ curl @"), vec![Ok(ShellContext::Word), Ok(ShellContext::Word)]);
        assert_eq!(ctx("@ --version; echo @"), vec![Ok(ShellContext::Word), Ok(ShellContext::Word)]);
        assert_eq!(one("\"$EDITOR\" @"), Ok(ShellContext::Word));
        refused("printf '%s' $'a\\@'", "`\\`");
    }

    #[test]
    fn arithmetic_takes_integers_only() {
        use ShellContext::*;
        assert_eq!(one("echo $((1 + @))"), Ok(Number));
        assert_eq!(ctx("echo \"$(( @ * @ ))\""), vec![Ok(Number), Ok(Number)]);
        assert_eq!(one("(( n = @ ))"), Ok(Number));
        assert_eq!(one("a[@]=1"), Ok(Number));
        assert_eq!(one("declare -i n=@"), Ok(Number));
        assert_eq!(ctx("[[ @ -eq 1 ]]"), vec![Ok(Number)]);
        assert_eq!(ctx("[[ 1 -eq \"@\" ]]"), vec![Ok(Number)]);
        assert_eq!(ctx("[[ @ == 1 ]]"), vec![Ok(Word)]);
        assert_eq!(ctx("[[ -n a && @ -gt 1 ]]"), vec![Ok(Number)]);
        assert_eq!(ctx("[[ (1 -lt @) ]] && echo @"), vec![Ok(Number), Ok(Word)]);
    }

    #[test]
    fn data_arguments_of_shells_and_wrappers_are_fine() {
        use ShellContext::*;
        assert_eq!(one("sh -c 'echo \"$1\"' sh @"), Ok(Word));
        assert_eq!(one("bash script.sh @"), Ok(Word));
        assert_eq!(one("sudo -u root cp @ /tmp"), Ok(Word));
        assert_eq!(one("ssh @ uptime"), Ok(Word));
        assert_eq!(one("echo eval @"), Ok(Word));
        assert_eq!(one("[[ -n @ ]]"), Ok(Word));
        assert_eq!(one("echo $(date) @"), Ok(Word));
        assert_eq!(one("echo ${HOME} @"), Ok(Word));
        assert_eq!(one("echo a#b @"), Ok(Word));
        assert_eq!(one("echo `date` \"@\""), Ok(Double));
        assert_eq!(one("x=$(sh -c 'exit 0'); echo @"), Ok(Word));
        assert_eq!(one("if true; then echo @; fi"), Ok(Word));
    }

    #[test]
    fn broken_shell_text_still_gets_answers() {
        assert_eq!(ctx("echo \"unclosed @").len(), 1);
        assert_eq!(ctx("echo ) ) @ $(").len(), 1);
        assert_eq!(ctx("@").len(), 1);
        assert_eq!(ctx("echo $").len(), 0);
    }
}
