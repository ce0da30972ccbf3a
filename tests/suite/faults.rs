//! Faults: with DynamoDB unreachable every front door answers 503 with `Retry-After` in its own format, and the SDK's
//! bounds fit within every function's timeout. (A dead SNS or SES is covered with each sender's tests.)

use api_tests::{config, event, json_of};
use local_stack::emulator::sdk_config;
use user_token_domain::app::SDK_OPERATION_TIMEOUT;
use user_token_domain::{qi, sigma, velo, App};

#[tokio::test]
async fn an_unreachable_table_is_a_503_with_retry_after_in_each_front_doors_format() {
    let app = App::new(
        config("unreachable"),
        &sdk_config("http://127.0.0.1:9").await,
    );

    let velo_answer = velo::get_user(&app, event("get-user.json", |_| {})).await;
    assert_eq!(velo_answer.status(), 503);
    assert!(velo_answer.headers().contains_key("retry-after"));
    let body = json_of(&velo_answer);
    assert_eq!(
        (
            body["httpStatusCode"].clone(),
            body["errors"][0]["errorCode"].clone()
        ),
        (503.into(), "50310001".into())
    );

    let qi_answer = qi::get_device(&app, event("device-get.json", |_| {})).await;
    assert_eq!(qi_answer.status(), 503);
    assert!(qi_answer.headers().contains_key("retry-after"));
    assert_eq!(json_of(&qi_answer)["code"], "QIT000106");

    let sigma_answer = sigma::channel(&app, event("otp-channel.json", |_| {})).await;
    assert_eq!(sigma_answer.status(), 503);
    assert!(sigma_answer.headers().contains_key("retry-after"));
    assert_eq!(
        json_of(&sigma_answer)["type"],
        "ServiceUnavailableException"
    );
    assert_eq!(json_of(&sigma_answer)["httpStatus"], 503);
}

#[test]
fn the_sdk_bounds_fit_every_functions_timeout() {
    // A request stops at its first failed call, except a failed send and its compensation: two calls at the bound.
    let worst_case = 2 * SDK_OPERATION_TIMEOUT.as_secs();
    for function in api_tests::template().functions.values() {
        assert!(
            worst_case < function.timeout_secs,
            "{}: {worst_case}s of SDK calls in a {}s timeout",
            function.logical_id,
            function.timeout_secs
        );
    }
}

/// A stand-in for DynamoDB on 127.0.0.1 that answers every call with `status` and an AWS JSON error of `kind`.
async fn failing_dynamodb(status: u16, kind: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut request).await;
                let body = format!(
                    r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected fault"}}"#
                );
                let response = format!(
                    "HTTP/1.1 {status} Fault\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-errortype: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_throttling_or_failing_table_is_a_503_with_retry_after_in_each_front_doors_format() {
    for (status, kind) in [
        (400, "ThrottlingException"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
    ] {
        let endpoint = failing_dynamodb(status, kind).await;
        let app = App::new(
            config("failing"),
            &user_token_domain::app::bounded(
                aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .endpoint_url(&endpoint)
                    .region(aws_config::Region::new("us-east-1"))
                    .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                        "local", "local", None, None, "local",
                    )),
            )
            .load()
            .await,
        );
        let answers = [
            (
                "velo",
                velo::get_user(&app, event("get-user.json", |_| {})).await,
            ),
            (
                "qi",
                qi::get_device(&app, event("device-get.json", |_| {})).await,
            ),
            (
                "sigma",
                sigma::channel(&app, event("otp-channel.json", |_| {})).await,
            ),
        ];
        for (front_door, answer) in answers {
            assert_eq!(answer.status(), 503, "{front_door} on {kind}");
            assert!(
                answer.headers().contains_key("retry-after"),
                "{front_door} on {kind}"
            );
        }
    }
}
