use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An email address: RFC 5321 length limits, one `@`, a dotted domain. Kept as sent; compared by `key()`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness: addresses differing only in case are one address.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The form send quotas and start limits count: the domain in IDNA ASCII (a Unicode domain and its punycode
    /// form are one), lower case, the sub-address (`+tag`) removed. Uniqueness of a user's email keeps `key()`.
    pub fn quota_key(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((self.0.as_str(), ""));
        let mailbox = local.split_once('+').map_or(local, |(mailbox, _)| mailbox);
        let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase());
        format!("{}@{domain}", mailbox.to_lowercase())
    }

    /// For logs: the first character of the local part and the domain.
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first = local.chars().next().unwrap_or('*');
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }
}

impl FromStr for Email {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        const INVALID: &str = "must be a valid email address";
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(INVALID);
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            value,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|_| INVALID)?;
        let domain = parsed.domain();
        let dotted = domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && label.len() <= 63);
        if !dotted || parsed.local_part().len() > 64 {
            return Err(INVALID);
        }
        Ok(Self(value.to_owned()))
    }
}

impl TryFrom<String> for Email {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Email> for String {
    fn from(value: Email) -> String {
        value.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164: `^\+[1-9]\d{1,14}$`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: the country prefix and the last three digits.
    pub fn masked(&self) -> String {
        let digits = &self.0[1..];
        let keep_end = digits.len().min(3);
        let keep_start = digits.len().saturating_sub(keep_end).min(2);
        let hidden = digits.len() - keep_start - keep_end;
        format!(
            "+{}{}{}",
            &digits[..keep_start],
            "*".repeat(hidden),
            &digits[digits.len() - keep_end..]
        )
    }
}

impl FromStr for PhoneNumber {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        const INVALID: &str = "must be an E.164 phone number like +4411223344556";
        let digits = value.strip_prefix('+').ok_or(INVALID)?;
        let well_formed = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(INVALID)
        }
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> String {
        value.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_follow_e164() {
        for ok in ["+4411223344556", "+12", "+123456789012345"] {
            assert!(ok.parse::<PhoneNumber>().is_ok(), "{ok}");
        }
        for bad in [
            "4411223344556",
            "+0123",
            "+1",
            "+1234567890123456",
            "+44 1122",
            "+44a",
            "",
            "+",
        ] {
            assert!(bad.parse::<PhoneNumber>().is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_mask_all_but_prefix_and_tail() {
        let phone: PhoneNumber = "+4411223344556".parse().unwrap();
        assert_eq!(phone.masked(), "+44********556");
        let short: PhoneNumber = "+12".parse().unwrap();
        assert_eq!(short.masked(), "+12");
        assert!(!format!("{phone:?}").contains("11223344"));
    }

    #[test]
    fn quota_keys_are_one_for_a_unicode_domain_its_punycode_case_and_sub_addresses() {
        let key = |raw: &str| raw.parse::<Email>().unwrap().quota_key();
        // "exаmple.com" with a Cyrillic "а" (U+0430), and its IDNA form.
        let cyrillic = key("user@ex\u{0430}mple.com");
        assert_eq!(cyrillic, key("user@xn--exmple-4nf.com"));
        assert!(cyrillic.is_ascii());
        assert_ne!(cyrillic, key("user@example.com"));
        assert_eq!(key("User+promo@Example.COM"), "user@example.com");
        assert_eq!(key("user+a+b@example.com"), key("user@example.com"));
        // Uniqueness keeps the exact address.
        let tagged: Email = "user+promo@example.com".parse().unwrap();
        assert_eq!(tagged.key(), "user+promo@example.com");
    }

    #[test]
    fn emails_parse_and_mask() {
        let email: Email = "Foo.Bar@Example.com".parse().unwrap();
        assert_eq!(email.key(), "foo.bar@example.com");
        assert_eq!(email.masked(), "F***@Example.com");
        for bad in [
            "foo",
            "foo@",
            "@example.com",
            "foo@localhost",
            "foo bar@example.com",
            "Foo <foo@example.com>",
            "foo@[127.0.0.1]",
            "",
        ] {
            assert!(bad.parse::<Email>().is_err(), "{bad}");
        }
    }
}
