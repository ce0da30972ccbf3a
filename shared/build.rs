//! Compiles the password-strength word lists (`data/*.txt`, one word per line in rank order) into compact, sorted,
//! front-coded tables in `OUT_DIR`, so that nothing is built when a password is first assessed
//! (`src/domain/strength/dictionaries.rs` reads them).
//!
//! Per list, four files:
//! - `<list>.words`: the distinct words in byte order, in blocks of `BLOCK_LEN`. Each word is one byte with the high
//!   bit set holding the length of the prefix it shares with the word before it (0 for the first word of a block),
//!   then the rest of its bytes. Words are ASCII, so a byte with the high bit set always starts a word.
//! - `<list>.ranks`: each word's rank (its 1-based line number), a little-endian `u16` per word in the same order.
//! - `<list>.blocks`: the byte offset in `.words` where each block starts, a little-endian `u32` per block, then the
//!   length of `.words`.
//! - `<list>.first_bytes`: for each byte value from 0 to 128, how many blocks start with a word whose first byte is
//!   below it, a little-endian `u16` each (a lookup searches only the blocks that can hold its word).
//!
//! A word listed twice keeps the rank of its last line, as a map filled in list order would.

use std::collections::HashMap;
use std::env;
use std::fs;
use std::path::Path;

/// The lists, in the order the matcher consults them.
const LISTS: [&str; 6] = [
    "passwords",
    "english_wikipedia",
    "female_names",
    "surnames",
    "us_tv_and_film",
    "male_names",
];
const BLOCK_LEN: usize = 32;
/// The prefix-length byte's high bit marks the start of a word; the other seven bits hold the length.
const WORD_START: u8 = 0x80;
const MAX_WORD_LEN: usize = 0x7f;

struct Table {
    words: Vec<u8>,
    ranks: Vec<u8>,
    blocks: Vec<u8>,
    first_bytes: Vec<u8>,
}

fn compile(list: &str, text: &str) -> Table {
    let mut rank_of: HashMap<&str, u16> = HashMap::new();
    for (line, word) in text.lines().enumerate() {
        let rank = u16::try_from(line + 1)
            .unwrap_or_else(|_| panic!("{list}: more than {} words", u16::MAX));
        assert!(!word.is_empty(), "{list}: line {rank} is empty");
        assert!(word.is_ascii(), "{list}: line {rank} is not ASCII");
        assert!(
            word.len() <= MAX_WORD_LEN,
            "{list}: line {rank} is longer than {MAX_WORD_LEN} bytes"
        );
        rank_of.insert(word, rank);
    }
    let mut sorted: Vec<(&str, u16)> = rank_of.into_iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

    let mut table = Table {
        words: Vec::new(),
        ranks: Vec::with_capacity(sorted.len() * 2),
        blocks: Vec::new(),
        first_bytes: Vec::new(),
    };
    let mut previous: &[u8] = &[];
    for (index, &(word, rank)) in sorted.iter().enumerate() {
        let word = word.as_bytes();
        let shared = if index % BLOCK_LEN == 0 {
            let offset = u32::try_from(table.words.len()).expect("the words fit in 4 GiB");
            table.blocks.extend_from_slice(&offset.to_le_bytes());
            0
        } else {
            word.iter()
                .zip(previous)
                .take_while(|(a, b)| a == b)
                .count()
        };
        table.words.push(WORD_START | shared as u8);
        table.words.extend_from_slice(&word[shared..]);
        table.ranks.extend_from_slice(&rank.to_le_bytes());
        previous = word;
    }
    let end = u32::try_from(table.words.len()).expect("the words fit in 4 GiB");
    table.blocks.extend_from_slice(&end.to_le_bytes());
    let block_first_bytes: Vec<u8> = sorted
        .iter()
        .step_by(BLOCK_LEN)
        .map(|(word, _)| word.as_bytes()[0])
        .collect();
    for byte in 0..=WORD_START {
        let before = block_first_bytes
            .iter()
            .filter(|&&first| first < byte)
            .count();
        let before = u16::try_from(before).expect("fewer than 65,536 blocks");
        table.first_bytes.extend_from_slice(&before.to_le_bytes());
    }
    table
}

fn main() {
    let out_dir = env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let out_dir = Path::new(&out_dir);
    for list in LISTS {
        let input = format!("data/{list}.txt");
        println!("cargo:rerun-if-changed={input}");
        let text = fs::read_to_string(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let table = compile(list, &text);
        for (extension, bytes) in [
            ("words", &table.words),
            ("ranks", &table.ranks),
            ("blocks", &table.blocks),
            ("first_bytes", &table.first_bytes),
        ] {
            let path = out_dir.join(format!("{list}.{extension}"));
            fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    let constants = format!(
        "/// Words per block in the compiled word tables.\npub(super) const BLOCK_LEN: usize = {BLOCK_LEN};\n"
    );
    fs::write(out_dir.join("word_tables.rs"), constants).expect("OUT_DIR is writable");
}
