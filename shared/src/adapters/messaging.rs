//! Outbound messages: SMS through SNS `Publish`, email through SES v2, and domain events to an SNS topic.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::domain::{DomainError, Email, PhoneNumber};
use crate::pipelines::events::{Envelope, EventSink, PublishError};
use crate::ports::{EmailMessage, Messenger};

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
        SnsSesMessenger { sns, ses, sender }
    }
}

#[async_trait]
impl Messenger for SnsSesMessenger {
    async fn send_sms(&self, to: &PhoneNumber, text: &str) -> Result<(), DomainError> {
        let transactional = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|_| DomainError::DeliveryFailed)?;
        self.sns
            .publish()
            .phone_number(to.as_str())
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", transactional)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                tracing::warn!(to = %to.masked(), error = ?error, "SMS delivery failed");
                DomainError::DeliveryFailed
            })
    }

    async fn send_email(&self, to: &Email, message: &EmailMessage) -> Result<(), DomainError> {
        let Some(sender) = &self.sender else {
            tracing::error!("SES_SENDER is not configured");
            return Err(DomainError::DeliveryFailed);
        };
        let content = |text: &str| Content::builder().data(text).charset("UTF-8").build();
        let (Ok(subject), Ok(text), Ok(html)) = (
            content(&message.subject),
            content(&message.text),
            content(&message.html),
        ) else {
            return Err(DomainError::DeliveryFailed);
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
                tracing::warn!(to = %to.masked(), error = ?error, "email delivery failed");
                DomainError::DeliveryFailed
            })
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
    async fn publish(&self, envelope: &Envelope) -> Result<(), PublishError> {
        let failed = |reason: String| PublishError {
            event_id: envelope.event_id.clone(),
            reason,
        };
        let message = serde_json::to_string(envelope).map_err(|e| failed(e.to_string()))?;
        let mut request = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message);
        for (name, value) in [
            ("eventType", envelope.event.event_type()),
            ("eventId", envelope.event_id.as_str()),
            ("subjectType", envelope.subject.kind()),
        ] {
            let attribute = string_attribute(value)
                .ok_or_else(|| failed(format!("message attribute {name}")))?;
            request = request.message_attributes(name, attribute);
        }
        if self.topic_arn.ends_with(".fifo") {
            request = request
                .message_group_id(envelope.subject.key())
                .message_deduplication_id(&envelope.event_id);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|error| failed(format!("{error:?}")))
    }
}
