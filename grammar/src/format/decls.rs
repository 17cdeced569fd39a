//! Top-level declarations, and the blocks they share with workflows (`env`).

use super::Printer;
use crate::ast::*;

impl Printer<'_> {
    pub(super) fn decl(&mut self, decl: &Decl) {
        match decl {
            Decl::Workflow(w) => self.workflow(w),
            Decl::Agent(a) => {
                self.kw("agent");
                self.lit(a.name.span);
                let items: Vec<_> = a.body.iter().map(|s| (s.span, &s.kind)).collect();
                self.block(a.name.span.end, a.span, &items, |p, s| p.agent_stmt(s));
            }
            Decl::Env(e) => {
                self.kw("env");
                self.lit(e.name.span);
                self.env_entries(e.name.span.end, &e.body);
            }
            Decl::Secrets(s) => {
                self.kw("secrets");
                self.lit(s.name.span);
                let items: Vec<_> = s.entries.iter().map(|e| (e.span, e)).collect();
                self.block(s.name.span.end, s.span, &items, |p, e| {
                    p.lit(e.key.span);
                    p.kw_after(e.key.span.end, "=");
                    match &e.value {
                        SecretValue::Source(src) => p.secret_source(src),
                        // Always an error for the compiler, but not a syntax
                        // error: keep the value exactly as written.
                        SecretValue::Literal(span) => p.lit(*span),
                    }
                });
            }
            Decl::Store(s) => {
                self.kw("store");
                self.lit(s.name.span);
                let items: Vec<_> = s.body.iter().map(|st| (st.span, st)).collect();
                self.block(s.name.span.end, s.span, &items, |p, st| p.store_stmt(st));
            }
            Decl::Policy(pol) => {
                self.kw("policy");
                self.lit(pol.name.span);
                let items: Vec<_> = pol.body.iter().map(|s| (s.span, &s.kind)).collect();
                self.block(pol.name.span.end, pol.span, &items, |p, s| match s {
                    PolicyStmtKind::Description(d) => p.description(d),
                    PolicyStmtKind::Rule(r) => {
                        p.lit(r.effect_span);
                        p.kw_after(r.effect_span.end, "when");
                        p.cel(&r.condition);
                        if let Some(reason) = &r.reason {
                            p.kw_after(r.condition.span.end + 1, "because");
                            p.lit(reason.span);
                        }
                    }
                });
            }
            Decl::Resource(r) => {
                self.kw("resource");
                self.lit(r.kind.span);
                let items: Vec<_> = r.body.iter().map(|s| (s.span, &s.kind)).collect();
                self.block(r.kind.span.end, r.span, &items, |p, s| p.resource_stmt(s));
            }
            Decl::Template(t) => {
                self.kw("template");
                self.lit(t.name.span);
                let name_end = match t.params_span {
                    Some(ps) => {
                        self.template_params(t, ps);
                        ps.end
                    }
                    None => t.name.span.end,
                };
                if let (Some(kind), Some(kind_span)) = (&t.kind, t.kind_span) {
                    self.step_kind(name_end, kind, kind_span);
                }
                let header_end = t.kind_span.map_or(name_end, |s| s.end);
                self.step_body(header_end, t.span, &t.body);
            }
            Decl::Instance(i) => {
                self.lit(i.kind.span);
                self.lit(i.name.span);
                // An instance is a declaration: its fields always go one per line.
                let items: Vec<_> = i.fields.iter().map(|f| (f.span, f)).collect();
                self.braced_list(i.body_span.start, i.body_span.end - 1, &items, |p, f| p.broken_field(f));
            }
            Decl::Test(t) => {
                self.kw("test");
                self.lit(t.name.span);
                let items: Vec<_> = t.body.iter().map(|s| (s.span, &s.kind)).collect();
                self.block(t.name.span.end, t.span, &items, |p, s| p.test_stmt(s));
            }
        }
    }

    /// One statement of a test, on one line (data literals break as they do elsewhere).
    fn test_stmt(&mut self, s: &TestStmtKind) {
        match s {
            TestStmtKind::Run { workflow, inputs, initiator } => {
                self.kw("run");
                self.lit(workflow.span);
                let mut end = workflow.span.end;
                if let Some(v) = inputs {
                    self.kw_after(end, "with");
                    self.value(v, 0);
                    end = v.span.end;
                }
                if let Some(who) = initiator {
                    self.kw_after(end, "as");
                    self.lit(who.span);
                }
            }
            TestStmtKind::Mock { target, results } => {
                self.kw("mock");
                let mut end = match target {
                    MockTarget::Agent(name) => {
                        self.kw("agent");
                        self.lit(name.span);
                        name.span.end
                    }
                    MockTarget::Step(path) => self.step_path(path),
                };
                for (i, r) in results.iter().enumerate() {
                    if i > 0 {
                        // Comments after the comma go before the next result.
                        end = self.punct_after(end, ",");
                    }
                    match r {
                        MockResult::Returns { value, .. } => {
                            self.kw_after(end, "returns");
                            self.value(value, 0);
                        }
                        MockResult::Fails { exit, stderr, .. } => {
                            let mut at = self.kw_after(end, "fails");
                            if let Some(code) = exit {
                                self.kw_after(at, "exit");
                                self.lit(code.span);
                                at = code.span.end;
                            }
                            if let Some(text) = stderr {
                                self.kw_after(at, "stderr");
                                self.lit(text.span);
                            }
                        }
                    }
                    end = r.span().end;
                }
            }
            TestStmtKind::Decide { approve, step, actor, comment } => {
                self.kw(if *approve { "approve" } else { "reject" });
                let end = self.step_path(step);
                self.kw_after(end, "as");
                self.lit(actor.span);
                if let Some(c) = comment {
                    self.kw_after(actor.span.end, "comment");
                    self.lit(c.span);
                }
            }
            TestStmtKind::Complete { step, actor, output } => {
                self.kw("complete");
                let end = self.step_path(step);
                self.kw_after(end, "as");
                self.lit(actor.span);
                self.kw_after(actor.span.end, "with");
                self.value(output, 0);
            }
            TestStmtKind::Send { event_type, subject, data } => {
                self.kw("send");
                self.kw("event");
                self.lit(event_type.span);
                let mut end = event_type.span.end;
                if let Some(sub) = subject {
                    self.kw_after(end, "subject");
                    self.lit(sub.span);
                    end = sub.span.end;
                }
                if let Some(v) = data {
                    self.kw_after(end, "with");
                    self.value(v, 0);
                }
            }
            TestStmtKind::Advance(d) => {
                self.kw("advance");
                self.lit(d.span);
            }
            TestStmtKind::Expect(Expectation::Expr(e)) => {
                self.kw("expect");
                self.cel(e);
            }
            TestStmtKind::Expect(Expectation::Status { target, status }) => {
                self.kw("expect");
                self.step_path(target);
                self.lit(status.span);
            }
            TestStmtKind::Expect(Expectation::Refused(action)) => {
                self.kw("expect");
                self.kw("refused");
                self.test_stmt(&action.kind);
            }
        }
    }

    /// `STEP` or `WORKFLOW.STEP`, as one word; returns its end.
    fn step_path(&mut self, path: &StepPath) -> u32 {
        match &path.workflow {
            Some(wf) => {
                self.lit(wf.span);
                self.punct_after(wf.span.end, ".");
                self.verbatim(path.step.span);
            }
            None => self.lit(path.step.span),
        }
        path.span.end
    }

    /// `(NAME: TYPE [= DEFAULT], …)` on one line, commas between.
    fn template_params(&mut self, t: &Template, span: Span) {
        self.punct_after(t.name.span.end, "(");
        for (i, p) in t.params.iter().enumerate() {
            if i > 0 {
                self.out.punct(",");
                self.out.space();
            }
            self.flush_inline(p.name.span.start);
            self.verbatim(p.name.span);
            self.punct_after(p.name.span.end, ":");
            self.type_expr(&p.ty, 0);
            if let Some(default) = &p.default {
                self.kw_after(p.ty.span.end, "=");
                self.value(default, 0);
            }
        }
        self.flush_inline(span.end - 1);
        self.out.punct(")");
    }

    pub(super) fn description(&mut self, d: &StrLit) {
        self.kw("description");
        self.lit(d.span);
    }

    fn agent_stmt(&mut self, s: &AgentStmtKind) {
        match s {
            AgentStmtKind::Description(d) => self.description(d),
            AgentStmtKind::Command(t) => {
                self.kw("command");
                self.lit(t.span);
            }
            AgentStmtKind::Capabilities(v) => {
                self.kw("capabilities");
                self.value(v, 0);
            }
            AgentStmtKind::Env(e) => self.env_block(e),
            AgentStmtKind::CostPerCall(n) => {
                self.kw("cost_per_call");
                self.lit(n.span);
            }
            AgentStmtKind::Timeout(d) => {
                self.kw("timeout");
                self.lit(d.span);
            }
            AgentStmtKind::Retry(r) => self.retry(r),
        }
    }

    fn store_stmt(&mut self, s: &StoreStmt) {
        match &s.kind {
            StoreStmtKind::Description(d) => self.description(d),
            StoreStmtKind::Backend(Backend::Local) => {
                self.kw("backend");
                self.kw_after(s.span.start + "backend".len() as u32, "local");
            }
            StoreStmtKind::Backend(Backend::Command(c)) => {
                self.kw("backend");
                self.kw_after(s.span.start + "backend".len() as u32, "command");
                self.lit(c.span);
            }
            StoreStmtKind::Schema(v) => {
                self.kw("schema");
                self.value(v, 0);
            }
            StoreStmtKind::Retention(items) => {
                self.kw("retention");
                let header_end = s.span.start + "retention".len() as u32;
                let items = self.keyword_items(header_end, items.iter().map(|i| (retention_span(i), i)));
                self.block(header_end, s.span, &items, |p, item| match item {
                    RetentionItem::MaxEntries(n) => {
                        p.kw("max_entries");
                        p.lit(n.span);
                    }
                    RetentionItem::Ttl(d) => {
                        p.kw("ttl");
                        p.lit(d.span);
                    }
                });
            }
        }
    }

    fn resource_stmt(&mut self, s: &ResourceStmtKind) {
        match s {
            ResourceStmtKind::Description(d) => self.description(d),
            ResourceStmtKind::Group(g) => {
                self.kw("group");
                self.lit(g.span);
            }
            ResourceStmtKind::Version(v) => {
                // Written as a name or a string: the tree does not say which,
                // so the source does.
                self.kw("version");
                self.lit(v.span);
            }
            ResourceStmtKind::Plural(n) => {
                self.kw("plural");
                self.lit(n.span);
            }
            ResourceStmtKind::Short(names) => {
                self.kw("short");
                self.out.space();
                let spans: Vec<_> = names.iter().map(|n| n.span).collect();
                self.fill(&spans, 0);
            }
            ResourceStmtKind::Schema(v) => {
                self.kw("schema");
                self.value(v, 0);
            }
            ResourceStmtKind::Rule { condition, message } => {
                self.kw("rule");
                self.cel(condition);
                if let Some(m) = message {
                    self.kw_after(condition.span.end + 1, "message");
                    self.lit(m.span);
                }
            }
        }
    }

    /// Items of the blocks whose statements the tree records without a span
    /// (`safety`, `retention`): each starts at the keyword before its value,
    /// the first token after the previous item.
    pub(super) fn keyword_items<'t, T>(
        &self,
        header_end: u32,
        items: impl Iterator<Item = (Span, &'t T)>,
    ) -> Vec<(Span, &'t T)> {
        let mut prev_end = self.next_token_start(header_end) + 1;
        items
            .map(|(value, item)| {
                let start = self.next_token_start(prev_end);
                prev_end = value.end;
                (Span::new(start, value.end), item)
            })
            .collect()
    }

    /// An `env { … }` block inside a workflow, step or agent.
    pub(super) fn env_block(&mut self, e: &EnvBlock) {
        self.kw("env");
        self.env_entries(e.span.start + "env".len() as u32, e);
    }

    fn env_entries(&mut self, header_end: u32, e: &EnvBlock) {
        let items: Vec<_> = e.entries.iter().map(|en| (en.span, &en.kind)).collect();
        self.block(header_end, e.span, &items, |p, entry| match entry {
            EnvEntryKind::Use(n) => {
                p.kw("use");
                p.lit(n.span);
            }
            EnvEntryKind::Assign { key, value } => {
                p.lit(key.span);
                p.kw_after(key.span.end, "=");
                match value {
                    EnvValue::Source(s) => p.secret_source(s),
                    EnvValue::Ref { set, key } => {
                        p.lit(set.span);
                        p.punct_after(set.span.end, ".");
                        p.verbatim(key.span);
                    }
                    EnvValue::Template(t) => p.lit(t.span),
                    EnvValue::Value(v) => p.value(v, 0),
                }
            }
        });
    }

    fn secret_source(&mut self, s: &SecretSource) {
        let keyword = match s.kind {
            SecretSourceKind::Env => "from_env",
            SecretSourceKind::File => "from_file",
        };
        self.flush_inline(s.span.start);
        self.kw(keyword);
        self.punct_after(s.span.start + keyword.len() as u32, "(");
        self.verbatim(s.arg.span);
        self.flush_inline(s.span.end - 1);
        self.out.punct(")");
    }
}

fn retention_span(item: &RetentionItem) -> Span {
    match item {
        RetentionItem::MaxEntries(n) => n.span,
        RetentionItem::Ttl(d) => d.span,
    }
}
