//! openapi.yaml: served by the local stack, its `/v2/users` part as in Velo's own document, and its error bodies as
//! the front doors answer them. (`make test` also validates it with openapi-spec-validator; tests/suite/template.rs
//! checks its paths and methods against template.yaml.)

use serde_yaml::{Mapping, Value};
use std::collections::BTreeSet;

use api_tests::{root, shared_stack};

/// Velo's published document, next to the repository as the README names it.
const VELO_REFERENCE: &str = "tests/reference/velo-openapi.yaml";

fn load(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn openapi() -> Value {
    load(&root().join("openapi.yaml"))
}

/// The Users API v2, and the Login API operations served so far.
fn is_velo_path(path: &str) -> bool {
    path == "/v2/users"
        || path.starts_with("/v2/users/")
        || [
            "/v1/authenticate",
            "/v1/validate",
            "/v1/logout",
            "/v1/password/reset",
            "/v1/payors/{payorId}/applications",
            "/v1/payors/{payorId}/applications/{applicationId}/keys",
        ]
        .contains(&path)
}

/// Response codes as strings: Velo's document writes `200:` (a YAML integer), ours `'200':`.
fn normalise_keys(value: &Value) -> Value {
    match value {
        Value::Mapping(map) => Value::Mapping(
            map.iter()
                .map(|(key, value)| {
                    let key = match key {
                        Value::Number(number) => Value::String(number.to_string()),
                        other => other.clone(),
                    };
                    (key, normalise_keys(value))
                })
                .collect::<Mapping>(),
        ),
        Value::Sequence(items) => Value::Sequence(items.iter().map(normalise_keys).collect()),
        other => other.clone(),
    }
}

/// Every component schema a value refers to, and those they refer to in turn.
fn referenced_schemas(value: &Value, schemas: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, item) in map {
                let reference = (key.as_str() == Some("$ref"))
                    .then(|| item.as_str())
                    .flatten()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"));
                match reference {
                    Some(name) if found.insert(name.to_owned()) => {
                        referenced_schemas(&schemas[name], schemas, found)
                    }
                    Some(_) => {}
                    None => referenced_schemas(item, schemas, found),
                }
            }
        }
        Value::Sequence(items) => items
            .iter()
            .for_each(|item| referenced_schemas(item, schemas, found)),
        _ => {}
    }
}

#[test]
fn the_v2_users_part_agrees_with_velos_document() {
    let reference = normalise_keys(&load(&root().join(VELO_REFERENCE)));
    let ours = normalise_keys(&openapi());
    let velo_paths = |document: &Value| -> BTreeSet<String> {
        document["paths"]
            .as_mapping()
            .expect("paths")
            .keys()
            .filter_map(Value::as_str)
            .filter(|path| is_velo_path(path))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        velo_paths(&ours),
        velo_paths(&reference),
        "the /v2/users paths"
    );

    let mut schemas = BTreeSet::new();
    for path in velo_paths(&reference) {
        let theirs = reference["paths"][path.as_str()]
            .as_mapping()
            .expect("path item");
        let mine = ours["paths"][path.as_str()]
            .as_mapping()
            .expect("path item");
        let methods = |item: &Mapping| -> BTreeSet<String> {
            item.keys()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(methods(mine), methods(theirs), "the methods of {path}");
        for (method, operation) in theirs {
            let method = method.as_str().expect("method");
            let our_operation = &mine[method];
            for field in ["operationId", "parameters", "requestBody"] {
                assert_eq!(
                    our_operation.get(field),
                    operation.get(field),
                    "{field} of {method} {path}"
                );
            }
            for (status, response) in operation["responses"].as_mapping().expect("responses") {
                let status = status.as_str().expect("status");
                assert_eq!(
                    our_operation["responses"][status]["content"], response["content"],
                    "the {status} body of {method} {path}"
                );
            }
            referenced_schemas(operation, &reference["components"]["schemas"], &mut schemas);
        }
    }
    for name in &schemas {
        assert_eq!(
            ours["components"]["schemas"][name.as_str()],
            reference["components"]["schemas"][name.as_str()],
            "the schema {name}"
        );
    }
}

#[tokio::test]
async fn the_local_stack_serves_openapi_yaml() {
    let stack = shared_stack();
    let response = reqwest::get(format!("{}/openapi.yaml", stack.base_url))
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/yaml")
    );
    let served = response.text().await.expect("a body");
    let file = std::fs::read_to_string(root().join("openapi.yaml")).expect("openapi.yaml");
    assert_eq!(served, file);
}

/// The property names of a component schema, and those it requires.
fn schema_fields(document: &Value, schema: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .expect("a schema reference");
            &document["components"]["schemas"][name]
        }
        None => schema,
    };
    let names = |value: &Value| -> BTreeSet<String> {
        match value {
            Value::Mapping(map) => map
                .keys()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Value::Sequence(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => BTreeSet::new(),
        }
    };
    (names(&schema["properties"]), names(&schema["required"]))
}

#[tokio::test]
async fn each_front_doors_401_is_documented_with_the_body_it_answers() {
    let stack = shared_stack();
    let document = openapi();
    let some_id = "3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b";
    let requests = [
        ("get", "/v2/users/self", "/v2/users/self".to_owned()),
        (
            "get",
            "/account/{account_key}/device/{device_key}",
            format!("/account/{some_id}/device/{some_id}"),
        ),
        (
            "get",
            "/api/n/otp-handler/{requestId}/channel",
            format!("/api/n/otp-handler/{some_id}/channel"),
        ),
    ];
    for (method, template_path, path) in requests {
        let response = reqwest::get(format!("{}{path}", stack.base_url))
            .await
            .expect("the gateway answers");
        let status = response.status().as_u16().to_string();
        assert_eq!(status, "401", "{path} without a token");
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        let documented = &document["paths"][template_path][method]["responses"][status.as_str()];
        let schema = &documented["content"]["application/json"]["schema"];
        assert!(
            !schema.is_null(),
            "{method} {template_path} documents its {status} body"
        );
        let (properties, required) = schema_fields(&document, schema);
        let answered: BTreeSet<String> = body
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        assert!(
            answered.is_subset(&properties),
            "{path}: {answered:?} are not all documented in {properties:?}"
        );
        assert!(
            required.is_subset(&answered),
            "{path}: {required:?} are documented as required, answered {answered:?}"
        );
    }
}
