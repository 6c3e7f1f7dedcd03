//! Which manifest scope covers each operation. Clockify's spec does not say
//! (PLATFORM.md §4.2), so this is a reviewed table keyed by the operation's
//! tag. A tag the table does not know fails codegen: a new group of endpoints
//! must be reviewed before the catalog can say what it needs.

use crate::error::{CodegenError, Result};
use crate::facts::Access;

/// The 30 scopes of the manifest schema (1.1 through 1.4), `<AREA>_READ` and
/// `<AREA>_WRITE` for each area. A test compares this with the schema files.
pub const SCOPES: [&str; 30] = [
    "CLIENT_READ",
    "CLIENT_WRITE",
    "PROJECT_READ",
    "PROJECT_WRITE",
    "TAG_READ",
    "TAG_WRITE",
    "TASK_READ",
    "TASK_WRITE",
    "TIME_ENTRY_READ",
    "TIME_ENTRY_WRITE",
    "EXPENSE_READ",
    "EXPENSE_WRITE",
    "INVOICE_READ",
    "INVOICE_WRITE",
    "USER_READ",
    "USER_WRITE",
    "GROUP_READ",
    "GROUP_WRITE",
    "WORKSPACE_READ",
    "WORKSPACE_WRITE",
    "CUSTOM_FIELDS_READ",
    "CUSTOM_FIELDS_WRITE",
    "APPROVAL_READ",
    "APPROVAL_WRITE",
    "SCHEDULING_READ",
    "SCHEDULING_WRITE",
    "REPORTS_READ",
    "REPORTS_WRITE",
    "TIME_OFF_READ",
    "TIME_OFF_WRITE",
];

/// Tag → scope area (`None`: the operations need no manifest scope).
/// Reviewed by hand against the tag's operations; keep it sorted.
pub const TAG_SCOPE_AREAS: &[(&str, Option<&str>)] = &[
    // The /addon/... endpoints (patch addon-endpoints): the add-on's own
    // settings, its current user and user tokens. No manifest scope covers
    // them; any installation's token may call them (PLATFORM.md §2.1, §4.2).
    ("Add-on", None),
    ("Approval", Some("APPROVAL")),
    ("Balance", Some("TIME_OFF")),
    ("Balance (Deprecated)", Some("TIME_OFF")),
    ("Client", Some("CLIENT")),
    ("Custom fields", Some("CUSTOM_FIELDS")),
    // The entity-change feed serves time entries and their custom-field values and rates.
    ("Entity changes (Experimental)", Some("TIME_ENTRY")),
    ("Expense", Some("EXPENSE")),
    ("Expense Report", Some("REPORTS")),
    ("Group", Some("GROUP")),
    // Holidays are managed on the time-off pages.
    ("Holiday", Some("TIME_OFF")),
    ("Invoice", Some("INVOICE")),
    ("Policy", Some("TIME_OFF")),
    ("Policy (Deprecated)", Some("TIME_OFF")),
    ("Project", Some("PROJECT")),
    ("Scheduling", Some("SCHEDULING")),
    ("Scheduling (Deprecated)", Some("SCHEDULING")),
    ("Shared Report", Some("REPORTS")),
    ("Tag", Some("TAG")),
    ("Task", Some("TASK")),
    ("Team Report", Some("REPORTS")),
    ("Time Entry Report", Some("REPORTS")),
    ("Time Off", Some("TIME_OFF")),
    ("Time Off (Deprecated)", Some("TIME_OFF")),
    ("Time entry", Some("TIME_ENTRY")),
    ("User", Some("USER")),
    // No webhook scope exists (PLATFORM.md §3.4): managing webhooks needs none.
    ("Webhooks", None),
    ("Workspace", Some("WORKSPACE")),
    // The one deprecated workspace operation removes a member.
    ("Workspace (Deprecated)", Some("USER")),
];

/// The scope an operation of `tag` with `access` needs, or `None` when the
/// table says the tag needs none.
pub fn scope_for(operation: &str, tag: &str, access: Access) -> Result<Option<String>> {
    let Some((_, area)) = TAG_SCOPE_AREAS.iter().find(|(t, _)| *t == tag) else {
        return Err(CodegenError::op(
            operation,
            format!(
                "tag `{tag}` has no entry in the scope table (codegen/src/scopes.rs, TAG_SCOPE_AREAS); \
                 review its operations and add the scope area that covers them, or `None`"
            ),
        ));
    };
    Ok(area.map(|a| match access {
        Access::Read => format!("{a}_READ"),
        Access::Write => format!("{a}_WRITE"),
    }))
}

/// The Rust variant of `clockify_client::Scope` for a wire name.
pub fn variant_name(scope: &str) -> String {
    heck::ToUpperCamelCase::to_upper_camel_case(scope.to_lowercase().as_str())
}

/// `client/src/generated/scopes.rs`: the `Scope` enum the catalog refers to.
pub fn generate() -> Result<String> {
    use proc_macro2::{Ident, Span};
    let variants: Vec<Ident> = SCOPES.iter().map(|s| Ident::new(&variant_name(s), Span::call_site())).collect();
    let wires = SCOPES;
    let count = SCOPES.len();
    let tokens = quote::quote! {
        /// A manifest scope: what an add-on declares it may read or write.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Scope {
            #(#[doc = #wires] #variants,)*
        }

        impl Scope {
            /// Every scope of the manifest schema.
            pub const ALL: [Scope; #count] = [#(Scope::#variants,)*];

            /// The wire name, e.g. `PROJECT_READ`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    #(Scope::#variants => #wires,)*
                }
            }

            pub fn from_wire(name: &str) -> Option<Self> {
                match name {
                    #(#wires => Some(Scope::#variants),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for Scope {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for Scope {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_wire(s).ok_or_else(|| format!("`{s}` is not a manifest scope"))
            }
        }

        impl serde::Serialize for Scope {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
    crate::render::format_tokens("scopes.rs", tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_area_of_the_table_is_a_pair_of_known_scopes() {
        for (tag, area) in TAG_SCOPE_AREAS {
            if let Some(a) = area {
                for access in [Access::Read, Access::Write] {
                    let s = scope_for("op", tag, access).unwrap().unwrap();
                    assert!(SCOPES.contains(&s.as_str()), "{tag}: {s} is not a manifest scope");
                }
                assert!(!a.is_empty());
            }
        }
    }

    #[test]
    fn an_unknown_tag_is_an_error_naming_tag_and_operation() {
        let e = scope_for("getWidgets", "Widgets", Access::Read).unwrap_err().to_string();
        assert!(e.contains("getWidgets") && e.contains("`Widgets`") && e.contains("TAG_SCOPE_AREAS"), "{e}");
    }

    #[test]
    fn the_table_is_sorted_and_has_no_duplicates() {
        let tags: Vec<_> = TAG_SCOPE_AREAS.iter().map(|(t, _)| *t).collect();
        let mut sorted = tags.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(tags, sorted);
    }
}
