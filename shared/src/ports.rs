//! What the engine and the front doors need from storage and delivery, in domain terms. The DynamoDB, SNS and SES
//! adapters implement these traits, and so does the in-memory adapter the unit tests run on.
//!
//! Every write that depends on state is conditioned on the state that was read: an implementation answers
//! `Raced`, `Stale` or `false` when the state moved on, never overwrites it.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::apikey::{ApiKey, ApiKeyId, Application, ApplicationId};
use crate::domain::device::{Account, Device, DeviceStatus};
use crate::domain::otp::{OtpSession, Widget};
use crate::domain::permissions::Reach;
use crate::domain::signin::{SessionId, SignInSession};
use crate::domain::token::{LiveToken, Subject, TokenPurpose};
use crate::domain::{AccountKey, DeviceKey, DomainError, Email, EntityId, PhoneNumber, User};
use crate::domain::{UserId, UserStatus, UserType};

/// A write that must happen together with a token write, all or nothing (for example, creating the aggregate the
/// token is for, or activating a device when its token is consumed). Each names the state it expects; if that
/// state does not hold, the whole write fails with [`Companion::conflict`].
#[derive(Debug, Clone, PartialEq)]
pub enum Companion {
    /// Creates the user and claims its email.
    CreateUser(User),
    /// Undoes `CreateUser`, if the user is still as it was created.
    RemoveUser(User),
    /// Replaces `before` (at its version) with `after` (at the next version).
    UpdateUser { before: User, after: User },
    /// Undoes `UpdateUser { before, after }`: `before` comes back, at a version after both.
    RevertUser { before: User, after: User },
    /// Creates a pending device.
    CreateDevice(Device),
    /// Undoes `CreateDevice`, if the device is still pending at its first version.
    RemoveDevice(Device),
    /// Moves a device from pending approval to active.
    ActivateDevice {
        account: AccountKey,
        device: DeviceKey,
        at: OffsetDateTime,
    },
    /// Counts one wrong token on a pending device (with the failed check that counted it on the token).
    CountDeviceFailure {
        account: AccountKey,
        device: DeviceKey,
    },
    /// Counts one Sigma start for a recipient in one minute, never past `limit`.
    CountStart {
        recipient_key: String,
        minute: i64,
        limit: u32,
        expires_at: i64,
        refused: DomainError,
    },
    /// Gives back a start counted by `CountStart`: a start that sent nothing does not count.
    UncountStart { recipient_key: String, minute: i64 },
    /// Creates a Sigma session.
    CreateSession(OtpSession),
    /// Undoes `CreateSession`.
    RemoveSession(OtpSession),
    /// Holds only while the Sigma session (its request id) is open: a code check confirms an open session or none.
    SessionOpen(String),
    /// Opens a signed-in session (with the consumption of the code that proved the second factor).
    OpenSignIn(SignInSession),
    /// Consumes a live link token as it was judged (unconsumed, unexpired at `at`, the same digest): a link redeemed
    /// together with another write.
    ConsumeToken {
        token: LiveToken,
        at: OffsetDateTime,
    },
    /// Takes a claim that can be taken once (the first admin's invitation).
    ClaimOnce(String),
    /// Gives back `ClaimOnce`, where what it was taken for did not happen.
    ReleaseOnce(String),
}

impl Companion {
    /// The answer when this write's expected state does not hold.
    pub fn conflict(&self) -> DomainError {
        use crate::domain::FieldError;
        match self {
            Companion::CreateUser(_) => DomainError::Conflict(FieldError::new(
                "email",
                "a user with this email address already exists",
            )),
            Companion::CreateDevice(_) => DomainError::Conflict(FieldError::new(
                "device_key",
                "a device with this device_key already exists",
            )),
            Companion::ActivateDevice { .. } | Companion::CountDeviceFailure { .. } => {
                DomainError::Conflict(FieldError::new("device_key", "not pending"))
            }
            Companion::CountStart { refused, .. } => refused.clone(),
            Companion::CreateSession(_) => {
                DomainError::Conflict(FieldError::new("requestId", "the session exists"))
            }
            Companion::OpenSignIn(_) => DomainError::unavailable(),
            Companion::SessionOpen(_) => {
                DomainError::Conflict(FieldError::new("requestId", "the session is closed"))
            }
            Companion::ClaimOnce(_) => DomainError::Conflict(FieldError::new(
                "email",
                "the first admin was already invited",
            )),
            Companion::ConsumeToken { .. } => {
                DomainError::invalid_body("token", "the link was used or has expired")
            }
            Companion::RemoveUser(_)
            | Companion::UpdateUser { .. }
            | Companion::RevertUser { .. }
            | Companion::RemoveDevice(_)
            | Companion::UncountStart { .. }
            | Companion::RemoveSession(_)
            | Companion::ReleaseOnce(_) => DomainError::unavailable(),
        }
    }
}

/// What a send-quota slot counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaScope {
    /// Every message to one recipient.
    Recipient,
    /// The SMS one caller asked for.
    Caller,
    /// The SMS asked for on behalf of one tenant.
    Tenant,
    /// Every SMS of the service: the ceiling.
    Service,
}

impl QuotaScope {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaScope::Recipient => "recipient",
            QuotaScope::Caller => "caller",
            QuotaScope::Tenant => "tenant",
            QuotaScope::Service => "service",
        }
    }
}

/// One counter a send takes: what it counts, in one fixed window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaSlot {
    pub scope: QuotaScope,
    /// A keyed hash of what is counted (a recipient, a caller, a tenant), never the value itself.
    pub key: String,
    pub window: i64,
    pub window_secs: i64,
    pub limit: u32,
    pub expires_at: i64,
}

impl QuotaSlot {
    /// The slot of `key` for the window that holds `now` (a unix time); it expires a window after its own ends.
    pub fn at(scope: QuotaScope, key: String, limit: u32, window_secs: i64, now: i64) -> QuotaSlot {
        let window_secs = window_secs.max(1);
        let window = now.div_euclid(window_secs);
        QuotaSlot {
            scope,
            key,
            window,
            window_secs,
            limit,
            expires_at: (window + 2) * window_secs,
        }
    }

    /// Seconds from `now` until the next window, when the slot's count starts again.
    pub fn retry_after_secs(&self, now: i64) -> u64 {
        ((self.window + 1) * self.window_secs - now).max(1) as u64
    }
}

/// Why a reservation did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveError {
    /// The token changed since it was read: read again and judge again.
    Raced,
    /// The slot at this index of the reservation's quota slots is used up for its window.
    QuotaExceeded(usize),
    Failed(DomainError),
}

/// Why a user write did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveError {
    /// The user changed since it was read: read again.
    Stale,
    Failed(DomainError),
}

impl From<DomainError> for SaveError {
    fn from(error: DomainError) -> Self {
        SaveError::Failed(error)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Email,
    LastName,
}

/// One page of a user listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListing {
    /// `None` lists every user (backoffice only); `Some(None)` lists backoffice users; `Some(Some(e))` one entity.
    pub tenant: Option<Option<EntityId>>,
    pub user_type: Option<UserType>,
    pub status: Option<UserStatus>,
    pub payee_type: Option<String>,
    pub sort: SortField,
    pub descending: bool,
    pub page: u32,
    pub page_size: u32,
}

/// The live codes: one per subject and purpose.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Strongly consistent.
    async fn get_token(
        &self,
        subject: &Subject,
        purpose: TokenPurpose,
    ) -> Result<Option<LiveToken>, DomainError>;

    /// Replaces `current` (or nothing) with `next` and takes one count of every quota slot, with `companions`, all
    /// or nothing.
    async fn reserve_send(
        &self,
        current: Option<&LiveToken>,
        next: &LiveToken,
        quotas: &[QuotaSlot],
        companions: &[Companion],
    ) -> Result<(), ReserveError>;

    /// Takes one count of every quota slot, all or nothing: for a message that carries no code (a notice).
    async fn take_quota(&self, quotas: &[QuotaSlot]) -> Result<(), ReserveError>;

    /// Undoes `reserve_send` after a failed delivery: the previous token (or none) is back, the quota slots are
    /// given back and `undo` is applied, so a failed send costs the caller nothing.
    async fn release_send(
        &self,
        previous: Option<&LiveToken>,
        reserved: &LiveToken,
        quotas: &[QuotaSlot],
        undo: &[Companion],
    ) -> Result<(), DomainError>;

    /// Records a verification: consumes the code on a match, counts a failure otherwise, and marks the code with
    /// `check_id` (`LiveToken::last_check`); `with` are written in the same transaction (all or nothing), whichever
    /// it is. Conditioned on the code still being the one judged, unconsumed and with attempts left; `false` when
    /// that no longer holds (judge again).
    async fn record_check(
        &self,
        token: &LiveToken,
        accepted: bool,
        now: i64,
        check_id: &str,
        with: &[Companion],
    ) -> Result<bool, DomainError>;
}

/// Users, their email guards and their listings.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn get_user(&self, id: &UserId) -> Result<Option<User>, DomainError>;

    /// `get_user`, with a user outside `reach` answered as missing; an adapter judges it on the stored item before
    /// parsing it, so another tenant's user takes no longer than a missing one.
    async fn get_user_within(
        &self,
        id: &UserId,
        reach: &Reach,
    ) -> Result<Option<User>, DomainError> {
        Ok(self.get_user(id).await?.filter(|user| reach.includes(user)))
    }

    /// The user and its token for `purpose`, in one strongly consistent read.
    async fn get_user_with_token(
        &self,
        id: &UserId,
        purpose: TokenPurpose,
    ) -> Result<(Option<User>, Option<LiveToken>), DomainError>;

    /// Creates a user and claims its email (used to seed). A taken email is a conflict.
    async fn create_user(&self, user: &User) -> Result<(), DomainError>;

    /// Saves `after` over `before` (at `before`'s version); a changed email moves its guard, and a taken address
    /// is a conflict.
    async fn save_user(&self, before: &User, after: &User) -> Result<(), SaveError>;

    /// `save_user` (the email unchanged), together with `with`, all or nothing: `Stale` when the user moved on, the
    /// companion's conflict when one of `with` does not hold.
    async fn save_user_with(
        &self,
        before: &User,
        after: &User,
        with: &[Companion],
    ) -> Result<(), SaveError>;

    /// Deletes the user, frees its email and revokes its live tokens, all or nothing.
    async fn delete_user(&self, user: &User) -> Result<(), SaveError>;

    /// One page of users, and the total that match.
    async fn list_users(&self, listing: &UserListing) -> Result<(Vec<User>, u64), DomainError>;
}

/// Sigma's widgets and sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates a widget; an existing widget id is a conflict.
    async fn create_widget(&self, widget: &Widget, now: OffsetDateTime) -> Result<(), DomainError>;

    async fn get_widget(&self, widget_id: &str) -> Result<Option<Widget>, DomainError>;

    /// The session and its code, in one strongly consistent read.
    async fn get_session_with_token(
        &self,
        request_id: &str,
    ) -> Result<(Option<OtpSession>, Option<LiveToken>), DomainError>;

    /// Remembers the last answer the channel's long poll gave for a session (nothing if the session is gone).
    async fn mark_channel_seen(&self, request_id: &str, seen: &str) -> Result<(), DomainError>;

    /// Closes a session once, provided its code is still as `seen` (consumed or not; none if there was none), so
    /// that what the closing answers about the session is what the session was when it closed.
    async fn close_session(
        &self,
        request_id: &str,
        now: i64,
        seen: Option<&LiveToken>,
    ) -> Result<Closing, DomainError>;
}

/// QI Tech's accounts and devices.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Creates an account (seeding and tests only); an existing key is a conflict.
    async fn create_account(&self, account: &Account) -> Result<(), DomainError>;

    async fn get_account(&self, account: &AccountKey) -> Result<Option<Account>, DomainError>;

    async fn get_device(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
    ) -> Result<Option<Device>, DomainError>;

    /// The account, the device and its approval token, in one strongly consistent read.
    async fn get_account_device_token(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
    ) -> Result<(Option<Account>, Option<Device>, Option<LiveToken>), DomainError>;

    /// Moves an existing device to `to` (only from `from`, when given): `false` when the device does not exist or
    /// is not in `from`.
    async fn set_device_status(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
        to: DeviceStatus,
        from: Option<DeviceStatus>,
        now: OffsetDateTime,
    ) -> Result<bool, DomainError>;
}

/// What closing a Sigma session came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    Closed,
    /// It was closed before (or is gone).
    AlreadyClosed,
    /// Its code changed since it was read (a check confirmed it): read it again.
    CodeChanged,
}

/// Signed-in sessions, each stored beside its user.
#[async_trait]
pub trait SignInStore: Send + Sync {
    /// The user that holds `email`, if any, and its token for `purpose`: the email's guard, then the user and the
    /// token in one strongly consistent read.
    async fn find_user_by_email_with_token(
        &self,
        email: &Email,
        purpose: TokenPurpose,
    ) -> Result<(Option<User>, Option<LiveToken>), DomainError>;

    /// The user and one of its sessions, in one strongly consistent read (the authorizer's one read).
    async fn get_user_with_sign_in(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> Result<(Option<User>, Option<SignInSession>), DomainError>;

    /// Saves `after` over `before` (at `before`'s version): `false` when the session moved on or is gone.
    async fn save_sign_in(
        &self,
        before: &SignInSession,
        after: &SignInSession,
    ) -> Result<bool, DomainError>;
}

/// Payors' applications and API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Creates an application and claims its name within its payor; a taken name is a conflict.
    async fn create_application(&self, application: &Application) -> Result<(), DomainError>;

    async fn get_application(
        &self,
        payor: &EntityId,
        application: &ApplicationId,
    ) -> Result<Option<Application>, DomainError>;

    /// Creates a key beside its application, in one write that fails with `NotFound("application")` when the
    /// application is gone.
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), DomainError>;

    /// Strongly consistent: a deleted key is refused at once.
    async fn get_api_key(&self, key: &ApiKeyId) -> Result<Option<ApiKey>, DomainError>;

    /// Deletes a key: `false` when it was already gone.
    async fn delete_api_key(&self, key: &ApiKey) -> Result<bool, DomainError>;
}

/// Everything the service stores.
pub trait Store:
    UserStore + TokenStore + SessionStore + DeviceStore + SignInStore + ApiKeyStore
{
}

impl<T: UserStore + TokenStore + SessionStore + DeviceStore + SignInStore + ApiKeyStore> Store
    for T
{
}

/// An email as it goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a message was not confirmed as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// It did not go out: the provider was never reached, or it refused the message.
    NotSent,
    /// It went to the provider and no answer came back (a timeout, a connection lost after the request): it may
    /// have been delivered. It is never sent again: a code goes out at most once.
    Unknown,
}

/// Delivery: SMS and email, each tried once (no retry of a send whose outcome is unknown). A failure is logged
/// (masked) by the implementation.
#[async_trait]
pub trait Messenger: Send + Sync {
    async fn send_sms(&self, to: &PhoneNumber, text: &str) -> Result<(), SendFailure>;

    async fn send_email(&self, to: &Email, message: &EmailMessage) -> Result<(), SendFailure>;
}

/// A public key that verifies the service's access tokens, as a JSON Web Key (RFC 7517, RFC 7518 §6.2): an ES256
/// key on P-256.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    pub crv: &'static str,
    /// The affine coordinates, base64url without padding.
    pub x: String,
    pub y: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub usage: &'static str,
}

impl PublicJwk {
    pub fn es256(kid: impl Into<String>, x: String, y: String) -> PublicJwk {
        PublicJwk {
            kty: "EC",
            crv: "P-256",
            x,
            y,
            kid: kid.into(),
            alg: "ES256",
            usage: "sig",
        }
    }
}

/// The key that signs access tokens, which never leaves its keeper (AWS KMS).
#[async_trait]
pub trait TokenSigner: Send + Sync {
    /// The `kid` of the tokens it signs.
    fn key_id(&self) -> &str;

    /// The ES256 signature of `signing_input` (the JWS signing input), raw: `r || s`, 64 bytes.
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, DomainError>;

    /// Every key a token of ours may be signed with: the current one, and during a rotation the previous one.
    async fn public_keys(&self) -> Result<Vec<PublicJwk>, DomainError>;
}
