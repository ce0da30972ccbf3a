//! The template's event sources other than HTTP, run the way Lambda runs them: the table's stream and the SQS queues
//! polled, and their batches handed to the function over its Runtime API, honouring `batchItemFailures`. The topics
//! and queues are made in the emulator from the template, and a "tap" queue subscribed to every topic keeps what was
//! published, for `make events` and the tests.

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::emulator::EmulatorError;
use crate::runtime_api::FunctionHost;
use crate::template::{get_att_target, StreamSource, Template};

/// How long a poller waits after finding nothing. No long polling: moto serves one request at a time, so a waiting
/// receive would hold up every other caller.
const IDLE: Duration = Duration::from_millis(250);

const REGION: &str = "us-east-1";

fn aws_error(call: &str, error: impl std::fmt::Debug) -> EmulatorError {
    EmulatorError::Aws(format!("{call}: {error:?}"))
}

/// A topic's or queue's name in the emulator: the stack's table name and the logical id, so that stacks on other
/// tables (parallel tests) never share one.
pub fn resource_name(table: &str, logical_id: &str) -> String {
    format!("{table}-{logical_id}")
}

pub fn tap_name(table: &str) -> String {
    format!("{table}-events-tap")
}

/// The template's topics and queues, made in the emulator for one stack.
#[derive(Debug, Clone)]
pub struct Resources {
    /// Logical id to what `!Ref` gives: a topic's ARN, a queue's URL.
    pub refs: BTreeMap<String, String>,
    /// A queue's logical id to its ARN.
    pub queue_arns: BTreeMap<String, String>,
    /// The queue subscribed to every topic.
    pub tap_url: String,
}

/// A resource's scalar properties, which for topics and queues are named as their API attributes.
fn scalar_attributes(properties: &serde_yaml::Value) -> Vec<(String, String)> {
    properties
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| {
            let value = match value {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((name.as_str()?.to_owned(), value))
        })
        .collect()
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: Vec<(String, String)>,
) -> Result<String, EmulatorError> {
    let mut request = sqs.create_queue().queue_name(name);
    for (attribute, value) in attributes {
        request = request.attributes(QueueAttributeName::from(attribute.as_str()), value);
    }
    request
        .send()
        .await
        .map_err(|e| aws_error("CreateQueue", e))?
        .queue_url
        .ok_or_else(|| EmulatorError::Aws(format!("CreateQueue {name}: no URL")))
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, EmulatorError> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_error("GetQueueAttributes", e))?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| EmulatorError::Aws(format!("{url} has no QueueArn")))
}

/// Makes the template's queues (with their redrive policies) and topics for the stack on `table`, and the tap.
pub async fn create_resources(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    table: &str,
) -> Result<Resources, EmulatorError> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut refs = BTreeMap::new();
    let mut queue_arns = BTreeMap::new();
    for (id, properties) in &template.queues {
        let attributes = scalar_attributes(properties);
        let url = create_queue(&sqs, &resource_name(table, id), attributes).await?;
        queue_arns.insert(id.clone(), queue_arn(&sqs, &url).await?);
        refs.insert(id.clone(), url);
    }
    // A redrive policy names its dead-letter queue by ARN, so it is set once every queue exists.
    for (id, url) in &refs {
        let Some(policy) = template.queues.get(id).and_then(|q| q.get("RedrivePolicy")) else {
            continue;
        };
        let target = policy
            .get("deadLetterTargetArn")
            .and_then(get_att_target)
            .and_then(|target| queue_arns.get(&target))
            .ok_or_else(|| {
                EmulatorError::Aws(format!("{id}: its dead-letter target is not a queue"))
            })?;
        let max_receives = policy
            .get("maxReceiveCount")
            .and_then(serde_yaml::Value::as_u64)
            .unwrap_or(10);
        sqs.set_queue_attributes()
            .queue_url(url)
            .attributes(
                QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": target, "maxReceiveCount": max_receives}).to_string(),
            )
            .send()
            .await
            .map_err(|e| aws_error("SetQueueAttributes", e))?;
    }
    let tap = Tap::create(sqs.clone(), &tap_name(table)).await?;
    for (id, properties) in &template.topics {
        let mut request = sns.create_topic().name(resource_name(table, id));
        for (attribute, value) in scalar_attributes(properties) {
            request = request.attributes(attribute, value);
        }
        let arn = request
            .send()
            .await
            .map_err(|e| aws_error("CreateTopic", e))?
            .topic_arn
            .ok_or_else(|| EmulatorError::Aws(format!("CreateTopic {id}: no ARN")))?;
        tap.subscribe(&sns, &arn).await?;
        refs.insert(id.clone(), arn);
    }
    Ok(Resources {
        refs,
        queue_arns,
        tap_url: tap.url,
    })
}

/// One notification taken from a tap: the message as published, and its SNS message attributes.
#[derive(Debug, Clone)]
pub struct Published {
    pub raw: String,
    /// The message as JSON (null if it is not JSON).
    pub event: Value,
    pub attributes: Value,
}

/// An SQS queue subscribed to topics: it keeps every notification until it is drained.
pub struct Tap {
    sqs: aws_sdk_sqs::Client,
    pub url: String,
}

impl Tap {
    pub async fn create(sqs: aws_sdk_sqs::Client, name: &str) -> Result<Tap, EmulatorError> {
        let url = create_queue(&sqs, name, Vec::new()).await?;
        Ok(Tap { sqs, url })
    }

    /// The tap of a running stack, by its name.
    pub async fn open(sqs: aws_sdk_sqs::Client, name: &str) -> Result<Tap, EmulatorError> {
        let url = sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| aws_error("GetQueueUrl", e))?
            .queue_url
            .ok_or_else(|| EmulatorError::Aws(format!("no queue {name}")))?;
        Ok(Tap { sqs, url })
    }

    pub async fn subscribe(
        &self,
        sns: &aws_sdk_sns::Client,
        topic_arn: &str,
    ) -> Result<(), EmulatorError> {
        sns.subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn(&self.sqs, &self.url).await?)
            .send()
            .await
            .map_err(|e| aws_error("Subscribe", e))?;
        Ok(())
    }

    /// Everything published since the last drain, each notification once, oldest first.
    pub async fn drain(&self) -> Result<Vec<Published>, EmulatorError> {
        let mut published = Vec::new();
        loop {
            let messages = receive(&self.sqs, &self.url, 10).await?;
            if messages.is_empty() {
                return Ok(published);
            }
            for message in &messages {
                let notification: Value =
                    serde_json::from_str(message.body().unwrap_or_default()).unwrap_or_default();
                let raw = notification["Message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                published.push(Published {
                    event: serde_json::from_str(&raw).unwrap_or_default(),
                    raw,
                    attributes: notification["MessageAttributes"].clone(),
                });
            }
            delete(&self.sqs, &self.url, &messages).await?;
        }
    }
}

/// Up to `max` messages, with their system attributes (the receive count), without waiting.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: i32,
) -> Result<Vec<Message>, EmulatorError> {
    Ok(sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max.clamp(1, 10))
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| aws_error("ReceiveMessage", e))?
        .messages
        .unwrap_or_default())
}

async fn delete(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    messages: &[Message],
) -> Result<(), EmulatorError> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut request = sqs.delete_message_batch().queue_url(url);
    for (index, message) in messages.iter().enumerate() {
        request = request.entries(
            DeleteMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .build()
                .map_err(|e| aws_error("DeleteMessageBatch", e))?,
        );
    }
    request
        .send()
        .await
        .map_err(|e| aws_error("DeleteMessageBatch", e))?;
    Ok(())
}

/// Messages as the SQS event source hands them to a function.
pub fn sqs_event(messages: &[Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let attributes: Map<String, Value> = message
                .attributes()
                .into_iter()
                .flatten()
                .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
                .collect();
            let message_attributes: Map<String, Value> = message
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(name, value)| {
                    let binary = value
                        .binary_value()
                        .map(|b| base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
                    let attribute = json!({
                        "stringValue": value.string_value(),
                        "binaryValue": binary,
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value.data_type(),
                    });
                    (name.clone(), attribute)
                })
                .collect();
            json!({
                "messageId": message.message_id(),
                "receiptHandle": message.receipt_handle(),
                "body": message.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": message.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The item identifiers a function reported in `batchItemFailures`, or `None` when the answer counts as a failure
/// of the whole batch (as Lambda counts it): an identifier that is empty or names no item of the batch.
fn reported_failures(answer: &Value, batch: &[&str]) -> Option<Vec<String>> {
    let Some(failures) = answer.get("batchItemFailures").and_then(Value::as_array) else {
        return Some(Vec::new());
    };
    failures
        .iter()
        .map(|failure| {
            failure
                .get("itemIdentifier")
                .and_then(Value::as_str)
                .filter(|id| batch.contains(id))
                .map(str::to_owned)
        })
        .collect()
}

/// An SQS event source: receives batches, invokes the function, and deletes the messages it did not report as
/// failed; those come back after the visibility timeout, and move to the dead-letter queue by its redrive policy.
pub struct QueuePoller {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: i32,
    pub function: Arc<FunctionHost>,
}

impl QueuePoller {
    /// Runs until its task is aborted.
    pub async fn run(self) {
        loop {
            match self.deliver_one_batch().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(IDLE).await,
                Err(error) => {
                    eprintln!("local-stack: {} queue: {error}", self.function.name);
                    tokio::time::sleep(IDLE).await;
                }
            }
        }
    }

    /// Whether there was a batch.
    async fn deliver_one_batch(&self) -> Result<bool, EmulatorError> {
        let messages = receive(&self.sqs, &self.queue_url, self.batch_size).await?;
        if messages.is_empty() {
            return Ok(false);
        }
        let ids: Vec<&str> = messages
            .iter()
            .map(|m| m.message_id().unwrap_or_default())
            .collect();
        let failed = match self
            .function
            .invoke(&sqs_event(&messages, &self.queue_arn))
            .await
        {
            Ok(answer) => reported_failures(&answer, &ids),
            Err(error) => {
                eprintln!("local-stack: {}: {error}", self.function.name);
                None
            }
        };
        let Some(failed) = failed else {
            return Ok(true);
        };
        let done: Vec<Message> = messages
            .into_iter()
            .filter(|m| !failed.iter().any(|id| Some(id.as_str()) == m.message_id()))
            .collect();
        delete(&self.sqs, &self.queue_url, &done).await?;
        Ok(true)
    }
}

/// The stream of `table` (the template gives the table one).
pub async fn stream_arn(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<String, EmulatorError> {
    dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| aws_error("DescribeTable", e))?
        .table
        .and_then(|t| t.latest_stream_arn)
        .ok_or_else(|| EmulatorError::Aws(format!("{table} has no stream")))
}

/// One shard's position, and the record that keeps failing there with its count.
struct Cursor {
    shard_id: String,
    iterator: Option<String>,
    failing: Option<(String, u32)>,
}

/// A DynamoDB stream event source: each shard's records in order, in batches, through the function. A reported
/// failure is retried from that record (`ReportBatchItemFailures`); after `MaximumRetryAttempts` the batch's
/// metadata goes to the on-failure queue and the shard moves on.
pub struct StreamPoller {
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub stream_arn: String,
    pub source: StreamSource,
    pub on_failure_url: Option<String>,
    pub function: Arc<FunctionHost>,
}

/// Lambda backs off between retries of a stream batch; so does this, from half a second to half a minute.
fn retry_delay(attempts: u32) -> Duration {
    Duration::from_millis(500 * 2u64.pow(attempts.saturating_sub(1).min(6)))
        .min(Duration::from_secs(30))
}

impl StreamPoller {
    /// Runs until its task is aborted. (The shards are those of the stream when it starts: moto's stream has one,
    /// which never closes.)
    pub async fn run(self) {
        let mut cursors = loop {
            match self.open_shards().await {
                Ok(cursors) => break cursors,
                Err(error) => {
                    eprintln!("local-stack: {} stream: {error}", self.function.name);
                    tokio::time::sleep(IDLE).await;
                }
            }
        };
        loop {
            let mut delivered = false;
            for cursor in &mut cursors {
                match self.deliver_one_batch(cursor).await {
                    Ok(batch) => delivered |= batch,
                    Err(error) => eprintln!("local-stack: {} stream: {error}", self.function.name),
                }
            }
            if !delivered {
                tokio::time::sleep(IDLE).await;
            }
        }
    }

    async fn shard_iterator(
        &self,
        shard_id: &str,
        kind: ShardIteratorType,
        sequence_number: Option<String>,
    ) -> Result<Option<String>, EmulatorError> {
        Ok(self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(kind)
            .set_sequence_number(sequence_number)
            .send()
            .await
            .map_err(|e| aws_error("GetShardIterator", e))?
            .shard_iterator)
    }

    async fn open_shards(&self) -> Result<Vec<Cursor>, EmulatorError> {
        let shards = self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| aws_error("DescribeStream", e))?
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default();
        let start = ShardIteratorType::from(self.source.starting_position.as_str());
        let mut cursors = Vec::new();
        for shard in shards {
            let shard_id = shard.shard_id().unwrap_or_default().to_owned();
            cursors.push(Cursor {
                iterator: self.shard_iterator(&shard_id, start.clone(), None).await?,
                shard_id,
                failing: None,
            });
        }
        Ok(cursors)
    }

    /// Whether there was a batch.
    async fn deliver_one_batch(&self, cursor: &mut Cursor) -> Result<bool, EmulatorError> {
        let Some(iterator) = cursor.iterator.clone() else {
            return Ok(false);
        };
        let output = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(self.source.batch_size)
            .send()
            .await
            .map_err(|e| aws_error("GetRecords", e))?;
        let records = output.records.unwrap_or_default();
        if records.is_empty() {
            cursor.iterator = output.next_shard_iterator;
            return Ok(false);
        }
        let sequence_numbers: Vec<&str> = records
            .iter()
            .map(|r| {
                r.dynamodb()
                    .and_then(|d| d.sequence_number())
                    .unwrap_or_default()
            })
            .collect();
        let answer = match stream_event(&self.stream_arn, &records) {
            Ok(event) => self
                .function
                .invoke(&event)
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        let failed = match answer {
            Ok(answer) => reported_failures(&answer, &sequence_numbers),
            Err(error) => {
                eprintln!("local-stack: {}: {error}", self.function.name);
                None
            }
        };
        // Retried from the earliest failure: no record overtakes an earlier one of its shard.
        let failed_at = match failed {
            Some(failed) => sequence_numbers
                .iter()
                .find(|n| failed.iter().any(|f| f == *n))
                .map(|n| (*n).to_owned()),
            None => sequence_numbers.first().map(|n| (*n).to_owned()),
        };
        let Some(failed_at) = failed_at else {
            cursor.failing = None;
            cursor.iterator = output.next_shard_iterator;
            return Ok(true);
        };
        let attempts = match &cursor.failing {
            Some((at, attempts)) if *at == failed_at => attempts + 1,
            _ => 1,
        };
        if self
            .source
            .maximum_retry_attempts
            .is_some_and(|retries| attempts > retries)
        {
            self.report_exhausted(cursor, &sequence_numbers, attempts)
                .await?;
            cursor.failing = None;
            cursor.iterator = output.next_shard_iterator;
        } else {
            cursor.failing = Some((failed_at.clone(), attempts));
            tokio::time::sleep(retry_delay(attempts)).await;
            cursor.iterator = self
                .shard_iterator(
                    &cursor.shard_id,
                    ShardIteratorType::AtSequenceNumber,
                    Some(failed_at),
                )
                .await?;
        }
        Ok(true)
    }

    /// What Lambda sends to a stream's on-failure destination when it gives a batch up.
    async fn report_exhausted(
        &self,
        cursor: &Cursor,
        sequence_numbers: &[&str],
        attempts: u32,
    ) -> Result<(), EmulatorError> {
        let Some(url) = &self.on_failure_url else {
            eprintln!(
                "local-stack: {}: a batch of {} failed {attempts} times and is dropped",
                self.function.name, cursor.shard_id
            );
            return Ok(());
        };
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let record = json!({
            "version": "1.0",
            "timestamp": timestamp,
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "DDBStreamBatchInfo": {
                "shardId": cursor.shard_id,
                "startSequenceNumber": sequence_numbers.first(),
                "endSequenceNumber": sequence_numbers.last(),
                "batchSize": sequence_numbers.len(),
                "streamArn": self.stream_arn,
            }
        });
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(record.to_string())
            .send()
            .await
            .map_err(|e| aws_error("SendMessage", e))?;
        Ok(())
    }
}

fn attribute_json(value: &AttributeValue) -> Result<Value, EmulatorError> {
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": base64(b.as_ref())}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(b) => json!({"NULL": b}),
        AttributeValue::Ss(list) => json!({"SS": list}),
        AttributeValue::Ns(list) => json!({"NS": list}),
        AttributeValue::Bs(list) => {
            json!({"BS": list.iter().map(|b| base64(b.as_ref())).collect::<Vec<_>>()})
        }
        AttributeValue::L(list) => {
            json!({"L": list.iter().map(attribute_json).collect::<Result<Vec<_>, _>>()?})
        }
        AttributeValue::M(map) => json!({"M": image_json(map)?}),
        other => {
            return Err(EmulatorError::Aws(format!(
                "a stream attribute of an unknown type: {other:?}"
            )))
        }
    })
}

fn image_json(image: &HashMap<String, AttributeValue>) -> Result<Value, EmulatorError> {
    image
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute_json(value)?)))
        .collect::<Result<Map<_, _>, _>>()
        .map(Value::Object)
}

/// Stream records as the DynamoDB event source hands them to a function (images in DynamoDB JSON).
pub fn stream_event(stream_arn: &str, records: &[Record]) -> Result<Value, EmulatorError> {
    let mut events = Vec::with_capacity(records.len());
    for record in records {
        let Some(change) = record.dynamodb() else {
            continue;
        };
        let mut body = json!({
            "ApproximateCreationDateTime": change
                .approximate_creation_date_time()
                .map(|t| t.as_secs_f64())
                .unwrap_or_default(),
            "Keys": image_json(change.keys().unwrap_or(&HashMap::new()))?,
            "SequenceNumber": change.sequence_number(),
            "SizeBytes": change.size_bytes().unwrap_or_default(),
            "StreamViewType": change.stream_view_type().map(|v| v.as_str()),
        });
        if let Some(image) = change.new_image() {
            body["NewImage"] = image_json(image)?;
        }
        if let Some(image) = change.old_image() {
            body["OldImage"] = image_json(image)?;
        }
        events.push(json!({
            "eventID": record.event_id(),
            "eventName": record.event_name().map(|n| n.as_str()),
            "eventVersion": record.event_version(),
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "eventSourceARN": stream_arn,
            "dynamodb": body
        }));
    }
    Ok(json!({ "Records": events }))
}
