//! Reads template.yaml: the functions, their HTTP routes and other event sources, the authorizer, the table, the
//! topics and queues, and the parameters. The local stack serves exactly what the template declares.

use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the template: {0}")]
    Io(#[from] std::io::Error),
    #[error("the template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("the template is not as expected: {0}")]
    Shape(String),
}

#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    pub binary: String,
    pub timeout_secs: u64,
    pub environment: BTreeMap<String, Value>,
    pub event_sources: Vec<EventSource>,
}

/// A function's event source other than the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSource {
    /// The table's stream (`Type: DynamoDB`).
    Stream(StreamSource),
    /// An SQS queue (`Type: SQS`), by its logical id.
    Queue { queue: String, batch_size: i32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    pub batch_size: i32,
    /// `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
    /// `None`: retried until the records expire, as Lambda does without `MaximumRetryAttempts`.
    pub maximum_retry_attempts: Option<u32>,
    /// The logical id of the queue that takes the metadata of a batch that failed every retry.
    pub on_failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
    pub authorized: bool,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub functions: BTreeMap<String, Function>,
    pub routes: Vec<Route>,
    pub authorizer: Option<String>,
    pub table_logical_id: String,
    pub table_properties: Value,
    /// `AWS::SNS::Topic` and `AWS::SQS::Queue` resources: logical id to properties.
    pub topics: BTreeMap<String, Value>,
    pub queues: BTreeMap<String, Value>,
    /// `AWS::KMS::Key` resources: logical id to properties. Locally, `!Ref` to one gives [`kms_alias`].
    pub kms_keys: BTreeMap<String, Value>,
    pub parameter_defaults: BTreeMap<String, String>,
}

/// The alias a template's KMS key has on the emulator: KMS accepts an alias wherever it takes a key id, and moto
/// cannot make a key with an id chosen in advance.
pub fn kms_alias(logical_id: &str) -> String {
    format!("alias/{logical_id}")
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        Value::Mapping(map) if map.len() == 1 => {
            map.get(format!("Fn::{}", tag.trim_start_matches('!')).as_str())
        }
        _ => None,
    }
}

/// The logical id named by `!GetAtt X.Arn` (or `Fn::GetAtt: [X, Arn]`).
pub fn get_att_target(value: &Value) -> Option<String> {
    let target = tagged(value, "!GetAtt")?;
    match target {
        Value::String(s) => s.split('.').next().map(str::to_owned),
        Value::Sequence(parts) => parts.first().and_then(text),
        _ => None,
    }
}

/// A `DynamoDB` or `SQS` event of function `id`; other event types are not served locally.
fn event_source(id: &str, event: &Value) -> Result<Option<EventSource>, TemplateError> {
    let shape = |what: &str| TemplateError::Shape(format!("{id}: {what}"));
    let properties = event.get("Properties").unwrap_or(&Value::Null);
    let batch_size = |default: i32| {
        properties
            .get("BatchSize")
            .and_then(Value::as_i64)
            .and_then(|size| i32::try_from(size).ok())
            .unwrap_or(default)
    };
    match event.get("Type").and_then(Value::as_str) {
        Some("DynamoDB") => Ok(Some(EventSource::Stream(StreamSource {
            batch_size: batch_size(100),
            starting_position: properties
                .get("StartingPosition")
                .and_then(text)
                .ok_or_else(|| shape("a DynamoDB event has no StartingPosition"))?,
            maximum_retry_attempts: properties
                .get("MaximumRetryAttempts")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
            on_failure: properties
                .get("DestinationConfig")
                .and_then(|d| d.get("OnFailure"))
                .and_then(|o| o.get("Destination"))
                .and_then(get_att_target),
        }))),
        Some("SQS") => Ok(Some(EventSource::Queue {
            queue: properties
                .get("Queue")
                .and_then(get_att_target)
                .ok_or_else(|| shape("an SQS event's Queue is not a !GetAtt"))?,
            batch_size: batch_size(10),
        })),
        _ => Ok(None),
    }
}

impl Template {
    pub fn load(path: &Path) -> Result<Template, TemplateError> {
        Template::parse(&std::fs::read_to_string(path)?)
    }

    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let root: Value = serde_yaml::from_str(source)?;
        let shape = |what: &str| TemplateError::Shape(what.to_owned());
        let resources = root
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| shape("no Resources"))?;
        let globals = root.get("Globals").and_then(|g| g.get("Function"));
        let global_env = globals
            .and_then(|g| g.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping);
        let global_timeout = globals
            .and_then(|g| g.get("Timeout"))
            .and_then(Value::as_u64)
            .unwrap_or(3);

        let mut parameter_defaults = BTreeMap::new();
        if let Some(parameters) = root.get("Parameters").and_then(Value::as_mapping) {
            for (name, definition) in parameters {
                if let (Some(name), Some(default)) =
                    (text(name), definition.get("Default").and_then(text))
                {
                    parameter_defaults.insert(name, default);
                }
            }
        }

        let mut functions = BTreeMap::new();
        let mut routes = Vec::new();
        let mut authorizer = None;
        let mut table = None;
        let mut topics = BTreeMap::new();
        let mut queues = BTreeMap::new();
        let mut kms_keys = BTreeMap::new();
        let mut default_authorizer_set = false;
        for (id, resource) in resources {
            let id = text(id).ok_or_else(|| shape("a resource id is not a string"))?;
            let kind = resource
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
            match kind {
                "AWS::Serverless::Function" => {
                    let binary = resource
                        .get("Metadata")
                        .and_then(|m| m.get("BuildProperties"))
                        .and_then(|b| b.get("Binary"))
                        .and_then(text)
                        .ok_or_else(|| {
                            TemplateError::Shape(format!(
                                "{id} has no Metadata.BuildProperties.Binary"
                            ))
                        })?;
                    let mut environment = BTreeMap::new();
                    let own_env = properties
                        .get("Environment")
                        .and_then(|e| e.get("Variables"))
                        .and_then(Value::as_mapping);
                    for variables in [global_env, own_env].into_iter().flatten() {
                        for (name, value) in variables {
                            if let Some(name) = text(name) {
                                environment.insert(name, value.clone());
                            }
                        }
                    }
                    let mut event_sources = Vec::new();
                    if let Some(events) = properties.get("Events").and_then(Value::as_mapping) {
                        for event in events.values() {
                            let event_type = event.get("Type").and_then(Value::as_str);
                            if event_type != Some("HttpApi") {
                                event_sources.extend(event_source(&id, event)?);
                                continue;
                            }
                            let props = event
                                .get("Properties")
                                .ok_or_else(|| shape("an HttpApi event has no Properties"))?;
                            let path = props
                                .get("Path")
                                .and_then(text)
                                .ok_or_else(|| shape("an HttpApi event has no Path"))?;
                            // API Gateway drops a trailing slash from a route (SAM may even leave the route
                            // out), and still routes `/a/` to `/a`; refuse what would not deploy as written.
                            if path.len() > 1 && path.ends_with('/') {
                                return Err(TemplateError::Shape(format!(
                                    "{id}: the route path {path} ends with '/'; declare it without (API \
                                     Gateway routes both forms to it)"
                                )));
                            }
                            let method = props
                                .get("Method")
                                .and_then(text)
                                .ok_or_else(|| shape("an HttpApi event has no Method"))?
                                .to_ascii_uppercase();
                            let authorized = props
                                .get("Auth")
                                .and_then(|a| a.get("Authorizer"))
                                .and_then(Value::as_str)
                                != Some("NONE");
                            routes.push(Route {
                                method,
                                path,
                                function: id.clone(),
                                authorized,
                            });
                        }
                    }
                    let timeout_secs = properties
                        .get("Timeout")
                        .and_then(Value::as_u64)
                        .unwrap_or(global_timeout);
                    functions.insert(
                        id.clone(),
                        Function {
                            logical_id: id,
                            binary,
                            timeout_secs,
                            environment,
                            event_sources,
                        },
                    );
                }
                "AWS::Serverless::HttpApi" => {
                    let auth = properties.get("Auth");
                    let default = auth.and_then(|a| a.get("DefaultAuthorizer")).and_then(text);
                    if let Some(default) = default {
                        default_authorizer_set = true;
                        let function_arn = auth
                            .and_then(|a| a.get("Authorizers"))
                            .and_then(|a| a.get(default.as_str()))
                            .and_then(|a| a.get("FunctionArn"))
                            .ok_or_else(|| shape("the default authorizer has no FunctionArn"))?;
                        authorizer = get_att_target(function_arn);
                    }
                }
                "AWS::DynamoDB::Table" => table = Some((id, properties)),
                "AWS::SNS::Topic" => {
                    topics.insert(id, properties);
                }
                "AWS::SQS::Queue" => {
                    queues.insert(id, properties);
                }
                "AWS::KMS::Key" => {
                    kms_keys.insert(id, properties);
                }
                _ => {}
            }
        }
        if default_authorizer_set && authorizer.is_none() {
            return Err(shape(
                "the default authorizer's FunctionArn is not a !GetAtt",
            ));
        }
        if !default_authorizer_set {
            for route in &mut routes {
                route.authorized = false;
            }
        }
        let (table_logical_id, table_properties) =
            table.ok_or_else(|| shape("no AWS::DynamoDB::Table"))?;
        Ok(Template {
            functions,
            routes,
            authorizer,
            table_logical_id,
            table_properties,
            topics,
            queues,
            kms_keys,
            parameter_defaults,
        })
    }

    /// The value of one environment variable, with `!Ref` to the table or a parameter resolved locally.
    pub fn resolve(
        &self,
        value: &Value,
        table_name: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Option<String> {
        if let Some(plain) = text(value) {
            return Some(plain);
        }
        let target = tagged(value, "!Ref").and_then(text)?;
        if target == self.table_logical_id {
            return Some(table_name.to_owned());
        }
        if self.kms_keys.contains_key(&target) {
            return Some(kms_alias(&target));
        }
        parameters
            .get(&target)
            .or_else(|| self.parameter_defaults.get(&target))
            .cloned()
    }
}
