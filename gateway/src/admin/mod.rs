//! The operator views for a workspace's admins: the HTTP `routes` and the
//! operator console `page` (its assets in `ui/`).

pub(crate) mod page;
pub(crate) mod routes;
