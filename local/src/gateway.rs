//! An HTTP API stand-in: matches the template's routes, runs the authorizer, and delivers payload-2.0 events to the
//! function binaries, answering as API Gateway would (including its own 403, 404, 413 and 500 bodies).

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use time::OffsetDateTime;

use crate::runtime_api::{FunctionHost, InvokeError};
use crate::template::Route;

const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

pub struct RouteTarget {
    pub route: Route,
    pub segments: Vec<Segment>,
    pub function: Arc<FunctionHost>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
}

pub fn segments(path: &str) -> Vec<Segment> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// The best route for a request: literal segments win over parameters, as API Gateway matches them.
pub fn match_route<'a>(
    targets: &'a [RouteTarget],
    method: &str,
    path: &str,
) -> Option<(&'a RouteTarget, Map<String, Value>)> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut best: Option<(&RouteTarget, Map<String, Value>, usize)> = None;
    for target in targets {
        if target.route.method != method && target.route.method != "ANY" {
            continue;
        }
        if target.segments.len() != parts.len() {
            continue;
        }
        let mut params = Map::new();
        let mut literals = 0;
        let matched = target
            .segments
            .iter()
            .zip(&parts)
            .all(|(segment, part)| match segment {
                Segment::Literal(literal) => {
                    literals += 1;
                    literal == part
                }
                Segment::Param(name) => {
                    let decoded = percent_encoding::percent_decode_str(part)
                        .decode_utf8_lossy()
                        .into_owned();
                    params.insert(name.clone(), Value::String(decoded));
                    true
                }
            });
        if matched && best.as_ref().is_none_or(|(_, _, most)| literals > *most) {
            best = Some((target, params, literals));
        }
    }
    best.map(|(target, params, _)| (target, params))
}

pub struct Gateway {
    pub targets: Vec<RouteTarget>,
    pub authorizer: Option<Arc<FunctionHost>>,
    pub extra: Vec<(String, String, &'static str, Bytes)>,
    /// What API Gateway puts in `requestContext.domainName`: the address it serves, not the request's `Host`.
    pub domain_name: String,
}

fn gateway_answer(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(json!({ "message": message }).to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn headers_json(headers: &HeaderMap) -> (Map<String, Value>, Vec<Value>) {
    let mut joined: Map<String, Value> = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| Value::String(c.trim().to_owned())));
            continue;
        }
        let key = name.as_str().to_ascii_lowercase();
        let merged = match joined.get(&key).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value,
        };
        joined.insert(key, Value::String(merged));
    }
    (joined, cookies)
}

fn query_json(raw: &str) -> Map<String, Value> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).unwrap_or_default();
    let mut map: Map<String, Value> = Map::new();
    for (key, value) in pairs {
        let merged = match map.get(&key).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value,
        };
        map.insert(key, Value::String(merged));
    }
    map
}

fn to_http(answer: Value, request_id: &str) -> Response<Body> {
    let Some(status) = answer.get("statusCode").and_then(Value::as_u64) else {
        // A function that returns a bare JSON value gets a 200 with that value, as HTTP APIs do.
        let mut response = Response::new(Body::from(answer.to_string()));
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        return response;
    };
    let body = answer
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bytes = if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        BASE64.decode(body).unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() =
        StatusCode::from_u16(status as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    let mut put = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    };
    if let Some(map) = answer.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            put(name, value.as_str().unwrap_or_default());
        }
    }
    if let Some(map) = answer.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            for value in values.as_array().into_iter().flatten() {
                put(name, value.as_str().unwrap_or_default());
            }
        }
    }
    for cookie in answer
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        put("set-cookie", cookie.as_str().unwrap_or_default());
    }
    put("apigw-requestid", request_id);
    response
}

fn failure(error: InvokeError) -> Response<Body> {
    eprintln!("local gateway: {error}");
    match error {
        InvokeError::Timeout(_) => {
            gateway_answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        _ => gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

pub async fn handle(State(gateway): State<Arc<Gateway>>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    for (extra_method, extra_path, content_type, bytes) in &gateway.extra {
        if *extra_method == method && *extra_path == path {
            let mut response = Response::new(Body::from(bytes.clone()));
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static(content_type));
            return response;
        }
    }
    let Some((target, path_parameters)) = match_route(&gateway.targets, &method, &path) else {
        return gateway_answer(StatusCode::NOT_FOUND, "Not Found");
    };
    let Ok(body) = to_bytes(body, MAX_PAYLOAD_BYTES).await else {
        return gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let (headers, cookies) = headers_json(&parts.headers);
    let request_id = uuid::Uuid::new_v4().to_string();
    let now = OffsetDateTime::now_utc();
    let route_key = format!("{} {}", target.route.method, target.route.path);
    let user_agent = headers
        .get("user-agent")
        .cloned()
        .unwrap_or(Value::String(String::new()));
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": gateway.domain_name,
        "domainPrefix": "127",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": user_agent
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": now.unix_timestamp().to_string(),
        "timeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond())
    });
    let query = query_json(&raw_query);
    if target.route.authorized {
        if let Some(authorizer) = &gateway.authorizer {
            let event = json!({
                "version": "2.0",
                "type": "REQUEST",
                "routeArn": format!("arn:aws:execute-api:us-east-1:123456789012:local/$default/{method}{path}"),
                "identitySource": [],
                "routeKey": route_key,
                "rawPath": path,
                "rawQueryString": raw_query,
                "cookies": cookies,
                "headers": headers,
                "queryStringParameters": query,
                "requestContext": context,
                "pathParameters": path_parameters,
                "stageVariables": {}
            });
            let verdict = match authorizer.invoke(&event).await {
                Ok(verdict) => verdict,
                Err(error) => return failure(error),
            };
            if verdict.get("isAuthorized").and_then(Value::as_bool) != Some(true) {
                return gateway_answer(StatusCode::FORBIDDEN, "Forbidden");
            }
            context["authorizer"] =
                json!({ "lambda": verdict.get("context").cloned().unwrap_or(json!({})) });
        }
    }
    let (body_text, encoded) = match std::str::from_utf8(&body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (BASE64.encode(&body), true),
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": encoded
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = Value::Object(path_parameters);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body_text);
    }
    match target.function.invoke(&event).await {
        Ok(answer) => to_http(answer, &request_id),
        Err(error) => failure(error),
    }
}
