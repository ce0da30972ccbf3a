//! What to tell the user about a weak password: a warning about its most telling match and suggestions, in upstream's
//! words (its `Warning` and `Suggestion` displays).

use super::dictionaries::Dictionary;
use super::matching::{Match, Pattern};

pub(super) const STRAIGHT_ROWS_OF_KEYS: &str = "Straight rows of keys are easy to guess.";
pub(super) const SHORT_KEYBOARD_PATTERNS: &str = "Short keyboard patterns are easy to guess.";
pub(super) const REPEATS_LIKE_AAA: &str = "Repeats like \"aaa\" are easy to guess.";
pub(super) const REPEATS_LIKE_ABCABCABC: &str =
    "Repeats like \"abcabcabc\" are only slightly harder to guess than \"abc\".";
pub(super) const TOP_10_PASSWORD: &str = "This is a top-10 common password.";
pub(super) const TOP_100_PASSWORD: &str = "This is a top-100 common password.";
pub(super) const COMMON_PASSWORD: &str = "This is a very common password.";
pub(super) const SIMILAR_TO_COMMON_PASSWORD: &str = "This is similar to a commonly used password.";
pub(super) const SEQUENCES_LIKE_ABC: &str = "Sequences like abc or 6543 are easy to guess.";
pub(super) const RECENT_YEARS: &str = "Recent years are easy to guess.";
pub(super) const A_WORD_BY_ITSELF: &str = "A word by itself is easy to guess.";
pub(super) const DATES: &str = "Dates are often easy to guess.";
pub(super) const NAMES_BY_THEMSELVES: &str = "Names and surnames by themselves are easy to guess.";
pub(super) const COMMON_NAMES: &str = "Common names and surnames are easy to guess.";

pub(super) const USE_A_FEW_WORDS: &str = "Use a few words, avoid common phrases.";
pub(super) const NO_NEED_FOR_SYMBOLS: &str = "No need for symbols, digits, or uppercase letters.";
pub(super) const ADD_ANOTHER_WORD: &str = "Add another word or two. Uncommon words are better.";
pub(super) const CAPITALIZATION: &str = "Capitalization doesn't help very much.";
pub(super) const ALL_UPPERCASE: &str = "All-uppercase is almost as easy to guess as all-lowercase.";
pub(super) const REVERSED_WORDS: &str = "Reversed words aren't much harder to guess.";
pub(super) const PREDICTABLE_SUBSTITUTIONS: &str =
    "Predictable substitutions like '@' instead of 'a' don't help very much.";
pub(super) const LONGER_KEYBOARD_PATTERN: &str = "Use a longer keyboard pattern with more turns.";
pub(super) const AVOID_REPEATS: &str = "Avoid repeated words and characters.";
pub(super) const AVOID_SEQUENCES: &str = "Avoid sequences.";
pub(super) const AVOID_RECENT_YEARS: &str = "Avoid recent years.";
pub(super) const AVOID_YEARS_OF_YOURS: &str = "Avoid years that are associated with you.";
pub(super) const AVOID_DATES_OF_YOURS: &str = "Avoid dates and years that are associated with you.";

/// A warning (not always) and suggestions; both empty for a password scoring 3 or more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feedback {
    pub warning: Option<&'static str>,
    pub suggestions: Vec<&'static str>,
}

/// The feedback on a password whose best guessing sequence is `sequence`: none if it scores 3 or more, otherwise
/// about its longest match (the last of equals).
pub(super) fn feedback(score: u8, password: &[char], sequence: &[Match]) -> Feedback {
    if sequence.is_empty() {
        return Feedback {
            warning: None,
            suggestions: vec![USE_A_FEW_WORDS, NO_NEED_FOR_SYMBOLS],
        };
    }
    if score >= 3 {
        return Feedback::default();
    }
    let Some(longest) = sequence.iter().max_by_key(|m| m.char_len()) else {
        return Feedback::default();
    };
    let mut feedback = match_feedback(longest, password, sequence.len() == 1);
    feedback.suggestions.insert(0, ADD_ANOTHER_WORD);
    feedback
}

pub(super) fn match_feedback(m: &Match, password: &[char], is_sole_match: bool) -> Feedback {
    match &m.pattern {
        Pattern::Dictionary(word) => {
            let warning = match word.dictionary {
                Dictionary::Passwords if is_sole_match && !word.l33t && !word.reversed => {
                    Some(if word.rank <= 10 {
                        TOP_10_PASSWORD
                    } else if word.rank <= 100 {
                        TOP_100_PASSWORD
                    } else {
                        COMMON_PASSWORD
                    })
                }
                Dictionary::Passwords => Some(SIMILAR_TO_COMMON_PASSWORD),
                Dictionary::EnglishWikipedia => is_sole_match.then_some(A_WORD_BY_ITSELF),
                Dictionary::Surnames | Dictionary::FemaleNames | Dictionary::MaleNames => {
                    Some(if is_sole_match {
                        NAMES_BY_THEMSELVES
                    } else {
                        COMMON_NAMES
                    })
                }
                Dictionary::UsTvAndFilm | Dictionary::UserInputs => None,
            };
            let token = password.get(m.i..=m.j).unwrap_or_default();
            let Some(first) = token.first() else {
                return Feedback::default();
            };
            let mut suggestions = Vec::new();
            if first.is_uppercase() {
                suggestions.push(CAPITALIZATION);
            } else if token.iter().all(|c| c.is_uppercase()) {
                suggestions.push(ALL_UPPERCASE);
            }
            if word.reversed && token.len() >= 4 {
                suggestions.push(REVERSED_WORDS);
            }
            if word.l33t {
                suggestions.push(PREDICTABLE_SUBSTITUTIONS);
            }
            Feedback {
                warning,
                suggestions,
            }
        }
        Pattern::Spatial { turns, .. } => Feedback {
            warning: Some(if *turns == 1 {
                STRAIGHT_ROWS_OF_KEYS
            } else {
                SHORT_KEYBOARD_PATTERNS
            }),
            suggestions: vec![LONGER_KEYBOARD_PATTERN],
        },
        Pattern::Repeat { base_char_len, .. } => Feedback {
            warning: Some(if *base_char_len == 1 {
                REPEATS_LIKE_AAA
            } else {
                REPEATS_LIKE_ABCABCABC
            }),
            suggestions: vec![AVOID_REPEATS],
        },
        Pattern::Sequence { .. } => Feedback {
            warning: Some(SEQUENCES_LIKE_ABC),
            suggestions: vec![AVOID_SEQUENCES],
        },
        Pattern::RecentYear { .. } => Feedback {
            warning: Some(RECENT_YEARS),
            suggestions: vec![AVOID_RECENT_YEARS, AVOID_YEARS_OF_YOURS],
        },
        Pattern::Date { .. } => Feedback {
            warning: Some(DATES),
            suggestions: vec![AVOID_DATES_OF_YOURS],
        },
        Pattern::BruteForce => Feedback::default(),
    }
}
