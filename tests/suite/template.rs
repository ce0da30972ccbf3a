//! template.yaml against the workspace and openapi.yaml: one function resource per crate, every HTTP route on the
//! right function and documented, and least-privilege policies.

use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

use api_tests::root;

/// Each operation of openapi.yaml (by `operationId`) and the crate under `functions/` that serves it: the README's
/// operation tables for Sigma, QI and the first Velo operations, Velo's operationIds for the rest. Sigma's
/// operationIds are its own document's (`OtpHandlerController_resend`).
const OPERATION_FUNCTIONS: &[(&str, &str)] = &[
    ("listUsers", "list-users"),
    ("inviteUser", "invite-user"),
    ("getUserByIdV2", "get-user"),
    ("deleteUserByIdV2", "delete-user"),
    ("getSelf", "get-self"),
    ("registerSms", "register-sms"),
    ("resendToken", "resend-token"),
    ("enableUserV2", "enable-user"),
    ("disableUserV2", "disable-user"),
    ("unlockUserV2", "unlock-user"),
    ("roleUpdate", "role-update"),
    ("userDetailsUpdate", "user-details-update"),
    ("userDetailsUpdateForSelf", "user-details-update-self"),
    ("unregisterMFA", "unregister-mfa"),
    ("unregisterMFAForSelf", "unregister-mfa-self"),
    ("updatePasswordSelf", "update-password-self"),
    ("validatePasswordSelf", "validate-password-self"),
    ("veloAuth", "authenticate"),
    ("validateAccessToken", "validate-access-token"),
    ("logout", "logout"),
    ("resetPassword", "reset-password"),
    ("confirmPasswordReset", "confirm-password-reset"),
    ("acceptInvitation", "accept-invitation"),
    ("registerMfa", "register-mfa"),
    ("confirmMfa", "confirm-mfa"),
    ("getJwks", "jwks"),
    ("payorCreateApplicationV1", "create-application"),
    ("payorCreateApiKeyV1", "create-api-key"),
    ("payorDeleteApiKey", "delete-api-key"),
    ("OtpHandlerController_start", "otp-start"),
    ("OtpHandlerController_channel", "otp-channel"),
    ("OtpHandlerController_status", "otp-status"),
    ("OtpHandlerController_checkCode", "otp-check-code"),
    (
        "OtpHandlerController_checkStatusAndComplete",
        "otp-check-status-and-complete",
    ),
    ("OtpHandlerController_complete", "otp-complete"),
    ("OtpHandlerController_resend", "otp-resend"),
    (
        "OtpHandlerController_getChannelLongPolling",
        "otp-channel-long-polling",
    ),
    (
        "OtpHandlerController_getStatusLongPolling",
        "otp-status-long-polling",
    ),
    ("OtpHandlerController_getWidget", "otp-widget"),
    ("createDevice", "device-create"),
    ("validateDevice", "device-validate"),
    ("resendDeviceToken", "device-resend-token"),
    ("getDevice", "device-get"),
    ("disableDevice", "device-disable"),
];

/// Functions that only read the table: no write action may be granted to them.
const READ_ONLY_FUNCTIONS: &[&str] = &[
    "authorizer",
    "get-user",
    "get-self",
    "list-users",
    "validate-password-self",
    "otp-channel",
    "otp-status",
    "otp-status-long-polling",
    "otp-widget",
    "device-get",
    "jwks",
];

/// Functions that serve only GET and still write, with the one write each may do: the channel's long poll
/// remembers on the session what it last answered (`channelSeen`), which changes nothing a client reads.
const GET_FUNCTIONS_THAT_WRITE: &[(&str, &str)] =
    &[("otp-channel-long-polling", "dynamodb:UpdateItem")];

const TABLE_WRITE_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
];

/// SAM policy templates a function may use, and the actions each grants. A template not named here fails the test
/// until it is added (with its actions, so the rules below see them).
const SAM_POLICY_TEMPLATES: &[(&str, &[&str])] = &[
    (
        "DynamoDBStreamReadPolicy",
        &[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ],
    ),
    ("SNSPublishMessagePolicy", &["sns:Publish"]),
    (
        "SQSPollerPolicy",
        &[
            "sqs:ChangeMessageVisibility",
            "sqs:ChangeMessageVisibilityBatch",
            "sqs:DeleteMessage",
            "sqs:DeleteMessageBatch",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
    ),
];

const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

fn load_yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join(name)).expect("file exists");
    serde_yaml::from_str(&text).expect("valid YAML")
}

fn strings(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Sequence(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    }
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .expect("functions/ exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .map(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .expect("a UTF-8 crate name")
                .to_owned()
        })
        .collect()
}

/// Every `AWS::Serverless::Function` resource: logical id and its resource.
fn function_resources(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| {
            (
                id.as_str().expect("a string id").to_owned(),
                resource.clone(),
            )
        })
        .collect()
}

fn binary_of(resource: &Value) -> String {
    resource["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .expect("Metadata.BuildProperties.Binary")
        .to_owned()
}

#[test]
fn every_function_crate_has_exactly_one_function_resource_and_every_resource_a_crate() {
    let template = load_yaml("template.yaml");
    let mut resources_per_binary: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, resource) in function_resources(&template) {
        resources_per_binary
            .entry(binary_of(&resource))
            .or_default()
            .push(id);
    }
    let crates = function_crates();
    for name in &crates {
        let resources = resources_per_binary
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert_eq!(
            resources.len(),
            1,
            "functions/{name} must have exactly one function resource, has {resources:?}"
        );
    }
    let orphans: Vec<&String> = resources_per_binary
        .keys()
        .filter(|binary| !crates.contains(*binary))
        .collect();
    assert!(
        orphans.is_empty(),
        "function resources without a crate under functions/: {orphans:?}"
    );
}

#[test]
fn the_http_routes_are_the_openapi_operations_and_each_reaches_its_function() {
    let template = api_tests::template();
    let expected: BTreeMap<&str, &str> = OPERATION_FUNCTIONS.iter().copied().collect();
    assert_eq!(
        expected.len(),
        OPERATION_FUNCTIONS.len(),
        "an operationId is listed twice"
    );

    let mut routes: BTreeMap<(String, String), String> = BTreeMap::new();
    for route in &template.routes {
        let binary = template.functions[&route.function].binary.clone();
        let previous = routes.insert((route.method.clone(), route.path.clone()), binary);
        assert!(
            previous.is_none(),
            "{} {} is declared twice",
            route.method,
            route.path
        );
    }

    let openapi = load_yaml("openapi.yaml");
    let mut operations: BTreeMap<(String, String), String> = BTreeMap::new();
    for (path, item) in openapi["paths"].as_mapping().expect("paths") {
        let path = path.as_str().expect("a string path");
        for (method, operation) in item.as_mapping().expect("a path item") {
            let method = method.as_str().expect("a string key");
            if !HTTP_METHODS.contains(&method) {
                continue;
            }
            let operation_id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            let function = expected.get(operation_id).unwrap_or_else(|| {
                panic!("{operation_id} ({method} {path}) is not in OPERATION_FUNCTIONS")
            });
            assert_eq!(
                operation["x-function"].as_str(),
                Some(*function),
                "x-function of {operation_id}"
            );
            operations.insert(
                (method.to_ascii_uppercase(), path.to_owned()),
                (*function).to_owned(),
            );
        }
    }
    assert_eq!(
        operations.len(),
        OPERATION_FUNCTIONS.len(),
        "every operation in OPERATION_FUNCTIONS is documented once"
    );

    let undocumented: Vec<_> = routes
        .keys()
        .filter(|key| !operations.contains_key(*key))
        .collect();
    let unrouted: Vec<_> = operations
        .keys()
        .filter(|key| !routes.contains_key(*key))
        .collect();
    assert!(
        undocumented.is_empty(),
        "template routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "openapi.yaml operations the template does not route: {unrouted:?}"
    );
    for (route, function) in &routes {
        assert_eq!(
            &operations[route], function,
            "{} {} reaches the wrong function",
            route.0, route.1
        );
    }
}

/// The actions of one policy entry (an inline `Statement` list or a SAM policy template), each with its resources.
fn statements(function: &str, policy: &Value) -> Vec<(Vec<String>, Vec<Value>)> {
    if let Some(list) = policy.get("Statement") {
        return strings(Some(list))
            .iter()
            .map(|statement| {
                assert_eq!(
                    statement["Effect"].as_str(),
                    Some("Allow"),
                    "{function}: only Allow statements are expected"
                );
                assert!(
                    statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
                    "{function}: NotAction and NotResource grant too much"
                );
                let actions = strings(statement.get("Action"))
                    .iter()
                    .map(|action| action.as_str().expect("a string action").to_owned())
                    .collect();
                (actions, strings(statement.get("Resource")))
            })
            .collect();
    }
    let mapping = policy.as_mapping().unwrap_or_else(|| {
        panic!("{function}: a managed policy by name cannot be checked: {policy:?}")
    });
    mapping
        .iter()
        .map(|(name, arguments)| {
            let name = name.as_str().expect("a policy template name");
            let actions = SAM_POLICY_TEMPLATES
                .iter()
                .find(|(template, _)| *template == name)
                .unwrap_or_else(|| {
                    panic!(
                        "{function}: the SAM policy template {name} is not in SAM_POLICY_TEMPLATES"
                    )
                })
                .1;
            (
                actions.iter().map(|a| (*a).to_owned()).collect(),
                vec![arguments.clone()],
            )
        })
        .collect()
}

#[test]
fn policies_grant_least_privilege() {
    let template = load_yaml("template.yaml");
    let resources = function_resources(&template);
    for read_only in READ_ONLY_FUNCTIONS {
        assert!(
            resources.values().any(|r| binary_of(r) == *read_only),
            "{read_only} is listed as read-only but has no function resource"
        );
    }
    let routes = api_tests::template().routes;
    for (id, resource) in &resources {
        let function = binary_of(resource);
        let methods: BTreeSet<&str> = routes
            .iter()
            .filter(|route| &route.function == id)
            .map(|route| route.method.as_str())
            .collect();
        let read_only = READ_ONLY_FUNCTIONS.contains(&function.as_str());
        let get_write = GET_FUNCTIONS_THAT_WRITE
            .iter()
            .find(|(name, _)| *name == function)
            .map(|(_, write)| *write);
        assert!(
            read_only
                || get_write.is_some()
                || methods.is_empty()
                || methods != BTreeSet::from(["GET"]),
            "{function} only serves GET: list it in READ_ONLY_FUNCTIONS"
        );
        for policy in strings(resource["Properties"].get("Policies")) {
            for (actions, resources) in statements(&function, &policy) {
                for action in &actions {
                    assert!(
                        !action.contains('*'),
                        "{function}: the action {action} is a wildcard"
                    );
                    assert_ne!(
                        action.to_ascii_lowercase(),
                        "dynamodb:scan",
                        "{function} may Scan"
                    );
                    assert!(
                        !(read_only && TABLE_WRITE_ACTIONS.contains(&action.as_str())),
                        "{function} only reads but is granted {action}"
                    );
                    assert!(
                        get_write.is_none_or(|write| write == action
                            || !TABLE_WRITE_ACTIONS.contains(&action.as_str())),
                        "{function} may write only with {get_write:?}, not {action}"
                    );
                }
                let everything = resources
                    .iter()
                    .any(|resource| resource.as_str() == Some("*"));
                assert!(
                    !everything || actions == ["sns:Publish"],
                    "{function}: Resource \"*\" is allowed only for sns:Publish alone, not {actions:?}"
                );
            }
        }
    }
}

#[test]
fn the_local_stack_reads_the_event_sources_topics_and_queues_that_make_run_wires() {
    use local_stack::template::{EventSource, StreamSource};
    let template = api_tests::template();
    let sources = |id: &str| template.functions[id].event_sources.clone();
    assert_eq!(
        sources("PublishEventsFunction"),
        [EventSource::Stream(StreamSource {
            batch_size: 100,
            starting_position: "TRIM_HORIZON".into(),
            maximum_retry_attempts: Some(10),
            on_failure: Some("EventsFailureQueue".into()),
        })]
    );
    assert_eq!(
        sources("CommandHandlerFunction"),
        [EventSource::Queue {
            queue: "CommandQueue".into(),
            batch_size: 10,
        }]
    );
    assert!(sources("InviteUserFunction").is_empty(), "HTTP only");
    assert_eq!(template.topics.keys().collect::<Vec<_>>(), ["EventsTopic"]);
    assert_eq!(
        template.queues.keys().collect::<Vec<_>>(),
        [
            "CommandDeadLetterQueue",
            "CommandQueue",
            "EventsFailureQueue"
        ]
    );
}

/// During a signing-key rotation (`PreviousSigningKeyId` set), every function that publishes or verifies the
/// previous key may read its public key: the key's ARN is granted under the `RotatingSigningKey` condition, and the
/// condition is exactly "the parameter is not empty".
#[test]
fn the_previous_signing_key_is_readable_during_a_rotation_by_every_function_that_uses_it() {
    let template = load_yaml("template.yaml");
    let condition: Value =
        serde_yaml::from_str(r#"!Not [!Equals [!Ref PreviousSigningKeyId, ""]]"#).expect("YAML");
    assert_eq!(template["Conditions"]["RotatingSigningKey"], condition);
    let previous: Value = serde_yaml::from_str(
        "!If [RotatingSigningKey, !Sub 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${PreviousSigningKeyId}', !Ref AWS::NoValue]",
    )
    .expect("YAML");
    let mut users = Vec::new();
    for resource in function_resources(&template).values() {
        let variables = &resource["Properties"]["Environment"]["Variables"];
        if variables.get("PREVIOUS_SIGNING_KEY_ID").is_none() {
            continue;
        }
        let function = binary_of(resource);
        let granted = strings(resource["Properties"].get("Policies"))
            .iter()
            .flat_map(|policy| statements(&function, policy))
            .any(|(actions, resources)| {
                actions == ["kms:GetPublicKey"] && resources.contains(&previous)
            });
        assert!(granted, "{function} cannot read the previous signing key");
        users.push(function);
    }
    users.sort();
    assert_eq!(users, ["authorizer", "jwks"]);
}
