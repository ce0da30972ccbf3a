//! Sigma OTP widgets and sessions. A widget is a named, ordered set of channels a session may send its code
//! through (ours are `sms` by SNS and `email` by SES); a session is one recipient's attempt to confirm.

use time::OffsetDateTime;

use super::token::{Channel, Subject};
use super::{DomainError, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetChannel {
    pub channel: Channel,
    pub label: String,
}

/// A widget that parsed: a well-formed id and at least one channel, each type at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widget {
    pub id: String,
    pub name: String,
    pub channels: Vec<WidgetChannel>,
    /// Blocked by the operator: no session may start on it.
    pub blocked: bool,
    /// Switched off by its owner: no session may start on it.
    pub active: bool,
    /// The user whose widget it is (Sigma's account): only they and backoffice admins may read or use it, and it is
    /// blocked while they are disabled, locked out or gone. `None`: anyone may.
    pub owner_id: Option<UserId>,
}

/// Letters, digits, `-` and `_`, 1 to 64 of them (a UUID fits).
pub fn valid_widget_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Widget {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        channels: Vec<WidgetChannel>,
    ) -> Result<Widget, DomainError> {
        let id = id.into();
        if !valid_widget_id(&id) {
            return Err(DomainError::invalid_body(
                "widgetId",
                "must be 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        if channels.is_empty() {
            return Err(DomainError::invalid_body(
                "channels",
                "a widget needs at least one channel",
            ));
        }
        for (index, channel) in channels.iter().enumerate() {
            if channels[..index]
                .iter()
                .any(|c| c.channel == channel.channel)
            {
                return Err(DomainError::invalid_body(
                    format!("channels[{index}]"),
                    "each channel type may appear once",
                ));
            }
            if channel.label.trim().is_empty() {
                return Err(DomainError::invalid_body(
                    format!("channels[{index}].label"),
                    "must not be blank",
                ));
            }
        }
        Ok(Widget {
            id,
            name: name.into(),
            channels,
            blocked: false,
            active: true,
            owner_id: None,
        })
    }
}

/// One recipient's OTP session: its code lives next to it, under the same subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpSession {
    pub request_id: String,
    pub widget_id: String,
    /// The user id of the caller that started it.
    pub owner_id: String,
    /// An E.164 number or an email address, as the client sent it: a resend must reach it and the final check
    /// compares it.
    pub recipient: String,
    /// The widget's channels that can serve this recipient, in priority order, as they were at start.
    pub channels: Vec<WidgetChannel>,
    /// `ru` or `en`: the language of the messages sent for this session.
    pub locale: String,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    /// The last answer the channel's long poll gave (a fingerprint, no secret): it holds while the answer would be
    /// the same.
    pub channel_seen: Option<String>,
    /// When the store may forget it.
    pub retained_until: OffsetDateTime,
}

impl OtpSession {
    pub fn subject(&self) -> Subject {
        Subject::OtpSession(self.request_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(channel: Channel, label: &str) -> WidgetChannel {
        WidgetChannel {
            channel,
            label: label.into(),
        }
    }

    #[test]
    fn a_widget_has_a_clean_id_and_distinct_labelled_channels() {
        assert!(Widget::new("w-1", "Login", vec![channel(Channel::Sms, "SMS")]).is_ok());
        assert!(Widget::new("", "Login", vec![channel(Channel::Sms, "SMS")]).is_err());
        assert!(Widget::new("w 1", "Login", vec![channel(Channel::Sms, "SMS")]).is_err());
        assert!(Widget::new("w", "Login", vec![]).is_err());
        assert!(Widget::new(
            "w",
            "Login",
            vec![channel(Channel::Sms, "SMS"), channel(Channel::Sms, "SMS 2")]
        )
        .is_err());
        assert!(Widget::new("w", "Login", vec![channel(Channel::Email, " ")]).is_err());
    }
}
