//! Lowering of stores: the plan's `stores` table, filled as steps use a
//! store (`reads`, `then put`), and the store definitions `flowc store`
//! reads.

use std::collections::HashMap;

use flowc_grammar::ast::{
    Backend, Decl, DeclKind, RetentionItem, StoreStmtKind,
};
use flowc_plan::{self as adv, StoreDef};

use super::WorkflowLowerer;
use crate::db::{Db, Project};
use crate::model::item_index;

/// The plan-level tables of stores and secrets,
/// filled as steps use them.
#[derive(Default)]
pub(super) struct Tables {
    pub stores: Vec<StoreDef>,
    pub(super) store_ids: HashMap<String, u32>,
    pub secrets: Vec<adv::Secret>,
    pub(super) secret_ids: HashMap<(String, bool), u32>,
}

impl Tables {
    pub(super) fn store(&mut self, db: &dyn Db, project: Project, name: &str) -> Option<u32> {
        if let Some(id) = self.store_ids.get(name) {
            return Some(*id);
        }
        let def = store_def(db, project, name)?;
        let id = self.stores.len() as u32;
        self.stores.push(def);
        self.store_ids.insert(name.to_string(), id);
        Some(id)
    }
}

/// The definition of a store of the project, as the plan holds it.
pub fn store_def(db: &dyn Db, project: Project, name: &str) -> Option<StoreDef> {
    let def = item_index(db, project).other(DeclKind::Store, name)?;
    let Decl::Store(store) = &**def.ast(db) else { return None };
    let mut out = StoreDef { name: name.to_string(), backend: adv::StoreBackend::Local, schema: None, max_entries: None, ttl_ms: None };
    for stmt in &store.body {
        match &stmt.kind {
            StoreStmtKind::Backend(Backend::Local) => out.backend = adv::StoreBackend::Local,
            StoreStmtKind::Backend(Backend::Command(c)) => out.backend = adv::StoreBackend::Command(c.value.clone()),
            StoreStmtKind::Schema(v) => out.schema = crate::checks::value_json(v),
            StoreStmtKind::Retention(items) => {
                for item in items {
                    match item {
                        RetentionItem::MaxEntries(n) => out.max_entries = Some(n.value.max(1) as u64),
                        RetentionItem::Ttl(d) => out.ttl_ms = Some(d.millis),
                    }
                }
            }
            StoreStmtKind::Description(_) => {}
        }
    }
    Some(out)
}

/// Every store the project declares (for `flowc store`).
pub fn project_stores(db: &dyn Db, project: Project) -> Vec<StoreDef> {
    let names: Vec<String> = item_index(db, project).names(DeclKind::Store).map(str::to_string).collect();
    names.iter().filter_map(|n| store_def(db, project, n)).collect()
}

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    pub(super) fn store_id(&mut self, step: &str, name: &str) -> Option<u32> {
        let id = self.agents.adv.store(self.db, self.project, name);
        if id.is_none() {
            self.error(Some(step), format!("there is no store `{name}`"));
        }
        id
    }
}
