//! Who exists: the principals of a project, their roles and groups, as the
//! project's `flowc.toml` declares them (reviewed in git like CODEOWNERS).
//!
//! ```toml
//! [principals.ann]
//! roles = ["decide"]
//! [principals.ci-bot]
//! roles = ["trigger", "read"]
//! [groups]
//! sales-manager = ["ann", "bob"]   # principals or other groups
//! ```
//!
//! The checker uses it to find gates nobody can satisfy, `flowc serve` to
//! give a token's principal its roles, and every decision to expand a gate's
//! `approvers`. Names are compared after [`normalize`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

/// What a principal may do over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read runs.
    Read,
    /// Post events and webhooks (start runs, satisfy waits).
    Trigger,
    /// Approve, reject, complete.
    Decide,
    /// Cancel, pause, resume runs.
    Operate,
    /// Everything.
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 5] = [Role::Read, Role::Trigger, Role::Decide, Role::Operate, Role::Admin];

    /// The role a flowc.toml word names (`"decide"`); `None` for any other word.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.keyword() == text)
    }

    /// The role's word in flowc.toml.
    pub const fn keyword(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Trigger => "trigger",
            Role::Decide => "decide",
            Role::Operate => "operate",
            Role::Admin => "admin",
        }
    }

    /// Whether holding `self` allows what `needed` allows: admin allows
    /// everything, every role allows reading, otherwise only itself.
    pub fn grants(self, needed: Role) -> bool {
        self == Role::Admin || self == needed || needed == Role::Read
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.keyword())
    }
}

/// How principals are compared: Unicode NFKC, lower case, trimmed — `ANN`,
/// `ann` and `ａｎｎ` are one principal.
pub fn normalize(name: &str) -> String {
    name.trim().nfkc().flat_map(char::to_lowercase).collect()
}

/// Initiators that are not people: nobody may be declared with these names.
pub fn is_reserved(name: &str) -> bool {
    let n = normalize(name);
    n == "schedule" || n.starts_with("webhook:") || n.starts_with("uid:")
}

/// A declared principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// As written in flowc.toml.
    pub name: String,
    /// The principal's roles, each once, in the order flowc.toml lists them.
    pub roles: Vec<Role>,
}

/// The principals and groups of a project.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    /// By normalised name.
    principals: BTreeMap<String, Principal>,
    /// By normalised name: normalised member names (principals or groups).
    groups: BTreeMap<String, (String, Vec<String>)>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

impl Directory {
    /// Parses the `[principals]` and `[groups]` tables of a flowc.toml (other
    /// keys belong to other readers and are left alone).
    pub fn parse(text: &str) -> Result<Directory, String> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            principals: BTreeMap<String, PrincipalDef>,
            #[serde(default)]
            groups: BTreeMap<String, Vec<String>>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct PrincipalDef {
            #[serde(default)]
            roles: Vec<String>,
        }
        let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut dir = Directory::default();
        for (name, def) in file.principals {
            if !valid_name(&name) {
                return Err(format!("principal `{name}`: a name is letters, digits, `.`, `_`, `@` and `-`, starting with a letter or digit"));
            }
            if is_reserved(&name) {
                return Err(format!("principal `{name}`: the name is reserved for runs no person started"));
            }
            let mut roles = Vec::new();
            for r in &def.roles {
                let role = Role::parse(r).ok_or_else(|| {
                    format!("principal `{name}`: `{r}` is not a role (roles: read, trigger, decide, operate, admin)")
                })?;
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            let key = normalize(&name);
            if dir.principals.insert(key, Principal { name: name.clone(), roles }).is_some() {
                return Err(format!("principal `{name}` is declared twice (names are compared ignoring case)"));
            }
        }
        for (name, members) in file.groups {
            if !valid_name(&name) {
                return Err(format!("group `{name}`: a name is letters, digits, `.`, `_`, `@` and `-`, starting with a letter or digit"));
            }
            let key = normalize(&name);
            if dir.principals.contains_key(&key) {
                return Err(format!("`{name}` is both a principal and a group"));
            }
            let members: Vec<String> = members.iter().map(|m| normalize(m)).collect();
            if dir.groups.insert(key, (name.clone(), members)).is_some() {
                return Err(format!("group `{name}` is declared twice (names are compared ignoring case)"));
            }
        }
        for (gname, members) in dir.groups.values() {
            for m in members {
                if !dir.principals.contains_key(m) && !dir.groups.contains_key(m) {
                    return Err(format!("group `{gname}`: `{m}` is neither a declared principal nor a group"));
                }
            }
        }
        for key in dir.groups.keys() {
            dir.check_acyclic(key, &mut Vec::new())?;
        }
        Ok(dir)
    }

    fn check_acyclic(&self, key: &str, path: &mut Vec<String>) -> Result<(), String> {
        if path.iter().any(|p| p == key) {
            path.push(key.to_string());
            return Err(format!("groups contain each other: {}", path.join(" → ")));
        }
        let Some((_, members)) = self.groups.get(key) else { return Ok(()) };
        path.push(key.to_string());
        for m in members {
            self.check_acyclic(m, path)?;
        }
        path.pop();
        Ok(())
    }

    /// The directory of the project in `dir` (its flowc.toml; none there: empty).
    pub fn load(dir: &Path) -> Result<Directory, String> {
        match std::fs::read_to_string(dir.join("flowc.toml")) {
            Ok(text) => Directory::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Directory::default()),
            Err(e) => Err(format!("cannot read {}: {e}", dir.join("flowc.toml").display())),
        }
    }

    /// No principal and no group is declared.
    pub fn is_empty(&self) -> bool {
        self.principals.is_empty() && self.groups.is_empty()
    }

    /// Every declared principal, ordered by normalised name.
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        self.principals.values()
    }

    /// The principal of that name, compared after [`normalize`].
    pub fn principal(&self, name: &str) -> Option<&Principal> {
        self.principals.get(&normalize(name))
    }

    /// The group names, as written, with their members as written.
    pub fn groups(&self) -> impl Iterator<Item = (&str, Vec<&str>)> {
        self.groups.values().map(|(name, members)| {
            (name.as_str(), members.iter().map(|m| self.display_name(m)).collect())
        })
    }

    fn display_name<'a>(&'a self, key: &'a str) -> &'a str {
        self.principals
            .get(key)
            .map(|p| p.name.as_str())
            .or_else(|| self.groups.get(key).map(|(n, _)| n.as_str()))
            .unwrap_or(key)
    }

    /// The roles a principal was declared with (none if undeclared); group membership adds none.
    pub fn roles_of(&self, principal: &str) -> Vec<Role> {
        self.principal(principal).map(|p| p.roles.clone()).unwrap_or_default()
    }

    /// A declared principal or group.
    pub fn is_declared(&self, name: &str) -> bool {
        let key = normalize(name);
        self.principals.contains_key(&key) || self.groups.contains_key(&key)
    }

    /// The principals a name stands for (normalised): itself, or a group's
    /// members, groups expanded; empty for an undeclared name.
    pub fn members(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![normalize(name)];
        let mut seen = BTreeSet::new();
        while let Some(key) = todo.pop() {
            if !seen.insert(key.clone()) {
                continue;
            }
            if self.principals.contains_key(&key) {
                out.insert(key);
            } else if let Some((_, members)) = self.groups.get(&key) {
                todo.extend(members.iter().cloned());
            }
        }
        out
    }

    /// Whether `principal` may act for the approver `name`: it is that
    /// principal, or a member of that group. With an empty directory a name
    /// stands only for itself.
    pub fn may_act_as(&self, principal: &str, name: &str) -> bool {
        let p = normalize(principal);
        p == normalize(name) || self.members(name).contains(&p)
    }

    /// The names in a group (as written), for messages; None for a principal
    /// or an undeclared name.
    pub fn group_members(&self, name: &str) -> Option<Vec<String>> {
        self.groups.get(&normalize(name))?;
        Some(self.members(name).iter().map(|k| self.display_name(k).to_string()).collect())
    }

    /// Every declared name (principals, then groups), for did-you-mean.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.principals.values().map(|p| p.name.as_str()).chain(self.groups.values().map(|(n, _)| n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
[check]
allow = ["W0104"]
[principals.Ann]
roles = ["decide", "read"]
[principals.bob]
roles = ["decide"]
[principals.ci-bot]
roles = ["trigger"]
[groups]
sales-manager = ["ann", "bob"]
everyone = ["sales-manager", "ci-bot"]
"#;

    #[test]
    fn groups_expand_and_names_normalise() {
        let d = Directory::parse(TOML).unwrap();
        assert!(d.may_act_as("ann", "sales-manager"));
        assert!(d.may_act_as("ANN", "Ann"));
        assert!(d.may_act_as("ａｎｎ", "sales-manager"), "fullwidth letters are the same name");
        assert!(!d.may_act_as("ci-bot", "sales-manager"));
        assert!(d.may_act_as("ci-bot", "everyone"));
        assert_eq!(d.members("everyone").len(), 3);
        assert_eq!(d.roles_of("ann"), vec![Role::Decide, Role::Read]);
        assert!(d.roles_of("nobody").is_empty());
        assert_eq!(d.group_members("sales-manager"), Some(vec!["Ann".to_string(), "bob".to_string()]));
        assert!(Directory::default().may_act_as("Dana", "dana"));
        assert!(!Directory::default().may_act_as("dana", "sales"));
    }

    #[test]
    fn mistakes_are_refused_with_the_key() {
        let err = |t: &str| Directory::parse(t).unwrap_err();
        assert!(err("[principals.ann]\nroles = [\"approve\"]").contains("`approve` is not a role"));
        assert!(err("[principals.ann]\nrole = [\"decide\"]").contains("role"));
        assert!(err("[principals.\"a b\"]\nroles = []").contains("a name is letters"));
        assert!(err("[principals.schedule]\nroles = []").contains("reserved"));
        assert!(err("[principals.ann]\n[principals.ANN]\n").contains("declared twice"));
        assert!(err("[groups]\nx = [\"nobody\"]").contains("neither a declared principal"));
        assert!(err("[groups]\na = [\"b\"]\nb = [\"a\"]").contains("contain each other"));
        assert!(err("[principals.a]\n[groups]\na = []").contains("both a principal and a group"));
    }

    #[test]
    fn roles_grant() {
        assert!(Role::Admin.grants(Role::Decide));
        assert!(Role::Trigger.grants(Role::Read));
        assert!(!Role::Read.grants(Role::Trigger));
        assert!(!Role::Decide.grants(Role::Operate));
    }
}
