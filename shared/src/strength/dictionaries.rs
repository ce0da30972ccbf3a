//! The ranked word lists: six compiled into front-coded tables by `build.rs` (its header describes the format), and
//! the user's own words, ranked by their position among the user inputs.

use std::cmp::Ordering;

include!(concat!(env!("OUT_DIR"), "/word_tables.rs"));

/// Where a word was found; `UserInputs` is the user's own words (name, email and so on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dictionary {
    Passwords,
    EnglishWikipedia,
    FemaleNames,
    Surnames,
    UsTvAndFilm,
    MaleNames,
    UserInputs,
}

/// What a lookup found: the word's rank if it is listed, and whether any longer listed word starts with it (if not,
/// no longer candidate with the same start can be found either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lookup {
    pub rank: Option<usize>,
    pub extends: bool,
}

/// A compiled word list.
pub(super) struct WordTable {
    words: &'static [u8],
    ranks: &'static [u8],
    blocks: &'static [u8],
    first_bytes: &'static [u8],
}

macro_rules! word_table {
    ($list:literal) => {
        WordTable {
            words: include_bytes!(concat!(env!("OUT_DIR"), "/", $list, ".words")),
            ranks: include_bytes!(concat!(env!("OUT_DIR"), "/", $list, ".ranks")),
            blocks: include_bytes!(concat!(env!("OUT_DIR"), "/", $list, ".blocks")),
            first_bytes: include_bytes!(concat!(env!("OUT_DIR"), "/", $list, ".first_bytes")),
        }
    };
}

/// The lists in the order the dictionary matcher consults them (upstream's `frequency_lists.rs` order).
pub(super) static WORD_LISTS: [(Dictionary, WordTable); 6] = [
    (Dictionary::Passwords, word_table!("passwords")),
    (
        Dictionary::EnglishWikipedia,
        word_table!("english_wikipedia"),
    ),
    (Dictionary::FemaleNames, word_table!("female_names")),
    (Dictionary::Surnames, word_table!("surnames")),
    (Dictionary::UsTvAndFilm, word_table!("us_tv_and_film")),
    (Dictionary::MaleNames, word_table!("male_names")),
];

const WORD_START: u8 = 0x80;

/// One encoded word of a block: how many bytes it shares with the word before it, and the rest of its bytes.
struct Entry {
    shared: usize,
    suffix: &'static [u8],
}

/// The encoded words of a block, in order.
struct Entries {
    block: &'static [u8],
    position: usize,
}

impl Iterator for Entries {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        let (&header, rest) = self.block.get(self.position..)?.split_first()?;
        let suffix_len = next_word_start(rest);
        self.position += 1 + suffix_len;
        Some(Entry {
            shared: usize::from(header & !WORD_START),
            suffix: rest.get(..suffix_len).unwrap_or_default(),
        })
    }
}

/// Where the next word starts in `bytes` (the first byte with the high bit set), or its length; eight bytes at a
/// time, as this scan is most of a lookup's work.
fn next_word_start(bytes: &[u8]) -> usize {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut start = 0;
    for chunk in bytes.chunks_exact(8) {
        let high = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) & HIGH_BITS;
        if high != 0 {
            return start + high.trailing_zeros() as usize / 8;
        }
        start += 8;
    }
    let rest = bytes.get(start..).unwrap_or_default();
    start
        + rest
            .iter()
            .position(|&byte| byte & WORD_START != 0)
            .unwrap_or(rest.len())
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Byte order of two words, which are short: a loop beats a call to `memcmp`.
fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let same = common_prefix_len(a, b);
    match (a.get(same), b.get(same)) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => a.len().cmp(&b.len()),
    }
}

impl WordTable {
    fn block_count(&self) -> usize {
        (self.blocks.len() / 4).saturating_sub(1)
    }

    fn block_offset(&self, block: usize) -> usize {
        self.blocks
            .get(block * 4..block * 4 + 4)
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(self.words.len(), |bytes| u32::from_le_bytes(bytes) as usize)
    }

    fn entries(&self, block: usize) -> Entries {
        let (start, end) = (self.block_offset(block), self.block_offset(block + 1));
        Entries {
            block: self.words.get(start..end).unwrap_or_default(),
            position: 0,
        }
    }

    /// The first word of a block, which is stored whole.
    fn head(&self, block: usize) -> &'static [u8] {
        self.entries(block).next().map_or(&[], |entry| entry.suffix)
    }

    /// How many blocks start with a word whose first byte is below `byte` (for `byte` up to 128).
    fn blocks_before(&self, byte: usize) -> usize {
        self.first_bytes
            .get(byte * 2..byte * 2 + 2)
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(self.block_count(), |bytes| {
                usize::from(u16::from_le_bytes(bytes))
            })
    }

    fn rank(&self, index: usize) -> Option<usize> {
        self.ranks
            .get(index * 2..index * 2 + 2)
            .and_then(|bytes| bytes.try_into().ok())
            .map(|bytes| usize::from(u16::from_le_bytes(bytes)))
    }

    fn head_extends(&self, block: usize, key: &[u8]) -> bool {
        block < self.block_count() && self.head(block).starts_with(key)
    }

    pub(super) fn lookup(&self, key: &[u8]) -> Lookup {
        // Words are ASCII: a key that does not start with an ASCII byte is no word and starts none.
        let Some(&first) = key.first().filter(|&&byte| byte < WORD_START) else {
            return Lookup {
                rank: None,
                extends: key.is_empty(),
            };
        };
        // The last block whose first word is not after `key`: a block starting with `first`, or the one before.
        let (mut low, mut high) = (
            self.blocks_before(usize::from(first)),
            self.blocks_before(usize::from(first) + 1),
        );
        while low < high {
            let middle = low + (high - low) / 2;
            if compare(self.head(middle), key) != Ordering::Greater {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        let Some(block) = low.checked_sub(1) else {
            return Lookup {
                rank: None,
                extends: self.head_extends(0, key),
            };
        };
        // Walk the block keeping `common`, the length of the prefix the current word shares with `key`: a word that
        // shares fewer bytes with the one before it than that is after `key`, one that shares more is before it too,
        // and only one that shares exactly as many is compared, from there.
        let mut common = 0;
        let mut index = block * BLOCK_LEN;
        let mut entries = self.entries(block);
        while let Some(entry) = entries.next() {
            let (shared, suffix) = (entry.shared, entry.suffix);
            let ordering = if shared < common {
                common = shared;
                Ordering::Greater
            } else if shared > common {
                Ordering::Less
            } else {
                let rest = key.get(shared..).unwrap_or_default();
                let same = common_prefix_len(suffix, rest);
                common = shared + same;
                match (suffix.get(same), rest.get(same)) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(word_byte), Some(key_byte)) => word_byte.cmp(key_byte),
                }
            };
            match ordering {
                Ordering::Less => index += 1,
                Ordering::Equal => {
                    // The next word starts with `key` if it shares all of it with this one.
                    let extends = match entries.next() {
                        Some(next) => next.shared >= key.len(),
                        None => self.head_extends(block + 1, key),
                    };
                    return Lookup {
                        rank: self.rank(index),
                        extends,
                    };
                }
                Ordering::Greater => {
                    return Lookup {
                        rank: None,
                        extends: common >= key.len(),
                    }
                }
            }
        }
        Lookup {
            rank: None,
            extends: self.head_extends(block + 1, key),
        }
    }

    /// Every word with its rank, in byte order.
    #[cfg(test)]
    pub(super) fn entries_with_ranks(&self) -> Vec<(String, usize)> {
        let mut words = Vec::new();
        for block in 0..self.block_count() {
            let mut word: Vec<u8> = Vec::new();
            for entry in self.entries(block) {
                word.truncate(entry.shared);
                word.extend_from_slice(entry.suffix);
                let rank = self.rank(words.len()).expect("a rank per word");
                words.push((String::from_utf8(word.clone()).expect("ASCII"), rank));
            }
        }
        words
    }

    #[cfg(test)]
    pub(super) fn encoded_len(&self) -> usize {
        self.words.len() + self.ranks.len() + self.blocks.len() + self.first_bytes.len()
    }
}

/// The user's own words, lowercased, each ranked by its 1-based position among the inputs (a word given twice keeps
/// its last position), sorted for lookups.
pub(super) struct UserWords {
    sorted: Vec<(String, usize)>,
}

impl UserWords {
    pub(super) fn new(user_inputs: &[&str]) -> Self {
        let mut ranked: Vec<(String, usize)> = user_inputs
            .iter()
            .enumerate()
            .map(|(position, input)| (input.to_lowercase(), position + 1))
            .collect();
        // A stable sort keeps equal words in input order; of each run of equal words, the last one's rank stays.
        ranked.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sorted: Vec<(String, usize)> = Vec::with_capacity(ranked.len());
        for (word, rank) in ranked {
            match sorted.last_mut() {
                Some(last) if last.0 == word => last.1 = rank,
                _ => sorted.push((word, rank)),
            }
        }
        UserWords { sorted }
    }

    pub(super) fn lookup(&self, key: &str) -> Lookup {
        let starts_with_key = |index: usize| {
            self.sorted
                .get(index)
                .is_some_and(|(word, _)| word.starts_with(key))
        };
        match self
            .sorted
            .binary_search_by(|(word, _)| word.as_str().cmp(key))
        {
            Ok(index) => Lookup {
                rank: self.sorted.get(index).map(|&(_, rank)| rank),
                extends: starts_with_key(index + 1),
            },
            Err(index) => Lookup {
                rank: None,
                extends: starts_with_key(index),
            },
        }
    }
}
