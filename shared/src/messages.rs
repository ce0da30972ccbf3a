//! What recipients read. Every message carries its code or link and when it expires.

use time::OffsetDateTime;

use crate::notify::EmailMessage;

fn expiry(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.format(&format)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn invitation_email(link: &str, expires_at: OffsetDateTime) -> EmailMessage {
    let when = expiry(expires_at);
    EmailMessage {
        subject: "You have been invited".into(),
        text: format!(
            "You have been invited to join. Accept the invitation here: {link}\nThis link expires at {when}."
        ),
        html: format!(
            "<p>You have been invited to join.</p><p><a href=\"{href}\">Accept the invitation</a></p><p>{href}</p><p>This link expires at {when}.</p>",
            href = escape(link)
        ),
    }
}
