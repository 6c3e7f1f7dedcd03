//! The hand-written half of the generated client: progenitor calls these
//! hooks around every operation (generated with `HooksMode::Expected`, so the
//! client does not compile without them).

use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};

use crate::Client;
use crate::catalog::{self, HostGroup};
use crate::runtime::Runtime;

impl ClientHooks<Runtime> for Client {
    /// Sends the operation to the host of its group and adds the credential
    /// (and, for a write without a body, `Content-Type: application/json`).
    async fn pre<E>(&self, request: &mut reqwest::Request, info: &OperationInfo) -> Result<(), Error<E>> {
        let rt = self.inner();
        let op = catalog::by_rust_name(info.operation_id)
            .ok_or_else(|| Error::Custom(format!("operation `{}` is not in the catalog", info.operation_id)))?;
        if let (Some(declared), Some(needed)) = (&rt.scopes, op.scope)
            && !declared.contains(&needed)
        {
            return Err(Error::Custom(format!("{} needs scope {needed}, which this client's declared scopes do not include", op.id)));
        }
        if op.host != HostGroup::Core {
            let base =
                rt.hosts.base(op.host).ok_or_else(|| Error::Custom(format!("{}: this installation has no {:?} host", op.id, op.host)))?;
            let url = request.url().as_str();
            let rest = url
                .strip_prefix(self.baseurl())
                .ok_or_else(|| Error::Custom(format!("{}: request URL does not start with the core base URL", op.id)))?;
            let rerouted = format!("{base}{rest}");
            *request.url_mut() =
                reqwest::Url::parse(&rerouted).map_err(|e| Error::Custom(format!("{}: bad URL for the {:?} host: {e}", op.id, op.host)))?;
        }
        if let Some((name, value)) = &rt.credential {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        // A write without a body still says JSON: Clockify documents the
        // user-token exchange (`POST /addon/user/{userId}/token`, no body)
        // with `Content-Type: application/json` (PLATFORM.md §2.1).
        if op.body.is_none()
            && matches!(op.method, "POST" | "PUT" | "PATCH")
            && !request.headers().contains_key(reqwest::header::CONTENT_TYPE)
        {
            request.headers_mut().insert(reqwest::header::CONTENT_TYPE, reqwest::header::HeaderValue::from_static("application/json"));
        }
        if let Some(exchange) = &rt.exchange {
            exchange.check(request).map_err(|e| Error::Custom(format!("{}: {e}", op.id)))?;
        }
        Ok(())
    }

    async fn exec(&self, request: reqwest::Request, info: &OperationInfo) -> reqwest::Result<reqwest::Response> {
        let rt = self.inner();
        let Some(observer) = &rt.observer else { return self.exec_unobserved(request, info).await };
        let started = std::time::Instant::now();
        let result = self.exec_unobserved(request, info).await;
        let operation = catalog::by_rust_name(info.operation_id).map_or(info.operation_id, |op| op.id);
        observer.finished(operation, result.as_ref().ok().map(|r| r.status().as_u16()), started.elapsed());
        result
    }
}

impl Client {
    async fn exec_unobserved(&self, request: reqwest::Request, info: &OperationInfo) -> reqwest::Result<reqwest::Response> {
        let rt = self.inner();
        let Some(exchange) = &rt.exchange else {
            return crate::retry::execute(self.client(), &rt.budget, &rt.retry, info.operation_id, request).await;
        };
        exchange.record_request(&request);
        match exchange.mode() {
            crate::exchange::ExchangeMode::DryRun => Ok(crate::exchange::Exchange::synthetic_response()),
            crate::exchange::ExchangeMode::Send => {
                let response = crate::retry::execute(self.client(), &rt.budget, &rt.retry, info.operation_id, request).await?;
                exchange.record_response(response).await
            }
        }
    }
}
