//! The port against upstream (`zxcvbn` 3.1.1, a dev-dependency): score, guesses, warning and suggestions for
//! upstream's own test passwords, a generated corpus and random strings; and the compiled word tables against the
//! lists they were built from.

use super::dictionaries::{Dictionary, WORD_LISTS};
use super::feedback::{self, Feedback};
use super::{estimate, Analysis};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Once, OnceLock};

const LIST_FILES: [(Dictionary, &str); 6] = [
    (
        Dictionary::Passwords,
        include_str!("../../data/passwords.txt"),
    ),
    (
        Dictionary::EnglishWikipedia,
        include_str!("../../data/english_wikipedia.txt"),
    ),
    (
        Dictionary::FemaleNames,
        include_str!("../../data/female_names.txt"),
    ),
    (
        Dictionary::Surnames,
        include_str!("../../data/surnames.txt"),
    ),
    (
        Dictionary::UsTvAndFilm,
        include_str!("../../data/us_tv_and_film.txt"),
    ),
    (
        Dictionary::MaleNames,
        include_str!("../../data/male_names.txt"),
    ),
];

fn list_words(dictionary: Dictionary) -> Vec<&'static str> {
    LIST_FILES
        .iter()
        .find(|(d, _)| *d == dictionary)
        .map(|(_, text)| text.lines().collect())
        .expect("a file per list")
}

#[test]
fn every_listed_word_is_found_with_its_rank_and_others_are_not() {
    let mut total = 0;
    for (dictionary, table) in &WORD_LISTS {
        let words = list_words(*dictionary);
        for (line, word) in words.iter().enumerate() {
            let found = table.lookup(word.as_bytes());
            assert_eq!(found.rank, Some(line + 1), "{dictionary:?} {word:?}");
            // Every prefix of a listed word is reported as extensible.
            for end in 1..word.len() {
                assert!(
                    table.lookup(&word.as_bytes()[..end]).extends,
                    "{dictionary:?} {word:?} {end}"
                );
            }
        }
        let entries = table.entries_with_ranks();
        assert_eq!(
            entries.len(),
            words.len(),
            "{dictionary:?}: no word is listed twice"
        );
        assert!(entries.windows(2).all(|pair| pair[0].0 < pair[1].0));
        for (word, rank) in &entries {
            assert_eq!(words.get(rank - 1), Some(&word.as_str()));
        }
        for missing in [
            "",
            "zzzzzzzzzzzzzz",
            "passwordx9",
            "\u{0}",
            "é",
            "aaaaaaaaaaaaaaaaaaaaaaaaa",
            "~~~",
        ] {
            assert_eq!(
                table.lookup(missing.as_bytes()).rank,
                None,
                "{dictionary:?} {missing:?}"
            );
        }
        // Before the first word and after the last.
        assert_eq!(table.lookup(b"\x01").rank, None);
        assert_eq!(table.lookup(b"\x7f\x7f").rank, None);
        total += table.encoded_len();
    }
    assert!(total <= 600_000, "the tables take {total} bytes");
}

/// A list's words with their ranks, sorted.
fn sorted_list(list: usize) -> &'static [(&'static str, usize)] {
    static SORTED: [OnceLock<Vec<(&str, usize)>>; 6] = [const { OnceLock::new() }; 6];
    SORTED[list].get_or_init(|| {
        let mut sorted: Vec<(&str, usize)> = list_words(LIST_FILES[list].0)
            .into_iter()
            .zip(1..)
            .collect();
        sorted.sort_unstable();
        sorted
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    /// Lookups of words, of their prefixes and of near misses agree with a sorted list of the words.
    #[test]
    fn lookups_agree_with_the_plain_lists(
        list in 0..LIST_FILES.len(),
        index in any::<prop::sample::Index>(),
        cut in 0..30usize,
        tail in "[a-z0-9'.é]{0,3}",
    ) {
        prop_assert_eq!(WORD_LISTS[list].0, LIST_FILES[list].0);
        let sorted = sorted_list(list);
        let word = sorted[index.index(sorted.len())].0;
        for key in [word.to_owned(), format!("{}{tail}", &word[..cut.min(word.len())])] {
            let key = key.as_str();
            let rank = sorted.binary_search_by(|(w, _)| w.cmp(&key)).ok().map(|at| sorted[at].1);
            let after = sorted.partition_point(|(w, _)| *w <= key);
            let extends = sorted.get(after).is_some_and(|(w, _)| w.starts_with(key));
            let found = WORD_LISTS[list].1.lookup(key.as_bytes());
            prop_assert_eq!(found, super::dictionaries::Lookup { rank, extends }, "{:?}", key);
        }
    }
}

#[test]
fn the_lists_are_upstreams() {
    let counts: Vec<usize> = LIST_FILES
        .iter()
        .map(|(_, text)| text.lines().count())
        .collect();
    assert_eq!(counts, [30_000, 30_000, 3_712, 10_000, 19_160, 983]);
    let passwords = list_words(Dictionary::Passwords);
    assert_eq!(
        &passwords[..4],
        ["123456", "password", "12345678", "qwerty"]
    );
    // Upstream's source writes it "pic\\'s": an escaped quote.
    assert_eq!(passwords.get(6522), Some(&"pic's"));
    assert_eq!(
        list_words(Dictionary::EnglishWikipedia).last(),
        Some(&"evaporator")
    );
}

/// Upstream's result, as `password::assess` reads it: score, guesses, warning and suggestions.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    score: u8,
    guesses: u64,
    feedback: Feedback,
}

thread_local! {
    static IN_UPSTREAM: Cell<bool> = const { Cell::new(false) };
}

/// Upstream's plain arithmetic overflows (and so panics in a test build) on a few very long tokens, where its release
/// builds, which the port follows, wrap: those panics are caught, and not reported.
fn quiet_upstream_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let report = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_UPSTREAM.with(Cell::get) {
                report(info);
            }
        }));
    });
}

fn upstream(password: &str, user_inputs: &[&str]) -> Option<Outcome> {
    quiet_upstream_panics();
    IN_UPSTREAM.with(|flag| flag.set(true));
    let entropy = panic::catch_unwind(AssertUnwindSafe(|| zxcvbn::zxcvbn(password, user_inputs)));
    IN_UPSTREAM.with(|flag| flag.set(false));
    let entropy = entropy.ok()?;
    let texts = |feedback: &zxcvbn::feedback::Feedback| Feedback {
        warning: feedback.warning().map(|w| port_text(w.to_string())),
        suggestions: feedback
            .suggestions()
            .iter()
            .map(|s| port_text(s.to_string()))
            .collect(),
    };
    Some(Outcome {
        score: u8::from(entropy.score()),
        guesses: entropy.guesses(),
        feedback: entropy.feedback().map(texts).unwrap_or_default(),
    })
}

/// One of the port's texts with the same words, so that feedback compares as `&'static str`s.
fn port_text(text: String) -> &'static str {
    const TEXTS: [&str; 27] = [
        feedback::STRAIGHT_ROWS_OF_KEYS,
        feedback::SHORT_KEYBOARD_PATTERNS,
        feedback::REPEATS_LIKE_AAA,
        feedback::REPEATS_LIKE_ABCABCABC,
        feedback::TOP_10_PASSWORD,
        feedback::TOP_100_PASSWORD,
        feedback::COMMON_PASSWORD,
        feedback::SIMILAR_TO_COMMON_PASSWORD,
        feedback::SEQUENCES_LIKE_ABC,
        feedback::RECENT_YEARS,
        feedback::A_WORD_BY_ITSELF,
        feedback::DATES,
        feedback::NAMES_BY_THEMSELVES,
        feedback::COMMON_NAMES,
        feedback::USE_A_FEW_WORDS,
        feedback::NO_NEED_FOR_SYMBOLS,
        feedback::ADD_ANOTHER_WORD,
        feedback::CAPITALIZATION,
        feedback::ALL_UPPERCASE,
        feedback::REVERSED_WORDS,
        feedback::PREDICTABLE_SUBSTITUTIONS,
        feedback::LONGER_KEYBOARD_PATTERN,
        feedback::AVOID_REPEATS,
        feedback::AVOID_SEQUENCES,
        feedback::AVOID_RECENT_YEARS,
        feedback::AVOID_YEARS_OF_YOURS,
        feedback::AVOID_DATES_OF_YOURS,
    ];
    TEXTS
        .into_iter()
        .find(|known| *known == text)
        .unwrap_or_else(|| panic!("upstream text the port does not have: {text:?}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Same,
    /// Only the feedback differs, and upstream's is what the port would give had it picked another of the matches
    /// of the same span and guesses as its longest match: a tie upstream breaks in its hash maps' order (the order of
    /// its word lists, different in each process).
    TieBrokenOtherwise,
    /// Upstream's result depends on the order its hash maps visit sequence lengths in (different in each call): the
    /// port's is one of those upstream gives when called again, or the port gives upstream's with lengths visited in
    /// another order.
    OrderDependent,
    /// Upstream panicked (an overflow its release builds wrap).
    UpstreamPanicked,
}

fn outcome(analysis: &Analysis) -> Outcome {
    Outcome {
        score: analysis.estimate.score,
        guesses: analysis.estimate.guesses,
        feedback: analysis.estimate.feedback.clone(),
    }
}

/// Whether `analysis` gives `theirs`, or would with another of the equally cheap matches of its longest match's span.
fn explains(analysis: &Analysis, theirs: &Outcome) -> Option<Verdict> {
    let ours = outcome(analysis);
    if ours == *theirs {
        return Some(Verdict::Same);
    }
    if (ours.score, ours.guesses) != (theirs.score, theirs.guesses) {
        return None;
    }
    let sequence = &analysis.sequence;
    let longest = sequence.iter().max_by_key(|m| m.char_len())?;
    let longest_guesses = analysis
        .matches
        .iter()
        .find(|s| s.m == *longest)
        .map(|s| s.guesses);
    let tied = analysis
        .matches
        .iter()
        .filter(|s| (s.m.i, s.m.j) == (longest.i, longest.j) && Some(s.guesses) == longest_guesses);
    for alternative in tied {
        let mut feedback =
            feedback::match_feedback(&alternative.m, &analysis.password, sequence.len() == 1);
        feedback.suggestions.insert(0, feedback::ADD_ANOTHER_WORD);
        if feedback == theirs.feedback {
            return Some(Verdict::TieBrokenOtherwise);
        }
    }
    None
}

/// How many more times upstream is called, and how many other orders of lengths the port tries, when they differ.
const RETRIES: u64 = 24;

fn compare(password: &str, user_inputs: &[&str]) -> Result<Verdict, String> {
    let analysis = Analysis::run(password, user_inputs);
    assert_eq!(estimate(password, user_inputs), analysis.estimate);
    let Some(theirs) = upstream(password, user_inputs) else {
        return Ok(Verdict::UpstreamPanicked);
    };
    if let Some(verdict) = explains(&analysis, &theirs) {
        return Ok(verdict);
    }
    let ours = outcome(&analysis);
    for _ in 0..RETRIES {
        if let Some(again) = upstream(password, user_inputs) {
            if again == ours || explains(&analysis, &again).is_some() {
                return Ok(Verdict::OrderDependent);
            }
        }
    }
    for seed in 0..RETRIES {
        let reordered =
            super::scoring::length_order::with(seed, || Analysis::run(password, user_inputs));
        if explains(&reordered, &theirs).is_some() {
            return Ok(Verdict::OrderDependent);
        }
    }
    Err(format!(
        "{password:?} {user_inputs:?}: ours {ours:?}, upstream's {theirs:?}"
    ))
}

#[derive(Debug, Default)]
struct Tally {
    same: usize,
    ties: usize,
    order_dependent: usize,
    upstream_panics: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, password: &str, user_inputs: &[&str]) {
        match compare(password, user_inputs) {
            Ok(Verdict::Same) => self.same += 1,
            Ok(Verdict::TieBrokenOtherwise) => self.ties += 1,
            Ok(Verdict::OrderDependent) => self.order_dependent += 1,
            Ok(Verdict::UpstreamPanicked) => self.upstream_panics += 1,
            Err(failure) => self.failures.push(failure),
        }
    }

    fn assert_all_equal(&self, what: &str) {
        eprintln!(
            "{what}: {} cases, {} the same, {} ties broken otherwise, {} depending on the order of lengths, \
             {} upstream panics, {} differing",
            self.same + self.ties + self.order_dependent + self.upstream_panics + self.failures.len(),
            self.same,
            self.ties,
            self.order_dependent,
            self.upstream_panics,
            self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{what}:\n{}",
            self.failures.join("\n")
        );
    }
}

/// Every password in upstream's own tests (its matcher and scoring tests' too).
const UPSTREAM_TEST_PASSWORDS: &[&str] = &[
    "",
    "r0sebudmaelstrom11/20/91aaaa",
    "𐰊𐰂𐰄𐰀𐰁",
    "r0sebudmaelstrom丂/20/91aaaa",
    "Imaginative-Say-Shoulder-Dish-0",
    "TestMeNow!",
    "hey<123",
    "!QASW@#EDFR$%TGHY^&UJKI*(OL",
    "08märz2010",
    "password",
    "test",
    "p4ssw0rd",
    "motherboard",
    "1abcdef12",
    "BoaRdZ",
    "asdf1234&*",
    "bejeebus",
    "rehtom",
    "m0th3r",
    "p@ssw0rd",
    "p4@ssword",
    "4 ( @",
    "/",
    "qw",
    "*/",
    "6tfGHJ",
    "12345",
    "@WSX",
    "hGFd",
    "/;p09876yhn",
    "Xdr%",
    "159-",
    "*84",
    "/8520",
    "369",
    "/963.",
    "*-632.0214",
    "aoEP%yIxkjq:",
    ";qoaOQ:Aoq;a",
    "a",
    "1",
    "abcbabc",
    "!jihg22",
    "ABC",
    "CBA",
    "PQR",
    "RQP",
    "XYZ",
    "ZYX",
    "abcd",
    "dcba",
    "jihg",
    "wxyz",
    "zxvt",
    "0369",
    "97531",
    "#",
    "y4@&&&&&u%7",
    "BBB1111aaaaa@@@@@@",
    "2818BBBbzsdf1111@*&@!aaaaaEUDA@@@@@@1729",
    "abab",
    "aabaab",
    "abababab",
    "x\u{1F431}\u{1F436}\u{1F431}\u{1F436}",
    "1922",
    "2017",
    "13 2 1921",
    "13-2-1921",
    "13/2/1921",
    "13\\2\\1921",
    "13_2_1921",
    "13.2.1921",
    "1321921",
    "199911",
    "2000811",
    "2005129",
    "15511122",
    "1999.1.1",
    "2000.8.11",
    "2005.9.12",
    "1551.11.22",
    "02/02/02",
    "a1/1/91!",
    "12/20/1991.12.20",
    "912/20/919",
    "0123456789",
    "aa",
    "999",
    "$$$$",
    "batterystaplebatterystaplebatterystaple",
    "batterystaple",
    "zxcvbn",
    "ZxCvbn",
    "ZXCVBN",
    "zxcft6yh",
    "aaaaa",
    "AAAaaa",
    "aaa",
    "aaa@@@",
    "AaA@@@",
    "4pple",
    "a4a4aa",
    "4a4a44",
    "Aa44aA",
    "a44att+",
    "password123",
    "correct horse battery staple 9!",
    "a quiet harbour at dusk",
    "a lantern swinging over cold water",
];

#[test]
fn upstreams_test_passwords_score_as_upstream() {
    let mut tally = Tally::default();
    for password in UPSTREAM_TEST_PASSWORDS {
        tally.check(password, &[]);
    }
    tally.check("bejeebus", &["bejeebus"]);
    let own_address = "grace.hopper@example.com";
    tally.check(own_address, &[own_address]);
    let year = time::OffsetDateTime::now_utc().year();
    tally.check(&format!("1115{}", year % 100), &[]);
    tally.check(&(year - 15).to_string(), &[]);
    tally.check(&year.to_string(), &[]);
    tally.assert_all_equal("upstream's test passwords");
}

/// Replaces letters with l33t characters: `every`th occurrence of each replaceable letter, using `variant` to choose
/// among the characters that stand for it.
fn l33t(word: &str, variant: usize) -> String {
    word.chars()
        .map(|c| match (c, variant % 2) {
            ('a', 0) => '4',
            ('a', _) => '@',
            ('e', _) => '3',
            ('i', 0) => '1',
            ('i', _) => '!',
            ('l', 0) => '1',
            ('l', _) => '|',
            ('o', _) => '0',
            ('s', 0) => '$',
            ('s', _) => '5',
            ('t', 0) => '7',
            ('t', _) => '+',
            ('g', _) => '9',
            ('b', _) => '8',
            ('z', _) => '2',
            ('c', 0) => '(',
            ('c', _) => '<',
            ('x', _) => '%',
            (other, _) => other,
        })
        .collect()
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Words of every list at various ranks, each as is, capitalised, in capitals, reversed, l33t, and with digits, a
/// year, a symbol or another word.
fn word_corpus() -> Vec<String> {
    let mut corpus = Vec::new();
    for (n, &(dictionary, _)) in LIST_FILES.iter().enumerate() {
        let words = list_words(dictionary);
        let picks: Vec<(usize, &str)> = words
            .iter()
            .copied()
            .enumerate()
            .filter(|(rank, _)| *rank < 12 || rank % (words.len() / 60).max(1) == n)
            .collect();
        for (k, (_, word)) in picks.iter().enumerate() {
            let other = picks.get((k * 7 + 3) % picks.len()).map_or("x", |p| p.1);
            corpus.extend([
                word.to_string(),
                capitalised(word),
                word.to_uppercase(),
                word.chars().rev().collect(),
                capitalised(&word.chars().rev().collect::<String>()),
                l33t(word, k),
                capitalised(&l33t(word, k + 1)),
                format!("{word}123"),
                format!("{word}{}", 1950 + k % 80),
                format!("{}!", capitalised(word)),
                format!("{word}{other}"),
                format!("{word} {other} {}", k % 10),
                format!("{}{word}", k % 100),
            ]);
        }
    }
    corpus
}

/// Dates in every order, padded or not, with each separator (upstream's, other Unicode white space, and some that
/// are not separators), and digit runs that are almost dates.
fn date_corpus() -> Vec<String> {
    let separators = [
        "", " ", "-", "/", "\\", "_", ".", "\t", "\n", "\r", "\u{a0}", "\u{2003}", "\u{3000}",
        "\u{85}", "\u{2028}", ":", ",", "|", "+", "é",
    ];
    let dates = [
        (1, 2, 1991),
        (13, 2, 1921),
        (31, 12, 1999),
        (9, 11, 2001),
        (29, 2, 2024),
        (1, 1, 2050),
        (5, 6, 1051),
    ];
    let mut corpus = Vec::new();
    for separator in separators {
        for (k, &(day, month, year)) in dates.iter().enumerate() {
            let short_year = year % 100;
            corpus.extend([
                format!("{day}{separator}{month}{separator}{year}"),
                format!("{day:02}{separator}{month:02}{separator}{year}"),
                format!("{month}{separator}{day}{separator}{short_year:02}"),
                format!("{year}{separator}{month}{separator}{day}"),
                format!("{year}{separator}{month:02}{separator}{day:02}"),
                format!("{short_year}{separator}{day}{separator}{month}"),
                format!("x{day}{separator}{month}{separator}{year}y"),
                format!("{day}{separator}{month}-{year}"),
                format!("love{month:02}{separator}{day:02}{separator}{short_year:02}!"),
                format!("{}{day}{separator}{month}{separator}{year}{}", k, k + 1),
            ]);
        }
    }
    for digits in [
        "1191",
        "9111",
        "11191",
        "111991",
        "1111991",
        "11111991",
        "19911111",
        "123456",
        "1234567",
        "12345678",
        "0000",
        "00000000",
        "99999999",
        "20250101",
        "31121999",
        "1015",
        "101599",
        "3131",
        "1332",
        "123456789012",
        "2019",
        "1900",
        "2099",
        "1899",
        "19991999",
        "20202020",
        "19001900",
        "2020199",
        "١٢٣٤",
        "１９９１",
    ] {
        corpus.push(digits.to_owned());
        corpus.push(format!("pass{digits}word"));
    }
    corpus
}

/// Repeats, sequences and keyboard walks on every layout.
fn pattern_corpus() -> Vec<String> {
    let mut corpus: Vec<String> = [
        "aaaa",
        "abcabc",
        "abab ab",
        "aabaab",
        "aabaabaabaab",
        "abcabcab",
        "123123123",
        "passwordpassword",
        "ab\nab\nab",
        "\n\n\n\n",
        "a\na\na\na",
        "xyxyxy\nxyxy",
        "🐱🐱🐱🐱",
        "🐱🐶🐱🐶🐱",
        "zzzzzzzzzzzzzzzzzzzz",
        "abcdef",
        "zyxw",
        "13579",
        "ABCDE",
        "αβγδε",
        "абвгд",
        "ωψχφ",
        "0123456789",
        "9876543210",
        "acegi",
        "adgjm",
        "aeimq",
        "afkpu",
        "agmsy",
        "abcdabcd",
        "a1b2c3d4",
        "ZYXWVU",
        "zab",
        "yza",
        "😀😁😂🤣",
        "ぁあぃいぅ",
        "qwertyuiop",
        "asdfgh",
        "zxcvbn",
        "1qaz2wsx",
        "qazwsx",
        "!QAZ@WSX",
        "poiuytrewq",
        "qwerty123",
        "QwErTy",
        "1q2w3e4r5t6y7u8i9o0p",
        "`1234567890-=",
        "~!@#$%^&*()_+",
        "][poiuy",
        "mnbvcxz",
        "qweasdzxc",
        "zaq12wsx",
        "aoeuidhtns",
        "',.pyfgcrl",
        ";qjkxbmwvz",
        "aoEP%yIxkjq:",
        "AOEUIDHTNS",
        "pyfgcrl/=",
        "789456123",
        "7894561230",
        "159-",
        "*84",
        "/8520",
        "369",
        "0.123",
        "+-*/",
        "/963.",
        "*-632.0214",
        "=/*-",
        "147258369",
        "963852741",
        "1478963",
        "12369874",
        "qwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqwqw",
        "qawsedrftgyhujikolp;qawsedrftgyhujikolp;",
        "1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q1q",
        "7474747474747474747474747474747474747474747474747474",
        "QWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQWQW",
        "!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q!Q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    corpus.push("a".repeat(105));
    // Walks with a turn at every key, of lengths around where 4^turns leaves 64 bits.
    for len in [30, 33, 34, 35, 40, 64, 99, 100, 101] {
        corpus.push("qw".repeat(len).chars().take(len).collect());
        corpus.push("aoaoaoao".repeat(len).chars().take(len).collect());
        corpus.push("8585".repeat(len).chars().take(len).collect());
        corpus.push("qWeRtY".repeat(len).chars().take(len).collect());
    }
    corpus
}

/// Newlines, multi-byte characters, case mappings that change the length, and long strings.
fn text_corpus() -> Vec<String> {
    let mut corpus: Vec<String> = [
        "pass\nword",
        "\n",
        "a\nb\nc",
        "correct\nhorse\nbattery",
        "\r\n\r\n",
        "password\n",
        "\npassword",
        "🔥🔥🔥🔥",
        "пароль",
        "ПАРОЛЬ",
        "密码密码",
        "Straße1999",
        "STRASSE",
        "İstanbul2020",
        "İİİİ",
        "ΣΑΣ",
        "ΟΔΟΣ",
        "σσσσ",
        "ǅungla",
        "ﬀﬁﬂ",
        "café",
        "CAFÉ",
        "naïve",
        "Ⅻ",
        "ᾼᾼ",
        "\u{0}",
        "\u{7f}",
        "\u{feff}password",
        "pass\u{200b}word",
        "p\u{301}assword",
        "p4\u{130}ssw0rd",
        "\u{130}love",
        "LOVE\u{130}",
        "1\u{130}2\u{130}3",
        "ΑΣ1ΑΣ",
        "ΣPASSWORD",
        "PASSWORDΣ",
        " ",
        "     ",
        "\t\t\t",
        "-",
        "--",
        "---",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let long_inputs = [
        "correcthorsebatterystaple".repeat(5),
        "Tr0ub4dor&3".repeat(12),
        "x".repeat(150),
        "ab".repeat(60),
        "password".repeat(13),
        "The quick brown fox jumps over the lazy dog, 1234567890 times!".repeat(2),
        "🐱".repeat(120),
        "a1".repeat(49) + "ΣΣ",
        "é".repeat(99) + "password",
        "p@ssw0rd!".repeat(11),
        "1/1/91".repeat(17),
        "qwerty".repeat(17),
        "İ".repeat(100),
        "Σ".repeat(101),
    ];
    corpus.extend(long_inputs);
    corpus
}

/// (password, user inputs): names and emails, with the password containing them in various ways.
fn user_input_corpus() -> Vec<(String, Vec<String>)> {
    let people: [&[&str]; 8] = [
        &[
            "grace.hopper@example.com",
            "grace.hopper",
            "Grace",
            "Hopper",
        ],
        &["Alan", "Turing", "alan@turing.org"],
        &["Zoë", "Ångström", "zoe.angstrom@example.se"],
        &["İsmail", "ΣΟΦΙΑ", "Straße"],
        &["bob", "bob", "BOB", "Bob"],
        &[
            "",
            "x",
            "verylonguserinputthatgoesonandonandonforeverandevermorewithoutanyendinsight",
        ],
        &["Jean-Luc", "Picard", "ncc-1701-d@starfleet.example"],
        &["mary", "smith", "password"],
    ];
    let mut corpus = Vec::new();
    for (n, inputs) in people.iter().enumerate() {
        let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
        let name = inputs.get(n % inputs.len()).cloned().unwrap_or_default();
        let other = inputs
            .get((n + 1) % inputs.len())
            .cloned()
            .unwrap_or_default();
        for password in [
            name.clone(),
            name.to_uppercase(),
            capitalised(&name),
            format!("{name}1"),
            format!("{name}{other}"),
            format!("{other}_{name}!99"),
            name.chars().rev().collect(),
            l33t(&name.to_lowercase(), n),
            format!("{}2024", l33t(&other.to_lowercase(), n + 1)),
            inputs.concat(),
            "correct horse battery staple".to_owned(),
            format!("my{name}is{other}"),
        ] {
            corpus.push((password, inputs.clone()));
        }
    }
    corpus
}

#[test]
fn a_generated_corpus_scores_as_upstream() {
    let mut tally = Tally::default();
    for password in word_corpus()
        .iter()
        .chain(&date_corpus())
        .chain(&pattern_corpus())
        .chain(&text_corpus())
    {
        tally.check(password, &[]);
    }
    for (password, inputs) in user_input_corpus() {
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        tally.check(&password, &inputs);
    }
    tally.assert_all_equal("the generated corpus");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Equal spans end up in the order upstream's own sort of its matches leaves them.
    #[test]
    fn spans_sort_as_upstreams_matches(
        spans in prop::collection::vec((0usize..12, 0usize..12), 0..400),
    ) {
        let mut theirs: Vec<zxcvbn::Match> = spans
            .iter()
            .enumerate()
            .map(|(index, &(i, j))| zxcvbn::Match {
                i,
                j,
                token: index.to_string(),
                ..zxcvbn::Match::default()
            })
            .collect();
        theirs.sort_unstable_by(|a, b| {
            let (range1, range2) = (a.range_inclusive(), b.range_inclusive());
            range1.start().cmp(range2.start()).then_with(|| range1.end().cmp(range2.end()))
        });
        let theirs: Vec<usize> = theirs.iter().map(|m| m.token.parse().unwrap()).collect();
        prop_assert_eq!(super::matching::upstream_sort_order(&spans), theirs);
    }
}

/// Results of upstream's release build (its arithmetic wraps) where its test build overflows and panics: long keyboard
/// walks with a turn at every key (4 to the power of the turns), and long user inputs in mixed case (the count of
/// ways to capitalise them).
#[test]
fn overflowing_estimates_wrap_as_in_upstreams_release_build() {
    let mixed_case: String = "abcdefghijklmnopqrstuvwxyz"
        .repeat(3)
        .chars()
        .enumerate()
        .map(|(n, c)| {
            if n % 2 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let input = mixed_case.to_lowercase();
    assert_eq!(
        estimate(&mixed_case, &[&input]).guesses,
        13_989_191_399_200_865_469
    );
    assert_eq!(
        estimate(&mixed_case[..64], &[&input[..64]]).guesses,
        5_319_984_450_504_912_917
    );
    for (walk, guesses) in [
        ("qw".repeat(24), 2425),
        ("85".repeat(50), 5051),
        ("!Q".repeat(24), 2425),
    ] {
        let estimate = estimate(&walk, &[]);
        assert_eq!((estimate.score, estimate.guesses), (1, guesses));
        assert_eq!(
            estimate.feedback.warning,
            Some(feedback::REPEATS_LIKE_ABCABCABC)
        );
    }
}

/// Letters, digits, punctuation, white space, a few multi-byte characters (some whose case mapping changes the length).
const ALPHABET: &[char] = &[
    'a', 'b', 'c', 'd', 'e', 'i', 'l', 'o', 'p', 's', 't', 'w', 'x', 'z', 'q', 'y', 'n', 'm', 'A',
    'B', 'E', 'L', 'O', 'P', 'S', 'Q', 'W', 'Z', '0', '1', '2', '3', '4', '5', '7', '8', '9', '!',
    '@', '#', '$', '%', '&', '*', '(', ')', '-', '_', '+', '=', '[', '{', '<', '|', '/', '\\', '.',
    ',', ';', '\'', ' ', '\n', '\t', 'é', 'ß', 'Σ', 'σ', 'İ', 'ж', '中', '😀', '🐱', '\u{a0}',
    '\u{3000}',
];

fn mixed_text(max_len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..=max_len)
        .prop_map(|chars| chars.into_iter().collect())
}

fn listed_word() -> impl Strategy<Value = String> {
    (0..LIST_FILES.len(), any::<prop::sample::Index>()).prop_map(|(list, index)| {
        let words = list_words(LIST_FILES[list].0);
        words[index.index(words.len())].to_owned()
    })
}

const DATE_SEPARATORS: &[&str] = &["", "/", "-", ".", " ", "\\", "_", "\n"];
const WALKS: &[&str] = &[
    "qwerty", "asdfgh", "zxcvbn", "1qaz2wsx", "qazxsw", "poiuy", "!@#$%", "aoeui", ",.pyf", "7896",
    "1470", "/*-+", "/963.", "QWErty", "6tfGHJ",
];
const REPEATED_UNITS: &[&str] = &["a", "ab", "abc", "12", "x1", "!", "🐱", "Σσ"];
const SEQUENCES: &[&str] = &["abcdef", "13579", "zyxw", "87654", "αβγδ", "ACEG"];

/// A piece of a password an attacker would guess early, or a few random characters.
fn chunk() -> impl Strategy<Value = String> {
    let word = (listed_word(), 0..6usize).prop_map(|(word, form)| match form {
        0 => capitalised(&word),
        1 => word.to_uppercase(),
        2 => word.chars().rev().collect(),
        3 => l33t(&word, 0),
        4 => l33t(&word, 1),
        _ => word,
    });
    let date = (
        1..35u32,
        0..14u32,
        0..100u32,
        prop::sample::select(DATE_SEPARATORS),
    )
        .prop_map(|(day, month, year, sep)| format!("{day}{sep}{month:02}{sep}{year}"));
    let repeat = (prop::sample::select(REPEATED_UNITS), 2..5usize)
        .prop_map(|(unit, times)| unit.repeat(times));
    prop_oneof![
        2 => mixed_text(4),
        3 => word,
        1 => (1890..2060u32).prop_map(|year| year.to_string()),
        1 => date,
        1 => prop::sample::select(WALKS).prop_map(str::to_owned),
        1 => repeat,
        1 => prop::sample::select(SEQUENCES).prop_map(str::to_owned),
    ]
}

/// Runs `cases` random cases of `strategy` against upstream, reporting the tally.
fn run_against_upstream<S>(what: &str, cases: u32, strategy: S)
where
    S: Strategy<Value = (String, Vec<String>)>,
{
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let tally = RefCell::new(Tally::default());
    let result = runner.run(&strategy, |(password, inputs)| {
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let failures = tally.borrow().failures.len();
        tally.borrow_mut().check(&password, &inputs);
        let tally = tally.borrow();
        prop_assert_eq!(
            tally.failures.len(),
            failures,
            "{}",
            tally.failures.last().map_or("", String::as_str)
        );
        Ok(())
    });
    tally.borrow().assert_all_equal(what);
    if let Err(failure) = result {
        panic!("{what}: {failure}");
    }
}

#[test]
fn random_strings_score_as_upstream() {
    let strategy = (mixed_text(40), prop::collection::vec(mixed_text(12), 0..3));
    run_against_upstream("random strings", 2_500, strategy);
}

#[test]
fn random_compositions_of_guessable_pieces_score_as_upstream() {
    let pieces = prop::collection::vec(chunk(), 0..6);
    let inputs = prop::collection::vec(prop_oneof![mixed_text(8), listed_word()], 0..3);
    let strategy = (pieces, inputs, any::<prop::sample::Index>(), 0..4usize).prop_map(
        |(mut pieces, inputs, at, form)| {
            // Often the password holds one of the user's own words too.
            if let Some(input) = inputs.first() {
                let input = match form {
                    0 => capitalised(input),
                    1 => input.chars().rev().collect(),
                    2 => l33t(input, 0),
                    _ => input.clone(),
                };
                pieces.insert(at.index(pieces.len() + 1), input);
            }
            (pieces.concat(), inputs)
        },
    );
    run_against_upstream("random compositions", 2_500, strategy);
}
