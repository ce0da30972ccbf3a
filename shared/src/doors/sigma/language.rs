//! The language of error messages and of the messages sent to recipients: Russian unless the caller asks for
//! English.

use lambda_http::Request;

use crate::engine::messages::Locale;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Ru,
    En,
}

impl Language {
    /// The caller's preferred language from `Accept-Language` (highest `q` first; ties keep the caller's order).
    pub fn of(request: &Request) -> Language {
        request
            .headers()
            .get("accept-language")
            .and_then(|value| value.to_str().ok())
            .map_or(Language::Ru, Language::from_header)
    }

    pub fn from_header(header: &str) -> Language {
        let mut best: Option<(f32, &str)> = None;
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            if tag.is_empty() {
                continue;
            }
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality > 0.0 && best.is_none_or(|(top, _)| quality > top) {
                best = Some((quality, tag));
            }
        }
        match best {
            Some((_, tag))
                if tag
                    .split('-')
                    .next()
                    .is_some_and(|p| p.eq_ignore_ascii_case("en")) =>
            {
                Language::En
            }
            _ => Language::Ru,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Ru => "ru",
            Language::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Language {
        if code == "en" {
            Language::En
        } else {
            Language::Ru
        }
    }

    pub fn locale(self) -> Locale {
        match self {
            Language::Ru => Locale::Ru,
            Language::En => Locale::En,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_only_when_it_is_the_callers_first_choice() {
        assert_eq!(Language::from_header("en"), Language::En);
        assert_eq!(
            Language::from_header("en-US,en;q=0.9,ru;q=0.8"),
            Language::En
        );
        assert_eq!(
            Language::from_header("ru-RU,ru;q=0.9,en;q=0.8"),
            Language::Ru
        );
        assert_eq!(Language::from_header("ru;q=0.5, en;q=0.9"), Language::En);
        assert_eq!(Language::from_header("de"), Language::Ru);
        assert_eq!(Language::from_header("*"), Language::Ru);
        assert_eq!(Language::from_header(""), Language::Ru);
        assert_eq!(Language::from_header("en;q=0"), Language::Ru);
    }
}
