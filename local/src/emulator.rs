//! The moto server (DynamoDB, SNS and SES on 127.0.0.1), the table as the template defines it, and the outbox.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use serde::Deserialize;
use serde_yaml::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

use crate::template::Template;

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot start the moto server with {path}: {source} (run `make venv` first)")]
    Spawn {
        path: String,
        source: std::io::Error,
    },
    #[error("moto_server did not answer on {0}")]
    NotReady(String),
    #[error("the table definition is not usable: {0}")]
    Table(String),
    #[error("AWS call to the emulator failed: {0}")]
    Aws(String),
    #[error("cannot read the outbox: {0}")]
    Outbox(String),
}

/// A running moto server; it is killed when this is dropped (call `stop` to also wait for it).
pub struct Emulator {
    pub endpoint: String,
    child: Child,
}

pub fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

pub async fn wait_ready(endpoint: &str) -> Result<(), EmulatorError> {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(response) = client.get(format!("{endpoint}/moto-api/")).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(EmulatorError::NotReady(endpoint.to_owned()))
}

impl Emulator {
    /// Starts `python launcher HOST PORT` (see `local/moto_serial.py`).
    pub async fn start(
        python: &Path,
        launcher: &Path,
        port: u16,
    ) -> Result<Emulator, EmulatorError> {
        let child = Command::new(python)
            .arg(launcher)
            .args(["127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| EmulatorError::Spawn {
                path: python.display().to_string(),
                source,
            })?;
        let endpoint = endpoint(port);
        wait_ready(&endpoint).await?;
        Ok(Emulator { endpoint, child })
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// SDK settings that point every client at the emulator with dummy credentials.
pub fn sdk_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// An SDK configuration for the local tools and tests, pointed at `endpoint` with dummy credentials. (The functions
/// themselves use `user_token_domain::lambda::aws_sdk_config`, bounded for Lambda.)
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    // The functions' own client; it cannot fail to build (its trust store is compiled in).
    let loader = match user_token_domain::lambda::aws_http_client() {
        Ok(client) => loader.http_client(client),
        Err(error) => panic!("the HTTPS client: {error}"),
    };
    at_emulator(loader, endpoint).load().await
}

/// `loader`, pointed at the emulator with dummy credentials.
pub fn at_emulator(loader: aws_config::ConfigLoader, endpoint: &str) -> aws_config::ConfigLoader {
    loader
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "local",
        ))
}

fn key_schema(value: &Value) -> Result<Vec<KeySchemaElement>, EmulatorError> {
    let elements = value
        .as_sequence()
        .ok_or_else(|| EmulatorError::Table("KeySchema is not a list".into()))?;
    elements
        .iter()
        .map(|element| {
            let name = element
                .get("AttributeName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = match element.get("KeyType").and_then(Value::as_str) {
                Some("RANGE") => KeyType::Range,
                _ => KeyType::Hash,
            };
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| EmulatorError::Table(e.to_string()))
        })
        .collect()
}

/// Creates `table_name` exactly as the template's table resource defines it (keys, indexes, TTL, stream).
/// Idempotent.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    template: &Template,
    table_name: &str,
) -> Result<(), EmulatorError> {
    let props = &template.table_properties;
    let table_error = |what: &str| EmulatorError::Table(what.to_owned());
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(
            props
                .get("KeySchema")
                .ok_or_else(|| table_error("no KeySchema"))?,
        )?));
    for definition in props
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let kind = match definition.get("AttributeType").and_then(Value::as_str) {
            Some("N") => ScalarAttributeType::N,
            Some("B") => ScalarAttributeType::B,
            _ => ScalarAttributeType::S,
        };
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(
                    definition
                        .get("AttributeName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )
                .attribute_type(kind)
                .build()
                .map_err(|e| EmulatorError::Table(e.to_string()))?,
        );
    }
    for index in props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let projection = match index
            .get("Projection")
            .and_then(|p| p.get("ProjectionType"))
            .and_then(Value::as_str)
        {
            Some("KEYS_ONLY") => ProjectionType::KeysOnly,
            _ => ProjectionType::All,
        };
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(
                    index
                        .get("IndexName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )
                .set_key_schema(Some(key_schema(
                    index
                        .get("KeySchema")
                        .ok_or_else(|| table_error("index without KeySchema"))?,
                )?))
                .projection(Projection::builder().projection_type(projection).build())
                .build()
                .map_err(|e| EmulatorError::Table(e.to_string()))?,
        );
    }
    if let Some(view) = props
        .get("StreamSpecification")
        .and_then(|spec| spec.get("StreamViewType"))
        .and_then(Value::as_str)
    {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()
                .map_err(|e| EmulatorError::Table(e.to_string()))?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(error) if format!("{error:?}").contains("ResourceInUseException") => return Ok(()),
        Err(error) => return Err(EmulatorError::Aws(format!("CreateTable: {error:?}"))),
    }
    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        let attribute = ttl
            .get("AttributeName")
            .and_then(Value::as_str)
            .unwrap_or("ttl");
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .map_err(|e| EmulatorError::Table(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|error| EmulatorError::Aws(format!("UpdateTimeToLive: {error:?}")))?;
    }
    Ok(())
}

/// The template's KMS keys, made once per emulator under the alias `!Ref` resolves to locally
/// ([`crate::template::kms_alias`]), with the key spec and usage the template gives them.
pub async fn ensure_kms_keys(
    client: &aws_sdk_kms::Client,
    template: &Template,
) -> Result<(), EmulatorError> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    for (logical_id, properties) in &template.kms_keys {
        let alias = crate::template::kms_alias(logical_id);
        if client.describe_key().key_id(&alias).send().await.is_ok() {
            continue;
        }
        let spec = properties
            .get("KeySpec")
            .and_then(Value::as_str)
            .unwrap_or("SYMMETRIC_DEFAULT");
        let usage = properties
            .get("KeyUsage")
            .and_then(Value::as_str)
            .unwrap_or("ENCRYPT_DECRYPT");
        let key = client
            .create_key()
            .key_spec(KeySpec::from(spec))
            .key_usage(KeyUsageType::from(usage))
            .send()
            .await
            .map_err(|error| EmulatorError::Aws(format!("CreateKey: {error:?}")))?;
        let key_id = key
            .key_metadata
            .map(|metadata| metadata.key_id)
            .ok_or_else(|| EmulatorError::Aws("CreateKey answered no key".into()))?;
        // Two stacks starting on one emulator may both get here: the first alias wins, and both use it.
        if let Err(error) = client
            .create_alias()
            .alias_name(&alias)
            .target_key_id(key_id)
            .send()
            .await
        {
            if !format!("{error:?}").contains("AlreadyExists") {
                return Err(EmulatorError::Aws(format!("CreateAlias: {error:?}")));
            }
        }
    }
    Ok(())
}

/// SES refuses to send from an address it has not verified; the emulator verifies at once.
pub async fn verify_sender(
    client: &aws_sdk_sesv2::Client,
    sender: &str,
) -> Result<(), EmulatorError> {
    client
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await
        .map(|_| ())
        .or_else(|error| {
            if format!("{error:?}").contains("AlreadyExists") {
                Ok(())
            } else {
                Err(EmulatorError::Aws(format!(
                    "CreateEmailIdentity: {error:?}"
                )))
            }
        })
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SentSms {
    pub phone_number: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub to: Vec<String>,
    pub source: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, Default)]
pub struct Outbox {
    pub sms: Vec<SentSms>,
    pub emails: Vec<SentEmail>,
}

impl SentEmail {
    /// The token of the link the email carries (`…?token=<token>`): URL-safe characters up to the first other one,
    /// without a sentence's closing full stop.
    pub fn link_token(&self) -> Option<String> {
        let start = self.body.find("?token=")? + "?token=".len();
        let token: String = self.body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        Some(token.trim_end_matches('.').to_owned()).filter(|token| !token.is_empty())
    }
}

impl Outbox {
    /// The tokens of the links that went to `address`, oldest first.
    pub fn link_tokens_to(&self, address: &str) -> Vec<String> {
        self.emails_to(address)
            .iter()
            .filter_map(|mail| mail.link_token())
            .collect()
    }

    pub fn emails_to(&self, address: &str) -> Vec<&SentEmail> {
        self.emails
            .iter()
            .filter(|e| e.to.iter().any(|to| to.eq_ignore_ascii_case(address)))
            .collect()
    }

    pub fn sms_to(&self, phone: &str) -> Vec<&SentSms> {
        self.sms
            .iter()
            .filter(|s| s.phone_number == phone)
            .collect()
    }
}

/// What went out through the emulator, read from moto's `/moto-api/data.json`.
pub async fn outbox(endpoint: &str) -> Result<Outbox, EmulatorError> {
    let data: serde_json::Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .map_err(|e| EmulatorError::Outbox(e.to_string()))?
        .json()
        .await
        .map_err(|e| EmulatorError::Outbox(e.to_string()))?;
    let mut outbox = Outbox::default();
    // Lists of sent messages, whether moto keeps them flat or keyed by account and region.
    fn lists(value: &serde_json::Value, into: &mut Vec<serde_json::Value>) {
        match value {
            serde_json::Value::Array(_) => into.push(value.clone()),
            serde_json::Value::Object(map) => map.values().for_each(|v| lists(v, into)),
            _ => {}
        }
    }
    let regions = |service: &str, model: &str| -> Vec<serde_json::Value> {
        let mut found = Vec::new();
        if let Some(value) = data.get(service).and_then(|s| s.get(model)) {
            lists(value, &mut found);
        }
        found
    };
    for entries in regions("sns", "SMS") {
        for entry in entries.as_array().into_iter().flatten() {
            if let Ok(sms) = serde_json::from_value::<SentSms>(entry.clone()) {
                outbox.sms.push(sms);
            }
        }
    }
    for entries in regions("ses", "Message") {
        for entry in entries.as_array().into_iter().flatten() {
            let field = |name: &str| {
                entry
                    .get(name)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let to = entry
                .get("destinations")
                .and_then(|d| d.get("ToAddresses"))
                .and_then(|t| t.as_array())
                .map(|list| {
                    list.iter()
                        .filter_map(|a| a.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            outbox.emails.push(SentEmail {
                to,
                source: field("source"),
                subject: field("subject"),
                body: field("body"),
            });
        }
    }
    Ok(outbox)
}
