//! Password strength: a port of the `zxcvbn` crate 3.1.1 (MIT, © 2016 Joshua Holmer), itself a port of Dropbox's
//! zxcvbn, giving the same score, guesses and feedback for every password and set of user inputs.
//!
//! The algorithm: every matcher lists the spans of the password an attacker would guess early (dictionary words,
//! reversed or l33t too, keyboard walks, repeats, sequences, recent years, dates), each with its guesses; the cheapest
//! sequence of matches covering the password, with brute force between them, gives the guesses and the score, and its
//! longest match the feedback.
//!
//! How it differs from upstream:
//! - no regex engines: its four patterns (repeats, a recent year, dates with and without separators) are matched by
//!   hand, with the semantics of its `fancy-regex` and `regex` patterns;
//! - nothing is built at first use: the word lists are compiled by `build.rs` into sorted, front-coded tables
//!   (`dictionaries`), and the keyboard graphs, the l33t table and the constants derived from them are constants;
//! - only what the score and the feedback need: no crack-time estimates, no match details beyond those;
//! - its arithmetic is that of upstream's release builds, which wrap where its test builds panic on overflow;
//! - where upstream's result depends on the order its hash maps happen to visit things in (a new order in each
//!   process, or call), one fixed order: the word lists, keyboards and l33t letters in upstream's source order (its
//!   unstable sort, replayed here, then orders equally cheap matches of one span as upstream would: that decides
//!   which one the feedback is about), and sequence lengths shortest first, as in Dropbox's zxcvbn (for about 0.2%
//!   of the random passwords tested, the order of lengths changes upstream's guesses from one call to the next);
//! - the reference year of dates is the current year at each call, where upstream keeps that of its first call.

mod dictionaries;
mod feedback;
mod keyboards;
mod matching;
mod scoring;
#[cfg(test)]
mod tests;

pub use feedback::Feedback;

use dictionaries::UserWords;
use matching::Context;

/// Upstream only reads the first 100 chars: longer input is too slow to match, and no more guessable.
const MAX_CHARS: usize = 100;

/// How guessable a password is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// 0 (at most about 10³ guesses) to 4 (more than about 10¹⁰).
    pub score: u8,
    /// The estimated guesses to find the password (0 for an empty one).
    pub guesses: u64,
    /// Set only below a score of 3 (and for an empty password).
    pub feedback: Feedback,
}

/// How guessable `password` is, knowing `user_inputs` (the user's name, email and so on, in any case).
pub fn estimate(password: &str, user_inputs: &[&str]) -> Estimate {
    Analysis::run(password, user_inputs).estimate
}

/// An estimate with what it was made from (the tests compare ties with upstream's).
struct Analysis {
    estimate: Estimate,
    #[cfg_attr(not(test), allow(dead_code))]
    password: Vec<char>,
    #[cfg_attr(not(test), allow(dead_code))]
    matches: Vec<scoring::Scored>,
    #[cfg_attr(not(test), allow(dead_code))]
    sequence: Vec<matching::Match>,
}

impl Analysis {
    fn run(password: &str, user_inputs: &[&str]) -> Analysis {
        let password: Vec<char> = password.chars().take(MAX_CHARS).collect();
        if password.is_empty() {
            return Analysis {
                estimate: Estimate {
                    score: 0,
                    guesses: 0,
                    feedback: feedback::feedback(0, &password, &[]),
                },
                password,
                matches: Vec::new(),
                sequence: Vec::new(),
            };
        }
        let user_words = UserWords::new(user_inputs);
        let reference_year = time::OffsetDateTime::now_utc().year();
        let context = Context {
            user_words: &user_words,
            reference_year,
        };
        let matches = scoring::with_guesses(
            &password,
            matching::omnimatch(&password, &context),
            reference_year,
        );
        let result = scoring::most_guessable_match_sequence(&password, &matches, false);
        let score = scoring::score(result.guesses);
        Analysis {
            estimate: Estimate {
                score,
                guesses: result.guesses,
                feedback: feedback::feedback(score, &password, &result.sequence),
            },
            password,
            matches,
            sequence: result.sequence,
        }
    }
}
