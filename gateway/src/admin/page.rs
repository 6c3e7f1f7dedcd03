//! The operator page: the installation and its webhooks, the delivery log
//! with replays, the bootstrap with resume, restart and cancel. Static
//! assets compiled into the binary; the page calls the admin and bootstrap
//! routes with the user token Clockify's iframe gives it.

use poem_openapi::OpenApi;
use poem_openapi::payload::{Html, PlainText};

use crate::explorer::routes::{PageResponse, ScriptResponse, StyleResponse};

const PAGE_HTML: &str = include_str!("ui/index.html");
const PAGE_JS: &str = include_str!("ui/app.js");
const PAGE_CSS: &str = include_str!("ui/app.css");

pub struct AdminPageApi;

#[OpenApi(tag = "crate::tags::Tag::Admin")]
impl AdminPageApi {
    /// The operator page (reads `auth_token` from its URL, as Clockify's iframe passes it).
    #[oai(path = "/ui/admin", method = "get")]
    async fn page(&self) -> PageResponse {
        PageResponse::Html(Html(PAGE_HTML))
    }

    /// The page's script.
    #[oai(path = "/ui/admin/app.js", method = "get")]
    async fn script(&self) -> ScriptResponse {
        ScriptResponse::Js(PlainText(PAGE_JS))
    }

    /// The page's styles.
    #[oai(path = "/ui/admin/app.css", method = "get")]
    async fn styles(&self) -> StyleResponse {
        StyleResponse::Css(PlainText(PAGE_CSS))
    }
}
