//! Clockify's tokens: `token` verifies them (one kind per route; it is the
//! `clockify-addon-auth` crate), `verified` remembers verified webhook
//! signatures, `schemes` are the poem-openapi security schemes routes take,
//! one per kind, `user` is the `VerifiedUser` an add-on's routes take, and
//! `gate` admits members' tokens to the gateway's own routes.

pub mod gate;
pub(crate) mod schemes;
/// Token kinds, claims and their verification live in the
/// `clockify-addon-auth` crate (no poem or sqlx); re-exported here under the
/// path the gateway's code uses.
pub use clockify_addon_auth as token;
pub mod user;
pub mod verified;
