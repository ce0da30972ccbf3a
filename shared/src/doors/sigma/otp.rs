//! The OTP handler's operations. A session is one item (`OTP#<requestId>`/`SESSION`) next to its one live code
//! (`OTP#<requestId>`/`TOKEN#OTP_SESSION`), so every operation reads both in one request.
//!
//! - The current channel is the one the live code went out on (the token's `channel`).
//! - The session is confirmed when its code was accepted (the token is consumed), and closed once
//!   `complete` or `checkStatusAndComplete` has run.
//! - Attempts are counted per session, not per channel: moving on to another channel never gives a guesser a
//!   fresh budget, so a resend after the attempts are used up is refused (start again).
//! - `channel` and `status` say how the session stands, or the error that tells the client its next step; their
//!   long-polling twins give the same answers, held while there is nothing new to tell.

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

use super::language::Language;
use super::{serve, SigmaError};
use crate::domain::otp::{valid_widget_id, OtpSession, WidgetChannel};
use crate::domain::sending::Requester;
use crate::domain::token::{Channel, LiveToken, SendMode, TokenPurpose};
use crate::domain::{Cause, DomainError, Email, PhoneNumber, Principal, UserStatus};
use crate::doors::http::{json_body, json_response, path_param, query_param};
use crate::engine::{App, Recipient, SendRequest};
use crate::ports::{Closing, Companion};

/// At most this many starts per recipient in one calendar minute.
pub const START_LIMIT_PER_MINUTE: u32 = 3;
/// Sessions are removed by the table's TTL a day after they start.
const SESSION_RETENTION_SECS: i64 = 24 * 3600;
/// The user types the code that was sent (`EOtpChannelCodeType`); no channel of ours confirms without one.
const CODE_TYPE: &str = "code";
/// How often a held long poll reads the session again.
const LONG_POLL_INTERVAL: Duration = Duration::from_secs(1);
const PURPOSE: TokenPurpose = TokenPurpose::OtpSession;
/// A close reads the session again when a check changed its code in between; each try is a change by another
/// request, so a few suffice.
const CLOSE_TRIES: usize = 3;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartRequest {
    widget_id: String,
    recipient: String,
}

#[derive(Debug, Deserialize)]
struct CheckCodeRequest {
    code: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelResponse {
    #[serde(rename = "type")]
    channel: Channel,
    status: ChannelStatus,
    label: String,
    code_type: &'static str,
    /// Nothing to carry for our channels: `{}`, as the reference shows it.
    payload: serde_json::Map<String, serde_json::Value>,
    settings: serde_json::Map<String, serde_json::Value>,
    remaining_code_attempts: u32,
}

/// `EOtpHandlerChannelStatus`, of which a session of ours is in one of two: a send answers once the code has gone
/// out (never `wait`, "in progress"), and the ends of a channel (used-up attempts, an expired or missing code, a
/// closed session) are the reference's errors, which tell the client what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum ChannelStatus {
    /// Something was sent to the user: a live code.
    Sent,
    /// The right code was entered.
    Confirmed,
}

fn invalid(location: &str, message: &str) -> SigmaError {
    SigmaError::Validation {
        location: location.to_owned(),
        message: message.to_owned(),
    }
}

/// An E.164 phone number, with its `+` or without it (`79991234567`, as Sigma's own SMS API takes numbers), or an
/// email address.
fn parse_recipient(raw: &str, location: &str) -> Result<Recipient, SigmaError> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return parse_recipient(&format!("+{raw}"), location);
    }
    if raw.starts_with('+') {
        raw.parse::<PhoneNumber>()
            .map(Recipient::Phone)
            .map_err(|reason| invalid(location, reason))
    } else if raw.contains('@') {
        raw.parse::<Email>()
            .map(Recipient::Email)
            .map_err(|reason| invalid(location, reason))
    } else {
        Err(invalid(
            location,
            "must be a phone number in international format or an email address",
        ))
    }
}

fn stored_recipient(session: &OtpSession) -> Result<Recipient, SigmaError> {
    parse_recipient(&session.recipient, "recipient").map_err(|_| {
        SigmaError::from(DomainError::unavailable_because(Cause::described(format!(
            "the stored recipient of session {} does not parse",
            session.request_id
        ))))
    })
}

fn same_recipient(a: &Recipient, b: &Recipient) -> bool {
    match (a, b) {
        (Recipient::Phone(a), Recipient::Phone(b)) => a == b,
        (Recipient::Email(a), Recipient::Email(b)) => a.key() == b.key(),
        _ => false,
    }
}

fn recipient_text(recipient: &Recipient) -> String {
    match recipient {
        Recipient::Phone(phone) => phone.as_str().to_owned(),
        Recipient::Email(email) => email.as_str().to_owned(),
    }
}

/// The recipient in a channel's terms, if the channel can reach it at all (SMS needs a phone, email an address).
fn reachable(channel: Channel, recipient: &Recipient) -> Option<Recipient> {
    (recipient.channel() == channel).then(|| recipient.clone())
}

fn request_id_param(request: &Request) -> Result<String, SigmaError> {
    let raw = path_param(request, "requestId").unwrap_or_default();
    if raw.len() != 36 {
        return Err(invalid("requestId", "must be a UUID"));
    }
    uuid::Uuid::try_parse(&raw)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| invalid("requestId", "must be a UUID"))
}

/// The `recipient` query parameter. A `+` that arrives unencoded is read as a space by form decoding; a leading
/// space is taken back as the `+` of an E.164 number.
fn recipient_query(request: &Request) -> Result<Recipient, SigmaError> {
    let raw = query_param(request, "recipient")
        .filter(|raw| !raw.trim().is_empty())
        .ok_or_else(|| invalid("recipient", "is required"))?;
    let raw = match raw.strip_prefix(' ') {
        Some(rest) => format!("+{rest}"),
        None => raw,
    };
    parse_recipient(&raw, "recipient")
}

/// The session and its code, in one read; the caller must own the session or be a backoffice admin.
async fn load(
    app: &App,
    request_id: &str,
    caller: &Principal,
) -> Result<(OtpSession, Option<LiveToken>), SigmaError> {
    let (session, token) = app.store.get_session_with_token(request_id).await?;
    let session = session.ok_or(SigmaError::SessionNotFound)?;
    if session.owner_id != caller.user_id.to_string() && !caller.is_backoffice_admin() {
        return Err(SigmaError::Forbidden);
    }
    Ok((session, token))
}

fn confirmed(token: Option<&LiveToken>) -> bool {
    token.is_some_and(|token| token.consumed)
}

/// Refuses to change a session that is over: closed first (a completed session is closed, whether or not it was
/// confirmed), then confirmed.
fn still_open(session: &OtpSession, token: Option<&LiveToken>) -> Result<(), SigmaError> {
    if session.closed_at.is_some() {
        return Err(SigmaError::SessionClosed);
    }
    if confirmed(token) {
        return Err(SigmaError::SessionAlreadyConfirmed);
    }
    Ok(())
}

/// May `caller` read or use `widget`, and may a session start on it? Answers whether it is blocked (by the
/// operator, or because its owner is disabled, locked out or gone).
async fn widget_access(
    app: &App,
    widget: &crate::domain::otp::Widget,
    caller: &Principal,
) -> Result<bool, SigmaError> {
    let Some(owner_id) = widget.owner_id else {
        return Ok(widget.blocked);
    };
    if owner_id != caller.user_id && !caller.is_backoffice_admin() {
        return Err(SigmaError::Forbidden);
    }
    // The caller got past the authorizer, so an owner who is the caller is enabled and not locked out.
    let owner_blocked = owner_id != caller.user_id
        && app
            .store
            .get_user(&owner_id)
            .await?
            .is_none_or(|owner| owner.status != UserStatus::Enabled || owner.locked_out);
    Ok(widget.blocked || owner_blocked)
}

fn success(status: u16, value: bool) -> Response<Body> {
    json_response(status, &json!({ "success": value }))
}

/// `POST /api/n/otp-handler/` `{widgetId, recipient}`: sends a code through the first of the widget's channels
/// that can serve the recipient, and answers 201 `{requestId}`.
pub async fn start(app: &App, request: Request) -> Response<Body> {
    serve(
        "otpStart",
        request,
        |request, caller, language| async move {
            let body: StartRequest = json_body(&request)?;
            if !valid_widget_id(&body.widget_id) {
                return Err(invalid(
                    "widgetId",
                    "must be 1 to 64 letters, digits, '-' or '_'",
                ));
            }
            let recipient = parse_recipient(&body.recipient, "recipient")?;
            let engine = app.engine()?;
            let widget = app
                .store
                .get_widget(&body.widget_id)
                .await?
                .ok_or(SigmaError::WidgetNotFound)?;
            if widget_access(app, &widget, &caller).await? || !widget.active {
                return Err(SigmaError::WidgetIsBlocked);
            }
            let (channels, candidates): (Vec<WidgetChannel>, Vec<Recipient>) = widget
                .channels
                .into_iter()
                .filter_map(|channel| {
                    reachable(channel.channel, &recipient).map(|reached| (channel, reached))
                })
                .unzip();
            if candidates.is_empty() {
                return Err(SigmaError::NoAvailableChannels {
                    retry_after_secs: None,
                });
            }

            let now = OffsetDateTime::now_utc();
            let minute = now.unix_timestamp().div_euclid(60);
            let recipient_key = engine.hasher.recipient_key(&recipient.quota_identity());
            let count_start = Companion::CountStart {
                recipient_key: recipient_key.clone(),
                minute,
                limit: START_LIMIT_PER_MINUTE,
                expires_at: (minute + 2) * 60,
                refused: DomainError::TooManyRequests {
                    retry_after_secs: (60 - now.unix_timestamp().rem_euclid(60)).max(1) as u64,
                },
            };

            let request_id = uuid::Uuid::new_v4().to_string();
            let session = OtpSession {
                request_id: request_id.clone(),
                widget_id: body.widget_id,
                owner_id: caller.user_id.to_string(),
                recipient: recipient_text(&recipient),
                channels,
                locale: language.code().into(),
                created_at: now,
                closed_at: None,
                channel_seen: None,
                retained_until: now + time::Duration::seconds(SESSION_RETENTION_SECS),
            };
            let send = SendRequest::new(
                Requester::of(&caller),
                session.subject(),
                PURPOSE,
                SendMode::Issue,
                None,
                recipient,
                app.config.otp_policy(),
            )
            .cascading(candidates)
            .in_locale(language.locale())
            .with_companions(
                vec![count_start, Companion::CreateSession(session.clone())],
                vec![
                    Companion::UncountStart {
                        recipient_key,
                        minute,
                    },
                    Companion::RemoveSession(session),
                ],
            );
            let sent = engine.send(send).await?;
            tracing::info!(
                request_id,
                recipient = %sent.recipient.masked(),
                channel = ?sent.token.channel,
                "otp session started"
            );
            Ok(json_response(201, &json!({ "requestId": request_id })))
        },
    )
    .await
}

/// `POST /api/n/otp-handler/{requestId}/resend`: a new code on the current channel, or on the next one that can
/// serve when the current one cannot.
pub async fn resend(app: &App, request: Request) -> Response<Body> {
    serve("otpResend", request, |request, caller, _| async move {
        let request_id = request_id_param(&request)?;
        let engine = app.engine()?;
        let (session, token) = load(app, &request_id, &caller).await?;
        still_open(&session, token.as_ref())?;
        let token = token.ok_or(SigmaError::ResendChannel)?;
        let recipient = stored_recipient(&session)?;
        let current = session
            .channels
            .iter()
            .position(|channel| channel.channel == token.channel)
            .unwrap_or(0);
        let candidates: Vec<Recipient> = session.channels[current..]
            .iter()
            .filter_map(|channel| reachable(channel.channel, &recipient))
            .collect();
        let send = SendRequest::new(
            Requester::of(&caller),
            session.subject(),
            PURPOSE,
            SendMode::Resend,
            Some(token),
            recipient.clone(),
            app.config.otp_policy(),
        )
        .cascading(candidates)
        .in_locale(Language::from_code(&session.locale).locale());
        let sent = engine.send(send).await.map_err(|error| match error {
            // The code was used or removed since it was read.
            DomainError::NotFound(_) => SigmaError::ResendChannel,
            other => other.into(),
        })?;
        tracing::info!(request_id, channel = ?sent.token.channel, "otp code resent");
        Ok(success(201, true))
    })
    .await
}

/// `POST /api/n/otp-handler/{requestId}/checkCode` `{code}`: a right code confirms the session.
pub async fn check_code(app: &App, request: Request) -> Response<Body> {
    serve("otpCheckCode", request, |request, caller, _| async move {
        let request_id = request_id_param(&request)?;
        let body: CheckCodeRequest = json_body(&request)?;
        if body.code.is_empty() || body.code.len() > 32 {
            return Err(invalid("code", "must be the code that was sent"));
        }
        let engine = app.engine()?;
        let (session, token) = load(app, &request_id, &caller).await?;
        still_open(&session, token.as_ref())?;
        let token = token.ok_or(SigmaError::ResendChannel)?;
        // Accepted only while the session is open: a `complete` that came first ends it for good.
        let open = Companion::SessionOpen(request_id.clone());
        engine
            .verify_with(
                Some(token),
                &session.subject(),
                PURPOSE,
                &body.code,
                vec![open],
            )
            .await
            .map_err(|error| match error {
                // Consumed by a concurrent check that was right.
                DomainError::NotFound(_) => SigmaError::SessionAlreadyConfirmed,
                DomainError::Conflict(_) => SigmaError::SessionClosed,
                other => other.into(),
            })?;
        tracing::info!(request_id, "otp session confirmed");
        Ok(success(201, true))
    })
    .await
}

/// How the current channel stands, or the error that says what to do next.
fn channel_answer(
    session: &OtpSession,
    token: Option<&LiveToken>,
    now: OffsetDateTime,
) -> Result<ChannelResponse, SigmaError> {
    if session.closed_at.is_some() {
        return Err(SigmaError::SessionClosed);
    }
    let token = token.ok_or(SigmaError::ResendChannel)?;
    let status = if token.consumed {
        ChannelStatus::Confirmed
    } else if token.is_exhausted() {
        return Err(SigmaError::AttemptsExpired);
    } else if now >= token.expires_at {
        return Err(SigmaError::ResendChannel);
    } else {
        ChannelStatus::Sent
    };
    let current = session
        .channels
        .iter()
        .find(|c| c.channel == token.channel)
        .or(session.channels.first())
        .ok_or_else(|| {
            SigmaError::from(DomainError::unavailable_because(Cause::described(format!(
                "session {} has no channel",
                session.request_id
            ))))
        })?;
    Ok(ChannelResponse {
        channel: current.channel,
        status,
        label: current.label.clone(),
        code_type: CODE_TYPE,
        payload: serde_json::Map::new(),
        settings: serde_json::Map::new(),
        remaining_code_attempts: token.max_attempts.saturating_sub(token.failed_attempts),
    })
}

/// What the client was told, without secrets: the whole answer, and the code's version (a resend is news too).
fn channel_fingerprint(
    answer: &Result<ChannelResponse, SigmaError>,
    token: Option<&LiveToken>,
) -> String {
    let version = token.map_or(0, |token| token.version);
    match answer {
        Ok(answer) => format!(
            "{:?}:{:?}:{}:{}:{version}",
            answer.channel, answer.status, answer.code_type, answer.remaining_code_attempts
        ),
        Err(error) => format!("{}:{version}", error.describe().0),
    }
}

/// Waits for the next read of a long poll, or answers `LongPollingTimeoutException` when the bound is reached.
async fn hold(deadline: Instant) -> Result<(), SigmaError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(SigmaError::LongPollingTimeout);
    }
    tokio::time::sleep(left.min(LONG_POLL_INTERVAL)).await;
    Ok(())
}

/// `GET /api/n/otp-handler/{requestId}/channel`: the current channel and how it stands.
pub async fn channel(app: &App, request: Request) -> Response<Body> {
    serve("otpChannel", request, |request, caller, _| async move {
        let request_id = request_id_param(&request)?;
        let (session, token) = load(app, &request_id, &caller).await?;
        let answer = channel_answer(&session, token.as_ref(), OffsetDateTime::now_utc())?;
        Ok(json_response(200, &answer))
    })
    .await
}

/// `GET /api/n/otp-handler/longPolling/{requestId}/channel`: `channel`'s answer as soon as it differs from the last
/// one this long poll gave for the session (the first, at once); else it holds, reading the session again every
/// second, up to the configured bound, then answers `LongPollingTimeoutException`.
pub async fn channel_long_polling(app: &App, request: Request) -> Response<Body> {
    serve(
        "otpChannelLongPolling",
        request,
        |request, caller, _| async move {
            let request_id = request_id_param(&request)?;
            let deadline = Instant::now() + unsigned(app.config.long_poll_wait);
            loop {
                let (session, token) = load(app, &request_id, &caller).await?;
                let answer = channel_answer(&session, token.as_ref(), OffsetDateTime::now_utc());
                let seen = channel_fingerprint(&answer, token.as_ref());
                if session.channel_seen.as_deref() != Some(seen.as_str()) {
                    app.store.mark_channel_seen(&request_id, &seen).await?;
                    return Ok(json_response(200, &answer?));
                }
                hold(deadline).await?;
            }
        },
    )
    .await
}

fn unsigned(wait: time::Duration) -> Duration {
    Duration::try_from(wait).unwrap_or_default()
}

/// Whether the session was confirmed for `claimed`, or the error that says what to do next. A closed session
/// answers what it was when it closed.
fn status_answer(
    session: &OtpSession,
    token: Option<&LiveToken>,
    claimed: &Recipient,
    now: OffsetDateTime,
) -> Result<bool, SigmaError> {
    if !same_recipient(claimed, &stored_recipient(session)?) {
        return Err(SigmaError::PhoneNumberMismatch);
    }
    if confirmed(token) || session.closed_at.is_some() {
        return Ok(confirmed(token));
    }
    match token {
        None => Err(SigmaError::ResendChannel),
        Some(token) if token.is_exhausted() => Err(SigmaError::AttemptsExpired),
        Some(token) if now >= token.expires_at => Err(SigmaError::ResendChannel),
        Some(_) => Ok(false),
    }
}

/// `GET /api/n/otp-handler/{requestId}/status?recipient=`: whether the session was confirmed for that recipient.
pub async fn status(app: &App, request: Request) -> Response<Body> {
    serve("otpStatus", request, |request, caller, _| async move {
        let request_id = request_id_param(&request)?;
        let claimed = recipient_query(&request)?;
        let (session, token) = load(app, &request_id, &caller).await?;
        let confirmed = status_answer(
            &session,
            token.as_ref(),
            &claimed,
            OffsetDateTime::now_utc(),
        )?;
        Ok(success(200, confirmed))
    })
    .await
}

/// `GET /api/n/otp-handler/longPolling/{requestId}/status?recipient=`: `status`'s answer once it is final (confirmed,
/// closed, or an error); while the session waits for its code it holds, reading the session again every second, up
/// to the configured bound, then answers `LongPollingTimeoutException`.
pub async fn status_long_polling(app: &App, request: Request) -> Response<Body> {
    serve(
        "otpStatusLongPolling",
        request,
        |request, caller, _| async move {
            let request_id = request_id_param(&request)?;
            let claimed = recipient_query(&request)?;
            let deadline = Instant::now() + unsigned(app.config.long_poll_wait);
            loop {
                let (session, token) = load(app, &request_id, &caller).await?;
                let confirmed = status_answer(
                    &session,
                    token.as_ref(),
                    &claimed,
                    OffsetDateTime::now_utc(),
                )?;
                if confirmed || session.closed_at.is_some() {
                    return Ok(success(200, confirmed));
                }
                hold(deadline).await?;
            }
        },
    )
    .await
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WidgetResponse {
    is_blocked: bool,
    is_active: bool,
    name: String,
}

/// `GET /api/n/otp-handler/widget/{widgetId}`: what the widget shows before a session starts.
pub async fn widget(app: &App, request: Request) -> Response<Body> {
    serve("otpWidget", request, |request, caller, _| async move {
        let widget_id = path_param(&request, "widgetId").unwrap_or_default();
        if !valid_widget_id(&widget_id) {
            return Err(invalid(
                "widgetId",
                "must be 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        let widget = app
            .store
            .get_widget(&widget_id)
            .await?
            .ok_or(SigmaError::WidgetNotFound)?;
        let blocked = widget_access(app, &widget, &caller).await?;
        Ok(json_response(
            200,
            &WidgetResponse {
                is_blocked: blocked,
                is_active: widget.active,
                name: widget.name,
            },
        ))
    })
    .await
}

/// Closes the session, answering whether it was confirmed when it closed: the close holds only if the code is still
/// as read, so a check that confirms it in between is seen (read again), never answered `false` and `true` later.
async fn close(
    app: &App,
    request_id: &str,
    mut session: OtpSession,
    mut token: Option<LiveToken>,
    caller: &Principal,
) -> Result<Response<Body>, SigmaError> {
    for _ in 0..CLOSE_TRIES {
        if session.closed_at.is_some() {
            return Err(SigmaError::SessionClosed);
        }
        let was_confirmed = confirmed(token.as_ref());
        let now = OffsetDateTime::now_utc().unix_timestamp();
        match app
            .store
            .close_session(request_id, now, token.as_ref())
            .await?
        {
            Closing::Closed => {
                tracing::info!(request_id, confirmed = was_confirmed, "otp session closed");
                return Ok(success(201, was_confirmed));
            }
            Closing::AlreadyClosed => return Err(SigmaError::SessionClosed),
            Closing::CodeChanged => (session, token) = load(app, request_id, caller).await?,
        }
    }
    Err(DomainError::Contention.into())
}

/// `POST /api/n/otp-handler/{requestId}/checkStatusAndComplete?recipient=`: the server-side final check. Answers
/// whether the session was confirmed for that recipient and closes it, once.
pub async fn check_status_and_complete(app: &App, request: Request) -> Response<Body> {
    serve(
        "otpCheckStatusAndComplete",
        request,
        |request, caller, _| async move {
            let request_id = request_id_param(&request)?;
            let claimed = recipient_query(&request)?;
            let (session, token) = load(app, &request_id, &caller).await?;
            if !same_recipient(&claimed, &stored_recipient(&session)?) {
                return Err(SigmaError::PhoneNumberMismatch);
            }
            close(app, &request_id, session, token, &caller).await
        },
    )
    .await
}

/// `POST /api/n/otp-handler/{requestId}/complete`: closes the session, once, answering whether it was confirmed.
pub async fn complete(app: &App, request: Request) -> Response<Body> {
    serve("otpComplete", request, |request, caller, _| async move {
        let request_id = request_id_param(&request)?;
        let (session, token) = load(app, &request_id, &caller).await?;
        close(app, &request_id, session, token, &caller).await
    })
    .await
}
