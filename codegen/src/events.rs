//! The `WebhookEvent` enum: one variant per value of the contract's webhook
//! event enum, plus `Unknown` for events newer than the build.
//!
//! Not `#[non_exhaustive]` on purpose: a `match` without a wildcard arm in the
//! gateway or an add-on must stop compiling when the contract gains an event.

use heck::ToUpperCamelCase;
use proc_macro2::{Ident, Span};
use quote::quote;

use crate::contract::Contract;
use crate::error::{CodegenError, Result};

pub fn variant_name(wire: &str) -> String {
    wire.to_lowercase().to_upper_camel_case()
}

pub fn generate(contract: &Contract) -> Result<String> {
    let events = contract.webhook_events()?;
    let mut seen = std::collections::BTreeSet::new();
    for e in &events {
        let v = variant_name(e);
        if v.is_empty() || v == "Unknown" || !seen.insert(v.clone()) {
            return Err(CodegenError::schema(
                crate::contract::WEBHOOK_EVENT_SCHEMA,
                format!("event `{e}` gives the Rust variant `{v}`, which is empty, reserved or taken"),
            ));
        }
    }
    let count = events.len();
    let variants: Vec<Ident> = events.iter().map(|e| Ident::new(&variant_name(e), Span::call_site())).collect();
    let docs: Vec<String> = events.iter().map(|e| format!("`{e}`")).collect();
    let wires = &events;

    let tokens = quote! {
        /// A Clockify webhook event, as named by the contract's webhook event enum.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum WebhookEvent {
            #(#[doc = #docs] #variants,)*
            /// An event this build does not know; its wire name is kept.
            Unknown(String),
        }

        impl WebhookEvent {
            /// Number of events the contract defines.
            pub const COUNT: usize = #count;

            /// Every known event, in contract order.
            pub const ALL: [WebhookEvent; #count] = [#(WebhookEvent::#variants,)*];

            /// The wire name, e.g. `NEW_PROJECT`.
            pub fn as_str(&self) -> &str {
                match self {
                    #(WebhookEvent::#variants => #wires,)*
                    WebhookEvent::Unknown(name) => name.as_str(),
                }
            }

            /// The known event with this wire name.
            pub fn from_wire(name: &str) -> Option<Self> {
                match name {
                    #(#wires => Some(WebhookEvent::#variants),)*
                    _ => None,
                }
            }

            pub fn is_known(&self) -> bool {
                !matches!(self, WebhookEvent::Unknown(_))
            }
        }

        impl std::str::FromStr for WebhookEvent {
            type Err = std::convert::Infallible;
            /// Never fails: a name this build does not know becomes `Unknown`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(s).unwrap_or_else(|| WebhookEvent::Unknown(s.to_owned())))
            }
        }

        impl std::fmt::Display for WebhookEvent {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for WebhookEvent {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for WebhookEvent {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(name.parse().unwrap_or_else(|never| match never {}))
            }
        }
    };
    crate::render::format_tokens("events.rs", tokens)
}
