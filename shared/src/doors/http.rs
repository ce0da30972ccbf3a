//! What every front door needs from an API Gateway event, whichever version carried it.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{causes, without_value, DomainError, Principal};
use crate::doors::authz::principal_from_request;
use std::future::Future;

/// The API Gateway request id: the correlation id of error bodies and logs.
pub fn request_id(request: &Request) -> String {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
        })
        .unwrap_or_default()
}

pub fn path_param(request: &Request, name: &str) -> Option<String> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

/// The largest request body any operation takes: every body a client is meant to send is well under 1 KiB. A
/// larger one is refused (413, in the front door's format) before anything parses it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The request's body, if it is within `MAX_BODY_BYTES`.
pub fn body_bytes(request: &Request) -> Result<&[u8], DomainError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(DomainError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        });
    }
    Ok(bytes)
}

/// A serde_json error's message without its " at line L column C" and without the value the client sent (see
/// `without_value`): the expected type, and the kind of what came instead.
pub fn json_error_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) if error.line() > 0 => &message[..at],
        _ => message.as_str(),
    };
    without_value(message)
}

/// Parses a JSON body (of at most `MAX_BODY_BYTES`) straight into `T`; a failure names the field at fault, as the
/// client spelled it, and what it must be, never the value that was sent.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, DomainError> {
    let bytes = body_bytes(request)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DomainError::invalid_body(
            "body",
            "a JSON request body is required",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return DomainError::invalid_body("body", "the request body is not valid JSON");
        }
        let message = json_error_message(&inner);
        // "missing field `x`" is reported at the parent: name the field itself.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let location = if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            return DomainError::invalid_body(location, "must not be null");
        }
        let location = if path == "." { "body".to_owned() } else { path };
        DomainError::invalid_body(location, message)
    })?;
    deserializer
        .end()
        .map_err(|_| DomainError::invalid_body("body", "the request body is not valid JSON"))?;
    Ok(parsed)
}

pub fn json_response(status: u16, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(text))
        .unwrap_or_default()
}

pub fn empty_response(status: u16) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::Empty)
        .unwrap_or_default()
}

/// Adds `Retry-After` where an error says when retrying helps.
pub fn with_retry_after(
    mut response: Response<Body>,
    retry_after_secs: Option<u64>,
) -> Response<Body> {
    if let Some(value) = retry_after_secs.and_then(|seconds| seconds.to_string().parse().ok()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// A request header's value, by case-insensitive name.
pub fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Runs one authenticated operation of a front door: a body over `MAX_BODY_BYTES` is refused first (413), then the
/// caller's verdict (a refusal becomes the front door's 401 or 503), then `op`; an error is answered by `render` in the front door's body; one log line carries the
/// correlation id (the API Gateway request id).
pub async fn serve_authenticated<E, F, Fut, R>(
    operation: &'static str,
    request: Request,
    op: F,
    render: R,
) -> Response<Body>
where
    E: From<DomainError> + std::error::Error,
    F: FnOnce(Request, Principal) -> Fut,
    Fut: Future<Output = Result<Response<Body>, E>>,
    R: FnOnce(&str, &E) -> Response<Body>,
{
    serve_as(operation, request, principal_from_request, op, render).await
}

/// `serve_authenticated`, with the caller established by `identify` (a PRE_AUTH bearer, or nobody for a public
/// operation) rather than as a signed-in principal.
pub async fn serve_as<C, E, I, F, Fut, R>(
    operation: &'static str,
    request: Request,
    identify: I,
    op: F,
    render: R,
) -> Response<Body>
where
    E: From<DomainError> + std::error::Error,
    I: FnOnce(&Request) -> Result<C, DomainError>,
    F: FnOnce(Request, C) -> Fut,
    Fut: Future<Output = Result<Response<Body>, E>>,
    R: FnOnce(&str, &E) -> Response<Body>,
{
    let correlation_id = request_id(&request);
    let admitted = body_bytes(&request).and_then(|_| identify(&request));
    let outcome = match admitted {
        Ok(caller) => op(request, caller).await,
        Err(error) => Err(E::from(error)),
    };
    match outcome {
        Ok(response) => {
            tracing::info!(
                operation,
                correlation_id,
                status = response.status().as_u16(),
                "request served"
            );
            response
        }
        Err(error) => {
            let response = render(&correlation_id, &error);
            let status = response.status().as_u16();
            match causes(&error) {
                Some(cause) => {
                    tracing::error!(operation, correlation_id, status, error = %error, cause, "request failed")
                }
                None => {
                    tracing::info!(operation, correlation_id, status, error = %error, "request refused")
                }
            }
            response
        }
    }
}
