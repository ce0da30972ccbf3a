//! Outbound messages: SMS through SNS `Publish`, email through SES v2.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::domain::{DomainError, Email, PhoneNumber};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone, Debug)]
pub struct Messenger {
    sns: aws_sdk_sns::Client,
    ses: aws_sdk_sesv2::Client,
    sender: Option<Email>,
}

impl Messenger {
    pub fn new(
        sns: aws_sdk_sns::Client,
        ses: aws_sdk_sesv2::Client,
        sender: Option<Email>,
    ) -> Messenger {
        Messenger { sns, ses, sender }
    }

    pub async fn send_sms(&self, to: &PhoneNumber, text: &str) -> Result<(), DomainError> {
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

    pub async fn send_email(&self, to: &Email, message: &EmailMessage) -> Result<(), DomainError> {
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
