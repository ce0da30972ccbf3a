//! The event-driven pipelines against the emulator: the table's stream through `publish-events` to an SNS topic
//! (captured by a tap, an SQS queue subscribed to it), and SQS commands through `command-handler`. Both run as the
//! real binaries over the local Lambda Runtime API, with the environment the template gives them, fed by the event
//! source pollers of `make run`.

use api_tests::{
    all_items, endpoint, fresh_table, parameters, root, stack_options, template, unique,
    unique_email,
};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use local_stack::emulator::{outbox, sdk_config};
use local_stack::pipelines::{receive, sqs_event, stream_arn, Published, StreamPoller, Tap};
use local_stack::runtime_api::{FunctionHost, Logs};
use local_stack::stack::{launch_function_with, FunctionSetup, Stack, StackOptions, SEED_ADMIN_ID};
use local_stack::template::StreamSource;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use user_token_domain::adapters::messaging::EventPublisher;
use user_token_domain::domain::{Role, UserStatus, UserType};
use user_token_domain::pipelines::events::{events_of, publish_stream};

/// The template's function `logical_id`, started on `table` with the template's environment (parameters from
/// `local/parameters.json`), plus `overrides`.
async fn host(logical_id: &str, table: &str, overrides: &[(&str, &str)]) -> FunctionHost {
    let template = template();
    let parameters = parameters();
    let function = template
        .functions
        .get(logical_id)
        .unwrap_or_else(|| panic!("{logical_id} is in the template"));
    let log_dir = local_stack::bin_dir()
        .join("../test-logs")
        .join(unique("pipelines"));
    std::fs::create_dir_all(&log_dir).expect("log dir");
    let endpoint = endpoint();
    let bin_dir = local_stack::bin_dir();
    let setup = FunctionSetup {
        bin_dir: &bin_dir,
        endpoint: &endpoint,
        table_name: table,
        parameters: &parameters,
    };
    let logs = Logs::File(log_dir.join(format!("{}.log", function.binary)));
    launch_function_with(&template, function, &setup, logs, overrides)
        .await
        .expect("the function starts (run `make test`, which builds it)")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("events").join(name)).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A topic, and a tap that captures what is published to it.
struct Topic {
    arn: String,
    tap: Tap,
}

impl Topic {
    async fn new() -> Topic {
        let sdk = sdk_config(&endpoint()).await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let arn = sns
            .create_topic()
            .name(unique("events"))
            .send()
            .await
            .expect("topic")
            .topic_arn
            .expect("topic arn");
        let tap = Tap::create(aws_sdk_sqs::Client::new(&sdk), &unique("capture"))
            .await
            .expect("tap queue");
        tap.subscribe(&sns, &arn).await.expect("subscription");
        Topic { arn, tap }
    }

    /// Everything captured so far (each notification once).
    async fn drain(&self) -> Vec<Published> {
        self.tap.drain().await.expect("the tap is readable")
    }
}

/// Polls `check` until it gives a value, failing after `limit`.
async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn event_types(captured: &[Published]) -> Vec<String> {
    captured
        .iter()
        .map(|c| c.event["eventType"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Nothing secret or personal from the images: codes, digests, hashes, addresses, phone numbers.
fn assert_no_secrets(raw: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!raw.contains(secret), "{secret:?} leaked into {raw}");
    }
    for field in [
        "digest",
        "passwordHash",
        "email",
        "smsNumber",
        "recipient",
        "code",
    ] {
        assert!(
            !raw.contains(&format!("\"{field}\":")),
            "field {field} in {raw}"
        );
    }
}

const FIXTURE_SECRETS: &[&str] = &[
    "Zml4dHVyZS1kaWdlc3QtbmV2ZXItcHVibGlzaGVk",
    "b3RwLWRpZ2VzdC1uZXZlci1wdWJsaXNoZWQ",
    "argon2",
    "grace@example.com",
    "alan@example.com",
    "4411223344556",
    "4411223344999",
    "79990001122",
    "12345678909",
];

#[tokio::test]
async fn the_stream_fixture_becomes_domain_events_on_the_topic_with_the_type_as_an_attribute() {
    let topic = Topic::new().await;
    let function = host(
        "PublishEventsFunction",
        "unused",
        &[("EVENTS_TOPIC_ARN", &topic.arn)],
    )
    .await;
    let answer = function
        .invoke(&fixture("publish-events.json"))
        .await
        .expect("publish-events answers");
    assert_eq!(answer, json!({"batchItemFailures": []}));

    let captured = topic.drain().await;
    assert_eq!(
        event_types(&captured),
        [
            "UserInvited",
            "TokenIssued",
            "TokenVerified",
            "InvitationAccepted",
            "UserEnabled",
            "RolesChanged",
            "UserDetailsChanged",
            "DeviceApproved",
            "OtpSessionStarted",
            "TokenVerified",
            "OtpConfirmed",
            "UserDeleted"
        ]
    );
    for event in &captured {
        assert_no_secrets(&event.raw, FIXTURE_SECRETS);
        assert_eq!(
            event.attributes["eventType"]["Value"], event.event["eventType"],
            "the eventType attribute is the event's type"
        );
        assert_eq!(event.attributes["eventId"]["Value"], event.event["eventId"]);
        assert_eq!(event.event["schemaVersion"], 1);
        assert_eq!(event.event["source"], "user-token-service");
    }
    assert_eq!(
        captured[0].event,
        json!({
            "eventId": "c4ca4238a0b923820dcc509a6f75849b:UserInvited",
            "schemaVersion": 1,
            "source": "user-token-service",
            "occurredAt": "2025-11-22T00:00:00.000Z",
            "subject": {"type": "user", "userId": "5f1b8d0e-2c9a-4d3b-9e4f-6a7b8c9d0e1f"},
            "eventType": "UserInvited",
            "data": {
                "userType": "PAYOR",
                "entityId": "7fffa261-ac68-49e6-b605-d24a444d9206",
                "roles": ["velo.payor.admin"],
                "mfaType": "SMS"
            },
            "streamSequenceNumber": "100000000000000000001"
        })
    );
    assert_eq!(
        captured[1].event["data"],
        json!({"purpose": "INVITATION", "channel": "email", "expiresAt": "2025-11-29T00:00:00.000Z",
               "remainingAttempts": 5})
    );
    assert_eq!(
        captured[5].event["data"],
        json!({"previousRoles": ["velo.payor.admin"], "roles": ["velo.payor.support"]})
    );
    assert_eq!(
        captured[6].event["data"],
        json!({"changedFields": ["lastName"]})
    );
    assert_eq!(
        captured[7].event["subject"],
        json!({"type": "device", "accountKey": "00000000-0000-4000-8000-0000000000a1",
               "deviceKey": "b6804f32-101e-4702-8fbc-c2dbc4c2caec"})
    );
    assert_eq!(
        captured[8].event["data"],
        json!({"widgetId": "11111111-1111-4111-8111-111111111111", "channels": ["sms"], "locale": "ru"})
    );
    assert_eq!(captured[8].attributes["subjectType"]["Value"], "otpSession");

    // A replay (the same records again) publishes the same events with the same ids: subscribers drop repeats.
    let again = function
        .invoke(&fixture("publish-events.json"))
        .await
        .expect("publish-events answers");
    assert_eq!(again, json!({"batchItemFailures": []}));
    let replayed = topic.drain().await;
    let ids = |events: &[Published]| -> Vec<Value> {
        events.iter().map(|e| e.event["eventId"].clone()).collect()
    };
    assert_eq!(ids(&replayed), ids(&captured));
    assert_eq!(
        replayed.iter().map(|e| &e.event).collect::<Vec<_>>(),
        captured.iter().map(|e| &e.event).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_failed_publish_reports_that_record_and_leaves_the_rest_for_the_retry() {
    let sdk = sdk_config(&endpoint()).await;
    let missing = EventPublisher::new(
        aws_sdk_sns::Client::new(&sdk),
        "arn:aws:sns:us-east-1:123456789012:no-such-topic",
    );
    let event: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(fixture("publish-events.json")).expect("a stream event");
    let response = publish_stream(&missing, event).await;
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    // The first record with an event: the retry starts there and covers everything after it.
    assert_eq!(reported, [Some("100000000000000000001".to_owned())]);
}

#[tokio::test]
async fn an_undecodable_record_is_skipped_and_items_without_events_publish_nothing() {
    let topic = Topic::new().await;
    let sdk = sdk_config(&endpoint()).await;
    let publisher = EventPublisher::new(aws_sdk_sns::Client::new(&sdk), &topic.arn);
    let mut event = fixture("publish-events.json");
    let records = event["Records"].as_array_mut().expect("records");
    // A user item without its fields, then the email guard (no event), then the token (TokenIssued).
    records[0]["dynamodb"]["NewImage"] = json!({"pk": {"S": "USER#x"}, "sk": {"S": "PROFILE"}});
    records.truncate(3);
    let parsed: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(event).expect("a stream event");
    assert!(events_of(&parsed.records[0]).is_err());
    assert_eq!(events_of(&parsed.records[1]).expect("guard").len(), 0);
    let response = publish_stream(&publisher, parsed).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(event_types(&topic.drain().await), ["TokenIssued"]);
}

/// `messages` sent to a real queue and received from it, as the SQS event source hands them to the function.
async fn through_queue(messages: &[Value]) -> Value {
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&endpoint()).await);
    let url = sqs
        .create_queue()
        .queue_name(unique("commands"))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url");
    for message in messages {
        sqs.send_message()
            .queue_url(&url)
            .message_body(message.to_string())
            .send()
            .await
            .expect("send");
    }
    let received = receive(&sqs, &url, 10).await.expect("receive");
    assert_eq!(received.len(), messages.len());
    let queue_arn = format!(
        "arn:aws:sqs:us-east-1:123456789012:{}",
        url.rsplit('/').next().unwrap_or_default()
    );
    let event = sqs_event(&received, &queue_arn);
    assert_eq!(
        event["Records"][0]["attributes"]["ApproximateReceiveCount"],
        "1"
    );
    event
}

fn failures(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_command_fixture_runs_each_message_and_reports_only_the_bad_ones() {
    let table = fresh_table().await;
    let app = api_tests::app(&table).await;
    let entity = "7fffa261-ac68-49e6-b605-d24a444d9206";
    let to_disable = api_tests::user(
        &unique_email(),
        UserType::Payor,
        Some(entity),
        &[Role::PayorSupport],
    );
    let mut to_enable = api_tests::user(
        &unique_email(),
        UserType::Backoffice,
        None,
        &[Role::BackofficeAdmin],
    );
    // A user that accepted its invitation (it has a password) and was disabled since: enabling brings it back.
    to_enable.status = UserStatus::Disabled;
    to_enable.password_hash = Some(user_token_domain::domain::password::DECOY_HASH.to_owned());
    let store = &app.store;
    store.create_user(&to_disable).await.expect("user");
    store.create_user(&to_enable).await.expect("user");

    let invitee = unique_email();
    let mut event = fixture("command-handler.json");
    let records = event["Records"].as_array_mut().expect("records");
    let mut invite: Value =
        serde_json::from_str(records[0]["body"].as_str().expect("body")).expect("JSON");
    invite["email"] = json!(invitee);
    records[0]["body"] = json!(invite.to_string());
    records[1]["body"] =
        json!(json!({"command": "disableUser", "userId": to_disable.id.to_string()}).to_string());
    records[2]["body"] =
        json!(json!({"command": "enableUser", "userId": to_enable.id.to_string()}).to_string());

    let function = host("CommandHandlerFunction", &table, &[]).await;
    let answer = function
        .invoke(&event)
        .await
        .expect("command-handler answers");
    // The unknown user (not found), the truncated JSON and the unknown command; the rest went through.
    assert_eq!(
        failures(&answer),
        [
            "b4c2d3e5-6f70-4b8c-9dae-1f2a3b4c5d6e",
            "c5d3e4f6-7081-4c9d-8ebf-2a3b4c5d6e7f",
            "d6e4f507-8192-4dae-9fc0-3b4c5d6e7f80"
        ]
    );
    let status = |id| {
        let store = app.store.clone();
        async move {
            store
                .get_user(&id)
                .await
                .expect("read")
                .expect("user")
                .status
        }
    };
    assert_eq!(status(to_disable.id).await, UserStatus::Disabled);
    assert_eq!(status(to_enable.id).await, UserStatus::Enabled);
    let sent = outbox(&endpoint()).await.expect("outbox");
    assert_eq!(sent.emails_to(&invitee).len(), 1, "the invitation went out");
    let invited = all_items(&table).await.into_iter().any(|item| {
        item.get("email") == Some(&aws_sdk_dynamodb::types::AttributeValue::S(invitee.clone()))
    });
    assert!(invited);
}

#[tokio::test]
async fn commands_are_checked_like_http_callers() {
    let table = fresh_table().await;
    // A payor admin identity may not reach a user of another entity, nor invite into one.
    let function = host(
        "CommandHandlerFunction",
        &table,
        &[
            ("COMMAND_SERVICE_ROLES", "velo.payor.admin"),
            (
                "COMMAND_SERVICE_ENTITY_ID",
                "11111111-2222-4333-8444-555555555555",
            ),
        ],
    )
    .await;
    let app = api_tests::app(&table).await;
    let elsewhere = api_tests::user(
        &unique_email(),
        UserType::Payor,
        Some("7fffa261-ac68-49e6-b605-d24a444d9206"),
        &[Role::PayorSupport],
    );
    app.store.create_user(&elsewhere).await.expect("user");
    let event = through_queue(&[
        json!({"command": "disableUser", "userId": elsewhere.id.to_string()}),
        json!({"command": "inviteUser", "email": unique_email(), "mfaType": "SMS",
               "smsNumber": "+4411223344556", "primaryContactNumber": "+4411223344556",
               "roles": ["velo.payor.admin"], "entityId": "7fffa261-ac68-49e6-b605-d24a444d9206"}),
    ])
    .await;
    let answer = function.invoke(&event).await.expect("answers");
    assert_eq!(failures(&answer).len(), 2, "{answer}");
    let user = app
        .store
        .get_user(&elsewhere.id)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(user.status, UserStatus::Enabled);
}

fn token_in(body: &str) -> String {
    body.split("token=")
        .nth(1)
        .and_then(|rest| {
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
                .collect();
            // `<userId>.<secret>`: the user's id is in every user event; the secret must be in none.
            token.split_once('.').map(|(_, secret)| secret.to_owned())
        })
        .expect("an invitation link")
}

/// A stack as `make run` starts it (the gateway, every function, the topics and queues, and the pollers of the
/// stream and the command queue) on a fresh table, without a resend cooldown so that a resend need not wait.
async fn pipeline_stack() -> Stack {
    let table = unique("pipelines");
    let mut parameters = parameters();
    parameters.insert("ResendCooldownSeconds".into(), "0".into());
    Stack::start(StackOptions {
        parameters,
        pipelines: true,
        ..stack_options(
            &table,
            local_stack::bin_dir().join("../test-logs").join(&table),
        )
    })
    .await
    .expect("the stack starts (run `make test`, which builds every binary)")
}

/// The events about `user` that reach `tap`, once there are `count` of them.
async fn events_about(tap: &Tap, user: &str, count: usize) -> Vec<Published> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    while events.len() < count {
        assert!(
            Instant::now() < deadline,
            "{count} events about {user}, not {:?}",
            event_types(&events)
        );
        events.extend(
            tap.drain()
                .await
                .expect("the tap is readable")
                .into_iter()
                .filter(|e| e.event["subject"]["userId"] == user),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    events
}

async fn queue_counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let mut attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .unwrap_or_default();
    (
        attributes
            .remove(&Name::ApproximateNumberOfMessages)
            .unwrap_or_default(),
        attributes
            .remove(&Name::ApproximateNumberOfMessagesNotVisible)
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn invite_over_http_then_user_invited_on_the_topic_then_a_command_resends_the_invitation() {
    let stack = pipeline_stack().await;
    let resources = stack.resources.clone().expect("the pipelines' resources");
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&endpoint()).await);
    // The tap as `make events` finds it: by the stack's table name.
    let tap = Tap::open(
        sqs.clone(),
        &local_stack::pipelines::tap_name(&stack.table_name),
    )
    .await
    .expect("the stack's tap");
    let admin = SEED_ADMIN_ID.parse().expect("seed id");
    let token =
        local_stack::bearer_token(&stack.template, &stack.parameters, admin, 600).expect("token");
    let email = unique_email();
    let response = reqwest::Client::new()
        .post(format!("{}/v2/users/invite", stack.base_url()))
        .bearer_auth(&token)
        .json(&json!({
            "email": email, "mfaType": "SMS", "smsNumber": "+4411223344556",
            "primaryContactNumber": "+4411223344556", "roles": ["velo.payor.admin"],
            "firstName": "Grace", "lastName": "Hopper", "entityId": "7fffa261-ac68-49e6-b605-d24a444d9206"
        }))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), reqwest::StatusCode::NO_CONTENT);
    let user_id = all_items(&stack.table_name)
        .await
        .into_iter()
        .find(|item| {
            item.get("email") == Some(&aws_sdk_dynamodb::types::AttributeValue::S(email.clone()))
        })
        .and_then(|item| item.get("id").and_then(|id| id.as_s().ok().cloned()))
        .expect("the invited user");
    let first_mail = outbox(&endpoint()).await.expect("outbox");
    let first_token = token_in(&first_mail.emails_to(&email)[0].body);

    // publish-events, fed from the table's stream, put the invitation on the topic.
    let captured = events_about(&tap, &user_id, 2).await;
    // One transaction wrote both items: their records carry no order between them.
    let mut types = event_types(&captured);
    types.sort();
    assert_eq!(types, ["TokenIssued", "UserInvited"]);
    let invited = captured
        .iter()
        .find(|c| c.event["eventType"] == "UserInvited")
        .expect("UserInvited");
    assert_eq!(invited.attributes["eventType"]["Value"], "UserInvited");
    assert_eq!(invited.event["data"]["roles"], json!(["velo.payor.admin"]));
    for event in &captured {
        assert_no_secrets(&event.raw, &[&email, "4411223344556", &first_token]);
    }

    // The resend as an SQS command, in one batch with a command that fails (no such user).
    let command_queue = resources
        .refs
        .get("CommandQueue")
        .expect("the command queue");
    let commands = [
        json!({"command": "enableUser", "userId": uuid::Uuid::new_v4().to_string()}),
        json!({"command": "resendToken", "userId": user_id, "tokenType": "INVITE_MFA_USER"}),
    ];
    let mut batch = sqs.send_message_batch().queue_url(command_queue);
    for (index, command) in commands.iter().enumerate() {
        batch = batch.entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(command.to_string())
                .build()
                .expect("entry"),
        );
    }
    batch.send().await.expect("commands sent");
    let mails = eventually("the second invitation", Duration::from_secs(30), || async {
        let sent = outbox(&endpoint()).await.expect("outbox");
        let mails: Vec<String> = sent
            .emails_to(&email)
            .iter()
            .map(|m| m.body.clone())
            .collect();
        (mails.len() == 2).then_some(mails)
    })
    .await;
    let second_token = token_in(&mails[1]);
    assert_ne!(
        first_token, second_token,
        "a new link; the old one is revoked"
    );
    // The resend was deleted; the failed command waits out its visibility timeout (then the dead-letter queue).
    eventually(
        "only the failed command left in flight",
        Duration::from_secs(30),
        || async {
            (queue_counts(&sqs, command_queue).await == ("0".into(), "1".into())).then_some(())
        },
    )
    .await;

    // And the resend is itself an event.
    let resent = events_about(&tap, &user_id, 1).await;
    assert_eq!(event_types(&resent), ["TokenResent"]);
    for event in &resent {
        assert_no_secrets(&event.raw, &[&email, &first_token, &second_token]);
    }
}

#[tokio::test]
async fn a_stream_batch_that_keeps_failing_is_retried_from_the_failed_record_then_reported_to_the_failure_queue(
) {
    let table = fresh_table().await;
    let app = api_tests::app(&table).await;
    let user = api_tests::user(
        &unique_email(),
        UserType::Backoffice,
        None,
        &[Role::BackofficeAdmin],
    );
    app.store.create_user(&user).await.expect("user");
    let sdk = sdk_config(&endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let failure_queue = sqs
        .create_queue()
        .queue_name(unique("failures"))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url");
    // Every publish fails: the topic does not exist.
    let function = host(
        "PublishEventsFunction",
        &table,
        &[(
            "EVENTS_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:no-such-topic",
        )],
    )
    .await;
    let stream = stream_arn(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .expect("the table's stream");
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let poller = StreamPoller {
        streams: streams.clone(),
        sqs: sqs.clone(),
        stream_arn: stream.clone(),
        source: StreamSource {
            batch_size: 100,
            starting_position: "TRIM_HORIZON".into(),
            maximum_retry_attempts: Some(1),
            on_failure: None,
        },
        on_failure_url: Some(failure_queue.clone()),
        function: Arc::new(function),
    };
    let task = tokio::spawn(poller.run());
    let report = eventually(
        "the batch's metadata on the failure queue",
        Duration::from_secs(30),
        || async {
            receive(&sqs, &failure_queue, 1)
                .await
                .expect("receive")
                .into_iter()
                .next()
        },
    )
    .await;
    task.abort();
    let report: Value =
        serde_json::from_str(report.body().unwrap_or_default()).expect("a JSON report");
    assert_eq!(
        report["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(
        report["requestContext"]["approximateInvokeCount"], 2,
        "the first try and one retry"
    );
    assert_eq!(report["DDBStreamBatchInfo"]["streamArn"], stream.as_str());

    // The retried batch began at the record whose event failed: the user's, not the email guard before it.
    let shard = streams
        .describe_stream()
        .stream_arn(&stream)
        .send()
        .await
        .expect("describe stream")
        .stream_description
        .and_then(|d| d.shards)
        .and_then(|shards| shards.into_iter().next())
        .expect("a shard");
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&stream)
        .shard_id(shard.shard_id().unwrap_or_default())
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("iterator")
        .shard_iterator
        .expect("an iterator");
    let records = streams
        .get_records()
        .shard_iterator(iterator)
        .send()
        .await
        .expect("records")
        .records
        .unwrap_or_default();
    let sequence = |sk: &str| {
        records
            .iter()
            .filter_map(|r| r.dynamodb())
            .find(|d| {
                d.keys().and_then(|k| k.get("sk"))
                    == Some(&aws_sdk_dynamodbstreams::types::AttributeValue::S(
                        sk.into(),
                    ))
            })
            .and_then(|d| d.sequence_number())
            .map(str::to_owned)
    };
    assert_eq!(
        report["DDBStreamBatchInfo"]["shardId"],
        shard.shard_id().unwrap_or_default()
    );
    assert_eq!(
        report["DDBStreamBatchInfo"]["startSequenceNumber"],
        json!(sequence("PROFILE")),
        "{records:?}"
    );
    assert_eq!(
        report["DDBStreamBatchInfo"]["endSequenceNumber"],
        json!(records
            .last()
            .and_then(|r| r.dynamodb())
            .and_then(|d| d.sequence_number()))
    );
}

/// `bootstrap-admin` on a fresh deployment's empty table: of two concurrent runs exactly one invites the first
/// admin (the claim is taken in the invitation's transaction), a later run is refused, and the emailed link makes the
/// admin ENABLED. On a table that already has a backoffice user (the seeded one) it is refused at once.
#[tokio::test]
async fn the_first_admin_is_invited_once_then_accepts_and_is_enabled() {
    let table = fresh_table().await;
    let (first, second) = (
        host("BootstrapAdminFunction", &table, &[]).await,
        host("BootstrapAdminFunction", &table, &[]).await,
    );
    let email = unique_email();
    let mut request = fixture("bootstrap-admin.json");
    request["email"] = json!(email);
    let mut rival = request.clone();
    rival["email"] = json!(unique_email());
    let (one, other) = tokio::join!(first.invoke(&request), second.invoke(&rival));
    let answers = [one.expect("answers"), other.expect("answers")];
    let invited: Vec<&Value> = answers
        .iter()
        .filter(|answer| answer["outcome"] == "invited")
        .collect();
    assert_eq!(invited.len(), 1, "exactly one first admin: {answers:?}");
    let refused = answers
        .iter()
        .find(|answer| answer["outcome"] == "refused")
        .expect("the other run is refused");
    assert!(
        refused["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{refused}"
    );
    let user_id: user_token_domain::domain::UserId = invited[0]["userId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("the admin's id");
    let later = first.invoke(&request).await.expect("answers");
    assert_eq!(later["outcome"], "refused", "{later}");

    let app = api_tests::app(&table).await;
    let users: Vec<_> = all_items(&table)
        .await
        .into_iter()
        .filter(|item| {
            item.get("sk")
                == Some(&aws_sdk_dynamodb::types::AttributeValue::S(
                    "PROFILE".into(),
                ))
        })
        .collect();
    assert_eq!(users.len(), 1, "one user in the table");
    let admin = app
        .store
        .get_user(&user_id)
        .await
        .expect("read")
        .expect("the admin");
    assert_eq!(
        (admin.status, admin.roles.as_slice(), admin.user_type),
        (
            UserStatus::Pending,
            &[Role::BackofficeAdmin][..],
            UserType::Backoffice
        )
    );
    let invitee = admin.email.as_str().to_owned();
    let sent = outbox(&endpoint()).await.expect("outbox");
    let mails = sent.emails_to(&invitee);
    assert_eq!(mails.len(), 1, "one invitation email");
    let link = mails[0]
        .body
        .split("token=")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect::<String>()
        })
        .expect("a link");
    let accepted = user_token_domain::doors::velo::accept_invitation(
        &app,
        api_tests::event("accept-invitation.json", |event| {
            event["body"] = json!(
                json!({"token": link, "password": "quiet lanterns over the harbour 1906"})
                    .to_string()
            )
        }),
    )
    .await;
    assert_eq!(accepted.status(), 204);
    let enabled = app
        .store
        .get_user(&user_id)
        .await
        .expect("read")
        .expect("the admin");
    assert_eq!(enabled.status, UserStatus::Enabled);

    let seeded = fresh_table().await;
    api_tests::app(&seeded)
        .await
        .store
        .create_user(&local_stack::stack::seed_admin().expect("the seed admin"))
        .await
        .expect("seeded");
    let on_seeded = host("BootstrapAdminFunction", &seeded, &[]).await;
    let answer = on_seeded
        .invoke(&fixture("bootstrap-admin.json"))
        .await
        .expect("answers");
    assert_eq!(answer["outcome"], "refused", "{answer}");
}
