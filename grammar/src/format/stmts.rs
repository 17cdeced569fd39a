//! Workflows, groups, steps and their statements.

use super::Printer;
use crate::ast::*;

impl Printer<'_> {
    pub(super) fn workflow(&mut self, w: &Workflow) {
        self.kw("workflow");
        self.lit(w.name.span);
        let items: Vec<_> = w.body.iter().map(|s| (s.span, s)).collect();
        self.block(w.name.span.end, w.span, &items, |p, s| p.workflow_stmt(s));
    }

    fn workflow_stmt(&mut self, s: &WorkflowStmt) {
        match &s.kind {
            WorkflowStmtKind::Description(d) => self.description(d),
            WorkflowStmtKind::Input(i) => {
                self.kw("input");
                self.lit(i.name.span);
                self.punct_after(i.name.span.end, ":");
                self.type_expr(&i.ty, 0);
                if let Some(default) = &i.default {
                    self.kw_after(i.ty.span.end, "=");
                    self.value(default, 0);
                }
            }
            WorkflowStmtKind::On(t) => {
                self.kw("on");
                let on_end = s.span.start + "on".len() as u32;
                match t {
                    Trigger::Event { event_type, subject, filter } => {
                        self.kw_after(on_end, "event");
                        self.lit(event_type.span);
                        let mut end = event_type.span.end;
                        if let Some(s) = subject {
                            self.kw_after(end, "subject");
                            self.lit(s.span);
                            end = s.span.end;
                        }
                        if let Some(f) = filter {
                            self.kw_after(end, "where");
                            self.cel(f);
                        }
                    }
                    Trigger::Webhook { path, signature } => {
                        self.kw_after(on_end, "webhook");
                        self.lit(path.span);
                        if let Some(sig) = signature {
                            self.kw_after(path.span.end, "signed");
                            self.lit(sig.scheme_span);
                            let mut end = sig.scheme_span.end;
                            if let Some(h) = &sig.header {
                                self.lit(h.span);
                                end = h.span.end;
                            }
                            self.kw_after(end, "with");
                            self.lit(sig.set.span);
                            self.punct_after(sig.set.span.end, ".");
                            self.verbatim(sig.key.span);
                            if let Some(t) = &sig.tolerance {
                                self.kw_after(sig.key.span.end, "tolerance");
                                self.lit(t.span);
                            }
                        }
                    }
                    Trigger::Schedule { cron, catchup } => {
                        self.kw_after(on_end, "schedule");
                        self.lit(cron.span);
                        if let Some(c) = catchup {
                            self.kw_after(cron.span.end, "catchup");
                            self.lit(c.mode_span);
                            if let Some(w) = &c.within {
                                self.kw_after(c.mode_span.end, "within");
                                self.lit(w.span);
                            }
                        }
                    }
                }
            }
            WorkflowStmtKind::Retry(r) => self.retry(r),
            WorkflowStmtKind::Timeout(d) => {
                self.kw("timeout");
                self.lit(d.span);
            }
            WorkflowStmtKind::OnFailure { span, .. } => {
                self.kw("on_failure");
                self.lit(*span);
            }
            WorkflowStmtKind::Concurrency(n) => {
                self.kw("concurrency");
                self.lit(n.span);
            }
            WorkflowStmtKind::Budget(n) => {
                self.kw("budget");
                self.lit(n.span);
            }
            WorkflowStmtKind::Output(o) => {
                self.kw("output");
                self.lit(o.name.span);
                self.kw_after(o.name.span.end, "=");
                self.cel(&o.expr);
            }
            WorkflowStmtKind::Safety(safety) => {
                self.kw("safety");
                let header_end = s.span.start + "safety".len() as u32;
                let items = self.keyword_items(header_end, safety.items.iter().map(|i| (i.span(), i)));
                self.block(header_end, s.span, &items, |p, item| {
                    p.kw(item.keyword());
                    p.lit(item.span());
                });
            }
            WorkflowStmtKind::Invariant(inv) => {
                self.kw("invariant");
                self.lit(inv.name.span);
                let items: Vec<_> = inv.body.iter().map(|s| (s.span, &s.kind)).collect();
                self.block(inv.name.span.end, inv.span, &items, |p, s| p.invariant_stmt(s));
            }
            WorkflowStmtKind::Env(e) => self.env_block(e),
            WorkflowStmtKind::Step(step) => self.step(step),
            WorkflowStmtKind::Group(g) => self.group(g),
        }
    }

    fn invariant_stmt(&mut self, s: &InvariantStmtKind) {
        match s {
            InvariantStmtKind::Description(d) => self.description(d),
            InvariantStmtKind::Check(c) => self.check_command(c),
            InvariantStmtKind::OnViolation { action_span, then, .. } => {
                self.kw("on_violation");
                self.lit(*action_span);
                if let Some((_, span)) = then {
                    self.kw_after(action_span.end, "then");
                    self.lit(*span);
                }
            }
            InvariantStmtKind::Protect(paths) => {
                self.kw("protect");
                self.out.space();
                let spans: Vec<_> = paths.iter().map(|p| p.span).collect();
                self.fill(&spans, 0);
            }
            InvariantStmtKind::At(names) => {
                self.kw("at");
                self.out.space();
                let spans: Vec<_> = names.iter().map(|n| n.span).collect();
                self.fill(&spans, 0);
            }
        }
    }

    fn check_command(&mut self, c: &CheckCommand) {
        self.kw("check");
        self.lit(c.command.span);
        if let Some(e) = &c.expect {
            self.kw_after(c.command.span.end, "expect");
            self.lit(e.span);
        }
    }

    pub(super) fn retry(&mut self, r: &Retry) {
        self.kw("retry");
        self.lit(r.count.span);
        let mut end = r.count.span.end;
        if let Some(on) = &r.on {
            self.kw_after(end, "on");
            end = on.span.start + "on".len() as u32;
            if on.timeout_first() {
                end = self.retry_timeout(on, end);
                if !on.exits.is_empty() {
                    self.kw_after(end, "or");
                    end = self.retry_exits(on, end + "or".len() as u32);
                }
            } else {
                end = self.retry_exits(on, end);
                if on.timeout.is_some() {
                    self.kw_after(end, "or");
                    end = self.retry_timeout(on, end + "or".len() as u32);
                }
            }
        }
        if let Some(b) = &r.backoff {
            self.kw_after(end, "backoff");
            self.lit(b.kind_span);
            self.lit(b.delay.span);
            end = b.delay.span.end;
            if let Some(f) = &b.factor {
                self.kw_after(end, "factor");
                self.lit(f.span);
                end = f.span.end;
            }
            if let Some(max) = &b.max {
                self.kw_after(end, "max");
                self.lit(max.span);
                end = max.span.end;
            }
            if let Some(j) = &b.jitter {
                self.kw_after(end, "jitter");
                self.lit(j.span);
                end = j.span.end;
            }
        }
        if let Some(d) = &r.max_duration {
            self.kw_after(end, "max_duration");
            self.lit(d.span);
        }
    }

    /// `exit CODE, …` of a retry's `on`, after `prev_end`; returns its end.
    fn retry_exits(&mut self, on: &RetryOn, prev_end: u32) -> u32 {
        let mut end = self.kw_after(prev_end, "exit");
        for (i, code) in on.exits.iter().enumerate() {
            if i > 0 {
                self.comments_before_comma(end);
                self.out.punct(",");
            }
            self.lit(code.span);
            end = code.span.end;
        }
        end
    }

    /// `timeout` of a retry's `on`; returns its end.
    fn retry_timeout(&mut self, on: &RetryOn, prev_end: u32) -> u32 {
        match on.timeout {
            Some(t) => {
                self.flush_inline(t.start);
                self.kw("timeout");
                t.end
            }
            None => prev_end,
        }
    }

    fn group(&mut self, g: &Group) {
        self.kw(g.kind.keyword());
        // `finally` is its own name (the keyword's span).
        if g.kind != GroupKind::Finally {
            self.lit(g.name.span);
        }
        if let Some(d) = &g.deps {
            let tail = if g.for_each.is_some() || g.fail_fast.is_some() { 0 } else { " {".len() };
            self.deps(d, tail);
        }
        if let Some(for_each) = g.for_each {
            self.for_each(for_each, g.for_each_in.as_ref(), if g.fail_fast.is_some() { " fail_fast {".len() } else { " {".len() });
        }
        let mut header_end = g.header_span().end;
        if let Some(ff) = g.fail_fast {
            self.kw_after(header_end, "fail_fast");
            header_end = ff.end;
        }
        let items: Vec<_> = g
            .members
            .iter()
            .map(|m| match m {
                GroupMember::Step(s) => (s.span, m),
                GroupMember::Group(g) => (g.span, m),
            })
            .collect();
        self.block(header_end, g.span, &items, |p, m| match m {
            GroupMember::Step(s) => p.step(s),
            GroupMember::Group(g) => p.group(g),
        });
    }

    /// `for each item [in [..] | in matrix { … }]`, starting at `at`.
    /// `tail` is the width of what follows on the line (` {`).
    fn for_each(&mut self, at: Span, items: Option<&ItemSource>, tail: usize) {
        self.flush_inline(at.start);
        self.kw("for");
        let end = self.kw_after(at.start + "for".len() as u32, "each");
        let end = self.kw_after(end, "item");
        match items {
            Some(ItemSource::List(v)) => {
                self.kw_after(end, "in");
                self.value(v, tail);
            }
            Some(ItemSource::Matrix(v)) => {
                let end = self.kw_after(end, "in");
                self.kw_after(end, "matrix");
                self.value(v, tail);
            }
            None => {}
        }
    }

    fn step(&mut self, s: &Step) {
        self.kw("step");
        self.lit(s.name.span);
        if let Some(kind_span) = s.kind_span {
            self.step_kind(s.name.span.end, &s.kind, kind_span);
            if let Some(args) = &s.use_args {
                self.kw_after(kind_span.end, "with");
                let tail = if s.deps.is_none() && s.for_each.is_none() { " {".len() } else { 0 };
                self.value(args, tail);
            }
        }
        if let Some(d) = &s.deps {
            let tail = if s.for_each.is_some() { " for each item {".len() } else { " {".len() };
            self.deps(d, tail);
        }
        if let Some(for_each) = s.for_each {
            self.for_each(for_each, s.for_each_in.as_ref(), " {".len());
        }
        self.step_body(s.header_span().end, s.span, &s.body);
    }

    /// `: KIND [TARGET]` after a step or template name.
    pub(super) fn step_kind(&mut self, name_end: u32, kind: &StepKind, kind_span: Span) {
        self.punct_after(name_end, ":");
        self.flush_inline(kind_span.start);
        self.kw(kind.keyword());
        if let Some(target) = kind.target() {
            self.lit(target.span);
        }
    }

    /// `after a, b` or `after one_success(a, b)`; `tail` is the width of what
    /// follows on the line (` {`).
    fn deps(&mut self, d: &Deps, tail: usize) {
        self.flush_inline(d.span.start);
        self.kw("after");
        let names: Vec<_> = d.names.iter().map(|n| n.span).collect();
        match d.rule_span {
            Some(rule_span) => {
                self.flush_inline(rule_span.start);
                self.kw(d.rule.keyword());
                self.punct_after(rule_span.start + d.rule.keyword().len() as u32, "(");
                self.fill(&names, ")".len() + tail);
                self.flush_inline(rule_span.end - 1);
                self.out.punct(")");
            }
            None if !d.condition.is_empty() => {
                let mut prev_end = None;
                for item in &d.condition {
                    if let Some(end) = prev_end {
                        self.punct_after(end, ",");
                    }
                    self.cond(item, true);
                    prev_end = Some(item.span().end);
                }
            }
            None => {
                self.out.space();
                self.fill(&names, tail);
            }
        }
    }

    /// One term of an outcome condition, on the current line; `spaced`: a
    /// space before it (none right after a `(`).
    fn cond(&mut self, c: &Cond, spaced: bool) {
        let open = |p: &mut Self, at: u32, text: &str| {
            p.flush_inline(at);
            if spaced {
                p.out.space();
                p.out.word(text);
            } else {
                p.out.punct(text);
            }
        };
        match c {
            Cond::Outcome { outcome, name, written: true, span } => {
                open(self, span.start, outcome.keyword());
                self.punct_after(span.start + outcome.keyword().len() as u32, "(");
                self.flush_inline(name.span.start);
                self.out.punct(self.slice(name.span));
                self.punct_after(name.span.end, ")");
            }
            Cond::Outcome { name, .. } => open(self, name.span.start, self.slice(name.span)),
            Cond::And(xs, _) | Cond::Or(xs, _) => {
                let op = if matches!(c, Cond::And(..)) { "&&" } else { "||" };
                for (k, x) in xs.iter().enumerate() {
                    if k > 0 {
                        self.kw_after(xs[k - 1].span().end, op);
                    }
                    self.cond(x, spaced || k > 0);
                }
            }
            Cond::Paren(x, span) => {
                open(self, span.start, "(");
                self.cond(x, false);
                self.punct_after(x.span().end, ")");
            }
            Cond::Rule { rule, names, span } => {
                open(self, span.start, rule.keyword());
                self.punct_after(span.start + rule.keyword().len() as u32, "(");
                for (k, n) in names.iter().enumerate() {
                    if k > 0 {
                        self.punct_after(names[k - 1].span.end, ",");
                        self.lit(n.span);
                    } else {
                        self.flush_inline(n.span.start);
                        self.out.punct(self.slice(n.span));
                    }
                }
                self.punct_after(span.end - 1, ")");
            }
        }
    }

    pub(super) fn step_body(&mut self, header_end: u32, span: Span, body: &[StepStmt]) {
        let items: Vec<_> = body.iter().map(|s| (s.span, s)).collect();
        self.block(header_end, span, &items, |p, s| p.step_stmt(s));
    }

    fn step_stmt(&mut self, stmt: &StepStmt) {
        // The end of the statement's first keyword, for those that have more.
        let first_end = stmt.span.start + stmt.kind.keyword().split(' ').next().unwrap_or("").len() as u32;
        match &stmt.kind {
            StepStmtKind::Description(d) => self.description(d),
            StepStmtKind::Command(t) => self.template_stmt("command", t),
            StepStmtKind::Prompt(t) => self.template_stmt("prompt", t),
            StepStmtKind::Output(t) => {
                self.kw("output");
                self.type_expr(t, 0);
            }
            StepStmtKind::With(v) => {
                self.kw("with");
                self.value(v, 0);
            }
            StepStmtKind::Arm { condition, targets } => {
                let end = match condition {
                    Some(c) => {
                        self.kw("when");
                        self.cel(c);
                        c.span.end + 1
                    }
                    None => {
                        self.kw("else");
                        first_end
                    }
                };
                self.kw_after(end, "->");
                self.out.space();
                let spans: Vec<_> = targets.iter().map(|t| t.span).collect();
                self.fill(&spans, 0);
            }
            StepStmtKind::When(c) => {
                self.kw("when");
                self.cel(c);
            }
            StepStmtKind::Approvers(v) => {
                self.kw("approvers");
                self.value(v, 0);
            }
            StepStmtKind::DistinctFromInitiator => self.kw("distinct_from_initiator"),
            StepStmtKind::Message(t) => self.template_stmt("message", t),
            StepStmtKind::Timeout(d) => {
                self.kw("timeout");
                self.lit(d.span);
            }
            StepStmtKind::Retry(r) => self.retry(r),
            StepStmtKind::Compensate(c) => {
                self.kw("compensate");
                match c {
                    Compensate::Command(t) => self.lit(t.span),
                    Compensate::Step(n) => self.lit(n.span),
                }
            }
            StepStmtKind::Channel(t) => self.template_stmt("channel", t),
            StepStmtKind::Event { event_type, subject } => {
                self.template_stmt("event", event_type);
                if let Some(s) = subject {
                    self.kw_after(event_type.span.end, "subject");
                    self.lit(s.span);
                }
            }
            StepStmtKind::Put { key, value } => {
                self.kw("then");
                self.kw_after(first_end, "put");
                self.store_key(key);
                self.kw_after(key.span.end, "=");
                self.cel(value);
            }
            StepStmtKind::Spawn { workflow, inputs } => {
                self.kw("then");
                self.kw_after(first_end, "spawn");
                self.lit(workflow.span);
                if let Some(v) = inputs {
                    self.value(v, 0);
                }
            }
            StepStmtKind::SpawnEach { list, workflow, inputs } => {
                self.kw("then");
                let end = self.kw_after(first_end, "spawn");
                self.kw_after(end, "each");
                self.cel(list);
                self.kw_after(list.span.end + 1, "->");
                self.lit(workflow.span);
                if let Some(v) = inputs {
                    self.value(v, 0);
                }
            }
            StepStmtKind::Reads { key, alias } => {
                self.kw("reads");
                self.store_key(key);
                self.kw_after(key.span.end, "as");
                self.lit(alias.span);
            }
            StepStmtKind::Items(e) => {
                self.kw("items");
                self.cel(e);
            }
            StepStmtKind::Strategy { span, .. } => {
                self.kw("strategy");
                self.lit(*span);
            }
            StepStmtKind::Metric(n) => {
                self.kw("metric");
                self.lit(n.span);
            }
            StepStmtKind::TopK(n) => {
                self.kw("top_k");
                self.lit(n.span);
            }
            StepStmtKind::Threshold(n) => {
                self.kw("threshold");
                self.lit(n.span);
            }
            StepStmtKind::Weights(v) => {
                self.kw("weights");
                self.value(v, 0);
            }
            StepStmtKind::Check(c) => self.check_command(c),
            StepStmtKind::OnFail(OnFail::Fix { step, retries, then }) => {
                self.kw("on_fail");
                self.kw_after(first_end, "fix");
                self.lit(step.span);
                self.kw_after(step.span.end, "retry");
                self.lit(retries.span);
                if let Some((_, span)) = then {
                    self.kw_after(retries.span.end, "then");
                    self.lit(*span);
                }
            }
            StepStmtKind::OnFail(OnFail::Mode { span, .. }) => {
                self.kw("on_fail");
                self.lit(*span);
            }
            StepStmtKind::Skippable => self.kw("skippable"),
            StepStmtKind::CompensateOnFailure => self.kw("compensate_on_failure"),
            StepStmtKind::FailFast => self.kw("fail_fast"),
            StepStmtKind::TimerFor(arg) => {
                self.kw("for");
                match arg {
                    TimerArg::Literal(d) => self.lit(d.span),
                    TimerArg::Expr(e) => self.cel(e),
                }
            }
            StepStmtKind::TimerUntil(arg) => {
                self.kw("until");
                match arg {
                    TimerArg::Literal(s) => self.lit(s.span),
                    TimerArg::Expr(e) => self.cel(e),
                }
            }
            StepStmtKind::SkipOnExit(codes) => {
                self.kw("skip_on_exit");
                self.out.space();
                let spans: Vec<_> = codes.iter().map(|c| c.span).collect();
                self.fill(&spans, 0);
            }
            StepStmtKind::OnFailure { span, .. } => {
                self.kw("on_failure");
                self.lit(*span);
            }
            StepStmtKind::Env(e) => self.env_block(e),
        }
    }

    fn template_stmt(&mut self, keyword: &str, t: &TemplateStr) {
        self.kw(keyword);
        self.lit(t.span);
    }

    fn store_key(&mut self, key: &StoreKey) {
        self.lit(key.store.span);
        self.punct_after(key.store.span.end, ".");
        self.verbatim(key.key.span);
    }
}
