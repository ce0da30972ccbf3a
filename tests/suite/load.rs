//! Load through the local gateway: a realistic mix (invite, get, list, register-sms, a code check, resend) from many
//! concurrent clients. No request may fail with a 5xx or a transport error, and no rule may bend: no attempt count
//! past its cap, no quota window past its limit. `make test` runs a short form; `make soak` the long one, and writes
//! throughput and latency to `bench/load.md` and `bench/load.json`.

use api_tests::{all_items, shared_stack, unique_email, unique_phone, user};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};
use user_token_domain::domain::{Role, UserType};

const ENTITY: &str = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a";

#[derive(Debug, Default)]
struct Tally {
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

async fn client_loop(deadline: Instant, client_index: usize) -> Tally {
    let stack = shared_stack();
    let http = reqwest::Client::new();
    let caller = user(
        &unique_email(),
        UserType::Payor,
        Some(ENTITY),
        &[Role::PayorAdmin],
    );
    api_tests::app(&stack.table)
        .await
        .store
        .create_user(&caller)
        .await
        .expect("caller stored");
    let token = stack.token_for(caller.id);
    let phone = unique_phone();
    let mut tally = Tally::default();
    let mut invited: Vec<String> = Vec::new();
    let mut step = client_index;
    while Instant::now() < deadline {
        step += 1;
        let (method, path, body) = match step % 6 {
            0 => (
                reqwest::Method::POST,
                "/v2/users/invite".to_owned(),
                Some(json!({"email": unique_email(), "mfaType": "SMS",
                "smsNumber": unique_phone(), "primaryContactNumber": "+4411223344556", "roles": ["velo.payor.support"], "entityId": ENTITY})),
            ),
            1 => (
                reqwest::Method::GET,
                format!("/v2/users/{}", caller.id),
                None,
            ),
            2 => (
                reqwest::Method::GET,
                "/v2/users?pageSize=10&sort=lastName:desc".to_owned(),
                None,
            ),
            3 => (
                reqwest::Method::POST,
                "/v2/users/registration/sms".to_owned(),
                Some(json!({"smsNumber": phone})),
            ),
            4 => match invited.last() {
                Some(id) => (
                    reqwest::Method::POST,
                    format!("/v2/users/{id}/tokens"),
                    Some(json!({"tokenType": "INVITE_MFA_USER", "verificationCode": "000000"})),
                ),
                None => (reqwest::Method::GET, "/v2/users/self".to_owned(), None),
            },
            _ => match invited.first() {
                Some(id) => (
                    reqwest::Method::POST,
                    format!("/v2/users/{id}/tokens"),
                    Some(json!({"tokenType": "INVITE_MFA_USER"})),
                ),
                None => (reqwest::Method::GET, "/v2/users/self".to_owned(), None),
            },
        };
        let mut request = http
            .request(method.clone(), format!("{}{path}", stack.base_url))
            .bearer_auth(&token);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let started = Instant::now();
        match request.send().await {
            Ok(response) => {
                tally.latencies.push(started.elapsed());
                let status = response.status();
                if status.is_server_error() {
                    tally.failures.push(format!(
                        "{method} {path}: {status} {}",
                        response.text().await.unwrap_or_default()
                    ));
                } else if status == StatusCode::NO_CONTENT && path == "/v2/users/invite" {
                    let listed = http
                        .get(format!(
                            "{}/v2/users?pageSize=100&status=PENDING",
                            stack.base_url
                        ))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .ok();
                    if let Some(listed) = listed {
                        if let Ok(page) = listed.json::<serde_json::Value>().await {
                            invited.extend(
                                page["content"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(|u| u["id"].as_str().map(str::to_owned))
                                    .take(1),
                            );
                        }
                    }
                }
            }
            Err(error) => tally.failures.push(format!("{method} {path}: {error}")),
        }
    }
    tally
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

async fn run_load(clients: usize, seconds: u64) -> (usize, Duration, Duration, f64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tallies =
        futures_util::future::join_all((0..clients).map(|index| client_loop(deadline, index)))
            .await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<Duration> = tallies
        .iter()
        .flat_map(|t| t.latencies.iter().copied())
        .collect();
    let failures: Vec<&String> = tallies.iter().flat_map(|t| t.failures.iter()).collect();
    assert!(
        failures.is_empty(),
        "{} failed requests, e.g. {:?}",
        failures.len(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    latencies.sort();
    assert!(!latencies.is_empty(), "the load ran");

    // No rule bent: attempts within their caps, quota windows within their limits.
    let stack = shared_stack();
    for item in all_items(&stack.table).await {
        let number = |name: &str| match item.get(name) {
            Some(AttributeValue::N(value)) => value.parse::<i64>().ok(),
            _ => None,
        };
        if let (Some(failed), Some(max)) = (number("failedAttempts"), number("maxAttempts")) {
            assert!(failed <= max, "an attempt count past its cap: {item:?}");
        }
        if let Some(sends) = number("sends") {
            let limit = match item.get("scope") {
                Some(AttributeValue::S(scope)) if scope == "recipient" => 5,
                Some(AttributeValue::S(scope)) if scope == "caller" => 200,
                Some(AttributeValue::S(scope)) if scope == "tenant" => 2000,
                Some(AttributeValue::S(scope)) if scope == "service" => 10000 / 8,
                _ => panic!("a quota window with no known scope: {item:?}"),
            };
            assert_eq!(number("limit"), Some(limit), "{item:?}");
            assert!(sends <= limit, "a quota window past its limit: {item:?}");
        }
    }
    let throughput = latencies.len() as f64 / elapsed;
    (
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        throughput,
    )
}

#[tokio::test]
async fn a_short_concurrent_load_fails_nothing_and_bends_no_rule() {
    let (requests, p50, p99, throughput) = run_load(8, 4).await;
    println!("load: {requests} requests, {throughput:.1}/s, p50 {p50:?}, p99 {p99:?}");
}

/// `make soak`: 32 clients for 60 s (override with LOAD_CLIENTS and LOAD_SECONDS), reported in `bench/`.
#[tokio::test]
#[ignore = "long: run with `make soak`"]
async fn soak() {
    let clients = std::env::var("LOAD_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let seconds = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let (requests, p50, p99, throughput) = run_load(clients, seconds).await;
    let bench = api_tests::root().join("bench");
    std::fs::create_dir_all(&bench).expect("bench/");
    let report = json!({"clients": clients, "seconds": seconds, "requests": requests, "failures": 0,
        "throughput_per_second": throughput, "p50_ms": p50.as_secs_f64() * 1000.0, "p99_ms": p99.as_secs_f64() * 1000.0,
        "note": "through the local gateway and the moto emulator on 127.0.0.1: not AWS figures"});
    std::fs::write(
        bench.join("load.json"),
        serde_json::to_string_pretty(&report).expect("json"),
    )
    .expect("write");
    std::fs::write(
        bench.join("load.md"),
        format!("# Load (make soak)\n\n| clients | seconds | requests | failures | throughput/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n| {clients} | {seconds} | {requests} | 0 | {throughput:.1} | {:.1} | {:.1} |\n\nThrough the local gateway and the moto emulator on 127.0.0.1 (one process per function, the emulator single-threaded): these are not AWS figures.\n", p50.as_secs_f64() * 1000.0, p99.as_secs_f64() * 1000.0),
    )
    .expect("write");
}
