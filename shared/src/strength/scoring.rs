//! How many guesses each match would take, and the search for the sequence of matches covering the password that
//! takes the fewest guesses overall.
//!
//! The arithmetic is upstream's, as its release builds compute it: its saturating operations saturate, and its plain
//! ones (which overflow only on very long tokens) wrap.

use super::keyboards::Layout;
use super::matching::{DictionaryWord, Match, Pattern};

const MIN_YEAR_SPACE: i32 = 20;
const BRUTEFORCE_CARDINALITY: u64 = 10;
const MIN_GUESSES_BEFORE_GROWING_SEQUENCE: u64 = 10_000;
const MIN_SUBMATCH_GUESSES_SINGLE_CHAR: u64 = 10;
const MIN_SUBMATCH_GUESSES_MULTI_CHAR: u64 = 50;

/// A match with its guess estimate.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scored {
    pub m: Match,
    pub guesses: u64,
}

/// The matches of `password`, each with its estimate: at least 10 for a one-char match and 50 for a longer one that
/// does not cover the whole password, so that a match never looks cheaper than the brute force it replaces.
pub(super) fn with_guesses(
    password: &[char],
    matches: Vec<Match>,
    reference_year: i32,
) -> Vec<Scored> {
    matches
        .into_iter()
        .map(|m| {
            let token = password.get(m.i..=m.j).unwrap_or_default();
            let guesses = estimate(&m.pattern, token, reference_year)
                .max(min_guesses(token.len(), password.len()));
            Scored { m, guesses }
        })
        .collect()
}

fn min_guesses(token_len: usize, password_len: usize) -> u64 {
    if token_len < password_len {
        if token_len == 1 {
            MIN_SUBMATCH_GUESSES_SINGLE_CHAR
        } else {
            MIN_SUBMATCH_GUESSES_MULTI_CHAR
        }
    } else {
        1
    }
}

pub(super) struct GuessCalculation {
    pub guesses: u64,
    pub sequence: Vec<Match>,
}

/// The last match of the best sequence of a given length covering a prefix of the password.
#[derive(Debug, Clone, Copy)]
struct Slot {
    step: Step,
    /// Where the last match starts.
    i: usize,
    /// The product of the guesses of the sequence's matches.
    product: u64,
    /// The sequence's overall guesses: length! × product, plus a penalty for the length.
    guesses: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A match from the matchers, by index.
    Given(usize),
    /// Brute force from `Slot::i`.
    BruteForce,
}

/// For each end position `k`, for each sequence length `l`, the best sequence of `l` matches covering `0..=k`.
/// Upstream keeps these in hash maps and visits lengths in the maps' order; they are visited here in increasing
/// length (as Dropbox's zxcvbn does), which only matters in the rare cases where upstream's result depends on it.
struct Optimal {
    by_end: Vec<Vec<Option<Slot>>>,
    exclude_additive: bool,
}

impl Optimal {
    fn slot(&self, k: usize, len: usize) -> Option<Slot> {
        self.by_end
            .get(k)
            .and_then(|slots| slots.get(len))
            .copied()
            .flatten()
    }

    /// The lengths of the sequences kept for the prefix ending at `k`, shortest first, with their last match.
    fn lengths(&self, k: usize) -> Vec<(usize, Slot)> {
        let lengths: Vec<(usize, Slot)> = self
            .by_end
            .get(k)
            .map(|slots| {
                slots
                    .iter()
                    .enumerate()
                    .filter_map(|(len, slot)| slot.map(|slot| (len, slot)))
                    .collect()
            })
            .unwrap_or_default();
        #[cfg(test)]
        let lengths = length_order::permuted(lengths);
        lengths
    }

    /// Keeps the sequence of `len` matches ending with a match from `i` to `k` if no sequence as short or shorter
    /// covering the same prefix takes as few guesses or fewer.
    fn update(&mut self, step: Step, i: usize, k: usize, match_guesses: u64, len: usize) {
        let mut product = match_guesses;
        if len > 1 {
            let Some(before) = i.checked_sub(1).and_then(|end| self.slot(end, len - 1)) else {
                return;
            };
            product = product.saturating_mul(before.product);
        }
        let mut guesses = factorial(len).saturating_mul(product);
        if !self.exclude_additive {
            let additive = if len == 1 {
                1
            } else {
                (2..len).fold(MIN_GUESSES_BEFORE_GROWING_SEQUENCE, |acc, _| {
                    acc.saturating_mul(MIN_GUESSES_BEFORE_GROWING_SEQUENCE)
                })
            };
            guesses = guesses.saturating_add(additive);
        }
        let Some(slots) = self.by_end.get_mut(k) else {
            return;
        };
        let beaten = slots
            .iter()
            .take(len + 1)
            .flatten()
            .any(|competing| competing.guesses <= guesses);
        if beaten {
            return;
        }
        if slots.len() <= len {
            slots.resize(len + 1, None);
        }
        if let Some(slot) = slots.get_mut(len) {
            *slot = Some(Slot {
                step,
                i,
                product,
                guesses,
            });
        }
    }
}

/// `length!` as upstream computes it: a `usize` product that wraps past 20 (its sequences that long are already at
/// `u64::MAX` by their length penalty).
fn factorial(length: usize) -> u64 {
    (1..=length).fold(1usize, usize::wrapping_mul) as u64
}

/// The sequence of non-overlapping matches, with brute force between them, that covers the password in the fewest
/// guesses, and those guesses (upstream's `most_guessable_match_sequence`).
pub(super) fn most_guessable_match_sequence(
    password: &[char],
    matches: &[Scored],
    exclude_additive: bool,
) -> GuessCalculation {
    let n = password.len();
    if n == 0 {
        return GuessCalculation {
            guesses: 1,
            sequence: Vec::new(),
        };
    }
    // The matches by their end, each list in order of start (a stable sort: equal spans keep their order).
    let mut by_end: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (index, scored) in matches.iter().enumerate() {
        if let Some(list) = by_end.get_mut(scored.m.j) {
            list.push(index);
        }
    }
    for list in &mut by_end {
        list.sort_by_key(|&index| matches.get(index).map_or(0, |s| s.m.i));
    }

    let mut optimal = Optimal {
        by_end: vec![Vec::new(); n],
        exclude_additive,
    };
    for (k, ending_here) in by_end.iter().enumerate() {
        for &index in ending_here {
            let Some(scored) = matches.get(index) else {
                continue;
            };
            let i = scored.m.i;
            if i > 0 {
                for (len, _) in optimal.lengths(i - 1) {
                    optimal.update(Step::Given(index), i, k, scored.guesses, len + 1);
                }
            } else {
                optimal.update(Step::Given(index), 0, k, scored.guesses, 1);
            }
        }
        // Brute force over the whole prefix, then from each later start after a sequence that does not already end
        // in brute force (two brute forces in a row are never better than one).
        optimal.update(Step::BruteForce, 0, k, bruteforce_guesses(k + 1, n), 1);
        for i in 1..=k {
            let guesses = bruteforce_guesses(k - i + 1, n);
            for (len, last) in optimal.lengths(i - 1) {
                if last.step != Step::BruteForce {
                    optimal.update(Step::BruteForce, i, k, guesses, len + 1);
                }
            }
        }
    }

    // Unwind from the end: the best length there (the shortest of equals), then each match's predecessor.
    let mut best: Option<(usize, Slot)> = None;
    for (len, slot) in optimal.lengths(n - 1) {
        if best.is_none_or(|(_, kept)| slot.guesses < kept.guesses) {
            best = Some((len, slot));
        }
    }
    let Some((best_len, best_slot)) = best else {
        return GuessCalculation {
            guesses: u64::MAX,
            sequence: Vec::new(),
        };
    };
    let mut sequence = Vec::with_capacity(best_len);
    let (mut k, mut len) = (n - 1, best_len);
    while let Some(slot) = optimal.slot(k, len) {
        let m = match slot.step {
            Step::Given(index) => matches.get(index).map(|s| s.m.clone()),
            Step::BruteForce => Some(Match {
                i: slot.i,
                j: k,
                pattern: Pattern::BruteForce,
            }),
        };
        sequence.extend(m);
        if slot.i == 0 || len == 1 {
            break;
        }
        k = slot.i - 1;
        len -= 1;
    }
    sequence.reverse();
    GuessCalculation {
        guesses: best_slot.guesses,
        sequence,
    }
}

fn bruteforce_guesses(token_len: usize, password_len: usize) -> u64 {
    bruteforce_estimate(token_len).max(min_guesses(token_len, password_len))
}

fn bruteforce_estimate(token_len: usize) -> u64 {
    let guesses = (2..=token_len).fold(BRUTEFORCE_CARDINALITY, |acc, _| {
        acc.saturating_mul(BRUTEFORCE_CARDINALITY)
    });
    // One more than the least a match of the same length can take, so that a match over the same span wins.
    let min_guesses = if token_len == 1 {
        MIN_SUBMATCH_GUESSES_SINGLE_CHAR + 1
    } else {
        MIN_SUBMATCH_GUESSES_MULTI_CHAR + 1
    };
    guesses.max(min_guesses)
}

/// The guesses a pattern takes for its token, before the minimum for a part of the password.
pub(super) fn estimate(pattern: &Pattern, token: &[char], reference_year: i32) -> u64 {
    match pattern {
        Pattern::Dictionary(word) => dictionary_guesses(word, token),
        Pattern::Spatial {
            layout,
            turns,
            shifted_count,
        } => spatial_guesses(*layout, *turns, *shifted_count, token.len()),
        Pattern::Repeat {
            base_guesses,
            repeat_count,
            ..
        } => base_guesses.saturating_mul(*repeat_count as u64),
        Pattern::Sequence { ascending } => sequence_guesses(*ascending, token),
        Pattern::RecentYear { year } => (year - reference_year).abs().max(MIN_YEAR_SPACE) as u64,
        Pattern::Date {
            year,
            has_separator,
        } => {
            let year_space = (year - reference_year).abs().max(MIN_YEAR_SPACE) as u64;
            // Times the days of a year, times about four separators to choose from.
            let guesses = year_space * 365;
            if *has_separator {
                guesses * 4
            } else {
                guesses
            }
        }
        Pattern::BruteForce => bruteforce_estimate(token.len()),
    }
}

fn dictionary_guesses(word: &DictionaryWord, token: &[char]) -> u64 {
    (word.rank as u64)
        .wrapping_mul(uppercase_variations(token))
        .wrapping_mul(l33t_variations(word, token))
        .wrapping_mul(if word.reversed { 2 } else { 1 })
}

/// How many ways of capitalising the word an attacker would try before this one.
pub(super) fn uppercase_variations(token: &[char]) -> u64 {
    let text: String = token.iter().collect();
    if token.iter().all(|c| c.is_lowercase()) || text.to_lowercase() == text {
        return 1;
    }
    let upper = token.iter().filter(|c| c.is_uppercase()).count();
    let lower = token.iter().filter(|c| c.is_lowercase()).count();
    // Capitalised, all caps and a capital at the end are common: twice the guesses.
    let first_or_last_upper = token.first().is_some_and(|c| c.is_uppercase())
        || token.last().is_some_and(|c| c.is_uppercase());
    if (first_or_last_upper && upper == 1) || token.iter().all(|c| c.is_uppercase()) {
        return 2;
    }
    // Otherwise every way of capitalising (or lowercasing, if most letters are capitals) as many letters or fewer.
    (1..=upper.min(lower))
        .map(|i| n_ck(upper + lower, i))
        .fold(0, u64::wrapping_add)
}

/// How many ways of substituting the word's letters an attacker would try before this one.
pub(super) fn l33t_variations(word: &DictionaryWord, token: &[char]) -> u64 {
    if !word.l33t {
        return 1;
    }
    let lower: Vec<char> = token
        .iter()
        .collect::<String>()
        .to_lowercase()
        .chars()
        .collect();
    let mut variations = 1u64;
    for &(subbed, unsubbed) in &word.l33t_subs {
        let subbed = lower.iter().filter(|&&c| c == subbed).count();
        let unsubbed = lower.iter().filter(|&&c| c == unsubbed).count();
        if subbed == 0 || unsubbed == 0 {
            // Fully subbed or fully unsubbed: the attacker tries both.
            variations = variations.wrapping_mul(2);
        } else {
            variations = variations.wrapping_mul(mixed_variations(subbed, unsubbed));
        }
    }
    variations
}

/// The ways to mix `a` characters of one kind (capitals, or l33t substitutes) with `b` of the other, counting up to
/// the smaller number of either: the sum of `n_ck(a + b, i)` for `i` from 1 to `min(a, b)`, wrapping as upstream's.
fn mixed_variations(a: usize, b: usize) -> u64 {
    (1..=a.min(b))
        .map(|i| n_ck(a + b, i))
        .fold(0, u64::wrapping_add)
}

/// n choose k, saturating as upstream's (which saturates each product before dividing).
pub(super) fn n_ck(n: usize, k: usize) -> u64 {
    if k > n {
        return 0;
    }
    if k == 0 {
        return 1;
    }
    let mut result: usize = 1;
    let mut n = n;
    for d in 1..=k {
        result = result.saturating_mul(n);
        result /= d;
        n -= 1;
    }
    result as u64
}

fn spatial_guesses(layout: Layout, turns: usize, shifted_count: usize, len: usize) -> u64 {
    let starts = layout.starting_positions();
    let degree = layout.average_degree();
    // Every pattern of this length or shorter with as many turns or fewer.
    let mut guesses = 0u64;
    for i in 2..=len {
        for j in 1..=turns.min(i - 1) {
            guesses = guesses.saturating_add(
                n_ck(i - 1, j - 1)
                    .saturating_mul(starts)
                    .saturating_mul(degree.wrapping_pow(j as u32)),
            );
        }
    }
    // Shifted keys count like l33t substitutions.
    if shifted_count > 0 {
        let unshifted_count = len.saturating_sub(shifted_count);
        if unshifted_count == 0 {
            guesses = guesses.saturating_mul(2);
        } else {
            guesses = guesses.saturating_mul(mixed_variations(shifted_count, unshifted_count));
        }
    }
    guesses
}

fn sequence_guesses(ascending: bool, token: &[char]) -> u64 {
    let first = token.first().copied().unwrap_or_default();
    // Fewer guesses for the obvious starting points.
    let mut base_guesses = if ['a', 'A', 'z', 'Z', '0', '1', '9'].contains(&first) {
        4
    } else if first.is_ascii_digit() {
        10
    } else {
        26
    };
    if !ascending {
        base_guesses *= 2;
    }
    base_guesses * token.len() as u64
}

/// The score for a number of guesses: 0 (at most about 10³) to 4 (more than about 10¹⁰).
pub(super) fn score(guesses: u64) -> u8 {
    const DELTA: u64 = 5;
    if guesses < 1_000 + DELTA {
        0
    } else if guesses < 1_000_000 + DELTA {
        1
    } else if guesses < 100_000_000 + DELTA {
        2
    } else if guesses < 10_000_000_000 + DELTA {
        3
    } else {
        4
    }
}

/// Test builds only: visiting lengths in another order than shortest first, as upstream's hash maps may, to tell a
/// result that depends on that order.
#[cfg(test)]
pub(super) mod length_order {
    use std::cell::Cell;

    thread_local! {
        static STATE: Cell<Option<u64>> = const { Cell::new(None) };
    }

    /// Runs `f` with lengths visited longest first (`seed` 0) or in an order drawn from `seed`.
    pub(in super::super) fn with<T>(seed: u64, f: impl FnOnce() -> T) -> T {
        STATE.with(|state| state.set(Some(seed)));
        let result = f();
        STATE.with(|state| state.set(None));
        result
    }

    pub(super) fn permuted<T>(mut lengths: Vec<T>) -> Vec<T> {
        STATE.with(|state| match state.get() {
            None => {}
            Some(0) => lengths.reverse(),
            Some(mut x) => {
                for i in (1..lengths.len()).rev() {
                    // xorshift64
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    lengths.swap(i, (x % (i as u64 + 1)) as usize);
                }
                state.set(Some(x));
            }
        });
        lengths
    }
}

#[cfg(test)]
mod tests {
    //! Upstream's scoring tests, on the port's estimates and search.

    use super::*;
    use crate::strength::dictionaries::Dictionary;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    fn word(rank: usize) -> DictionaryWord {
        DictionaryWord {
            dictionary: Dictionary::Passwords,
            rank,
            reversed: false,
            l33t: false,
            l33t_subs: Vec::new(),
        }
    }

    fn given(i: usize, j: usize, guesses: u64) -> Scored {
        Scored {
            m: Match {
                i,
                j,
                pattern: Pattern::Dictionary(word(1)),
            },
            guesses,
        }
    }

    fn spans(sequence: &[Match]) -> Vec<(usize, usize, bool)> {
        sequence
            .iter()
            .map(|m| (m.i, m.j, m.pattern == Pattern::BruteForce))
            .collect()
    }

    #[test]
    fn n_ck_is_binomial_and_saturates() {
        for (n, k, result) in [
            (0, 0, 1),
            (1, 0, 1),
            (5, 0, 1),
            (0, 1, 0),
            (0, 5, 0),
            (2, 1, 2),
            (4, 2, 6),
            (33, 7, 4_272_048),
        ] {
            assert_eq!(n_ck(n, k), result);
        }
        for n in 0..63 {
            for k in 0..=n {
                assert_eq!(n_ck(n, k), n_ck(n, n - k));
                if n > 0 && k > 0 {
                    assert_eq!(n_ck(n, k), n_ck(n - 1, k - 1) + n_ck(n - 1, k));
                }
            }
        }
        for n in 63..=100 {
            for k in 0..=n + 1 {
                n_ck(n, k);
            }
        }
    }

    #[test]
    fn search_fills_gaps_with_brute_force_and_prefers_fewer_guesses() {
        let password = chars("0123456789");
        let search = |matches: &[Scored]| most_guessable_match_sequence(&password, matches, true);
        assert_eq!(spans(&search(&[]).sequence), [(0, 9, true)]);
        assert_eq!(
            spans(&search(&[given(0, 5, 1)]).sequence),
            [(0, 5, false), (6, 9, true)]
        );
        assert_eq!(
            spans(&search(&[given(3, 9, 1)]).sequence),
            [(0, 2, true), (3, 9, false)]
        );
        assert_eq!(
            spans(&search(&[given(1, 8, 1)]).sequence),
            [(0, 0, true), (1, 8, false), (9, 9, true)]
        );
        // Of two matches of the same span, the one with fewer guesses, whatever their order.
        let (cheap, dear) = (given(0, 9, 1), given(0, 9, 2));
        assert_eq!(
            search(&[cheap.clone(), dear.clone()]).sequence,
            vec![cheap.m]
        );
        assert_eq!(
            search(&[given(0, 9, 3), dear.clone()]).sequence,
            vec![dear.m]
        );
        // One match covering two: kept if its guesses are fewer than 2! times theirs.
        let result = search(&[given(0, 9, 3), given(0, 3, 2), given(4, 9, 1)]);
        assert_eq!(
            (result.guesses, spans(&result.sequence)),
            (3, vec![(0, 9, false)])
        );
        let result = search(&[given(0, 9, 5), given(0, 3, 2), given(4, 9, 1)]);
        assert_eq!(
            (result.guesses, spans(&result.sequence)),
            (4, vec![(0, 3, false), (4, 9, false)])
        );
    }

    #[test]
    fn estimates_are_upstreams() {
        let reference_year = 2025;
        let estimate_of =
            |pattern: Pattern, token: &str| estimate(&pattern, &chars(token), reference_year);
        for (token, base_guesses, repeat_count) in [("aa", 11, 2), ("abab", 200, 2)] {
            let pattern = Pattern::Repeat {
                base_char_len: 1,
                base_guesses,
                repeat_count,
            };
            assert_eq!(
                estimate_of(pattern, token),
                base_guesses * repeat_count as u64
            );
        }
        for (token, ascending, guesses) in [
            ("ab", true, 4 * 2),
            ("XYZ", true, 26 * 3),
            ("4567", true, 10 * 4),
            ("7654", false, 10 * 4 * 2),
            ("ZYX", false, 4 * 3 * 2),
        ] {
            assert_eq!(estimate_of(Pattern::Sequence { ascending }, token), guesses);
        }
        assert_eq!(
            estimate_of(Pattern::RecentYear { year: 1972 }, "1972"),
            2025 - 1972
        );
        assert_eq!(estimate_of(Pattern::RecentYear { year: 2010 }, "2010"), 20);
        assert_eq!(estimate_of(Pattern::RecentYear { year: 2025 }, "2025"), 20);
        let date = |year, has_separator| Pattern::Date {
            year,
            has_separator,
        };
        assert_eq!(estimate_of(date(1923, false), "1123"), 365 * (2025 - 1923));
        assert_eq!(estimate_of(date(2010, true), "1/1/2010"), 365 * 20 * 4);

        let spatial = |turns, shifted_count| Pattern::Spatial {
            layout: Layout::Qwerty,
            turns,
            shifted_count,
        };
        let base = 94 * 4 * 5;
        assert_eq!(estimate_of(spatial(1, 0), "zxcvbn"), base);
        assert_eq!(
            estimate_of(spatial(1, 2), "ZxCvbn"),
            base * (n_ck(6, 2) + n_ck(6, 1))
        );
        assert_eq!(estimate_of(spatial(1, 6), "ZXCVBN"), base * 2);
        let with_turns: u64 = (2..=8)
            .map(|i| {
                (1..4.min(i))
                    .map(|j| n_ck(i - 1, j - 1) * 94 * 4u64.pow(j as u32))
                    .sum::<u64>()
            })
            .sum();
        assert_eq!(estimate_of(spatial(3, 0), "zxcft6yh"), with_turns);
    }

    #[test]
    fn dictionary_estimates_count_capitals_reversal_and_substitutions() {
        let guesses = |word: &DictionaryWord, token: &str| dictionary_guesses(word, &chars(token));
        assert_eq!(guesses(&word(32), "aaaaa"), 32);
        assert_eq!(
            guesses(&word(32), "AAAaaa"),
            32 * uppercase_variations(&chars("AAAaaa"))
        );
        let reversed = DictionaryWord {
            reversed: true,
            ..word(32)
        };
        assert_eq!(guesses(&reversed, "aaa"), 64);
        let l33t = DictionaryWord {
            l33t: true,
            l33t_subs: vec![('@', 'a')],
            ..word(32)
        };
        assert_eq!(
            guesses(&l33t, "aaa@@@"),
            32 * l33t_variations(&l33t, &chars("aaa@@@"))
        );
        assert_eq!(
            guesses(&l33t, "AaA@@@"),
            32 * l33t_variations(&l33t, &chars("AaA@@@")) * uppercase_variations(&chars("AaA@@@"))
        );

        for (token, variations) in [
            ("", 1),
            ("a", 1),
            ("A", 2),
            ("abcdef", 1),
            ("Abcdef", 2),
            ("abcdeF", 2),
            ("ABCDEF", 2),
            ("aBcdef", n_ck(6, 1)),
            ("aBcDef", n_ck(6, 1) + n_ck(6, 2)),
            ("ABCDEf", n_ck(6, 1)),
            ("aBCDEf", n_ck(6, 1) + n_ck(6, 2)),
            ("ABCdef", n_ck(6, 1) + n_ck(6, 2) + n_ck(6, 3)),
        ] {
            assert_eq!(uppercase_variations(&chars(token)), variations, "{token}");
        }

        assert_eq!(l33t_variations(&word(1), &chars("")), 1);
        for (token, variations, subs) in [
            ("", 1, &[][..]),
            ("a", 1, &[]),
            ("4", 2, &[('4', 'a')]),
            ("4pple", 2, &[('4', 'a')]),
            ("abcet", 1, &[]),
            ("4bcet", 2, &[('4', 'a')]),
            ("a8cet", 2, &[('8', 'b')]),
            ("abce+", 2, &[('+', 't')]),
            ("48cet", 4, &[('4', 'a'), ('8', 'b')]),
            ("a4a4aa", n_ck(6, 2) + n_ck(6, 1), &[('4', 'a')]),
            ("4a4a44", n_ck(6, 2) + n_ck(6, 1), &[('4', 'a')]),
            ("Aa44aA", n_ck(6, 2) + n_ck(6, 1), &[('4', 'a')]),
            (
                "a44att+",
                (n_ck(4, 2) + n_ck(4, 1)) * n_ck(3, 1),
                &[('4', 'a'), ('+', 't')],
            ),
        ] {
            let word = DictionaryWord {
                l33t: !subs.is_empty(),
                l33t_subs: subs.to_vec(),
                ..word(1)
            };
            assert_eq!(l33t_variations(&word, &chars(token)), variations, "{token}");
        }
    }

    #[test]
    fn scores_are_upstreams_thresholds() {
        for (guesses, expected) in [
            (0, 0),
            (1_004, 0),
            (1_005, 1),
            (1_000_004, 1),
            (1_000_005, 2),
            (100_000_004, 2),
            (100_000_005, 3),
            (10_000_000_004, 3),
            (10_000_000_005, 4),
            (u64::MAX, 4),
        ] {
            assert_eq!(score(guesses), expected);
        }
    }
}
