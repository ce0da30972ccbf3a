//! A recording proxy in front of the emulator: every AWS call a function makes passes through it, is forwarded
//! unchanged, and is recorded with its service, its operation and the emulator's own time to answer it. Calls are
//! counted from what really went over the wire, not estimated.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// One AWS call, as it went to the emulator.
#[derive(Debug, Clone)]
pub struct Call {
    /// Whose proxy it came through (a function's logical id).
    pub caller: Arc<str>,
    /// The service of the request's signing scope: `dynamodb`, `sns`, `ses`, ...
    pub service: String,
    /// `GetItem`, `TransactWriteItems`, `Publish`, `SendEmail`, ...
    pub operation: String,
    /// The emulator's time to answer, measured at the proxy.
    pub upstream: Duration,
    pub finished: Instant,
}

/// What kind of call it is, for the budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallKind {
    Read,
    Query,
    Scan,
    Write,
    Transaction,
    Send,
    Other,
}

impl Call {
    pub fn kind(&self) -> CallKind {
        match (self.service.as_str(), self.operation.as_str()) {
            ("dynamodb", "GetItem" | "BatchGetItem" | "TransactGetItems") => CallKind::Read,
            ("dynamodb", "Query") => CallKind::Query,
            ("dynamodb", "Scan") => CallKind::Scan,
            ("dynamodb", "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem") => {
                CallKind::Write
            }
            ("dynamodb", "TransactWriteItems") => CallKind::Transaction,
            ("sns", "Publish") | ("ses", "SendEmail") => CallKind::Send,
            _ => CallKind::Other,
        }
    }
}

/// Every call recorded so far, by every proxy sharing it.
#[derive(Clone, Default)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recorder {
    /// How many calls have been recorded: a mark to take the calls after it.
    pub fn mark(&self) -> usize {
        self.calls
            .lock()
            .map(|calls| calls.len())
            .unwrap_or_default()
    }

    pub fn since(&self, mark: usize) -> Vec<Call> {
        self.calls
            .lock()
            .map(|calls| calls.get(mark..).unwrap_or_default().to_vec())
            .unwrap_or_default()
    }

    fn record(&self, call: Call) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

struct Forward {
    caller: Arc<str>,
    upstream: String,
    client: reqwest::Client,
    recorder: Recorder,
}

/// The service from the SigV4 credential scope: `Credential=AKID/20261122/us-east-1/dynamodb/aws4_request`.
fn signing_service(authorization: &str) -> Option<&str> {
    let scope = authorization.split("Credential=").nth(1)?;
    scope.split(['/', ',']).nth(3)
}

/// The operation: the JSON protocols name it in `X-Amz-Target`, the query protocol (SNS) in `Action=`, and the REST
/// protocols (SES v2) by method and path.
fn operation(target: Option<&str>, body: &[u8], method: &str, path: &str) -> String {
    if let Some(target) = target {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    let action = std::str::from_utf8(body).ok().and_then(|body| {
        body.split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .map(str::to_owned)
    });
    match (action, method, path) {
        (Some(action), _, _) => action,
        (None, "POST", "/v2/email/outbound-emails") => "SendEmail".to_owned(),
        (None, method, path) => format!("{method} {path}"),
    }
}

const HOP_BY_HOP: [&str; 4] = ["connection", "content-length", "transfer-encoding", "host"];

async fn forward(State(forward): State<Arc<Forward>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let service = header("authorization")
        .and_then(signing_service)
        .unwrap_or("unknown")
        .to_owned();
    let path = parts.uri.path();
    let operation = operation(header("x-amz-target"), &body, parts.method.as_str(), path);
    let url = format!(
        "{}{}",
        forward.upstream,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(path)
    );
    let mut outgoing = forward.client.request(parts.method.clone(), url);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    let started = Instant::now();
    let answer = match outgoing.body(body).send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let Ok(answer_body) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let finished = Instant::now();
    forward.recorder.record(Call {
        caller: forward.caller.clone(),
        service,
        operation,
        upstream: finished - started,
        finished,
    });
    let mut response = Response::new(Body::from(answer_body));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response
                .headers_mut()
                .append(HeaderName::from(name), value.clone());
        }
    }
    response
}

/// Starts a proxy for `caller` in front of `upstream`; returns its endpoint.
pub async fn start(
    caller: &str,
    upstream: &str,
    recorder: &Recorder,
) -> Result<String, std::io::Error> {
    let state = Arc::new(Forward {
        caller: Arc::from(caller),
        upstream: upstream.trim_end_matches('/').to_owned(),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(std::io::Error::other)?,
        recorder: recorder.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let router = Router::new().fallback(forward).with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{address}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_and_operation_come_from_the_request_itself() {
        let auth = "AWS4-HMAC-SHA256 Credential=local/20261122/us-east-1/dynamodb/aws4_request, SignedHeaders=host";
        assert_eq!(signing_service(auth), Some("dynamodb"));
        assert_eq!(
            operation(Some("DynamoDB_20120810.GetItem"), b"{}", "POST", "/"),
            "GetItem"
        );
        assert_eq!(
            operation(None, b"Action=Publish&Version=2010-03-31", "POST", "/"),
            "Publish"
        );
        assert_eq!(
            operation(None, b"{}", "POST", "/v2/email/outbound-emails"),
            "SendEmail"
        );
    }
}
