//! Outbound messages: SMS through SNS `Publish`, email through SES v2, and domain events to an SNS topic.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use aws_smithy_runtime_api::client::result::SdkError;

use crate::domain::{Email, PhoneNumber};
use crate::pipelines::events::{Envelope, EventSink, PublishError};
use crate::ports::{EmailMessage, Messenger, SendFailure};

#[derive(Clone, Debug)]
pub struct SnsSesMessenger {
    sns: aws_sdk_sns::Client,
    ses: aws_sdk_sesv2::Client,
    sender: Option<Email>,
}

impl SnsSesMessenger {
    pub fn new(
        sns: aws_sdk_sns::Client,
        ses: aws_sdk_sesv2::Client,
        sender: Option<Email>,
    ) -> SnsSesMessenger {
        // A send is tried once: an SDK retry of a send whose answer was lost would send the code a second time.
        let once = aws_smithy_types::retry::RetryConfig::disabled;
        let sns =
            aws_sdk_sns::Client::from_conf(sns.config().to_builder().retry_config(once()).build());
        let ses = aws_sdk_sesv2::Client::from_conf(
            ses.config().to_builder().retry_config(once()).build(),
        );
        SnsSesMessenger { sns, ses, sender }
    }
}

#[async_trait]
impl Messenger for SnsSesMessenger {
    async fn send_sms(&self, to: &PhoneNumber, text: &str) -> Result<(), SendFailure> {
        let transactional = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|_| SendFailure::NotSent)?;
        self.sns
            .publish()
            .phone_number(to.as_str())
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", transactional)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                let failure = send_failure(&error);
                tracing::warn!(to = %to.masked(), ?failure, error = ?error, "SMS delivery failed");
                failure
            })
    }

    async fn send_email(&self, to: &Email, message: &EmailMessage) -> Result<(), SendFailure> {
        let Some(sender) = &self.sender else {
            tracing::error!("SES_SENDER is not configured");
            return Err(SendFailure::NotSent);
        };
        let content = |text: &str| Content::builder().data(text).charset("UTF-8").build();
        let (Ok(subject), Ok(text), Ok(html)) = (
            content(&message.subject),
            content(&message.text),
            content(&message.html),
        ) else {
            return Err(SendFailure::NotSent);
        };
        let body = Body::builder().text(text).html(html).build();
        self.ses
            .send_email()
            .from_email_address(sender.as_str())
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(
                EmailContent::builder()
                    .simple(Message::builder().subject(subject).body(body).build())
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                let failure = send_failure(&error);
                tracing::warn!(to = %to.masked(), ?failure, error = ?error, "email delivery failed");
                failure
            })
    }
}

/// Whether a failed send may still have gone out. Only a request that could not be built, that never found a
/// connection, or that the provider answered with an error is known not to have; after a timeout or a connection
/// lost once the request was written, the provider may have accepted it.
fn send_failure<E, R>(error: &SdkError<E, R>) -> SendFailure {
    match error {
        SdkError::ConstructionFailure(_) | SdkError::ServiceError(_) => SendFailure::NotSent,
        SdkError::DispatchFailure(failure) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> =
                failure.as_connector_error().map(|e| e as _);
            while let Some(error) = cause {
                if error
                    .downcast_ref::<hyper_util::client::legacy::Error>()
                    .is_some_and(hyper_util::client::legacy::Error::is_connect)
                {
                    return SendFailure::NotSent;
                }
                cause = error.source();
            }
            SendFailure::Unknown
        }
        _ => SendFailure::Unknown,
    }
}

/// Publishes events to the topic. On a FIFO topic (`….fifo`) the event id is also the deduplication id and the
/// subject the message group.
#[derive(Clone, Debug)]
pub struct EventPublisher {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

fn string_attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .ok()
}

impl EventPublisher {
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> EventPublisher {
        EventPublisher {
            sns,
            topic_arn: topic_arn.into(),
        }
    }
}

#[async_trait]
impl EventSink for EventPublisher {
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), (usize, PublishError)> {
        let failed = |at: usize, reason: String| {
            let event_id = envelopes
                .get(at)
                .map(|envelope| envelope.event_id.clone())
                .unwrap_or_default();
            (at, PublishError { event_id, reason })
        };
        let fifo = self.topic_arn.ends_with(".fifo");
        let mut entries = Vec::with_capacity(envelopes.len());
        for (at, envelope) in envelopes.iter().enumerate() {
            let message = serde_json::to_string(envelope).map_err(|e| failed(at, e.to_string()))?;
            // An entry's id only has to be unique within its request: its position names it.
            let mut entry = PublishBatchRequestEntry::builder()
                .id(at.to_string())
                .message(message);
            for (name, value) in [
                ("eventType", envelope.event.event_type()),
                ("eventId", envelope.event_id.as_str()),
                ("subjectType", envelope.subject.kind()),
            ] {
                let attribute = string_attribute(value)
                    .ok_or_else(|| failed(at, format!("message attribute {name}")))?;
                entry = entry.message_attributes(name, attribute);
            }
            if fifo {
                entry = entry
                    .message_group_id(envelope.subject.key())
                    .message_deduplication_id(&envelope.event_id);
            }
            entries.push(entry.build().map_err(|e| failed(at, e.to_string()))?);
        }
        let output = self
            .sns
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|error| failed(0, format!("{error:?}")))?;
        // Entries are judged one by one: the first that failed is where the retry starts.
        let first_failed = output
            .failed()
            .iter()
            .filter_map(|entry| Some((entry.id().parse::<usize>().ok()?, entry)))
            .min_by_key(|(at, _)| *at);
        match first_failed {
            Some((at, entry)) => Err(failed(
                at,
                format!("{}: {}", entry.code(), entry.message().unwrap_or_default()),
            )),
            None => Ok(()),
        }
    }
}
