//! Limits on where and how much may be sent: the SMS-pumping defences. A text message costs money at the
//! destination's rate, so who asks, for which tenant, and to which country all bound what goes out, on top of the
//! per-recipient quota that every message has.

use std::fmt;
use std::str::FromStr;

use super::{EntityId, PhoneNumber, Principal, User};

/// Who asked for a send: the caller and the tenant it acts for. The per-caller and per-tenant SMS budgets count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    caller: String,
    tenant: String,
}

impl Requester {
    /// `caller` is a user (or a service identity); `tenant` what it acts for (a payor, a payee, the backoffice, a
    /// bank account).
    pub fn new(caller: impl fmt::Display, tenant: impl fmt::Display) -> Requester {
        Requester {
            caller: caller.to_string(),
            tenant: tenant.to_string(),
        }
    }

    /// A signed-in caller: the user, for its entity (a backoffice user has none and counts for the backoffice).
    pub fn of(principal: &Principal) -> Requester {
        Requester::new(
            format!("user:{}", principal.user_id),
            tenant_of(principal.entity_id.as_ref()),
        )
    }

    /// A user acting for itself before it holds an access token (signing in, resetting its password).
    pub fn user(user: &User) -> Requester {
        Requester::new(
            format!("user:{}", user.id),
            tenant_of(user.entity_id.as_ref()),
        )
    }

    pub fn caller(&self) -> &str {
        &self.caller
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

fn tenant_of(entity: Option<&EntityId>) -> String {
    match entity {
        Some(entity) => format!("entity:{entity}"),
        None => "backoffice".to_owned(),
    }
}

/// The non-geographic ranges of E.164 that carry premium or satellite rates (+800 freephone, +808 shared cost, +870
/// Inmarsat, +878 personal numbers, +881 satellite, +882 and +883 international networks, +888, +979 international
/// premium rate, +991 trial): never a destination unless the allow-list names the range itself.
pub const NON_GEOGRAPHIC_RANGES: [&str; 10] = [
    "800", "808", "870", "878", "881", "882", "883", "888", "979", "991",
];

/// The destinations SMS may go to: `*` (every geographic country code) and/or calling-code prefixes (`1`, `44`,
/// `7`, `5511`). A number in a non-geographic range is allowed only by an entry inside that range (`881`, `8816`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsDestinations {
    every_country: bool,
    prefixes: Vec<String>,
}

impl SmsDestinations {
    /// Every geographic country code; no premium or satellite range.
    pub fn every_country() -> SmsDestinations {
        SmsDestinations {
            every_country: true,
            prefixes: Vec::new(),
        }
    }

    pub fn allows(&self, phone: &PhoneNumber) -> bool {
        let digits = phone.as_str().trim_start_matches('+');
        let named = |within: &str| {
            self.prefixes
                .iter()
                .any(|prefix| prefix.starts_with(within) && digits.starts_with(prefix.as_str()))
        };
        match NON_GEOGRAPHIC_RANGES
            .iter()
            .find(|range| digits.starts_with(*range))
        {
            Some(range) => named(range),
            None => self.every_country || named(""),
        }
    }
}

impl FromStr for SmsDestinations {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        const INVALID: &str =
            "must be `*` and/or comma-separated calling-code prefixes of 1 to 6 digits, like `*,882` or `1,44,55`";
        let mut destinations = SmsDestinations {
            every_country: false,
            prefixes: Vec::new(),
        };
        for entry in value.split(',').map(str::trim) {
            if entry == "*" {
                destinations.every_country = true;
            } else if (1..=6).contains(&entry.len())
                && entry.bytes().all(|b| b.is_ascii_digit())
                && !entry.starts_with('0')
            {
                destinations.prefixes.push(entry.to_owned());
            } else {
                return Err(INVALID);
            }
        }
        Ok(destinations)
    }
}

/// The SMS budgets and destinations, from configuration. Budgets count sends in fixed windows of `window_secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsLimits {
    pub destinations: SmsDestinations,
    pub per_caller: u32,
    pub per_tenant: u32,
    /// Every SMS of the service: the ceiling that fails closed whatever the callers.
    pub ceiling: u32,
    /// The ceiling is counted on this many items, each taking its share, so that no one item takes every text's
    /// write (a recipient always counts on the same one).
    pub ceiling_shards: u32,
    pub window_secs: i64,
}

impl SmsLimits {
    /// The ceiling's item for a recipient's quota key, and that item's share of the ceiling (rounded up).
    pub fn ceiling_shard(&self, recipient_key: &str) -> (u32, u32) {
        let shards = self.ceiling_shards.max(1);
        let spread = recipient_key.bytes().fold(0u32, |hash, byte| {
            hash.wrapping_mul(31).wrapping_add(u32::from(byte))
        });
        (spread % shards, self.ceiling.div_ceil(shards))
    }
}

impl Default for SmsLimits {
    fn default() -> SmsLimits {
        SmsLimits {
            destinations: SmsDestinations::every_country(),
            per_caller: 200,
            per_tenant: 2000,
            ceiling: 10000,
            ceiling_shards: 8,
            window_secs: 3600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> PhoneNumber {
        raw.parse().unwrap()
    }

    #[test]
    fn every_country_excludes_the_premium_and_satellite_ranges() {
        let all = SmsDestinations::every_country();
        for ok in [
            "+15555550100",
            "+447700900123",
            "+79990001122",
            "+5511987654321",
        ] {
            assert!(all.allows(&phone(ok)), "{ok}");
        }
        for refused in [
            "+881612345678",
            "+8823456789",
            "+979123456789",
            "+870773111111",
        ] {
            assert!(!all.allows(&phone(refused)), "{refused}");
        }
        let parsed: SmsDestinations = "*".parse().unwrap();
        assert_eq!(parsed, all);
    }

    #[test]
    fn an_allow_list_names_prefixes_and_a_range_only_by_itself() {
        let list: SmsDestinations = "1, 44,8816".parse().unwrap();
        assert!(list.allows(&phone("+15555550100")));
        assert!(list.allows(&phone("+447700900123")));
        assert!(list.allows(&phone("+881612345678")));
        assert!(!list.allows(&phone("+881312345678")));
        assert!(!list.allows(&phone("+79990001122")));
        // A short prefix does not open a range inside it.
        let eights: SmsDestinations = "8".parse().unwrap();
        assert!(!eights.allows(&phone("+881612345678")));
        assert!(eights.allows(&phone("+84912345678")));
        let with_range: SmsDestinations = "*,882".parse().unwrap();
        assert!(with_range.allows(&phone("+8823456789")));
        assert!(!with_range.allows(&phone("+881612345678")));
    }

    #[test]
    fn the_ceiling_is_shared_out_over_its_shards_by_recipient() {
        let limits = SmsLimits {
            ceiling: 81,
            ..SmsLimits::default()
        };
        let shards: std::collections::BTreeSet<u32> = (0..64)
            .map(|n| {
                let (shard, share) = limits.ceiling_shard(&format!("recipient-{n}"));
                assert_eq!(share, 11);
                shard
            })
            .collect();
        assert_eq!(shards, (0..8).collect());
        assert_eq!(limits.ceiling_shard("a"), limits.ceiling_shard("a"));
        let one = SmsLimits {
            ceiling: 4,
            ceiling_shards: 1,
            ..SmsLimits::default()
        };
        assert_eq!(one.ceiling_shard("anything"), (0, 4));
    }

    #[test]
    fn an_allow_list_refuses_what_is_not_a_prefix() {
        for bad in ["", "+44", "44a", "0", "1234567", "1,,44", "all"] {
            assert!(bad.parse::<SmsDestinations>().is_err(), "{bad:?}");
        }
    }
}
