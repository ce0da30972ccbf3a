//! Signing in: the session behind an access token and its refresh token, and refresh-token rotation.
//!
//! A password sign-in earns a PRE_AUTH access token only; the second factor (`/v1/validate`) opens a session and
//! earns a full access token and a refresh token. Each refresh replaces the refresh token (rotation): the session
//! keeps the keyed hash of the current one and of those already used, so a used one presented again is recognised
//! and ends the whole session (OAuth 2.0 Security Best Current Practice, refresh token rotation). Logging out ends
//! the session, and the authorizer refuses the access tokens it issued.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::token::CodeHasher;
use super::{DomainError, UserId};

/// Velo's `expires_in` for an access token.
pub const ACCESS_TOKEN_TTL: Duration = Duration::seconds(1800);
/// A PRE_AUTH token only has to outlive the one-time code it waits for.
pub const PRE_AUTH_TTL: Duration = Duration::seconds(300);
/// How long a session (and so its refresh tokens) lives after its last refresh.
pub const SESSION_TTL: Duration = Duration::hours(12);
/// Used refresh tokens remembered per session, to recognise a replay; older ones are refused without ending it.
pub const REMEMBERED_REFRESH_TOKENS: usize = 16;

/// An access token's claims. `sid` names the session a full token belongs to (tokens minted by the local tool
/// have none); `auth` is `PRE_AUTH` on a token that only proves the password, `API_KEY` on an API key's (whose
/// `sub` is the key's id).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// The bank accounts (QI Tech `account_key`s) the bearer may act on; optional.
    #[serde(default, rename = "accountKeys", skip_serializing_if = "Vec::is_empty")]
    pub account_keys: Vec<String>,
}

impl Claims {
    pub fn authority(&self) -> Authority {
        match self.auth.as_deref() {
            Some("PRE_AUTH") => Authority::PreAuth,
            Some("API_KEY") => Authority::ApiKey,
            _ => Authority::Full,
        }
    }

    pub fn session_id(&self) -> Option<SessionId> {
        self.sid.as_deref().and_then(|sid| sid.parse().ok())
    }
}

/// What an access token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// A right password, no second factor yet: `/v1/validate` (and MFA registration) only.
    PreAuth,
    /// Signed in.
    Full,
    /// An API key, acting with its one role on its payor (`client_credentials`).
    ApiKey,
}

impl Authority {
    pub fn as_str(self) -> &'static str {
        match self {
            Authority::PreAuth => "PRE_AUTH",
            Authority::Full => "FULL",
            Authority::ApiKey => "API_KEY",
        }
    }
}

/// A session's id: the `sid` claim of its access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(Uuid);

impl SessionId {
    pub fn random() -> SessionId {
        SessionId(Uuid::new_v4())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SessionId {
    type Err = &'static str;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(raw)
            .map(SessionId)
            .map_err(|_| "must be a UUID")
    }
}

/// A refresh token in clear: `<userId>.<sessionId>.<secret>`, so that its session is found in one read. It exists
/// between issue and the response that carries it, and between the request that presents it and its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    secret: String,
}

impl RefreshToken {
    pub fn issue(user_id: UserId, session_id: SessionId) -> RefreshToken {
        let bytes: [u8; 32] = rand::rng().random();
        RefreshToken {
            user_id,
            session_id,
            secret: URL_SAFE_NO_PAD.encode(bytes),
        }
    }

    /// The refresh token as the client presented it; `None` when it is not one of ours.
    pub fn parse(raw: &str) -> Option<RefreshToken> {
        let mut parts = raw.trim().splitn(3, '.');
        let user_id = parts.next()?.parse().ok()?;
        let session_id = parts.next()?.parse().ok()?;
        let secret = parts.next()?;
        let well_formed = secret.len() == 43
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| RefreshToken {
            user_id,
            session_id,
            secret: secret.to_owned(),
        })
    }

    /// The token in clear, for the response that hands it out.
    pub fn expose(&self) -> String {
        format!("{}.{}.{}", self.user_id, self.session_id, self.secret)
    }

    /// Its keyed hash, bound to its session: what the session stores.
    pub fn digest(&self, hasher: &CodeHasher) -> String {
        hasher.keyed_digest("REFRESH", &self.session_id.to_string(), &self.secret)
    }

    fn matches(&self, hasher: &CodeHasher, stored: &str) -> bool {
        hasher.keyed_matches(
            "REFRESH",
            &self.session_id.to_string(),
            &self.secret,
            stored,
        )
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RefreshToken({}.{}.<redacted>)",
            self.user_id, self.session_id
        )
    }
}

/// A signed-in session: stored beside its user, read by the authorizer in the same read as the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInSession {
    pub user_id: UserId,
    pub session_id: SessionId,
    /// The keyed hash of the current refresh token.
    pub refresh_digest: String,
    /// Hashes of the refresh tokens already exchanged, newest first.
    pub used_refresh_digests: Vec<String>,
    pub created_at: OffsetDateTime,
    /// Also the item's TTL: DynamoDB removes it some time after.
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
    /// Optimistic concurrency: every write is conditioned on the version it read.
    pub version: u64,
}

/// What presenting a refresh token does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The current token: the session moves on to `next` (a new refresh token, a later expiry).
    Rotate(SignInSession),
    /// A token already exchanged: someone holds a copy, so the session ends (`next` is it, revoked).
    Replayed(SignInSession),
    /// Not this session's, or the session has ended: refused, nothing changes.
    Refused,
}

impl SignInSession {
    /// A new session for `user_id`, and its first refresh token.
    pub fn open(
        user_id: UserId,
        hasher: &CodeHasher,
        now: OffsetDateTime,
    ) -> (SignInSession, RefreshToken) {
        let session_id = SessionId::random();
        let refresh = RefreshToken::issue(user_id, session_id);
        let session = SignInSession {
            user_id,
            session_id,
            refresh_digest: refresh.digest(hasher),
            used_refresh_digests: Vec::new(),
            created_at: now,
            expires_at: now + SESSION_TTL,
            revoked: false,
            version: 1,
        };
        (session, refresh)
    }

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        !self.revoked && now < self.expires_at
    }

    /// Judges a presented refresh token; on `Rotate`, `next_token` is the one to hand out.
    pub fn refresh(
        &self,
        presented: &RefreshToken,
        next_token: &RefreshToken,
        hasher: &CodeHasher,
        now: OffsetDateTime,
    ) -> Refresh {
        if presented.session_id != self.session_id || presented.user_id != self.user_id {
            return Refresh::Refused;
        }
        let current = presented.matches(hasher, &self.refresh_digest);
        let replayed = !current
            && self
                .used_refresh_digests
                .iter()
                .any(|used| presented.matches(hasher, used));
        if replayed && !self.revoked {
            return Refresh::Replayed(self.ended());
        }
        if !current || !self.is_live(now) {
            return Refresh::Refused;
        }
        let mut next = self.clone();
        next.used_refresh_digests.insert(
            0,
            std::mem::replace(&mut next.refresh_digest, next_token.digest(hasher)),
        );
        next.used_refresh_digests
            .truncate(REMEMBERED_REFRESH_TOKENS);
        next.expires_at = now + SESSION_TTL;
        next.version += 1;
        Refresh::Rotate(next)
    }

    /// The session, ended: its access and refresh tokens are refused from now on.
    pub fn ended(&self) -> SignInSession {
        let mut next = self.clone();
        next.revoked = true;
        next.version += 1;
        next
    }
}

/// `Authorization: Basic base64(name:secret)`: the name and the secret, or `None` when the header is not that.
pub fn basic_credentials(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, secret) = text.split_once(':')?;
    Some((name.to_owned(), secret.to_owned()))
}

/// The one answer to every failed sign-in, whatever failed: the same words for an unknown email, a wrong password,
/// a disabled or a locked user, so the answer tells nothing about the account.
pub fn sign_in_refused() -> DomainError {
    DomainError::Unauthenticated("the credentials were not accepted".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> CodeHasher {
        match CodeHasher::new(&[7u8; 32]) {
            Ok(hasher) => hasher,
            Err(reason) => panic!("{reason}"),
        }
    }

    fn rotate(session: &SignInSession, presented: &RefreshToken) -> (SignInSession, RefreshToken) {
        let next_token = RefreshToken::issue(session.user_id, session.session_id);
        match session.refresh(presented, &next_token, &hasher(), OffsetDateTime::now_utc()) {
            Refresh::Rotate(next) => (next, next_token),
            other => panic!("expected a rotation, got {other:?}"),
        }
    }

    #[test]
    fn a_refresh_token_works_once_and_its_replay_ends_the_session() {
        let now = OffsetDateTime::now_utc();
        let (session, first) = SignInSession::open(UserId::random(), &hasher(), now);
        let (session, second) = rotate(&session, &first);
        let (session, _third) = rotate(&session, &second);
        let next = RefreshToken::issue(session.user_id, session.session_id);
        match session.refresh(&first, &next, &hasher(), now) {
            Refresh::Replayed(ended) => {
                assert!(ended.revoked);
                assert_eq!(ended.version, session.version + 1);
            }
            other => panic!("expected a replay, got {other:?}"),
        }
    }

    #[test]
    fn a_forged_or_foreign_refresh_token_is_refused_without_ending_the_session() {
        let now = OffsetDateTime::now_utc();
        let (session, _) = SignInSession::open(UserId::random(), &hasher(), now);
        let forged = RefreshToken::issue(session.user_id, session.session_id);
        let next = RefreshToken::issue(session.user_id, session.session_id);
        assert_eq!(
            session.refresh(&forged, &next, &hasher(), now),
            Refresh::Refused
        );
        let (other, other_token) = SignInSession::open(UserId::random(), &hasher(), now);
        assert_eq!(
            session.refresh(&other_token, &next, &hasher(), now),
            Refresh::Refused
        );
        assert!(!other.revoked);
    }

    #[test]
    fn an_ended_or_expired_session_refuses_its_current_token() {
        let now = OffsetDateTime::now_utc();
        let (session, token) = SignInSession::open(UserId::random(), &hasher(), now);
        let next = RefreshToken::issue(session.user_id, session.session_id);
        let ended = session.ended();
        assert_eq!(
            ended.refresh(&token, &next, &hasher(), now),
            Refresh::Refused
        );
        let later = now + SESSION_TTL + Duration::seconds(1);
        assert_eq!(
            session.refresh(&token, &next, &hasher(), later),
            Refresh::Refused
        );
    }

    #[test]
    fn a_refresh_token_round_trips_and_nothing_else_parses() {
        let token = RefreshToken::issue(UserId::random(), SessionId::random());
        assert_eq!(RefreshToken::parse(&token.expose()), Some(token.clone()));
        assert!(!format!("{token:?}").contains(&token.secret));
        for raw in [
            "",
            "a.b.c",
            &format!("{}.{}", token.user_id, token.session_id),
        ] {
            assert_eq!(RefreshToken::parse(raw), None, "{raw}");
        }
    }

    #[test]
    fn basic_credentials_are_read_as_velo_documents_them() {
        let header = "Basic NDRhOTUzN2QtZDU1ZC00YjQ3LTgwODItMTQwNjFjMmJjZGQ4OmMzOTZiMjZiLTEzN2EtNDRmZC04N2Y1LTM0NjMxZjhmZDUyOQ==";
        assert_eq!(
            basic_credentials(header),
            Some((
                "44a9537d-d55d-4b47-8082-14061c2bcdd8".to_owned(),
                "c396b26b-137a-44fd-87f5-34631f8fd529".to_owned()
            ))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
