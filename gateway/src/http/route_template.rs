//! The route template a request matched (`/admin/deliveries/{workspace_id}`),
//! for latency metrics: labels by template, never by raw path (a path
//! carries ids, and unknown paths would make a label per probe).

use std::sync::Arc;

use poem_openapi::registry::MetaApi;

/// The templates of every route the service serves, by method. Cloned
/// into every request (poem's `data`), so the table itself is shared.
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates {
    routes: Arc<[Route]>,
}

/// A method, its template, and the template's segments.
type Route = (poem::http::Method, Arc<str>, Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

/// What a request that matches no route is labelled.
pub const UNMATCHED: &str = "unmatched";

impl RouteTemplates {
    pub fn from_meta(apis: Vec<MetaApi>) -> Self {
        let mut routes = Vec::new();
        for path in apis.into_iter().flat_map(|a| a.paths) {
            let segments = segments(&path.path)
                .map(|s| if s.starts_with('{') || s.starts_with(':') { Segment::Param } else { Segment::Literal(s.to_owned()) })
                .collect::<Vec<_>>();
            let template: Arc<str> = path.path.as_str().into();
            for op in &path.operations {
                routes.push((op.method.clone(), template.clone(), segments.clone()));
            }
        }
        // Literal segments win over parameters (`/ui/api-explorer/history`
        // over `/ui/api-explorer/{page}`), as in the router.
        routes.sort_by_key(|(_, _, segs)| std::cmp::Reverse(segs.iter().filter(|s| matches!(s, Segment::Literal(_))).count()));
        Self { routes: routes.into() }
    }

    /// The template `method path` matched, if any.
    pub fn template(&self, method: &poem::http::Method, path: &str) -> Option<Arc<str>> {
        let count = segments(path).count();
        self.routes
            .iter()
            .find(|(m, _, segs)| {
                m == method
                    && segs.len() == count
                    && segs.iter().zip(segments(path)).all(|(s, p)| match s {
                        Segment::Literal(l) => l == p,
                        Segment::Param => true,
                    })
            })
            .map(|(_, template, _)| template.clone())
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::Method;
    use poem_openapi::OpenApi;

    #[test]
    fn requests_are_labelled_by_the_template_they_match() {
        let t = RouteTemplates::from_meta(crate::api::Api::meta());
        let of = |m: Method, p: &str| t.template(&m, p).map(|s| s.to_string());
        assert_eq!(of(Method::GET, "/admin/deliveries/ws-123").as_deref(), Some("/admin/deliveries/{workspace_id}"));
        assert_eq!(of(Method::POST, "/webhooks/NEW_TAG").as_deref(), Some("/webhooks/{event}"));
        assert_eq!(of(Method::GET, "/health").as_deref(), Some("/health"));
        assert_eq!(of(Method::GET, "/ui/api-explorer/history").as_deref(), Some("/ui/api-explorer/history"));
        assert_eq!(of(Method::DELETE, "/health"), None, "the method counts");
        assert_eq!(of(Method::GET, "/no/such/thing"), None);
    }
}
