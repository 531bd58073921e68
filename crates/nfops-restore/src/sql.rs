//! Statements of backup files: split by the one splitter
//! ([`nfops_mysql::sqltext`], which the allow-list checks with, so each
//! statement a loader sends is one the check saw whole) and classified for
//! restoring part of a database.

pub use nfops_mysql::sqltext::statements;

/// What a post-data statement creates, for restoring part of a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostKind {
    View,
    /// A trigger on this table.
    Trigger(String),
    Routine,
    Event,
    /// Session settings and anything else.
    Other,
}

/// Classifies a statement of a post file.
pub fn post_kind(stmt: &str) -> PostKind {
    let upper: String = stmt
        .chars()
        .take(400)
        .collect::<String>()
        .to_ascii_uppercase();
    if !upper.starts_with("CREATE") {
        return PostKind::Other;
    }
    if upper.contains(" TRIGGER ") {
        // `... TRIGGER name {BEFORE|AFTER} {INSERT|UPDATE|DELETE} ON `table` ...`
        if let Some(at) = upper.find(" ON ") {
            let rest = stmt[at + 4..].trim_start();
            let name = if let Some(r) = rest.strip_prefix('`') {
                r.split('`').next().unwrap_or_default().to_owned()
            } else {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            };
            return PostKind::Trigger(name);
        }
        return PostKind::Trigger(String::new());
    }
    if upper.contains(" VIEW ") {
        PostKind::View
    } else if upper.contains(" PROCEDURE ") || upper.contains(" FUNCTION ") {
        PostKind::Routine
    } else if upper.contains(" EVENT ") {
        PostKind::Event
    } else {
        PostKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_statements_are_classified() {
        let text = "SET a = 'x;y';\nDELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON `t;` FOR EACH ROW BEGIN SET NEW.c = 1; SET NEW.c = 2; END ;;\nDELIMITER ;\n";
        let s = statements(text);
        assert_eq!(post_kind(&s[1]), PostKind::Trigger("t;".into()));
        assert_eq!(post_kind(&s[0]), PostKind::Other);
    }
}
