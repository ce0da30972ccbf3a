//! Widgets: a named, ordered set of channels a session may send its code through. Ours are `sms` (SNS) and
//! `email` (SES).

use time::OffsetDateTime;

use crate::domain::token::Channel;
use crate::domain::DomainError;
use crate::store::sigma::{widget_pk, ChannelItem, WidgetItem, WIDGET_SK};
use crate::store::Store;

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
        })
    }

    pub fn to_item(&self, now: OffsetDateTime) -> WidgetItem {
        WidgetItem {
            pk: widget_pk(&self.id),
            sk: WIDGET_SK.into(),
            widget_id: self.id.clone(),
            name: self.name.clone(),
            channels: self
                .channels
                .iter()
                .map(|c| ChannelItem {
                    channel: c.channel,
                    label: c.label.clone(),
                })
                .collect(),
            created_at: now.unix_timestamp(),
        }
    }

    /// Stores a new widget; an existing id is a conflict.
    pub async fn create(&self, store: &Store) -> Result<(), DomainError> {
        store
            .create_widget(&self.to_item(OffsetDateTime::now_utc()))
            .await
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
