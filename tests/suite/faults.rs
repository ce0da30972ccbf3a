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
