//! The typed `Settings` struct of an add-on, from the structured settings
//! of its `addon.toml` (`[settings] tabs = [...]`).
//!
//! One field per setting (tabs' settings and their groups' settings alike),
//! named by the snake case of its id and renamed back to the id for serde,
//! typed by the setting's type; `Default` gives every manifest default. The
//! gateway reads it with `ctx.settings::<Settings>()` from the values of the
//! last SETTINGS_UPDATED (a flat list of `{id, name, value}`).

use std::collections::BTreeMap;

use heck::ToSnakeCase;
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use serde_json::Value;

use crate::addon::{AddonDefinition, Settings};
use crate::error::{CodegenError, Result};

/// The Rust type a setting's value takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// `TXT`, `LINK`, `DROPDOWN_SINGLE`, `USER_DROPDOWN_SINGLE`: `String`.
    Text,
    /// `NUMBER`: `f64`.
    Number,
    /// `CHECKBOX`: `bool`.
    Flag,
    /// `DROPDOWN_MULTIPLE`, `USER_DROPDOWN_MULTIPLE`: `Vec<String>`.
    List,
}

impl SettingKind {
    /// The kind of a manifest setting type, `None` for an unknown type.
    pub fn of(setting_type: &str) -> Option<Self> {
        Some(match setting_type {
            "TXT" | "LINK" | "DROPDOWN_SINGLE" | "USER_DROPDOWN_SINGLE" => SettingKind::Text,
            "NUMBER" => SettingKind::Number,
            "CHECKBOX" => SettingKind::Flag,
            "DROPDOWN_MULTIPLE" | "USER_DROPDOWN_MULTIPLE" => SettingKind::List,
            _ => return None,
        })
    }
}

/// The manifest setting types (schema 1.2 and later).
pub const SETTING_TYPES: [&str; 8] =
    ["TXT", "NUMBER", "DROPDOWN_SINGLE", "DROPDOWN_MULTIPLE", "CHECKBOX", "LINK", "USER_DROPDOWN_SINGLE", "USER_DROPDOWN_MULTIPLE"];

/// One structured setting, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingField {
    pub id: String,
    /// The Rust field name (snake case of the id).
    pub field: String,
    pub name: String,
    pub kind: SettingKind,
    /// The manifest's `value`: the default.
    pub default: Value,
}

fn bad(at: &str, problem: impl std::fmt::Display) -> CodegenError {
    CodegenError::Other(format!("{}: settings: {at}: {problem}", crate::addon::ADDON_FILE))
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn", "for", "gen",
    "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "priv", "pub", "ref", "return", "self", "static", "struct",
    "super", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield", "abstract",
    "become", "do", "final", "override",
];

/// The Rust field name of a setting id, or why there is none.
pub fn field_name(id: &str) -> std::result::Result<String, String> {
    let snake = id.to_snake_case();
    let mut chars = snake.chars();
    let valid = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
        _ => false,
    };
    if !valid || snake == "_" || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ' | '.')) {
        return Err(format!("its snake case `{snake}` is not a Rust identifier; use letters, digits, `_` or `-`, starting with a letter"));
    }
    if KEYWORDS.contains(&snake.as_str()) {
        return Err(format!("its snake case `{snake}` is a Rust keyword; choose another id"));
    }
    Ok(snake)
}

/// Checks that a default `value` fits its kind (and the manifest schema:
/// strings and lists are not empty).
fn check_value(kind: SettingKind, value: &Value) -> std::result::Result<(), String> {
    match (kind, value) {
        (SettingKind::Text, Value::String(s)) if s.is_empty() => {
            Err("the value is empty; the manifest schema needs at least one character".into())
        }
        (SettingKind::Text, Value::String(_)) => Ok(()),
        (SettingKind::Number, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        (SettingKind::Flag, Value::Bool(_)) => Ok(()),
        (SettingKind::List, Value::Array(items)) if items.is_empty() => {
            Err("the value is an empty list; the manifest schema needs at least one item".into())
        }
        (SettingKind::List, Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        (kind, v) => {
            let want = match kind {
                SettingKind::Text => "a string",
                SettingKind::Number => "a number",
                SettingKind::Flag => "true or false",
                SettingKind::List => "a list of strings",
            };
            Err(format!("the value {v} is not {want}"))
        }
    }
}

/// Every structured setting of the add-on, in manifest order; empty when it
/// has none (no settings, or a custom settings page).
pub fn fields(addon: &AddonDefinition) -> Result<Vec<SettingField>> {
    let Some(Settings::Structured { tabs }) = &addon.settings else { return Ok(Vec::new()) };
    if tabs.is_empty() {
        return Err(bad("tabs", "needs at least one tab"));
    }
    let mut out: Vec<SettingField> = Vec::new();
    let mut by_field: BTreeMap<String, String> = BTreeMap::new();
    for (t, tab) in tabs.iter().enumerate() {
        let tab_at = format!("tabs[{t}]");
        let tab = tab.as_object().ok_or_else(|| bad(&tab_at, "is not a table"))?;
        let mut lists: Vec<(String, &Value)> = Vec::new();
        if let Some(s) = tab.get("settings") {
            lists.push((format!("{tab_at}.settings"), s));
        }
        if let Some(groups) = tab.get("groups") {
            let groups = groups.as_array().ok_or_else(|| bad(&format!("{tab_at}.groups"), "is not a list"))?;
            for (g, group) in groups.iter().enumerate() {
                let group_at = format!("{tab_at}.groups[{g}]");
                let s = group.get("settings").ok_or_else(|| bad(&group_at, "has no `settings`"))?;
                lists.push((format!("{group_at}.settings"), s));
            }
        }
        for (list_at, list) in lists {
            let list = list.as_array().ok_or_else(|| bad(&list_at, "is not a list"))?;
            for (i, setting) in list.iter().enumerate() {
                let at = format!("{list_at}[{i}]");
                let text = |key: &str| setting.get(key).and_then(Value::as_str);
                let id = text("id").ok_or_else(|| bad(&at, "has no string `id`"))?;
                let at = format!("{at} (`{id}`)");
                let name = text("name").ok_or_else(|| bad(&at, "has no string `name`"))?;
                let ty = text("type").ok_or_else(|| bad(&at, "has no string `type`"))?;
                let kind =
                    SettingKind::of(ty).ok_or_else(|| bad(&at, format!("type `{ty}` is not one of {}", SETTING_TYPES.join(", "))))?;
                let default = setting.get("value").ok_or_else(|| bad(&at, "has no `value` (the default)"))?;
                check_value(kind, default).map_err(|p| bad(&at, format!("type {ty}: {p}")))?;
                let field = field_name(id).map_err(|p| bad(&at, format!("id `{id}`: {p}")))?;
                if let Some(first) = by_field.insert(field.clone(), id.to_owned()) {
                    return Err(if first == id {
                        bad(&at, format!("id `{id}` is used twice; setting ids must be unique"))
                    } else {
                        bad(&at, format!("ids `{first}` and `{id}` both become the Rust field `{field}`; rename one"))
                    });
                }
                out.push(SettingField { id: id.to_owned(), field, name: name.to_owned(), kind, default: default.clone() });
            }
        }
    }
    Ok(out)
}

/// `pub struct Settings` and its `Default`, or nothing without structured
/// settings. `serde` is the path of the serde crate in the generated code.
pub fn settings_tokens(addon: &AddonDefinition) -> Result<TokenStream> {
    let fields = fields(addon)?;
    if fields.is_empty() {
        return Ok(TokenStream::new());
    }
    let decls = fields.iter().map(|f| {
        let ident = Ident::new(&f.field, Span::call_site());
        let (id, doc) = (&f.id, format!(" {}", f.name));
        let ty = match f.kind {
            SettingKind::Text => quote!(String),
            SettingKind::Number => quote!(f64),
            SettingKind::Flag => quote!(bool),
            SettingKind::List => quote!(Vec<String>),
        };
        quote! {
            #[doc = #doc]
            #[serde(rename = #id)]
            pub #ident: #ty,
        }
    });
    let defaults = fields.iter().map(|f| {
        let ident = Ident::new(&f.field, Span::call_site());
        let value = match (f.kind, &f.default) {
            (SettingKind::Text, Value::String(s)) => quote!(#s.to_owned()),
            (SettingKind::Number, Value::Number(n)) => {
                let n = n.as_f64().unwrap_or_default();
                quote!(#n)
            }
            (SettingKind::Flag, Value::Bool(b)) => quote!(#b),
            (SettingKind::List, Value::Array(items)) => {
                let items = items.iter().filter_map(Value::as_str);
                quote!(vec![#(#items.to_owned()),*])
            }
            _ => unreachable!("checked by fields()"),
        };
        quote!(#ident: #value,)
    });
    Ok(quote! {
        /// The add-on's structured settings, as `addon.toml` declares them:
        /// read them with `ctx.settings::<Settings>()`; a setting Clockify
        /// did not send keeps its default.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        pub struct Settings {
            #(#decls)*
        }

        impl Default for Settings {
            fn default() -> Self {
                Self {
                    #(#defaults)*
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addon(settings: &str) -> AddonDefinition {
        AddonDefinition::parse(&format!("key = \"x-addon\"\n{settings}")).expect("addon.toml parses")
    }

    fn err(settings: &str) -> String {
        fields(&addon(settings)).expect_err("refused").to_string()
    }

    const TWO_TABS: &str = r#"
[settings]
tabs = [
  { id = "main", name = "Main", settings = [
    { id = "tagName", name = "Tag to add", type = "TXT", value = "needs-project", accessLevel = "ADMINS" },
    { id = "budget-hours", name = "Budget (hours)", type = "NUMBER", value = 40, accessLevel = "ADMINS" },
  ], groups = [
    { id = "g", title = "More", settings = [
      { id = "enabled", name = "On", type = "CHECKBOX", value = true, accessLevel = "EVERYONE" },
      { id = "days", name = "Days", type = "DROPDOWN_MULTIPLE", value = ["MON", "TUE"], allowedValues = ["MON", "TUE", "WED"], accessLevel = "ADMINS" },
    ] },
  ] },
  { id = "other", name = "Other", settings = [
    { id = "who", name = "Who", type = "USER_DROPDOWN_SINGLE", value = "u1", accessLevel = "ADMINS" },
  ] },
]
"#;

    #[test]
    fn every_setting_of_tabs_and_groups_becomes_a_typed_field() {
        let f = fields(&addon(TWO_TABS)).expect("valid");
        let got: Vec<(&str, &str, SettingKind)> = f.iter().map(|f| (f.id.as_str(), f.field.as_str(), f.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("tagName", "tag_name", SettingKind::Text),
                ("budget-hours", "budget_hours", SettingKind::Number),
                ("enabled", "enabled", SettingKind::Flag),
                ("days", "days", SettingKind::List),
                ("who", "who", SettingKind::Text),
            ]
        );
        let code = crate::render::format_tokens("settings.rs", settings_tokens(&addon(TWO_TABS)).expect("tokens")).expect("formats");
        for line in [
            "#[serde(default)]",
            "pub struct Settings {",
            "/// Tag to add",
            "#[serde(rename = \"tagName\")]",
            "pub tag_name: String,",
            "#[serde(rename = \"budget-hours\")]",
            "pub budget_hours: f64,",
            "pub enabled: bool,",
            "pub days: Vec<String>,",
            "tag_name: \"needs-project\".to_owned(),",
            "budget_hours: 40f64,",
            "enabled: true,",
            "days: vec![\"MON\".to_owned(), \"TUE\".to_owned()],",
        ] {
            assert!(code.contains(line), "missing `{line}` in:\n{code}");
        }
    }

    #[test]
    fn no_structured_settings_no_struct() {
        assert!(settings_tokens(&addon("")).expect("fine").is_empty());
        assert!(settings_tokens(&addon("settings = \"/ui/settings\"")).expect("fine").is_empty());
    }

    #[test]
    fn duplicate_ids_are_refused_naming_the_setting() {
        let e = err(r#"
[settings]
tabs = [{ id = "t", name = "T", settings = [
  { id = "limit", name = "A", type = "NUMBER", value = 1, accessLevel = "ADMINS" },
], groups = [{ id = "g", title = "G", settings = [
  { id = "limit", name = "B", type = "NUMBER", value = 2, accessLevel = "ADMINS" },
] }] }]
"#);
        assert!(e.contains("tabs[0].groups[0].settings[0] (`limit`)") && e.contains("used twice"), "{e}");

        let e = err(r#"
[settings]
tabs = [{ id = "t", name = "T", settings = [
  { id = "tagName", name = "A", type = "TXT", value = "a", accessLevel = "ADMINS" },
  { id = "tag_name", name = "B", type = "TXT", value = "b", accessLevel = "ADMINS" },
] }]
"#);
        assert!(e.contains("`tagName` and `tag_name` both become the Rust field `tag_name`"), "{e}");
    }

    #[test]
    fn ids_that_are_no_identifier_are_refused() {
        for (id, why) in [("9lives", "not a Rust identifier"), ("a$b", "not a Rust identifier"), ("type", "Rust keyword"), ("", "")] {
            let e = err(&format!(
                "[settings]\ntabs = [{{ id = \"t\", name = \"T\", settings = [{{ id = \"{id}\", name = \"X\", type = \"TXT\", value = \"v\", accessLevel = \"ADMINS\" }}] }}]\n"
            ));
            assert!(e.contains(&format!("(`{id}`)")) && e.contains(why), "{id}: {e}");
        }
    }

    #[test]
    fn values_that_do_not_fit_their_type_are_refused() {
        for (ty, value, why) in [
            ("NUMBER", "\"forty\"", "is not a number"),
            ("TXT", "3", "is not a string"),
            ("TXT", "\"\"", "empty"),
            ("CHECKBOX", "\"yes\"", "is not true or false"),
            ("DROPDOWN_MULTIPLE", "[1, 2]", "is not a list of strings"),
            ("DROPDOWN_MULTIPLE", "[]", "empty list"),
            ("COLOR", "\"red\"", "type `COLOR` is not one of"),
        ] {
            let e = err(&format!(
                "[settings]\ntabs = [{{ id = \"t\", name = \"T\", settings = [{{ id = \"bad\", name = \"X\", type = \"{ty}\", value = {value}, accessLevel = \"ADMINS\" }}] }}]\n"
            ));
            assert!(e.contains("tabs[0].settings[0] (`bad`)") && e.contains(why), "{ty} {value}: {e}");
        }
    }
}
