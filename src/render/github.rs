//! `--format github`: GitHub Actions workflow commands, one per line.
//! See "Workflow commands for GitHub Actions": `::error file=F,line=L,col=C::message`.

use std::fmt::Write;

use flowc_compiler::{Diagnostic, Severity};

use super::Files;
use super::Sources;

pub fn render(diags: &[Diagnostic], sources: &Sources) -> String {
    let files = Files::new(sources);
    let mut out = String::new();
    for d in diags {
        let ((line, col), (end_line, end_col)) = files.positions(d);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let _ = writeln!(
            out,
            "::{level} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}",
            escape_property(&d.path),
            escape_property(d.code.as_str()),
            escape_data(&message),
        );
    }
    out
}

pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
