//! The matchers: every span of the password that fits a pattern an attacker would try early. Indices are in chars,
//! inclusive at both ends, as upstream's.

use super::dictionaries::{Dictionary, Lookup, UserWords, WORD_LISTS};
use super::keyboards::{Layout, LAYOUTS, SHIFTED_CHARS};
use super::scoring;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Match {
    pub i: usize,
    pub j: usize,
    pub pattern: Pattern,
}

impl Match {
    /// The length of the matched token in chars (every matcher's token is the password's chars `i..=j`).
    pub(super) fn char_len(&self) -> usize {
        self.j - self.i + 1
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Pattern {
    Dictionary(DictionaryWord),
    Spatial {
        layout: Layout,
        turns: usize,
        shifted_count: usize,
    },
    Repeat {
        base_char_len: usize,
        base_guesses: u64,
        repeat_count: usize,
    },
    Sequence {
        ascending: bool,
    },
    /// Upstream's one regex pattern, `recent_year`.
    RecentYear {
        year: i32,
    },
    Date {
        year: i32,
        has_separator: bool,
    },
    BruteForce,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct DictionaryWord {
    pub dictionary: Dictionary,
    pub rank: usize,
    pub reversed: bool,
    pub l33t: bool,
    /// The substitutions (l33t character, letter) whose l33t character is in the token.
    pub l33t_subs: Vec<(char, char)>,
}

/// What the matchers need besides the password: the user's own words, and the year dates are measured from.
pub(super) struct Context<'a> {
    pub user_words: &'a UserWords,
    pub reference_year: i32,
}

/// Every match of every matcher, ordered by `i` then `j` as upstream orders them.
pub(super) fn omnimatch(password: &[char], context: &Context<'_>) -> Vec<Match> {
    let mut matches = dictionary_matches(password, context.user_words);
    matches.extend(reverse_dictionary_matches(password, context.user_words));
    matches.extend(l33t_matches(password, context.user_words));
    for layout in LAYOUTS {
        matches.extend(spatial_matches(password, layout));
    }
    matches.extend(repeat_matches(password, context));
    matches.extend(sequence_matches(password));
    matches.extend(recent_year_matches(password));
    matches.extend(date_matches(password, context.reference_year));
    let spans: Vec<(usize, usize)> = matches.iter().map(|m| (m.i, m.j)).collect();
    let mut slots: Vec<Option<Match>> = matches.into_iter().map(Some).collect();
    upstream_sort_order(&spans)
        .into_iter()
        .filter_map(|index| slots.get_mut(index).and_then(Option::take))
        .collect()
}

/// A span to sort, as large as upstream's `Match` (192 bytes) and, like it, not `Copy`: std's unstable sort
/// partitions and sorts small slices with other algorithms (which order equal elements differently) for elements of
/// up to 96 bytes.
struct UpstreamSizedSpan {
    i: usize,
    j: usize,
    index: usize,
    _size: [usize; 21],
}

/// The order in which upstream's `sort_unstable_by` of its matches by (i, j) leaves them, as indices into `spans`.
///
/// Matches of the same span keep an order that decides which of equally cheap ones the scoring keeps (and so the
/// feedback, for instance a common password over a sequence in "123456789"). That order is std's unstable sort's,
/// which depends only on the comparisons and the element type's size class, so sorting the spans in a type of the
/// same class as upstream's `Match` orders ties as upstream does (given the matchers' output in the same order).
pub(super) fn upstream_sort_order(spans: &[(usize, usize)]) -> Vec<usize> {
    let mut keys: Vec<UpstreamSizedSpan> = spans
        .iter()
        .enumerate()
        .map(|(index, &(i, j))| UpstreamSizedSpan {
            i,
            j,
            index,
            _size: [0; 21],
        })
        .collect();
    keys.sort_unstable_by(|a, b| a.i.cmp(&b.i).then_with(|| a.j.cmp(&b.j)));
    keys.into_iter().map(|key| key.index).collect()
}

/// Every span whose lowercase form is a ranked word. As upstream, the spans are counted in the password's chars but
/// taken from its lowercase form, which can be longer (`İ` lowercases to two chars).
fn dictionary_matches(password: &[char], user_words: &UserWords) -> Vec<Match> {
    let text: String = password.iter().collect();
    let lower = text.to_lowercase();
    let starts: Vec<usize> = lower
        .char_indices()
        .map(|(start, _)| start)
        .chain([lower.len()])
        .collect();
    let candidate = |i: usize, j: usize| -> &str {
        let start = starts.get(i).copied().unwrap_or(lower.len());
        let end = starts.get(j + 1).copied().unwrap_or(lower.len());
        lower.get(start..end).unwrap_or_default()
    };
    let mut matches = Vec::new();
    let mut find_all = |dictionary: Dictionary, lookup: &dyn Fn(&str) -> Lookup| {
        for i in 0..password.len() {
            for j in i..password.len() {
                let found = lookup(candidate(i, j));
                if let Some(rank) = found.rank {
                    matches.push(Match {
                        i,
                        j,
                        pattern: Pattern::Dictionary(DictionaryWord {
                            dictionary,
                            rank,
                            reversed: false,
                            l33t: false,
                            l33t_subs: Vec::new(),
                        }),
                    });
                }
                if !found.extends {
                    break;
                }
            }
        }
    };
    for (dictionary, table) in &WORD_LISTS {
        find_all(*dictionary, &|word| table.lookup(word.as_bytes()));
    }
    find_all(Dictionary::UserInputs, &|word| user_words.lookup(word));
    matches
}

fn reverse_dictionary_matches(password: &[char], user_words: &UserWords) -> Vec<Match> {
    let reversed: Vec<char> = password.iter().rev().copied().collect();
    let last = password.len().saturating_sub(1);
    dictionary_matches(&reversed, user_words)
        .into_iter()
        .map(|mut m| {
            if let Pattern::Dictionary(word) = &mut m.pattern {
                word.reversed = true;
            }
            let i = last - m.j;
            m.j = last - m.i;
            m.i = i;
            m
        })
        .collect()
}

/// Upstream's l33t table: each letter and the characters that stand for it.
const L33T_TABLE: [(char, &[char]); 12] = [
    ('a', &['4', '@']),
    ('b', &['8']),
    ('c', &['(', '{', '[', '<']),
    ('e', &['3']),
    ('g', &['6', '9']),
    ('i', &['1', '!', '|']),
    ('l', &['1', '|', '7']),
    ('o', &['0']),
    ('s', &['$', '5']),
    ('t', &['+', '7']),
    ('x', &['%']),
    ('z', &['2']),
];

/// Dictionary words found once l33t characters are read as letters, for each way of reading them; only matches with
/// an actual substitution count.
fn l33t_matches(password: &[char], user_words: &UserWords) -> Vec<Match> {
    let mut matches = Vec::new();
    for subs in l33t_substitutions(&relevant_l33t_table(password)) {
        let subbed: Vec<char> = password
            .iter()
            .map(|&c| {
                subs.iter()
                    .find(|&&(l33t, _)| l33t == c)
                    .map_or(c, |&(_, letter)| letter)
            })
            .collect();
        let subbed_text: String = subbed.iter().collect();
        let subbed_lower = subbed_text.to_lowercase();
        let subbed_lower: Vec<char> = subbed_lower.chars().collect();
        for mut m in dictionary_matches(&subbed, user_words) {
            let token: String = password.get(m.i..=m.j).unwrap_or_default().iter().collect();
            // The word matched: the span of the subbed password's lowercase form, as the dictionary matcher read it.
            let matched_word: String = subbed_lower
                .get(m.i..=m.j)
                .unwrap_or_default()
                .iter()
                .collect();
            if token.to_lowercase() == matched_word {
                continue;
            }
            if let Pattern::Dictionary(word) = &mut m.pattern {
                word.l33t = true;
                word.l33t_subs = subs
                    .iter()
                    .copied()
                    .filter(|&(l33t, _)| token.contains(l33t))
                    .collect();
            }
            matches.push(m);
        }
    }
    matches
}

/// The letters of the l33t table with those of their l33t characters that are in the password.
fn relevant_l33t_table(password: &[char]) -> Vec<(char, Vec<char>)> {
    L33T_TABLE
        .iter()
        .filter_map(|&(letter, l33t_chars)| {
            let present: Vec<char> = l33t_chars
                .iter()
                .copied()
                .filter(|c| password.contains(c))
                .collect();
            (!present.is_empty()).then_some((letter, present))
        })
        .collect()
}

/// Every way of reading the relevant l33t characters as letters, each as (l33t character, letter) pairs: one l33t
/// character per letter, and a character that stands for two letters ('1' for 'i' or 'l') read as either.
/// Upstream's algorithm; its order of letters is a hash map's, which only changes the order of the result.
fn l33t_substitutions(table: &[(char, Vec<char>)]) -> Vec<Vec<(char, char)>> {
    let mut subs: Vec<Vec<(char, char)>> = vec![Vec::new()];
    for (letter, l33t_chars) in table {
        let mut next = Vec::new();
        for &l33t in l33t_chars {
            for sub in &subs {
                match sub.iter().position(|&(c, _)| c == l33t) {
                    Some(taken) => {
                        let mut alternative = sub.clone();
                        alternative.remove(taken);
                        alternative.push((l33t, *letter));
                        next.push(sub.clone());
                        next.push(alternative);
                    }
                    None => {
                        let mut extended = sub.clone();
                        extended.push((l33t, *letter));
                        next.push(extended);
                    }
                }
            }
        }
        subs = next;
    }
    subs.retain(|sub| !sub.is_empty());
    subs
}

fn spatial_matches(password: &[char], layout: Layout) -> Vec<Match> {
    let mut matches = Vec::new();
    let len = password.len();
    if len <= 2 {
        return matches;
    }
    let at = |index: usize| password.get(index).copied().unwrap_or_default();
    let mut i = 0;
    while i < len - 1 {
        let mut j = i + 1;
        let mut last_direction = None;
        let mut turns = 0;
        let mut shifted_count = usize::from(layout.is_keyboard() && SHIFTED_CHARS.contains(&at(i)));
        loop {
            let mut found = false;
            if j < len {
                let current = at(j);
                let neighbours = layout.neighbours(at(j - 1));
                for (direction, neighbour) in neighbours.iter().enumerate() {
                    let Some(position) = neighbour.and_then(|keys| keys.find(current)) else {
                        continue;
                    };
                    found = true;
                    // Position 1 is the shifted character of the key ('@' in "2@").
                    if position == 1 {
                        shifted_count += 1;
                    }
                    if last_direction != Some(direction) {
                        turns += 1;
                        last_direction = Some(direction);
                    }
                    break;
                }
            }
            if found {
                j += 1;
            } else {
                if j - i > 2 {
                    matches.push(Match {
                        i,
                        j: j - 1,
                        pattern: Pattern::Spatial {
                            layout,
                            turns,
                            shifted_count,
                        },
                    });
                }
                i = j;
                break;
            }
        }
    }
    matches
}

/// A repeated span as upstream's regexes find it: where it starts, its repeated unit's length and its whole length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Repetition {
    pub start: usize,
    pub unit_len: usize,
    pub len: usize,
}

/// The first match of `(.+)\1+` (`greedy`) or `(.+?)\1+` in `text`, as a backtracking engine finds it: the leftmost
/// start, then the longest (greedy) or shortest unit that repeats right after itself, then as many repetitions as
/// follow. `.` matches any char but '\n'.
pub(super) fn find_repetition(text: &[char], greedy: bool) -> Option<Repetition> {
    for start in 0..text.len() {
        let rest = text.get(start..).unwrap_or_default();
        let longest_unit = rest.iter().take_while(|&&c| c != '\n').count();
        let repeats_after_itself = |unit_len: usize| {
            rest.len() >= 2 * unit_len && rest.get(..unit_len) == rest.get(unit_len..2 * unit_len)
        };
        let unit_len = if greedy {
            (1..=longest_unit)
                .rev()
                .find(|&len| repeats_after_itself(len))
        } else {
            (1..=longest_unit).find(|&len| repeats_after_itself(len))
        };
        if let Some(unit_len) = unit_len {
            let unit = rest.get(..unit_len).unwrap_or_default();
            let copies = rest
                .chunks_exact(unit_len)
                .take_while(|chunk| *chunk == unit)
                .count();
            return Some(Repetition {
                start,
                unit_len,
                len: copies * unit_len,
            });
        }
    }
    None
}

/// The unit `^(.+?)\1+$` captures in `text` (which has no '\n'): its shortest unit that repeats to fill it exactly.
pub(super) fn shortest_period(text: &[char]) -> Option<usize> {
    (1..=text.len() / 2).find(|&unit_len| {
        text.len().is_multiple_of(unit_len)
            && text
                .get(..unit_len)
                .is_some_and(|unit| text.chunks_exact(unit_len).all(|chunk| chunk == unit))
    })
}

/// Repeated spans, left to right, each scored on its unit (matched and scored recursively).
fn repeat_matches(password: &[char], context: &Context<'_>) -> Vec<Match> {
    let mut matches = Vec::new();
    let mut last_index = 0;
    while last_index < password.len() {
        let rest = password.get(last_index..).unwrap_or_default();
        let Some(greedy) = find_repetition(rest, true) else {
            break;
        };
        let Some(lazy) = find_repetition(rest, false) else {
            break;
        };
        // Greedy beats lazy for "aabaab" (aab twice, not aa); its unit may itself repeat ("aabaab" in
        // "aabaabaabaab"), so it is reduced to its shortest period. Lazy beats greedy for "aaaaa" (a five times).
        let (repetition, base_char_len) = if greedy.len > lazy.len {
            let span = rest
                .get(greedy.start..greedy.start + greedy.len)
                .unwrap_or_default();
            (greedy, shortest_period(span).unwrap_or(greedy.unit_len))
        } else {
            (lazy, lazy.unit_len)
        };
        let i = last_index + repetition.start;
        let j = i + repetition.len - 1;
        let base = rest
            .get(repetition.start..repetition.start + base_char_len)
            .unwrap_or_default();
        let base_matches = omnimatch(base, context);
        let base_guesses = scoring::most_guessable_match_sequence(
            base,
            &scoring::with_guesses(base, base_matches, context.reference_year),
            false,
        )
        .guesses;
        matches.push(Match {
            i,
            j,
            pattern: Pattern::Repeat {
                base_char_len,
                base_guesses,
                repeat_count: repetition.len / base_char_len,
            },
        });
        last_index = j + 1;
    }
    matches
}

const MAX_SEQUENCE_DELTA: i64 = 5;

/// Runs of chars whose code points step by the same small amount ("abcd", "9753", Greek or Cyrillic runs).
fn sequence_matches(password: &[char]) -> Vec<Match> {
    let mut matches = Vec::new();
    let len = password.len();
    if len <= 1 {
        return matches;
    }
    let mut push = |i: usize, j: usize, delta: i64| {
        let delta_abs = delta.abs();
        if (j - i > 1 || delta_abs == 1) && (0 < delta_abs && delta_abs <= MAX_SEQUENCE_DELTA) {
            matches.push(Match {
                i,
                j,
                pattern: Pattern::Sequence {
                    ascending: delta > 0,
                },
            });
        }
    };
    let mut i = 0;
    let mut last_delta = 0;
    for (k, pair) in password.windows(2).enumerate() {
        let delta = i64::from(u32::from(pair[1])) - i64::from(u32::from(pair[0]));
        if last_delta == 0 {
            last_delta = delta;
        }
        if last_delta == delta {
            continue;
        }
        // `pair` is (k, k + 1): the run so far ends at k.
        push(i, k, last_delta);
        i = k;
        last_delta = delta;
    }
    push(i, len - 1, last_delta);
    matches
}

/// Leftmost-first, non-overlapping matches of `19[0-9]{2}|20[0-9]{2}`.
fn recent_year_matches(password: &[char]) -> Vec<Match> {
    let mut matches = Vec::new();
    let mut start = 0;
    while let Some(window) = password.get(start..start + 4) {
        match recent_year(window) {
            Some(year) => {
                matches.push(Match {
                    i: start,
                    j: start + 3,
                    pattern: Pattern::RecentYear { year },
                });
                start += 4;
            }
            None => start += 1,
        }
    }
    matches
}

fn recent_year(window: &[char]) -> Option<i32> {
    let [first, second, third, fourth] = *window else {
        return None;
    };
    let century = matches!((first, second), ('1', '9') | ('2', '0'));
    (century && third.is_ascii_digit() && fourth.is_ascii_digit()).then(|| {
        window
            .iter()
            .filter_map(|c| c.to_digit(10))
            .fold(0, |year, digit| year * 10 + digit as i32)
    })
}

const DATE_MIN_YEAR: u16 = 1000;
const DATE_MAX_YEAR: u16 = 2050;

/// For a separator-less date of 4 to 8 digits, where the second and third numbers start
/// (e.g. 4 digits: "1 1 91" or "91 1 1").
const DATE_SPLITS: [&[(usize, usize)]; 5] = [
    &[(1, 2), (2, 3)],
    &[(1, 3), (2, 3)],
    &[(1, 2), (2, 4), (4, 5)],
    &[(1, 3), (2, 3), (4, 5), (4, 6)],
    &[(2, 4), (4, 6)],
];

fn number(digits: &[char]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    digits
        .iter()
        .try_fold(0u16, |n, c| c.to_digit(10).map(|d| n * 10 + d as u16))
}

/// `\s` (Unicode White_Space), '/', '\', '_', '.' or '-'.
fn is_date_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '/' | '\\' | '_' | '.' | '-')
}

/// `^([0-9]{1,4})([\s/\\_.-])([0-9]{1,2})([\s/\\_.-])([0-9]{1,4})$` with both separators equal: the three numbers and
/// the separator.
fn split_separated_date(token: &[char]) -> Option<(u16, u16, u16)> {
    let digits_at = |from: usize| {
        token
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let first_len = digits_at(0);
    let first_separator = *token.get(first_len)?;
    let second_len = digits_at(first_len + 1);
    let second_separator = *token.get(first_len + 1 + second_len)?;
    let third_start = first_len + 2 + second_len;
    let third_len = digits_at(third_start);
    let well_formed = (1..=4).contains(&first_len)
        && (1..=2).contains(&second_len)
        && (1..=4).contains(&third_len)
        && third_start + third_len == token.len()
        && is_date_separator(first_separator)
        && is_date_separator(second_separator)
        && first_separator == second_separator;
    if !well_formed {
        return None;
    }
    Some((
        number(token.get(..first_len)?)?,
        number(token.get(first_len + 1..first_len + 1 + second_len)?)?,
        number(token.get(third_start..)?)?,
    ))
}

/// Dates of 4 to 8 digits and, with two equal separators, of 6 to 10 chars; a date inside a longer one is dropped.
fn date_matches(password: &[char], reference_year: i32) -> Vec<Match> {
    let mut matches = Vec::new();
    let len = password.len();
    if len < 4 {
        return matches;
    }
    for i in 0..len - 3 {
        for j in (i + 3)..(i + 8) {
            let Some(token) = password.get(i..=j) else {
                break;
            };
            if !token.iter().all(char::is_ascii_digit) {
                continue;
            }
            let splits = DATE_SPLITS
                .get(token.len() - 4)
                .copied()
                .unwrap_or_default();
            // Of the readings, the one with the year closest to the reference year (the first of equals).
            let best = splits
                .iter()
                .filter_map(|&(k, l)| {
                    map_ints_to_ymd(
                        number(token.get(..k)?)?,
                        number(token.get(k..l)?)?,
                        number(token.get(l..)?)?,
                    )
                })
                .min_by_key(|&(year, _, _)| (year - reference_year).abs());
            if let Some((year, _, _)) = best {
                matches.push(Match {
                    i,
                    j,
                    pattern: Pattern::Date {
                        year,
                        has_separator: false,
                    },
                });
            }
        }
    }
    if len >= 6 {
        for i in 0..len - 5 {
            for j in (i + 5)..(i + 10) {
                let Some(token) = password.get(i..=j) else {
                    break;
                };
                let Some((first, second, third)) = split_separated_date(token) else {
                    continue;
                };
                if let Some((year, _, _)) = map_ints_to_ymd(first, second, third) {
                    matches.push(Match {
                        i,
                        j,
                        pattern: Pattern::Date {
                            year,
                            has_separator: true,
                        },
                    });
                }
            }
        }
    }
    // No two date matches share a span, so "another match covering this one" is one with a different span.
    let spans: Vec<(usize, usize)> = matches.iter().map(|m| (m.i, m.j)).collect();
    matches.retain(|m| {
        !spans
            .iter()
            .any(|&(i, j)| (i, j) != (m.i, m.j) && i <= m.i && j >= m.j)
    });
    matches
}

/// Reads three numbers as (year, month, day), or `None` if they cannot be a date.
fn map_ints_to_ymd(first: u16, second: u16, third: u16) -> Option<(i32, i8, i8)> {
    // Discard if the middle number is over 31 or zero (years are never in the middle), any number is over the max
    // year or has three digits, two are over 31 (the max day) or zero, or all are over 12 (the max month).
    if second > 31 || second == 0 {
        return None;
    }
    let (mut over_12, mut over_31, mut zero) = (0, 0, 0);
    for n in [first, second, third] {
        if (99 < n && n < DATE_MIN_YEAR) || n > DATE_MAX_YEAR {
            return None;
        }
        over_31 += usize::from(n > 31);
        over_12 += usize::from(n > 12);
        zero += usize::from(n == 0);
    }
    if over_31 >= 2 || over_12 == 3 || zero >= 2 {
        return None;
    }
    // A four-digit year first, at either end: the rest must then be a day and a month.
    let year_splits = [(third, first, second), (first, second, third)];
    for (year, a, b) in year_splits {
        if (DATE_MIN_YEAR..=DATE_MAX_YEAR).contains(&year) {
            return map_ints_to_md(a, b).map(|(month, day)| (i32::from(year), month, day));
        }
    }
    // Otherwise a two-digit year, at either end.
    for (year, a, b) in year_splits {
        if let Some((month, day)) = map_ints_to_md(a, b) {
            return Some((i32::from(two_to_four_digit_year(year)), month, day));
        }
    }
    None
}

fn map_ints_to_md(first: u16, second: u16) -> Option<(i8, i8)> {
    [(first, second), (second, first)]
        .into_iter()
        .find(|&(day, month)| (1..=31).contains(&day) && (1..=12).contains(&month))
        .map(|(day, month)| (month as i8, day as i8))
}

fn two_to_four_digit_year(year: u16) -> u16 {
    if year > 99 {
        year
    } else if year > 50 {
        year + 1900
    } else {
        year + 2000
    }
}

#[cfg(test)]
mod tests {
    //! Upstream's matcher tests, on the port's matchers; and the hand-written matchers of upstream's regexes against
    //! the engines upstream uses.

    use super::*;
    use proptest::prelude::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    fn no_user_words() -> UserWords {
        UserWords::new(&[])
    }

    fn token(password: &str, m: &Match) -> String {
        password.chars().skip(m.i).take(m.char_len()).collect()
    }

    /// The first match of `matches` with the token `text`.
    fn find<'a>(password: &str, matches: &'a [Match], text: &str) -> &'a Match {
        matches
            .iter()
            .find(|m| token(password, m) == text)
            .unwrap_or_else(|| panic!("no match {text:?} in {password:?}"))
    }

    fn word(m: &Match) -> &DictionaryWord {
        match &m.pattern {
            Pattern::Dictionary(word) => word,
            other => panic!("not a dictionary match: {other:?}"),
        }
    }

    #[test]
    fn dictionary_matches_words_inside_and_around_other_words() {
        for (password, expected) in [
            (
                "motherboard",
                &[("mother", 0, 5), ("motherboard", 0, 10), ("board", 6, 10)][..],
            ),
            ("1abcdef12", &[("1abcdef", 0, 6), ("abcdef12", 1, 8)]),
            ("BoaRdZ", &[("BoaRd", 0, 4)]),
            ("asdf1234&*", &[("asdf", 0, 3), ("asdf1234", 0, 7)]),
        ] {
            let matches = dictionary_matches(&chars(password), &no_user_words());
            for &(text, i, j) in expected {
                let m = find(password, &matches, text);
                assert_eq!((m.i, m.j), (i, j));
                assert!(!word(m).reversed && !word(m).l33t);
            }
        }
    }

    #[test]
    fn dictionary_matches_user_inputs_and_reversed_words() {
        let user_words = UserWords::new(&["BeJeebus"]);
        let matches = dictionary_matches(&chars("bejeebus"), &user_words);
        let m = find("bejeebus", &matches, "bejeebus");
        assert_eq!(
            (m.i, m.j, word(m).dictionary, word(m).rank),
            (0, 7, Dictionary::UserInputs, 1)
        );

        let matches = reverse_dictionary_matches(&chars("rehtom"), &no_user_words());
        let m = find("rehtom", &matches, "rehtom");
        assert_eq!((m.i, m.j), (0, 5));
        assert!(word(m).reversed);
    }

    #[test]
    fn user_words_keep_the_last_rank_of_a_repeated_word() {
        let user_words = UserWords::new(&["Ann", "bob", "ANN", "zoë"]);
        assert_eq!(user_words.lookup("ann").rank, Some(3));
        assert_eq!(user_words.lookup("bob").rank, Some(2));
        assert_eq!(user_words.lookup("zoë").rank, Some(4));
        assert_eq!(
            user_words.lookup("an"),
            Lookup {
                rank: None,
                extends: true
            }
        );
        assert_eq!(
            user_words.lookup("zz"),
            Lookup {
                rank: None,
                extends: false
            }
        );
    }

    #[test]
    fn l33t_table_is_reduced_to_the_characters_present() {
        assert!(relevant_l33t_table(&chars("")).is_empty());
        assert!(relevant_l33t_table(&chars("a")).is_empty());
        assert_eq!(relevant_l33t_table(&chars("4")), [('a', vec!['4'])]);
        assert_eq!(relevant_l33t_table(&chars("4@")), [('a', vec!['4', '@'])]);
        assert_eq!(
            relevant_l33t_table(&chars("4({60")),
            [
                ('a', vec!['4']),
                ('c', vec!['(', '{']),
                ('g', vec!['6']),
                ('o', vec!['0'])
            ]
        );
    }

    #[test]
    fn l33t_substitutions_are_every_reading() {
        assert!(l33t_substitutions(&[]).is_empty());
        assert_eq!(l33t_substitutions(&[('a', vec!['@'])]), [vec![('@', 'a')]]);
        assert_eq!(
            l33t_substitutions(&[('a', vec!['@', '4'])]),
            [vec![('@', 'a')], vec![('4', 'a')]]
        );
        assert_eq!(
            l33t_substitutions(&[('a', vec!['@', '4']), ('c', vec!['('])]),
            [vec![('@', 'a'), ('(', 'c')], vec![('4', 'a'), ('(', 'c')]]
        );
        // '1' stands for 'i' or 'l': both readings.
        assert_eq!(
            l33t_substitutions(&[('i', vec!['1']), ('l', vec!['1'])]),
            [vec![('1', 'i')], vec![('1', 'l')]]
        );
    }

    #[test]
    fn l33t_matches_need_an_actual_substitution() {
        for (password, expected) in [
            ("m0th3r", &[("m0th3r", 0, 5)][..]),
            ("p@ssw0rd", &[("p@ss", 0, 3), ("@ssw0rd", 1, 7)]),
        ] {
            let matches = l33t_matches(&chars(password), &no_user_words());
            for &(text, i, j) in expected {
                let m = find(password, &matches, text);
                assert_eq!((m.i, m.j), (i, j));
                assert!(word(m).l33t);
            }
        }
        let matches = l33t_matches(&chars("p4@ssword"), &no_user_words());
        assert!(!matches.iter().any(|m| token("p4@ssword", m) == "p4@ssword"));
        assert!(l33t_matches(&chars("4 ( @"), &no_user_words()).is_empty());
        assert!(l33t_matches(&chars("password"), &no_user_words()).is_empty());
    }

    #[test]
    fn spatial_matches_walks_of_three_keys_or_more() {
        for password in ["", "/", "qw", "*/"] {
            for layout in LAYOUTS {
                assert!(spatial_matches(&chars(password), layout).is_empty());
            }
        }
        for (password, layout, turns, shifted) in [
            ("12345", Layout::Qwerty, 1, 0),
            ("@WSX", Layout::Qwerty, 1, 4),
            ("6tfGHJ", Layout::Qwerty, 2, 3),
            ("hGFd", Layout::Qwerty, 1, 2),
            ("/;p09876yhn", Layout::Qwerty, 3, 0),
            ("Xdr%", Layout::Qwerty, 1, 2),
            ("159-", Layout::Keypad, 1, 0),
            ("*84", Layout::Keypad, 1, 0),
            ("/8520", Layout::Keypad, 1, 0),
            ("369", Layout::Keypad, 1, 0),
            ("/963.", Layout::MacKeypad, 1, 0),
            ("*-632.0214", Layout::MacKeypad, 9, 0),
            ("aoEP%yIxkjq:", Layout::Dvorak, 4, 5),
            (";qoaOQ:Aoq;a", Layout::Dvorak, 11, 4),
        ] {
            let matches = spatial_matches(&chars(password), layout);
            let m = find(password, &matches, password);
            assert_eq!(
                m.pattern,
                Pattern::Spatial {
                    layout,
                    turns,
                    shifted_count: shifted
                },
                "{password}"
            );
        }
        let matches = spatial_matches(&chars("rz6tfGHJ"), Layout::Qwerty);
        assert_eq!((matches[0].i, matches[0].j), (2, 7));
    }

    #[test]
    fn sequence_matches_runs_of_equal_steps() {
        for password in ["", "a", "1"] {
            assert!(sequence_matches(&chars(password)).is_empty());
        }
        let matches = sequence_matches(&chars("abcbabc"));
        for (i, j, ascending) in [(0, 2, true), (2, 4, false), (4, 6, true)] {
            assert!(matches.contains(&Match {
                i,
                j,
                pattern: Pattern::Sequence { ascending }
            }));
        }
        let matches = sequence_matches(&chars("!jihg22"));
        assert_eq!(
            find("!jihg22", &matches, "jihg").pattern,
            Pattern::Sequence { ascending: false }
        );
        for (password, ascending) in [
            ("ABC", true),
            ("CBA", false),
            ("PQR", true),
            ("RQP", false),
            ("XYZ", true),
            ("ZYX", false),
            ("abcd", true),
            ("dcba", false),
            ("jihg", false),
            ("wxyz", true),
            ("zxvt", false),
            ("0369", true),
            ("97531", false),
        ] {
            let matches = sequence_matches(&chars(password));
            let m = find(password, &matches, password);
            assert_eq!((m.i, m.j), (0, password.len() - 1));
            assert_eq!(m.pattern, Pattern::Sequence { ascending });
        }
    }

    fn repeats(password: &str) -> Vec<Match> {
        let user_words = no_user_words();
        repeat_matches(
            &chars(password),
            &Context {
                user_words: &user_words,
                reference_year: 2025,
            },
        )
    }

    fn base_len(m: &Match) -> usize {
        match m.pattern {
            Pattern::Repeat { base_char_len, .. } => base_char_len,
            ref other => panic!("not a repeat: {other:?}"),
        }
    }

    #[test]
    fn repeat_matches_the_longest_repeats_and_their_shortest_unit() {
        assert!(repeats("").is_empty());
        assert!(repeats("#").is_empty());
        let m = &repeats("y4@&&&&&u%7")[0];
        assert_eq!((m.i, m.j, base_len(m)), (3, 7, 1));
        for len in 3..13 {
            for c in ['a', 'Z', '4', '&'] {
                let password = c.to_string().repeat(len);
                let m = &repeats(&password)[0];
                assert_eq!((m.i, m.j, base_len(m)), (0, len - 1, 1));
            }
        }
        for (password, expected) in [
            (
                "BBB1111aaaaa@@@@@@",
                &[(0, 2), (3, 6), (7, 11), (12, 17)][..],
            ),
            (
                "2818BBBbzsdf1111@*&@!aaaaaEUDA@@@@@@1729",
                &[(4, 6), (12, 15), (21, 25), (30, 35)],
            ),
        ] {
            let found: Vec<(usize, usize, usize)> = repeats(password)
                .iter()
                .map(|m| (m.i, m.j, base_len(m)))
                .collect();
            let expected: Vec<(usize, usize, usize)> =
                expected.iter().map(|&(i, j)| (i, j, 1)).collect();
            assert_eq!(found, expected, "{password}");
        }
        for (password, i, j, unit) in [
            ("abab", 0, 3, 2),
            ("aabaab", 0, 5, 3),
            ("abababab", 0, 7, 2),
            ("x\u{1F431}\u{1F436}\u{1F431}\u{1F436}", 1, 4, 2),
        ] {
            let m = &repeats(password)[0];
            assert_eq!((m.i, m.j, base_len(m)), (i, j, unit), "{password}");
        }
    }

    #[test]
    fn recent_years_and_dates_are_matched() {
        for password in ["1922", "2017"] {
            let matches = recent_year_matches(&chars(password));
            assert_eq!((matches[0].i, matches[0].j), (0, 3));
        }
        for separator in ["", " ", "-", "/", "\\", "_", "."] {
            let password = format!("13{separator}2{separator}1921");
            let matches = date_matches(&chars(&password), 2025);
            let m = find(&password, &matches, &password);
            assert_eq!(
                m.pattern,
                Pattern::Date {
                    year: 1921,
                    has_separator: !separator.is_empty()
                }
            );
        }
        let matches = date_matches(&chars("111525"), 2025);
        assert_eq!(
            matches[0].pattern,
            Pattern::Date {
                year: 2025,
                has_separator: false
            }
        );
        for (day, month, year) in [(1, 1, 1999), (11, 8, 2000), (9, 12, 2005), (22, 11, 1551)] {
            for separator in ["", "."] {
                let password = format!("{year}{separator}{month}{separator}{day}");
                let matches = date_matches(&chars(&password), 2025);
                let m = find(&password, &matches, &password);
                assert_eq!(
                    m.pattern,
                    Pattern::Date {
                        year,
                        has_separator: !separator.is_empty()
                    }
                );
            }
        }
        for (password, text, i, year) in [
            ("02/02/02", "02/02/02", 0, 2002),
            ("a1/1/91!", "1/1/91", 1, 1991),
            ("12/20/1991.12.20", "12/20/1991", 0, 1991),
            ("12/20/1991.12.20", "1991.12.20", 6, 1991),
            ("912/20/919", "12/20/91", 1, 1991),
        ] {
            let matches = date_matches(&chars(password), 2025);
            let m = find(password, &matches, text);
            assert_eq!(
                (m.i, m.pattern.clone()),
                (
                    i,
                    Pattern::Date {
                        year,
                        has_separator: true
                    }
                )
            );
        }
        // Both separators must be the same ("1991" alone is a date, though).
        let matches = date_matches(&chars("1/2-1991"), 2025);
        assert_eq!(
            matches.iter().map(|m| (m.i, m.j)).collect::<Vec<_>>(),
            [(4, 7)]
        );
    }

    #[test]
    fn omnimatch_finds_every_kind_of_match() {
        let user_words = no_user_words();
        let context = Context {
            user_words: &user_words,
            reference_year: 2025,
        };
        assert!(omnimatch(&[], &context).is_empty());
        let password = "r0sebudmaelstrom11/20/91aaaa";
        let matches = omnimatch(&chars(password), &context);
        let found = |i: usize, j: usize, kind: fn(&Pattern) -> bool| {
            matches
                .iter()
                .any(|m| (m.i, m.j) == (i, j) && kind(&m.pattern))
        };
        assert!(found(0, 6, |p| matches!(p, Pattern::Dictionary(_))));
        assert!(found(7, 15, |p| matches!(p, Pattern::Dictionary(_))));
        assert!(found(16, 23, |p| matches!(p, Pattern::Date { .. })));
        assert!(found(24, 27, |p| matches!(p, Pattern::Repeat { .. })));
        assert!(matches
            .windows(2)
            .all(|pair| (pair[0].i, pair[0].j) <= (pair[1].i, pair[1].j)));
    }

    /// Characters that exercise the patterns: digits, separators, '\n', other white space and multi-byte chars.
    fn pattern_text(max_len: usize) -> impl Strategy<Value = String> {
        let alphabet = &[
            'a', 'b', 'c', '1', '2', '9', '0', '/', '-', '.', '_', '\\', ' ', '\n', '\t', '\u{a0}',
            '\u{2028}', '\u{3000}', '\u{85}', 'é', '🐱', 'x',
        ][..];
        prop::collection::vec(prop::sample::select(alphabet), 0..=max_len)
            .prop_map(|c| c.into_iter().collect())
    }

    fn char_len(text: &str, byte_end: usize) -> usize {
        text[..byte_end].chars().count()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// `(.+)\1+`, `(.+?)\1+` and `^(.+?)\1+$` as fancy-regex matches them.
        #[test]
        fn repetitions_are_fancy_regexs(
            text in pattern_text(14),
            units in prop::collection::vec("[ab\n🐱]{1,3}", 1..4),
        ) {
            let greedy = fancy_regex::Regex::new(r"(.+)\1+").unwrap();
            let lazy = fancy_regex::Regex::new(r"(.+?)\1+").unwrap();
            let anchored = fancy_regex::Regex::new(r"^(.+?)\1+$").unwrap();
            // Random text, and text made of a few repeated units.
            let repeated: String = units.iter().flat_map(|unit| [unit.as_str(); 3]).collect();
            for text in [text, repeated] {
                let chars: Vec<char> = text.chars().collect();
                for (regex, is_greedy) in [(&greedy, true), (&lazy, false)] {
                    let expected = regex.captures(&text).unwrap().map(|captures| {
                        let (whole, unit) = (captures.get(0).unwrap(), captures.get(1).unwrap());
                        Repetition {
                            start: char_len(&text, whole.start()),
                            unit_len: unit.as_str().chars().count(),
                            len: whole.as_str().chars().count(),
                        }
                    });
                    prop_assert_eq!(find_repetition(&chars, is_greedy), expected, "{:?}", text);
                }
                if let Some(found) = find_repetition(&chars, true) {
                    let span = &chars[found.start..found.start + found.len];
                    let span_text: String = span.iter().collect();
                    let captures = anchored.captures(&span_text).unwrap().unwrap();
                    let unit = captures.get(1).unwrap().as_str().chars().count();
                    prop_assert_eq!(shortest_period(span), Some(unit));
                }
            }
        }

        /// `19[0-9]{2}|20[0-9]{2}` as the regex crate finds them, and the date patterns as it matches them.
        #[test]
        fn years_and_dates_are_the_regex_crates(
            text in pattern_text(12),
            digits in "[0-9]{1,5}[/ .\n-][0-9]{1,3}[/ .\n-][0-9]{1,5}",
        ) {
            let year = regex::Regex::new(r"19[0-9]{2}|20[0-9]{2}").unwrap();
            let separated =
                regex::Regex::new(r"^([0-9]{1,4})([\s/\\_.-])([0-9]{1,2})([\s/\\_.-])([0-9]{1,4})$").unwrap();
            let digits_only = regex::Regex::new(r"^[0-9]{4,8}$").unwrap();
            let with_years = format!("{text}2019{text}19999{}", &digits);
            for text in [text, digits, with_years] {
                let chars: Vec<char> = text.chars().collect();
                let expected: Vec<(usize, usize)> = year
                    .find_iter(&text)
                    .map(|m| (char_len(&text, m.start()), char_len(&text, m.end()) - 1))
                    .collect();
                let found: Vec<(usize, usize)> =
                    recent_year_matches(&chars).iter().map(|m| (m.i, m.j)).collect();
                prop_assert_eq!(found, expected);

                let expected = separated.captures(&text).and_then(|c| {
                    let number = |group: usize| c[group].parse::<u16>().unwrap();
                    (c[2] == c[4]).then(|| (number(1), number(3), number(5)))
                });
                prop_assert_eq!(split_separated_date(&chars), expected, "{:?}", text);
                let all_digits =
                    (4..=8).contains(&chars.len()) && chars.iter().all(char::is_ascii_digit);
                prop_assert_eq!(all_digits, digits_only.is_match(&text));
            }
        }
    }

    #[test]
    fn date_separators_are_unicode_white_space_or_upstreams_punctuation() {
        let separator = regex::Regex::new(r"^[\s/\\_.-]$").unwrap();
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(
                is_date_separator(c),
                separator.is_match(c.encode_utf8(&mut [0; 4])),
                "{c:?}"
            );
        }
    }
}
