//! The keyboard layouts of the spatial matcher, as upstream's adjacency graphs: for each key, its neighbours in a
//! fixed order of directions (`None` where there is no key), each neighbour written unshifted then shifted. Every
//! list is sorted by key.

/// The layouts, in the order the spatial matcher tries them.
pub(super) const LAYOUTS: [Layout; 4] = [
    Layout::Qwerty,
    Layout::Dvorak,
    Layout::Keypad,
    Layout::MacKeypad,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    Qwerty,
    Dvorak,
    Keypad,
    MacKeypad,
}

type Graph = &'static [(char, &'static [Option<&'static str>])];

impl Layout {
    fn graph(self) -> Graph {
        match self {
            Layout::Qwerty => QWERTY,
            Layout::Dvorak => DVORAK,
            Layout::Keypad => KEYPAD,
            Layout::MacKeypad => MAC_KEYPAD,
        }
    }

    /// A full keyboard (with shifted keys), not a keypad.
    pub(super) fn is_keyboard(self) -> bool {
        matches!(self, Layout::Qwerty | Layout::Dvorak)
    }

    /// `key`'s neighbours by direction; none if `key` is not on this layout.
    pub(super) fn neighbours(self, key: char) -> &'static [Option<&'static str>] {
        let graph = self.graph();
        graph
            .binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .and_then(|index| graph.get(index))
            .map_or(&[], |&(_, neighbours)| neighbours)
    }

    /// How many keys a pattern on this layout could start from. Upstream uses qwerty's for both keyboards and the
    /// keypad's for both keypads.
    pub(super) fn starting_positions(self) -> u64 {
        if self.is_keyboard() {
            KEYBOARD_STARTING_POSITIONS
        } else {
            KEYPAD_STARTING_POSITIONS
        }
    }

    /// The average number of neighbours of a key, rounded down (qwerty's for both keyboards, the keypad's for both
    /// keypads, as upstream).
    pub(super) fn average_degree(self) -> u64 {
        if self.is_keyboard() {
            KEYBOARD_AVERAGE_DEGREE
        } else {
            KEYPAD_AVERAGE_DEGREE
        }
    }
}

const fn average_degree(graph: Graph) -> u64 {
    let mut neighbours = 0;
    let mut key = 0;
    while key < graph.len() {
        let directions = graph[key].1;
        let mut direction = 0;
        while direction < directions.len() {
            if directions[direction].is_some() {
                neighbours += 1;
            }
            direction += 1;
        }
        key += 1;
    }
    neighbours / graph.len() as u64
}

const KEYBOARD_STARTING_POSITIONS: u64 = QWERTY.len() as u64;
const KEYPAD_STARTING_POSITIONS: u64 = KEYPAD.len() as u64;
const KEYBOARD_AVERAGE_DEGREE: u64 = average_degree(QWERTY);
const KEYPAD_AVERAGE_DEGREE: u64 = average_degree(KEYPAD);

/// The characters upstream counts as shifted when they start a keyboard pattern (its list, `[` and `]` included).
pub(super) const SHIFTED_CHARS: [char; 49] = [
    '[', '~', '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+', 'Q', 'W', 'E', 'R', 'T',
    'Y', 'U', 'I', 'O', 'P', '{', '}', '|', 'A', 'S', 'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"',
    'Z', 'X', 'C', 'V', 'B', 'N', 'M', '<', '>', '?', ']',
];

#[rustfmt::skip]
const QWERTY: &[(char, &[Option<&str>])] = &[
    ('!', &[Some("`~"), None, None, Some("2@"), Some("qQ"), None]),
    ('"', &[Some(";:"), Some("[{"), Some("]}"), None, None, Some("/?")]),
    ('#', &[Some("2@"), None, None, Some("4$"), Some("eE"), Some("wW")]),
    ('$', &[Some("3#"), None, None, Some("5%"), Some("rR"), Some("eE")]),
    ('%', &[Some("4$"), None, None, Some("6^"), Some("tT"), Some("rR")]),
    ('&', &[Some("6^"), None, None, Some("8*"), Some("uU"), Some("yY")]),
    ('\'', &[Some(";:"), Some("[{"), Some("]}"), None, None, Some("/?")]),
    ('(', &[Some("8*"), None, None, Some("0)"), Some("oO"), Some("iI")]),
    (')', &[Some("9("), None, None, Some("-_"), Some("pP"), Some("oO")]),
    ('*', &[Some("7&"), None, None, Some("9("), Some("iI"), Some("uU")]),
    ('+', &[Some("-_"), None, None, None, Some("]}"), Some("[{")]),
    (',', &[Some("mM"), Some("kK"), Some("lL"), Some(".>"), None, None]),
    ('-', &[Some("0)"), None, None, Some("=+"), Some("[{"), Some("pP")]),
    ('.', &[Some(",<"), Some("lL"), Some(";:"), Some("/?"), None, None]),
    ('/', &[Some(".>"), Some(";:"), Some("'\""), None, None, None]),
    ('0', &[Some("9("), None, None, Some("-_"), Some("pP"), Some("oO")]),
    ('1', &[Some("`~"), None, None, Some("2@"), Some("qQ"), None]),
    ('2', &[Some("1!"), None, None, Some("3#"), Some("wW"), Some("qQ")]),
    ('3', &[Some("2@"), None, None, Some("4$"), Some("eE"), Some("wW")]),
    ('4', &[Some("3#"), None, None, Some("5%"), Some("rR"), Some("eE")]),
    ('5', &[Some("4$"), None, None, Some("6^"), Some("tT"), Some("rR")]),
    ('6', &[Some("5%"), None, None, Some("7&"), Some("yY"), Some("tT")]),
    ('7', &[Some("6^"), None, None, Some("8*"), Some("uU"), Some("yY")]),
    ('8', &[Some("7&"), None, None, Some("9("), Some("iI"), Some("uU")]),
    ('9', &[Some("8*"), None, None, Some("0)"), Some("oO"), Some("iI")]),
    (':', &[Some("lL"), Some("pP"), Some("[{"), Some("'\""), Some("/?"), Some(".>")]),
    (';', &[Some("lL"), Some("pP"), Some("[{"), Some("'\""), Some("/?"), Some(".>")]),
    ('<', &[Some("mM"), Some("kK"), Some("lL"), Some(".>"), None, None]),
    ('=', &[Some("-_"), None, None, None, Some("]}"), Some("[{")]),
    ('>', &[Some(",<"), Some("lL"), Some(";:"), Some("/?"), None, None]),
    ('?', &[Some(".>"), Some(";:"), Some("'\""), None, None, None]),
    ('@', &[Some("1!"), None, None, Some("3#"), Some("wW"), Some("qQ")]),
    ('A', &[None, Some("qQ"), Some("wW"), Some("sS"), Some("zZ"), None]),
    ('B', &[Some("vV"), Some("gG"), Some("hH"), Some("nN"), None, None]),
    ('C', &[Some("xX"), Some("dD"), Some("fF"), Some("vV"), None, None]),
    ('D', &[Some("sS"), Some("eE"), Some("rR"), Some("fF"), Some("cC"), Some("xX")]),
    ('E', &[Some("wW"), Some("3#"), Some("4$"), Some("rR"), Some("dD"), Some("sS")]),
    ('F', &[Some("dD"), Some("rR"), Some("tT"), Some("gG"), Some("vV"), Some("cC")]),
    ('G', &[Some("fF"), Some("tT"), Some("yY"), Some("hH"), Some("bB"), Some("vV")]),
    ('H', &[Some("gG"), Some("yY"), Some("uU"), Some("jJ"), Some("nN"), Some("bB")]),
    ('I', &[Some("uU"), Some("8*"), Some("9("), Some("oO"), Some("kK"), Some("jJ")]),
    ('J', &[Some("hH"), Some("uU"), Some("iI"), Some("kK"), Some("mM"), Some("nN")]),
    ('K', &[Some("jJ"), Some("iI"), Some("oO"), Some("lL"), Some(",<"), Some("mM")]),
    ('L', &[Some("kK"), Some("oO"), Some("pP"), Some(";:"), Some(".>"), Some(",<")]),
    ('M', &[Some("nN"), Some("jJ"), Some("kK"), Some(",<"), None, None]),
    ('N', &[Some("bB"), Some("hH"), Some("jJ"), Some("mM"), None, None]),
    ('O', &[Some("iI"), Some("9("), Some("0)"), Some("pP"), Some("lL"), Some("kK")]),
    ('P', &[Some("oO"), Some("0)"), Some("-_"), Some("[{"), Some(";:"), Some("lL")]),
    ('Q', &[None, Some("1!"), Some("2@"), Some("wW"), Some("aA"), None]),
    ('R', &[Some("eE"), Some("4$"), Some("5%"), Some("tT"), Some("fF"), Some("dD")]),
    ('S', &[Some("aA"), Some("wW"), Some("eE"), Some("dD"), Some("xX"), Some("zZ")]),
    ('T', &[Some("rR"), Some("5%"), Some("6^"), Some("yY"), Some("gG"), Some("fF")]),
    ('U', &[Some("yY"), Some("7&"), Some("8*"), Some("iI"), Some("jJ"), Some("hH")]),
    ('V', &[Some("cC"), Some("fF"), Some("gG"), Some("bB"), None, None]),
    ('W', &[Some("qQ"), Some("2@"), Some("3#"), Some("eE"), Some("sS"), Some("aA")]),
    ('X', &[Some("zZ"), Some("sS"), Some("dD"), Some("cC"), None, None]),
    ('Y', &[Some("tT"), Some("6^"), Some("7&"), Some("uU"), Some("hH"), Some("gG")]),
    ('Z', &[None, Some("aA"), Some("sS"), Some("xX"), None, None]),
    ('[', &[Some("pP"), Some("-_"), Some("=+"), Some("]}"), Some("'\""), Some(";:")]),
    ('\\', &[Some("]}"), None, None, None, None, None]),
    (']', &[Some("[{"), Some("=+"), None, Some("\\|"), None, Some("'\"")]),
    ('^', &[Some("5%"), None, None, Some("7&"), Some("yY"), Some("tT")]),
    ('_', &[Some("0)"), None, None, Some("=+"), Some("[{"), Some("pP")]),
    ('`', &[None, None, None, Some("1!"), None, None]),
    ('a', &[None, Some("qQ"), Some("wW"), Some("sS"), Some("zZ"), None]),
    ('b', &[Some("vV"), Some("gG"), Some("hH"), Some("nN"), None, None]),
    ('c', &[Some("xX"), Some("dD"), Some("fF"), Some("vV"), None, None]),
    ('d', &[Some("sS"), Some("eE"), Some("rR"), Some("fF"), Some("cC"), Some("xX")]),
    ('e', &[Some("wW"), Some("3#"), Some("4$"), Some("rR"), Some("dD"), Some("sS")]),
    ('f', &[Some("dD"), Some("rR"), Some("tT"), Some("gG"), Some("vV"), Some("cC")]),
    ('g', &[Some("fF"), Some("tT"), Some("yY"), Some("hH"), Some("bB"), Some("vV")]),
    ('h', &[Some("gG"), Some("yY"), Some("uU"), Some("jJ"), Some("nN"), Some("bB")]),
    ('i', &[Some("uU"), Some("8*"), Some("9("), Some("oO"), Some("kK"), Some("jJ")]),
    ('j', &[Some("hH"), Some("uU"), Some("iI"), Some("kK"), Some("mM"), Some("nN")]),
    ('k', &[Some("jJ"), Some("iI"), Some("oO"), Some("lL"), Some(",<"), Some("mM")]),
    ('l', &[Some("kK"), Some("oO"), Some("pP"), Some(";:"), Some(".>"), Some(",<")]),
    ('m', &[Some("nN"), Some("jJ"), Some("kK"), Some(",<"), None, None]),
    ('n', &[Some("bB"), Some("hH"), Some("jJ"), Some("mM"), None, None]),
    ('o', &[Some("iI"), Some("9("), Some("0)"), Some("pP"), Some("lL"), Some("kK")]),
    ('p', &[Some("oO"), Some("0)"), Some("-_"), Some("[{"), Some(";:"), Some("lL")]),
    ('q', &[None, Some("1!"), Some("2@"), Some("wW"), Some("aA"), None]),
    ('r', &[Some("eE"), Some("4$"), Some("5%"), Some("tT"), Some("fF"), Some("dD")]),
    ('s', &[Some("aA"), Some("wW"), Some("eE"), Some("dD"), Some("xX"), Some("zZ")]),
    ('t', &[Some("rR"), Some("5%"), Some("6^"), Some("yY"), Some("gG"), Some("fF")]),
    ('u', &[Some("yY"), Some("7&"), Some("8*"), Some("iI"), Some("jJ"), Some("hH")]),
    ('v', &[Some("cC"), Some("fF"), Some("gG"), Some("bB"), None, None]),
    ('w', &[Some("qQ"), Some("2@"), Some("3#"), Some("eE"), Some("sS"), Some("aA")]),
    ('x', &[Some("zZ"), Some("sS"), Some("dD"), Some("cC"), None, None]),
    ('y', &[Some("tT"), Some("6^"), Some("7&"), Some("uU"), Some("hH"), Some("gG")]),
    ('z', &[None, Some("aA"), Some("sS"), Some("xX"), None, None]),
    ('{', &[Some("pP"), Some("-_"), Some("=+"), Some("]}"), Some("'\""), Some(";:")]),
    ('|', &[Some("]}"), None, None, None, None, None]),
    ('}', &[Some("[{"), Some("=+"), None, Some("\\|"), None, Some("'\"")]),
    ('~', &[None, None, None, Some("1!"), None, None]),
];
#[rustfmt::skip]
const DVORAK: &[(char, &[Option<&str>])] = &[
    ('!', &[Some("`~"), None, None, Some("2@"), Some("'\""), None]),
    ('"', &[None, Some("1!"), Some("2@"), Some(",<"), Some("aA"), None]),
    ('#', &[Some("2@"), None, None, Some("4$"), Some(".>"), Some(",<")]),
    ('$', &[Some("3#"), None, None, Some("5%"), Some("pP"), Some(".>")]),
    ('%', &[Some("4$"), None, None, Some("6^"), Some("yY"), Some("pP")]),
    ('&', &[Some("6^"), None, None, Some("8*"), Some("gG"), Some("fF")]),
    ('\'', &[None, Some("1!"), Some("2@"), Some(",<"), Some("aA"), None]),
    ('(', &[Some("8*"), None, None, Some("0)"), Some("rR"), Some("cC")]),
    (')', &[Some("9("), None, None, Some("[{"), Some("lL"), Some("rR")]),
    ('*', &[Some("7&"), None, None, Some("9("), Some("cC"), Some("gG")]),
    ('+', &[Some("/?"), Some("]}"), None, Some("\\|"), None, Some("-_")]),
    (',', &[Some("'\""), Some("2@"), Some("3#"), Some(".>"), Some("oO"), Some("aA")]),
    ('-', &[Some("sS"), Some("/?"), Some("=+"), None, None, Some("zZ")]),
    ('.', &[Some(",<"), Some("3#"), Some("4$"), Some("pP"), Some("eE"), Some("oO")]),
    ('/', &[Some("lL"), Some("[{"), Some("]}"), Some("=+"), Some("-_"), Some("sS")]),
    ('0', &[Some("9("), None, None, Some("[{"), Some("lL"), Some("rR")]),
    ('1', &[Some("`~"), None, None, Some("2@"), Some("'\""), None]),
    ('2', &[Some("1!"), None, None, Some("3#"), Some(",<"), Some("'\"")]),
    ('3', &[Some("2@"), None, None, Some("4$"), Some(".>"), Some(",<")]),
    ('4', &[Some("3#"), None, None, Some("5%"), Some("pP"), Some(".>")]),
    ('5', &[Some("4$"), None, None, Some("6^"), Some("yY"), Some("pP")]),
    ('6', &[Some("5%"), None, None, Some("7&"), Some("fF"), Some("yY")]),
    ('7', &[Some("6^"), None, None, Some("8*"), Some("gG"), Some("fF")]),
    ('8', &[Some("7&"), None, None, Some("9("), Some("cC"), Some("gG")]),
    ('9', &[Some("8*"), None, None, Some("0)"), Some("rR"), Some("cC")]),
    (':', &[None, Some("aA"), Some("oO"), Some("qQ"), None, None]),
    (';', &[None, Some("aA"), Some("oO"), Some("qQ"), None, None]),
    ('<', &[Some("'\""), Some("2@"), Some("3#"), Some(".>"), Some("oO"), Some("aA")]),
    ('=', &[Some("/?"), Some("]}"), None, Some("\\|"), None, Some("-_")]),
    ('>', &[Some(",<"), Some("3#"), Some("4$"), Some("pP"), Some("eE"), Some("oO")]),
    ('?', &[Some("lL"), Some("[{"), Some("]}"), Some("=+"), Some("-_"), Some("sS")]),
    ('@', &[Some("1!"), None, None, Some("3#"), Some(",<"), Some("'\"")]),
    ('A', &[None, Some("'\""), Some(",<"), Some("oO"), Some(";:"), None]),
    ('B', &[Some("xX"), Some("dD"), Some("hH"), Some("mM"), None, None]),
    ('C', &[Some("gG"), Some("8*"), Some("9("), Some("rR"), Some("tT"), Some("hH")]),
    ('D', &[Some("iI"), Some("fF"), Some("gG"), Some("hH"), Some("bB"), Some("xX")]),
    ('E', &[Some("oO"), Some(".>"), Some("pP"), Some("uU"), Some("jJ"), Some("qQ")]),
    ('F', &[Some("yY"), Some("6^"), Some("7&"), Some("gG"), Some("dD"), Some("iI")]),
    ('G', &[Some("fF"), Some("7&"), Some("8*"), Some("cC"), Some("hH"), Some("dD")]),
    ('H', &[Some("dD"), Some("gG"), Some("cC"), Some("tT"), Some("mM"), Some("bB")]),
    ('I', &[Some("uU"), Some("yY"), Some("fF"), Some("dD"), Some("xX"), Some("kK")]),
    ('J', &[Some("qQ"), Some("eE"), Some("uU"), Some("kK"), None, None]),
    ('K', &[Some("jJ"), Some("uU"), Some("iI"), Some("xX"), None, None]),
    ('L', &[Some("rR"), Some("0)"), Some("[{"), Some("/?"), Some("sS"), Some("nN")]),
    ('M', &[Some("bB"), Some("hH"), Some("tT"), Some("wW"), None, None]),
    ('N', &[Some("tT"), Some("rR"), Some("lL"), Some("sS"), Some("vV"), Some("wW")]),
    ('O', &[Some("aA"), Some(",<"), Some(".>"), Some("eE"), Some("qQ"), Some(";:")]),
    ('P', &[Some(".>"), Some("4$"), Some("5%"), Some("yY"), Some("uU"), Some("eE")]),
    ('Q', &[Some(";:"), Some("oO"), Some("eE"), Some("jJ"), None, None]),
    ('R', &[Some("cC"), Some("9("), Some("0)"), Some("lL"), Some("nN"), Some("tT")]),
    ('S', &[Some("nN"), Some("lL"), Some("/?"), Some("-_"), Some("zZ"), Some("vV")]),
    ('T', &[Some("hH"), Some("cC"), Some("rR"), Some("nN"), Some("wW"), Some("mM")]),
    ('U', &[Some("eE"), Some("pP"), Some("yY"), Some("iI"), Some("kK"), Some("jJ")]),
    ('V', &[Some("wW"), Some("nN"), Some("sS"), Some("zZ"), None, None]),
    ('W', &[Some("mM"), Some("tT"), Some("nN"), Some("vV"), None, None]),
    ('X', &[Some("kK"), Some("iI"), Some("dD"), Some("bB"), None, None]),
    ('Y', &[Some("pP"), Some("5%"), Some("6^"), Some("fF"), Some("iI"), Some("uU")]),
    ('Z', &[Some("vV"), Some("sS"), Some("-_"), None, None, None]),
    ('[', &[Some("0)"), None, None, Some("]}"), Some("/?"), Some("lL")]),
    ('\\', &[Some("=+"), None, None, None, None, None]),
    (']', &[Some("[{"), None, None, None, Some("=+"), Some("/?")]),
    ('^', &[Some("5%"), None, None, Some("7&"), Some("fF"), Some("yY")]),
    ('_', &[Some("sS"), Some("/?"), Some("=+"), None, None, Some("zZ")]),
    ('`', &[None, None, None, Some("1!"), None, None]),
    ('a', &[None, Some("'\""), Some(",<"), Some("oO"), Some(";:"), None]),
    ('b', &[Some("xX"), Some("dD"), Some("hH"), Some("mM"), None, None]),
    ('c', &[Some("gG"), Some("8*"), Some("9("), Some("rR"), Some("tT"), Some("hH")]),
    ('d', &[Some("iI"), Some("fF"), Some("gG"), Some("hH"), Some("bB"), Some("xX")]),
    ('e', &[Some("oO"), Some(".>"), Some("pP"), Some("uU"), Some("jJ"), Some("qQ")]),
    ('f', &[Some("yY"), Some("6^"), Some("7&"), Some("gG"), Some("dD"), Some("iI")]),
    ('g', &[Some("fF"), Some("7&"), Some("8*"), Some("cC"), Some("hH"), Some("dD")]),
    ('h', &[Some("dD"), Some("gG"), Some("cC"), Some("tT"), Some("mM"), Some("bB")]),
    ('i', &[Some("uU"), Some("yY"), Some("fF"), Some("dD"), Some("xX"), Some("kK")]),
    ('j', &[Some("qQ"), Some("eE"), Some("uU"), Some("kK"), None, None]),
    ('k', &[Some("jJ"), Some("uU"), Some("iI"), Some("xX"), None, None]),
    ('l', &[Some("rR"), Some("0)"), Some("[{"), Some("/?"), Some("sS"), Some("nN")]),
    ('m', &[Some("bB"), Some("hH"), Some("tT"), Some("wW"), None, None]),
    ('n', &[Some("tT"), Some("rR"), Some("lL"), Some("sS"), Some("vV"), Some("wW")]),
    ('o', &[Some("aA"), Some(",<"), Some(".>"), Some("eE"), Some("qQ"), Some(";:")]),
    ('p', &[Some(".>"), Some("4$"), Some("5%"), Some("yY"), Some("uU"), Some("eE")]),
    ('q', &[Some(";:"), Some("oO"), Some("eE"), Some("jJ"), None, None]),
    ('r', &[Some("cC"), Some("9("), Some("0)"), Some("lL"), Some("nN"), Some("tT")]),
    ('s', &[Some("nN"), Some("lL"), Some("/?"), Some("-_"), Some("zZ"), Some("vV")]),
    ('t', &[Some("hH"), Some("cC"), Some("rR"), Some("nN"), Some("wW"), Some("mM")]),
    ('u', &[Some("eE"), Some("pP"), Some("yY"), Some("iI"), Some("kK"), Some("jJ")]),
    ('v', &[Some("wW"), Some("nN"), Some("sS"), Some("zZ"), None, None]),
    ('w', &[Some("mM"), Some("tT"), Some("nN"), Some("vV"), None, None]),
    ('x', &[Some("kK"), Some("iI"), Some("dD"), Some("bB"), None, None]),
    ('y', &[Some("pP"), Some("5%"), Some("6^"), Some("fF"), Some("iI"), Some("uU")]),
    ('z', &[Some("vV"), Some("sS"), Some("-_"), None, None, None]),
    ('{', &[Some("0)"), None, None, Some("]}"), Some("/?"), Some("lL")]),
    ('|', &[Some("=+"), None, None, None, None, None]),
    ('}', &[Some("[{"), None, None, None, Some("=+"), Some("/?")]),
    ('~', &[None, None, None, Some("1!"), None, None]),
];
#[rustfmt::skip]
const KEYPAD: &[(char, &[Option<&str>])] = &[
    ('*', &[Some("/"), None, None, None, Some("-"), Some("+"), Some("9"), Some("8")]),
    ('+', &[Some("9"), Some("*"), Some("-"), None, None, None, None, Some("6")]),
    ('-', &[Some("*"), None, None, None, None, None, Some("+"), Some("9")]),
    ('.', &[Some("0"), Some("2"), Some("3"), None, None, None, None, None]),
    ('/', &[None, None, None, None, Some("*"), Some("9"), Some("8"), Some("7")]),
    ('0', &[None, Some("1"), Some("2"), Some("3"), Some("."), None, None, None]),
    ('1', &[None, None, Some("4"), Some("5"), Some("2"), Some("0"), None, None]),
    ('2', &[Some("1"), Some("4"), Some("5"), Some("6"), Some("3"), Some("."), Some("0"), None]),
    ('3', &[Some("2"), Some("5"), Some("6"), None, None, None, Some("."), Some("0")]),
    ('4', &[None, None, Some("7"), Some("8"), Some("5"), Some("2"), Some("1"), None]),
    ('5', &[Some("4"), Some("7"), Some("8"), Some("9"), Some("6"), Some("3"), Some("2"), Some("1")]),
    ('6', &[Some("5"), Some("8"), Some("9"), Some("+"), None, None, Some("3"), Some("2")]),
    ('7', &[None, None, None, Some("/"), Some("8"), Some("5"), Some("4"), None]),
    ('8', &[Some("7"), None, Some("/"), Some("*"), Some("9"), Some("6"), Some("5"), Some("4")]),
    ('9', &[Some("8"), Some("/"), Some("*"), Some("-"), Some("+"), None, Some("6"), Some("5")]),
];
#[rustfmt::skip]
const MAC_KEYPAD: &[(char, &[Option<&str>])] = &[
    ('*', &[Some("/"), None, None, None, None, None, Some("-"), Some("9")]),
    ('+', &[Some("6"), Some("9"), Some("-"), None, None, None, None, Some("3")]),
    ('-', &[Some("9"), Some("/"), Some("*"), None, None, None, Some("+"), Some("6")]),
    ('.', &[Some("0"), Some("2"), Some("3"), None, None, None, None, None]),
    ('/', &[Some("="), None, None, None, Some("*"), Some("-"), Some("9"), Some("8")]),
    ('0', &[None, Some("1"), Some("2"), Some("3"), Some("."), None, None, None]),
    ('1', &[None, None, Some("4"), Some("5"), Some("2"), Some("0"), None, None]),
    ('2', &[Some("1"), Some("4"), Some("5"), Some("6"), Some("3"), Some("."), Some("0"), None]),
    ('3', &[Some("2"), Some("5"), Some("6"), Some("+"), None, None, Some("."), Some("0")]),
    ('4', &[None, None, Some("7"), Some("8"), Some("5"), Some("2"), Some("1"), None]),
    ('5', &[Some("4"), Some("7"), Some("8"), Some("9"), Some("6"), Some("3"), Some("2"), Some("1")]),
    ('6', &[Some("5"), Some("8"), Some("9"), Some("-"), Some("+"), None, Some("3"), Some("2")]),
    ('7', &[None, None, None, Some("="), Some("8"), Some("5"), Some("4"), None]),
    ('8', &[Some("7"), None, Some("="), Some("/"), Some("9"), Some("6"), Some("5"), Some("4")]),
    ('9', &[Some("8"), Some("="), Some("/"), Some("*"), Some("-"), Some("+"), Some("6"), Some("5")]),
    ('=', &[None, None, None, None, Some("/"), Some("9"), Some("8"), Some("7")]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphs_are_sorted_and_uniform() {
        for (graph, directions) in [(QWERTY, 6), (DVORAK, 6), (KEYPAD, 8), (MAC_KEYPAD, 8)] {
            assert!(graph.windows(2).all(|pair| pair[0].0 < pair[1].0));
            assert!(graph.iter().all(|(_, n)| n.len() == directions));
        }
        assert_eq!(
            (QWERTY.len(), DVORAK.len(), KEYPAD.len(), MAC_KEYPAD.len()),
            (94, 94, 15, 16)
        );
    }

    #[test]
    fn starting_positions_and_average_degrees_are_upstreams() {
        // Upstream computes these at first use: the number of keys, and the sum of every key's neighbours divided by
        // it, in integers.
        let average = |graph: Graph| {
            let sum: u64 = graph
                .iter()
                .map(|(_, n)| n.iter().filter(|n| n.is_some()).count() as u64)
                .sum();
            sum / graph.len() as u64
        };
        assert_eq!(KEYBOARD_AVERAGE_DEGREE, average(QWERTY));
        assert_eq!(KEYPAD_AVERAGE_DEGREE, average(KEYPAD));
        assert_eq!((KEYBOARD_AVERAGE_DEGREE, KEYPAD_AVERAGE_DEGREE), (4, 5));
        assert_eq!(
            (KEYBOARD_STARTING_POSITIONS, KEYPAD_STARTING_POSITIONS),
            (94, 15)
        );
        for layout in LAYOUTS {
            assert_eq!(layout.is_keyboard(), layout.average_degree() == 4);
        }
    }

    #[test]
    fn neighbours_are_found_by_key() {
        assert_eq!(
            Layout::Qwerty.neighbours('q'),
            &[None, Some("1!"), Some("2@"), Some("wW"), Some("aA"), None]
        );
        assert_eq!(Layout::Keypad.neighbours('q'), &[] as &[Option<&str>]);
        assert_eq!(Layout::Qwerty.neighbours('é'), &[] as &[Option<&str>]);
    }
}
