//! What operators and Clockify read: probes and metrics (`health`), and the
//! add-on's manifest (`manifest`).

pub(crate) mod health;
pub(crate) mod manifest;
