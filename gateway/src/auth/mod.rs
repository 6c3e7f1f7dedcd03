//! Clockify's tokens: `token` verifies them (one kind per route), `verified`
//! remembers verified webhook signatures, `schemes` are the poem-openapi
//! security schemes routes take, one per kind.

pub(crate) mod schemes;
pub mod token;
pub mod user;
pub mod verified;
