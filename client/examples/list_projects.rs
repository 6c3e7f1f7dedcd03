//! Lists your workspaces, then streams every project of one of them.
//!
//! ```text
//! CLOCKIFY_API_KEY=... cargo run -p clockify-client --example list_projects
//! CLOCKIFY_API_KEY=... CLOCKIFY_BASE_URL=https://euc1.clockify.me/api \
//!   CLOCKIFY_WORKSPACE=<id> cargo run -p clockify-client --example list_projects
//! ```

use clockify_client::{Auth, ClientBuilder, ClockifyError, Hosts};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = std::env::var("CLOCKIFY_API_KEY").map_err(|_| "set CLOCKIFY_API_KEY to a personal API key")?;
    let hosts = match std::env::var("CLOCKIFY_BASE_URL") {
        // One base URL for every group, e.g. a developer environment or a local fake.
        Ok(base) => Hosts::explicit(&base, &base, Some(&base))?,
        Err(_) => Hosts::global(),
    };
    let client = ClientBuilder::new(Auth::ApiKey(key)).hosts(hosts).build()?;

    let workspaces = client.get_workspaces_of_user().send().await.map_err(ClockifyError::from)?.into_inner();
    for ws in &workspaces {
        println!("workspace {} {}", ws.id.as_deref().unwrap_or("?"), ws.name.as_deref().unwrap_or(""));
    }
    let chosen = std::env::var("CLOCKIFY_WORKSPACE").ok().or_else(|| workspaces.first().and_then(|w| w.id.clone()));
    let Some(workspace) = chosen else {
        println!("no workspace to list projects of");
        return Ok(());
    };

    let mut projects = client.get_projects().workspace_id(workspace.as_str()).stream();
    let mut count = 0;
    while let Some(project) = projects.try_next().await? {
        count += 1;
        println!("project {} {}", project.id.as_deref().unwrap_or("?"), project.name.as_deref().unwrap_or(""));
    }
    println!("{count} projects in workspace {workspace}");
    Ok(())
}
