//! In-memory twins of the store and the messenger, for the engine's and the front doors' unit tests.
//!
//! Each write checks the same conditions the DynamoDB adapter puts in its requests, against one snapshot, and
//! applies all of its parts or none (a transaction). What only DynamoDB can prove (races between processes,
//! transaction conflicts, faults) stays with the emulator suite.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

use crate::domain::apikey::{ApiKey, ApiKeyId, Application, ApplicationId};
use crate::domain::device::{Account, Device, DeviceStatus};
use crate::domain::otp::{OtpSession, Widget};
use crate::domain::signin::{SessionId, SignInSession};
use crate::domain::token::{LiveToken, Subject, TokenPurpose};
use crate::domain::{
    AccountKey, DeviceKey, DomainError, Email, EntityId, FieldError, PhoneNumber, User, UserId,
};
use crate::ports::{
    ApiKeyStore, Closing, Companion, DeviceStore, EmailMessage, Messenger, QuotaSlot, ReserveError,
    SaveError, SendFailure, SessionStore, SignInStore, SortField, TokenStore, UserListing,
    UserStore,
};

#[derive(Debug, Clone, Default)]
struct State {
    users: BTreeMap<UserId, User>,
    /// Email key → the user that holds it.
    guards: HashMap<String, UserId>,
    tokens: HashMap<(Subject, TokenPurpose), LiveToken>,
    /// (recipient key, window) → sends.
    quotas: HashMap<(String, i64), u32>,
    /// (recipient key, minute) → Sigma starts.
    starts: HashMap<(String, i64), i64>,
    widgets: HashMap<String, Widget>,
    sessions: HashMap<String, OtpSession>,
    accounts: HashMap<AccountKey, Account>,
    devices: HashMap<(AccountKey, DeviceKey), Device>,
    sign_ins: HashMap<(UserId, SessionId), SignInSession>,
    applications: HashMap<(EntityId, ApplicationId), Application>,
    api_keys: HashMap<ApiKeyId, ApiKey>,
    claims: std::collections::HashSet<String>,
    /// How many more reads of a user or a token another client follows with a write of what was read.
    contended_reads: u32,
}

/// Every store port, in one process's memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// How many more token writes (reserve, release, check) are answered before `answers_to_lose`…
    answers_to_keep: std::sync::atomic::AtomicU32,
    /// …commit and then lose their answer.
    answers_to_lose: std::sync::atomic::AtomicU32,
}

fn email_taken() -> DomainError {
    DomainError::Conflict(FieldError::new(
        "email",
        "a user with this email address already exists",
    ))
}

impl State {
    /// Applies one companion write if its condition holds; the error is the one it answers otherwise.
    fn apply(&mut self, companion: &Companion) -> Result<(), DomainError> {
        let refused = || Err(companion.conflict());
        match companion {
            Companion::CreateUser(user) => {
                if self.users.contains_key(&user.id) {
                    return Err(DomainError::Conflict(FieldError::new(
                        "id",
                        "the user already exists",
                    )));
                }
                if self.guards.contains_key(&user.email.key()) {
                    return refused();
                }
                self.guards.insert(user.email.key(), user.id);
                self.users.insert(user.id, user.clone());
            }
            Companion::RemoveUser(user) => {
                let stored_version = self.users.get(&user.id).map(|u| u.version);
                if stored_version != Some(user.version)
                    || self.guards.get(&user.email.key()) != Some(&user.id)
                {
                    return refused();
                }
                self.users.remove(&user.id);
                self.guards.remove(&user.email.key());
            }
            Companion::UpdateUser { before, after } => {
                if self.users.get(&before.id).map(|u| u.version) != Some(before.version) {
                    return refused();
                }
                let next = User {
                    version: before.version + 1,
                    ..after.clone()
                };
                self.users.insert(next.id, next);
            }
            Companion::RevertUser { before, .. } => {
                if self.users.get(&before.id).map(|u| u.version) != Some(before.version + 1) {
                    return refused();
                }
                let restored = User {
                    version: before.version + 2,
                    ..before.clone()
                };
                self.users.insert(restored.id, restored);
            }
            Companion::CreateDevice(device) => {
                let id = (device.account_key, device.device_key);
                if self.devices.contains_key(&id) {
                    return refused();
                }
                self.devices.insert(id, device.clone());
            }
            Companion::RemoveDevice(device) => {
                let id = (device.account_key, device.device_key);
                let as_created = self.devices.get(&id).is_some_and(|stored| {
                    stored.version == device.version
                        && stored.status == DeviceStatus::PendingApproval
                });
                if !as_created {
                    return refused();
                }
                self.devices.remove(&id);
            }
            Companion::ActivateDevice {
                account,
                device,
                at,
            } => {
                if !self.move_device(
                    account,
                    device,
                    DeviceStatus::Active,
                    Some(DeviceStatus::PendingApproval),
                    *at,
                ) {
                    return refused();
                }
            }
            Companion::CountDeviceFailure { account, device } => {
                match self.devices.get_mut(&(*account, *device)) {
                    Some(stored) if stored.status == DeviceStatus::PendingApproval => {
                        stored.failed_attempts += 1;
                        stored.version += 1;
                    }
                    _ => return refused(),
                }
            }
            Companion::CountStart {
                recipient_key,
                minute,
                limit,
                ..
            } => {
                let starts = self
                    .starts
                    .entry((recipient_key.clone(), *minute))
                    .or_default();
                if *starts >= i64::from(*limit) {
                    return refused();
                }
                *starts += 1;
            }
            Companion::UncountStart {
                recipient_key,
                minute,
            } => {
                *self
                    .starts
                    .entry((recipient_key.clone(), *minute))
                    .or_default() -= 1;
            }
            Companion::CreateSession(session) => {
                if self.sessions.contains_key(&session.request_id) {
                    return refused();
                }
                self.sessions
                    .insert(session.request_id.clone(), session.clone());
            }
            Companion::RemoveSession(session) => {
                let owned = self
                    .sessions
                    .get(&session.request_id)
                    .is_some_and(|stored| stored.owner_id == session.owner_id);
                if !owned {
                    return refused();
                }
                self.sessions.remove(&session.request_id);
            }
            Companion::SessionOpen(request_id) => {
                let open = self
                    .sessions
                    .get(request_id)
                    .is_some_and(|session| session.closed_at.is_none());
                if !open {
                    return refused();
                }
            }
            Companion::OpenSignIn(session) => {
                let key = (session.user_id, session.session_id);
                if self.sign_ins.contains_key(&key) {
                    return refused();
                }
                self.sign_ins.insert(key, session.clone());
            }
            Companion::ClaimOnce(name) => {
                if !self.claims.insert(name.clone()) {
                    return refused();
                }
            }
            Companion::ReleaseOnce(name) => {
                self.claims.remove(name);
            }
            Companion::ConsumeToken { token, at } => {
                let id = (token.subject.clone(), token.purpose);
                match self.tokens.get_mut(&id) {
                    Some(stored)
                        if stored.digest == token.digest
                            && !stored.consumed
                            && stored.expires_at > *at =>
                    {
                        stored.consumed = true;
                    }
                    _ => return refused(),
                }
            }
        }
        Ok(())
    }

    fn apply_all(&mut self, companions: &[Companion]) -> Result<(), DomainError> {
        companions.iter().try_for_each(|c| self.apply(c))
    }

    fn move_device(
        &mut self,
        account: &AccountKey,
        device: &DeviceKey,
        to: DeviceStatus,
        from: Option<DeviceStatus>,
        now: OffsetDateTime,
    ) -> bool {
        match self.devices.get_mut(&(*account, *device)) {
            Some(stored) if from.is_none_or(|from| stored.status == from) => {
                match to {
                    DeviceStatus::Active => stored.activated_at = Some(now),
                    DeviceStatus::Disabled => {
                        stored.disabled_at.get_or_insert(now);
                    }
                    DeviceStatus::PendingApproval => {}
                }
                stored.status = to;
                stored.updated_at = now;
                stored.version += 1;
                true
            }
            _ => false,
        }
    }
}

impl State {
    /// Another client writes what was just read (its version moves on), while `contend` says so: the reader's
    /// conditional write then loses, as it would to a concurrent writer on DynamoDB.
    /// One count of every slot, each only while under its limit (on a draft: `transact` keeps all or none).
    fn take_quotas(&mut self, quotas: &[QuotaSlot]) -> Result<(), ReserveError> {
        for (index, quota) in quotas.iter().enumerate() {
            let sends = self
                .quotas
                .entry((quota.key.clone(), quota.window))
                .or_default();
            if *sends >= quota.limit {
                return Err(ReserveError::QuotaExceeded(index));
            }
            *sends += 1;
        }
        Ok(())
    }

    fn after_read(&mut self, user: Option<UserId>, token: Option<&(Subject, TokenPurpose)>) {
        if self.contended_reads == 0 {
            return;
        }
        self.contended_reads -= 1;
        if let Some(user) = user.and_then(|id| self.users.get_mut(&id)) {
            user.version += 1;
        }
        if let Some(token) = token.and_then(|id| self.tokens.get_mut(id)) {
            token.version += 1;
        }
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// For tests: each of the next `reads` reads of a user or a token is followed by another client's write of it.
    pub fn contend(&self, reads: u32) {
        self.state().contended_reads = reads;
    }

    /// For tests: each of the next `writes` token writes (a reservation, its release, a check) commits, and its
    /// caller hears a timeout, as when DynamoDB's answer is lost.
    pub fn lose_answers(&self, writes: u32) {
        self.lose_answers_after(0, writes);
    }

    /// `lose_answers`, once `kept` more token writes have been answered.
    pub fn lose_answers_after(&self, kept: u32, writes: u32) {
        self.answers_to_keep.store(kept, Ordering::SeqCst);
        self.answers_to_lose.store(writes, Ordering::SeqCst);
    }

    /// Whether this write's answer is lost (`lose_answers_after`).
    fn answer_lost(&self) -> bool {
        let take = |counter: &std::sync::atomic::AtomicU32| {
            counter
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok()
        };
        !take(&self.answers_to_keep) && take(&self.answers_to_lose)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves a state that is still whole: every write is applied to
        // a copy first.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `write` on a copy of the state and keeps the copy only if it succeeds: all or nothing.
    fn transact<T, E>(&self, write: impl FnOnce(&mut State) -> Result<T, E>) -> Result<T, E> {
        let mut state = self.state();
        let mut draft = state.clone();
        let outcome = write(&mut draft)?;
        *state = draft;
        Ok(outcome)
    }

    /// The sends counted for a quota key (`QuotaSlot::key`) in a quota window.
    pub fn quota_sends(&self, key: &str, window: i64) -> u32 {
        self.state()
            .quotas
            .get(&(key.to_owned(), window))
            .copied()
            .unwrap_or(0)
    }

    /// Every live token, for assertions.
    pub fn tokens(&self) -> Vec<LiveToken> {
        self.state().tokens.values().cloned().collect()
    }

    /// Deletes every token item of `subject`, as DynamoDB's TTL does some time after expiry.
    pub fn expire_tokens_by_ttl(&self, subject: &Subject) {
        self.state().tokens.retain(|(owner, _), _| owner != subject);
    }

    pub fn user_count(&self) -> usize {
        self.state().users.len()
    }

    pub fn device_count(&self) -> usize {
        self.state().devices.len()
    }

    pub fn session_count(&self) -> usize {
        self.state().sessions.len()
    }

    /// The Sigma starts counted for a recipient key in a minute.
    pub fn starts(&self, recipient_key: &str, minute: i64) -> i64 {
        self.state()
            .starts
            .get(&(recipient_key.to_owned(), minute))
            .copied()
            .unwrap_or(0)
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn get_token(
        &self,
        subject: &Subject,
        purpose: TokenPurpose,
    ) -> Result<Option<LiveToken>, DomainError> {
        let mut state = self.state();
        let id = (subject.clone(), purpose);
        let token = state.tokens.get(&id).cloned();
        state.after_read(None, Some(&id));
        Ok(token)
    }

    async fn reserve_send(
        &self,
        current: Option<&LiveToken>,
        next: &LiveToken,
        quotas: &[QuotaSlot],
        companions: &[Companion],
    ) -> Result<(), ReserveError> {
        self.transact(|state| {
            let id = (next.subject.clone(), next.purpose);
            let as_read = match (state.tokens.get(&id), current) {
                (None, None) => true,
                // As DynamoDB's condition: the state judged, and the stored code's cooldown over.
                (Some(stored), Some(current)) => {
                    stored.version == current.version
                        && stored.failed_attempts == current.failed_attempts
                        && (stored.last_sent_at.unix_timestamp()
                            <= next.replaces_codes_sent_by().unix_timestamp()
                            || !next.purpose.cooldown_outlives_the_code()
                                && (stored.consumed
                                    || stored.expires_at.unix_timestamp()
                                        <= next.last_sent_at.unix_timestamp()))
                }
                _ => false,
            };
            if !as_read {
                return Err(ReserveError::Raced);
            }
            state.take_quotas(quotas)?;
            state.tokens.insert(id, next.clone());
            state.apply_all(companions).map_err(ReserveError::Failed)
        })?;
        if self.answer_lost() {
            return Err(ReserveError::Failed(DomainError::unavailable()));
        }
        Ok(())
    }

    async fn take_quota(&self, quotas: &[QuotaSlot]) -> Result<(), ReserveError> {
        self.transact(|state| state.take_quotas(quotas))
    }

    async fn release_send(
        &self,
        previous: Option<&LiveToken>,
        reserved: &LiveToken,
        quotas: &[QuotaSlot],
        undo: &[Companion],
    ) -> Result<(), DomainError> {
        self.transact(|state| {
            let id = (reserved.subject.clone(), reserved.purpose);
            if state.tokens.get(&id).map(|t| t.version) != Some(reserved.version) {
                return Err(DomainError::unavailable());
            }
            match previous {
                Some(previous) => {
                    state.tokens.insert(
                        id,
                        LiveToken {
                            version: reserved.version + 1,
                            ..previous.clone()
                        },
                    );
                }
                None => {
                    state.tokens.remove(&id);
                }
            }
            for quota in quotas {
                match state.quotas.get_mut(&(quota.key.clone(), quota.window)) {
                    Some(sends) if *sends > 0 => *sends -= 1,
                    _ => return Err(DomainError::unavailable()),
                }
            }
            state.apply_all(undo)
        })?;
        if self.answer_lost() {
            return Err(DomainError::unavailable());
        }
        Ok(())
    }

    async fn record_check(
        &self,
        token: &LiveToken,
        accepted: bool,
        now: i64,
        check_id: &str,
        with: &[Companion],
    ) -> Result<bool, DomainError> {
        let recorded = self.transact(|state| {
            let id = (token.subject.clone(), token.purpose);
            let Some(stored) = state.tokens.get_mut(&id) else {
                return Ok(false);
            };
            let open = stored.digest == token.digest
                && !stored.consumed
                && stored.failed_attempts < stored.max_attempts;
            if !open || (accepted && stored.expires_at.unix_timestamp() <= now) {
                return Ok(false);
            }
            if accepted {
                stored.consumed = true;
            } else {
                stored.failed_attempts += 1;
            }
            stored.last_check = Some(check_id.to_owned());
            state.apply_all(with)?;
            Ok(true)
        })?;
        if recorded && self.answer_lost() {
            return Err(DomainError::unavailable());
        }
        Ok(recorded)
    }
}

fn sort_key(user: &User, sort: SortField) -> String {
    match sort {
        SortField::Email => format!("{}#{}", user.email.key(), user.id),
        SortField::LastName => format!(
            "{}#{}#{}",
            user.last_name
                .as_ref()
                .map(|n| n.as_str().to_lowercase())
                .unwrap_or_default(),
            user.email.key(),
            user.id
        ),
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn get_user(&self, id: &UserId) -> Result<Option<User>, DomainError> {
        let mut state = self.state();
        let user = state.users.get(id).cloned();
        state.after_read(Some(*id), None);
        Ok(user)
    }

    async fn get_user_with_token(
        &self,
        id: &UserId,
        purpose: TokenPurpose,
    ) -> Result<(Option<User>, Option<LiveToken>), DomainError> {
        let mut state = self.state();
        let token_id = (Subject::User(*id), purpose);
        let read = (
            state.users.get(id).cloned(),
            state.tokens.get(&token_id).cloned(),
        );
        state.after_read(Some(*id), Some(&token_id));
        Ok(read)
    }

    async fn create_user(&self, user: &User) -> Result<(), DomainError> {
        self.transact(|state| {
            state
                .apply(&Companion::CreateUser(user.clone()))
                .map_err(|error| match error {
                    DomainError::Conflict(field) if field.location == "email" => email_taken(),
                    _ => DomainError::unavailable(),
                })
        })
    }

    async fn save_user(&self, before: &User, after: &User) -> Result<(), SaveError> {
        self.transact(|state| {
            if state.users.get(&before.id).map(|u| u.version) != Some(before.version) {
                return Err(SaveError::Stale);
            }
            if before.email.key() != after.email.key() {
                if state.guards.get(&before.email.key()) != Some(&before.id) {
                    return Err(SaveError::Stale);
                }
                if state.guards.contains_key(&after.email.key()) {
                    return Err(SaveError::Failed(email_taken()));
                }
                state.guards.remove(&before.email.key());
                state.guards.insert(after.email.key(), after.id);
            }
            let next = User {
                version: before.version + 1,
                ..after.clone()
            };
            state.users.insert(next.id, next);
            Ok(())
        })
    }

    async fn save_user_with(
        &self,
        before: &User,
        after: &User,
        with: &[Companion],
    ) -> Result<(), SaveError> {
        if before.email.key() != after.email.key() {
            return Err(SaveError::Failed(DomainError::unavailable()));
        }
        self.transact(|state| {
            if state.users.get(&before.id).map(|u| u.version) != Some(before.version) {
                return Err(SaveError::Stale);
            }
            state.apply_all(&[Companion::UpdateUser {
                before: before.clone(),
                after: after.clone(),
            }])?;
            state.apply_all(with)?;
            Ok(())
        })
    }

    async fn delete_user(&self, user: &User) -> Result<(), SaveError> {
        self.transact(|state| {
            state
                .apply(&Companion::RemoveUser(user.clone()))
                .map_err(|_| SaveError::Stale)?;
            state
                .tokens
                .retain(|(subject, _), _| subject != &Subject::User(user.id));
            Ok(())
        })
    }

    async fn list_users(&self, listing: &UserListing) -> Result<(Vec<User>, u64), DomainError> {
        let state = self.state();
        let mut matching: Vec<&User> = state
            .users
            .values()
            .filter(|user| listing.tenant.is_none_or(|tenant| user.entity_id == tenant))
            .filter(|user| listing.user_type.is_none_or(|t| user.user_type == t))
            .filter(|user| listing.status.is_none_or(|s| user.status == s))
            // No stored user has a payee type: the DynamoDB filter matches none either.
            .filter(|_| listing.payee_type.is_none())
            .collect();
        matching.sort_by_key(|user| sort_key(user, listing.sort));
        if listing.descending {
            matching.reverse();
        }
        let total = matching.len() as u64;
        let skip = (listing.page.saturating_sub(1) as usize) * listing.page_size as usize;
        let page = matching
            .into_iter()
            .skip(skip)
            .take(listing.page_size as usize)
            .cloned()
            .collect();
        Ok((page, total))
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn create_application(&self, application: &Application) -> Result<(), DomainError> {
        let mut state = self.state();
        let taken = state.applications.values().any(|existing| {
            existing.payor_id == application.payor_id
                && existing.name_key() == application.name_key()
        });
        if taken {
            return Err(DomainError::Conflict(FieldError::new(
                "name",
                "the payor already has an application with this name",
            )));
        }
        state.applications.insert(
            (application.payor_id, application.application_id),
            application.clone(),
        );
        Ok(())
    }

    async fn get_application(
        &self,
        payor: &EntityId,
        application: &ApplicationId,
    ) -> Result<Option<Application>, DomainError> {
        Ok(self
            .state()
            .applications
            .get(&(*payor, *application))
            .cloned())
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), DomainError> {
        let mut state = self.state();
        if !state
            .applications
            .contains_key(&(key.payor_id, key.application_id))
        {
            return Err(DomainError::NotFound("application"));
        }
        state.api_keys.insert(key.key_id, key.clone());
        Ok(())
    }

    async fn get_api_key(&self, key: &ApiKeyId) -> Result<Option<ApiKey>, DomainError> {
        Ok(self.state().api_keys.get(key).cloned())
    }

    async fn delete_api_key(&self, key: &ApiKey) -> Result<bool, DomainError> {
        Ok(self.state().api_keys.remove(&key.key_id).is_some())
    }
}

#[async_trait]
impl SignInStore for MemoryStore {
    async fn find_user_by_email_with_token(
        &self,
        email: &Email,
        purpose: TokenPurpose,
    ) -> Result<(Option<User>, Option<LiveToken>), DomainError> {
        let state = self.state();
        let Some(user) = state
            .guards
            .get(&email.key())
            .and_then(|id| state.users.get(id))
            .cloned()
        else {
            return Ok((None, None));
        };
        let token = state
            .tokens
            .get(&(Subject::User(user.id), purpose))
            .cloned();
        Ok((Some(user), token))
    }

    async fn get_user_with_sign_in(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> Result<(Option<User>, Option<SignInSession>), DomainError> {
        let state = self.state();
        Ok((
            state.users.get(user).cloned(),
            state.sign_ins.get(&(*user, *session)).cloned(),
        ))
    }

    async fn save_sign_in(
        &self,
        before: &SignInSession,
        after: &SignInSession,
    ) -> Result<bool, DomainError> {
        let mut state = self.state();
        let key = (before.user_id, before.session_id);
        match state.sign_ins.get(&key) {
            Some(stored) if stored.version == before.version => {
                state.sign_ins.insert(key, after.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_widget(
        &self,
        widget: &Widget,
        _now: OffsetDateTime,
    ) -> Result<(), DomainError> {
        self.transact(|state| {
            if state.widgets.contains_key(&widget.id) {
                return Err(DomainError::Conflict(FieldError::new(
                    "widgetId",
                    "a widget with this id already exists",
                )));
            }
            state.widgets.insert(widget.id.clone(), widget.clone());
            Ok(())
        })
    }

    async fn get_widget(&self, widget_id: &str) -> Result<Option<Widget>, DomainError> {
        Ok(self.state().widgets.get(widget_id).cloned())
    }

    async fn get_session_with_token(
        &self,
        request_id: &str,
    ) -> Result<(Option<OtpSession>, Option<LiveToken>), DomainError> {
        let state = self.state();
        let subject = Subject::OtpSession(request_id.to_owned());
        Ok((
            state.sessions.get(request_id).cloned(),
            state
                .tokens
                .get(&(subject, TokenPurpose::OtpSession))
                .cloned(),
        ))
    }

    async fn mark_channel_seen(&self, request_id: &str, seen: &str) -> Result<(), DomainError> {
        if let Some(session) = self.state().sessions.get_mut(request_id) {
            session.channel_seen = Some(seen.to_owned());
        }
        Ok(())
    }

    async fn close_session(
        &self,
        request_id: &str,
        now: i64,
        seen: Option<&LiveToken>,
    ) -> Result<Closing, DomainError> {
        let mut state = self.state();
        let subject = Subject::OtpSession(request_id.to_owned());
        let consumed = state
            .tokens
            .get(&(subject, TokenPurpose::OtpSession))
            .map(|token| token.consumed);
        if state
            .sessions
            .get(request_id)
            .is_none_or(|session| session.closed_at.is_some())
        {
            return Ok(Closing::AlreadyClosed);
        }
        if consumed != seen.map(|token| token.consumed) {
            return Ok(Closing::CodeChanged);
        }
        if let Some(session) = state.sessions.get_mut(request_id) {
            session.closed_at = OffsetDateTime::from_unix_timestamp(now).ok();
        }
        Ok(Closing::Closed)
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn create_account(&self, account: &Account) -> Result<(), DomainError> {
        self.transact(|state| {
            if state.accounts.contains_key(&account.account_key) {
                return Err(DomainError::Conflict(FieldError::new(
                    "account_key",
                    "the account already exists",
                )));
            }
            state.accounts.insert(account.account_key, account.clone());
            Ok(())
        })
    }

    async fn get_account(&self, account: &AccountKey) -> Result<Option<Account>, DomainError> {
        Ok(self.state().accounts.get(account).cloned())
    }

    async fn get_device(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
    ) -> Result<Option<Device>, DomainError> {
        Ok(self.state().devices.get(&(*account, *device)).cloned())
    }

    async fn get_account_device_token(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
    ) -> Result<(Option<Account>, Option<Device>, Option<LiveToken>), DomainError> {
        let state = self.state();
        Ok((
            state.accounts.get(account).cloned(),
            state.devices.get(&(*account, *device)).cloned(),
            state
                .tokens
                .get(&(
                    Subject::Device(*account, *device),
                    TokenPurpose::DeviceApproval,
                ))
                .cloned(),
        ))
    }

    async fn set_device_status(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
        to: DeviceStatus,
        from: Option<DeviceStatus>,
        now: OffsetDateTime,
    ) -> Result<bool, DomainError> {
        Ok(self.state().move_device(account, device, to, from, now))
    }
}

/// One message as it went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Sms { to: PhoneNumber, text: String },
    Email { to: Email, message: EmailMessage },
}

impl Delivered {
    /// The message's text (an email's plain-text part).
    pub fn text(&self) -> &str {
        match self {
            Delivered::Sms { text, .. } => text,
            Delivered::Email { message, .. } => &message.text,
        }
    }
}

/// A messenger that keeps what it sends; either channel can be made to fail.
#[derive(Debug, Default)]
pub struct MemoryMessenger {
    outbox: Mutex<Vec<Delivered>>,
    sms_down: AtomicBool,
    email_down: AtomicBool,
    answers_lost: AtomicBool,
}

impl MemoryMessenger {
    pub fn new() -> MemoryMessenger {
        MemoryMessenger::default()
    }

    /// Everything delivered so far, oldest first.
    pub fn outbox(&self) -> Vec<Delivered> {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_sms_down(&self, down: bool) {
        self.sms_down.store(down, Ordering::SeqCst);
    }

    pub fn set_email_down(&self, down: bool) {
        self.email_down.store(down, Ordering::SeqCst);
    }

    /// Every message from now on goes out, and its answer is lost (`SendFailure::Unknown`).
    pub fn set_answers_lost(&self, lost: bool) {
        self.answers_lost.store(lost, Ordering::SeqCst);
    }

    fn deliver(&self, down: &AtomicBool, message: Delivered) -> Result<(), SendFailure> {
        if down.load(Ordering::SeqCst) {
            return Err(SendFailure::NotSent);
        }
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(message);
        if self.answers_lost.load(Ordering::SeqCst) {
            return Err(SendFailure::Unknown);
        }
        Ok(())
    }
}

#[async_trait]
impl Messenger for MemoryMessenger {
    async fn send_sms(&self, to: &PhoneNumber, text: &str) -> Result<(), SendFailure> {
        self.deliver(
            &self.sms_down,
            Delivered::Sms {
                to: to.clone(),
                text: text.to_owned(),
            },
        )
    }

    async fn send_email(&self, to: &Email, message: &EmailMessage) -> Result<(), SendFailure> {
        self.deliver(
            &self.email_down,
            Delivered::Email {
                to: to.clone(),
                message: message.clone(),
            },
        )
    }
}

/// A signer whose P-256 key is in memory, made from `seed`: for unit tests only (the service's key is in KMS).
pub struct MemorySigner {
    key: p256::ecdsa::SigningKey,
    kid: String,
}

impl MemorySigner {
    pub fn from_seed(kid: &str, seed: [u8; 32]) -> Result<MemorySigner, DomainError> {
        let key = p256::ecdsa::SigningKey::from_bytes(&seed.into()).map_err(|_| {
            DomainError::unavailable_because(crate::domain::Cause::described(
                "the seed is not a P-256 scalar",
            ))
        })?;
        Ok(MemorySigner {
            key,
            kid: kid.to_owned(),
        })
    }
}

#[async_trait]
impl crate::ports::TokenSigner for MemorySigner {
    fn key_id(&self) -> &str {
        &self.kid
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, DomainError> {
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.key.sign(signing_input);
        Ok(signature.to_bytes().to_vec())
    }

    async fn public_keys(&self) -> Result<Vec<crate::ports::PublicJwk>, DomainError> {
        use p256::pkcs8::EncodePublicKey;
        let der = self
            .key
            .verifying_key()
            .to_public_key_der()
            .map_err(|_| DomainError::unavailable())?;
        Ok(vec![super::kms::es256_jwk(&self.kid, der.as_bytes())?])
    }
}
