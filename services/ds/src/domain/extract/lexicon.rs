//! The word lists the extractor knows: a merchant gazetteer, category keywords and words
//! that name no merchant. They live as data files under `services/ds/data/` (one entry a
//! line, easy to review and extend) and are indexed once, on first use.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use domain::Category;

use super::language::is_glued_script;
use super::token::{tokenize, Kind, Token};

static MERCHANTS_TSV: &str = include_str!("../../../data/merchants.tsv");
static KEYWORDS_TSV: &str = include_str!("../../../data/keywords.tsv");
static GENERIC_TXT: &str = include_str!("../../../data/generic.txt");

/// FNV-1a: the word lists are fixed and only looked up (never filled) from user text, so
/// a fast non-keyed hash is safe here and several times cheaper than SipHash on short words.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<Fnv>>;

/// A known merchant.
#[derive(Debug)]
pub(crate) struct Merchant {
    pub name: &'static str,
    pub category: Category,
    /// The merchant decides the category; otherwise keywords in the text win.
    pub strong: bool,
    /// Also a common word ("orange", "tiger"): needs capitals or a merchant slot.
    pub ambiguous: bool,
    /// A payment app, card network or gateway: a merchant only in a slot.
    pub instrument: bool,
}

/// A category keyword and its weight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyword {
    pub category: Category,
    pub weight: u8,
}

/// Phrases indexed by their first token; each bucket is sorted longest first so the
/// first hit is the longest match.
pub(crate) struct PhraseIndex<T: 'static> {
    by_first: FastMap<String, Vec<(Vec<String>, T)>>,
}

/// A hit: how many tokens the phrase covers, and its value.
pub(crate) struct Hit<'a, T> {
    pub len: usize,
    pub value: &'a T,
}

impl<T> PhraseIndex<T> {
    pub(crate) fn new() -> Self {
        PhraseIndex {
            by_first: FastMap::default(),
        }
    }

    pub(crate) fn insert(&mut self, phrase: &str, value: T) {
        let key: Vec<String> = tokenize(phrase)
            .iter()
            .map(|t| t.lower.clone().into_owned())
            .collect();
        let Some(first) = key.first().cloned() else {
            return;
        };
        let bucket = self.by_first.entry(first).or_default();
        if bucket.iter().any(|(k, _)| *k == key) {
            return; // first definition wins
        }
        bucket.push((key, value));
        bucket.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    }

    /// The entry of exactly the one word `word` (lower case), if any.
    pub(crate) fn single(&self, word: &str) -> Option<&T> {
        self.by_first
            .get(word)?
            .iter()
            .find(|(k, _)| k.len() == 1)
            .map(|(_, v)| v)
    }

    /// The longest phrase starting at token `i`. With `plurals`, each word may also match
    /// its singular form ("coffees" matches "coffee").
    pub fn longest_at(&self, tokens: &[Token], i: usize, plurals: bool) -> Option<Hit<'_, T>> {
        let first = &tokens[i];
        let bucket = self.by_first.get(first.lower.as_ref()).or_else(|| {
            if plurals && first.kind == Kind::Word {
                singular(&first.lower).and_then(|s| self.by_first.get(s.as_ref()))
            } else {
                None
            }
        })?;
        'entries: for (key, value) in bucket {
            if i + key.len() > tokens.len() {
                continue;
            }
            for (k, tok) in key.iter().zip(&tokens[i..]).skip(1) {
                let same = tok.lower == *k
                    || plurals && tok.kind == Kind::Word && singular(&tok.lower).is_some_and(|s| s == *k);
                if !same {
                    continue 'entries;
                }
            }
            return Some(Hit {
                len: key.len(),
                value,
            });
        }
        None
    }
}

/// Words of scripts written without spaces between the parts of a compound (Hangul, CJK),
/// matched inside a token: left to right, the longest word at each position ("승인취소"
/// before "승인"); a shorter word inside a longer one adds nothing. Hash lookups by length,
/// not substring searches.
pub(crate) struct GluedIndex<T: 'static> {
    words: FastMap<&'static str, T>,
    /// The lengths (in characters) the words come in, longest first.
    lens: Vec<usize>,
}

impl<T> GluedIndex<T> {
    pub(crate) fn new() -> Self {
        GluedIndex {
            words: FastMap::default(),
            lens: Vec::new(),
        }
    }

    /// The entry of `word`, created with `T::default()` when new.
    pub(crate) fn entry(&mut self, word: &'static str) -> &mut T
    where
        T: Default,
    {
        let n = word.chars().count();
        if let Err(at) = self.lens.binary_search_by(|x| n.cmp(x)) {
            self.lens.insert(at, n);
        }
        self.words.entry(word).or_default()
    }

    /// Calls `hit` with each word found inside `lower` (a lower-cased token).
    pub(crate) fn scan<'s>(&'s self, lower: &str, mut hit: impl FnMut(&'s T)) {
        if self.words.is_empty() {
            return;
        }
        let starts: Vec<usize> = lower
            .char_indices()
            .map(|(b, _)| b)
            .chain([lower.len()])
            .collect();
        let chars = starts.len() - 1;
        let mut k = 0;
        while k < chars {
            let found = self
                .lens
                .iter()
                .filter(|&&n| k + n <= chars)
                .find_map(|&n| self.words.get(&lower[starts[k]..starts[k + n]]).map(|v| (n, v)));
            match found {
                Some((n, v)) => {
                    hit(v);
                    k += n;
                }
                None => k += 1,
            }
        }
    }
}

/// The singular of a regular English plural, when the word looks like one.
pub(crate) fn singular(word: &str) -> Option<Cow<'_, str>> {
    let n = word.len();
    if n > 4 && word.ends_with("ies") {
        return Some(Cow::Owned(format!("{}y", &word[..n - 3])));
    }
    if n > 4 && (word.ends_with("ches") || word.ends_with("shes") || word.ends_with("xes")) {
        return Some(Cow::Borrowed(&word[..n - 2]));
    }
    if n > 3 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        return Some(Cow::Borrowed(&word[..n - 1]));
    }
    None
}

pub(crate) struct Lexicon {
    pub merchants: PhraseIndex<Merchant>,
    /// Merchants written in a glued script ("京东", "美团"), found inside tokens
    /// ("网银在线-京东商城业务CHN").
    pub glued_merchants: GluedIndex<Option<Merchant>>,
    pub keywords: PhraseIndex<Vec<Keyword>>,
    /// Keywords of glued scripts ("米线", "超市", "주유소"), found inside tokens.
    pub glued_keywords: GluedIndex<Vec<Keyword>>,
    pub generic: FastSet<&'static str>,
    /// Single keyword words, for "is this a common noun?" checks.
    pub keyword_words: FastSet<String>,
}

pub(crate) static LEXICON: LazyLock<Lexicon> = LazyLock::new(build);

fn data_lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

fn build() -> Lexicon {
    let mut merchants = PhraseIndex::new();
    let mut glued_merchants: GluedIndex<Option<Merchant>> = GluedIndex::new();
    for line in data_lines(MERCHANTS_TSV) {
        let mut cols = line.split('\t');
        let (Some(cat), Some(flags), Some(names)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("merchants.tsv: malformed line {line:?}");
        };
        let category = Category::parse(cat).expect("merchants.tsv: unknown category");
        let mut aliases = names.split('|');
        let name = aliases.next().expect("merchants.tsv: no name");
        for alias in std::iter::once(name).chain(aliases) {
            if alias.chars().any(is_glued_script) {
                let slot = glued_merchants.entry(alias);
                if slot.is_none() {
                    *slot = Some(Merchant {
                        name,
                        category,
                        strong: flags.contains('s'),
                        ambiguous: flags.contains('a'),
                        instrument: flags.contains('i'),
                    });
                }
            }
            merchants.insert(
                alias,
                Merchant {
                    name,
                    category,
                    strong: flags.contains('s'),
                    ambiguous: flags.contains('a'),
                    instrument: flags.contains('i'),
                },
            );
        }
    }

    let mut keywords: PhraseIndex<Vec<Keyword>> = PhraseIndex::new();
    let mut keyword_words = FastSet::default();
    let mut merged: HashMap<&'static str, Vec<Keyword>> = HashMap::new();
    let mut order: Vec<&'static str> = Vec::new();
    for line in data_lines(KEYWORDS_TSV) {
        let mut cols = line.split('\t');
        let (Some(cat), Some(weight), Some(terms)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("keywords.tsv: malformed line {line:?}");
        };
        let category = Category::parse(cat).expect("keywords.tsv: unknown category");
        let weight: u8 = weight.parse().expect("keywords.tsv: weight");
        for term in terms.split('|').filter(|t| !t.is_empty()) {
            let entry = merged.entry(term).or_insert_with(|| {
                order.push(term);
                Vec::new()
            });
            if !entry.iter().any(|k| k.category == category) {
                entry.push(Keyword { category, weight });
            }
            if !term.contains(' ') {
                keyword_words.insert(term.to_owned());
            }
        }
    }
    let mut glued_keywords: GluedIndex<Vec<Keyword>> = GluedIndex::new();
    for term in order {
        let kws = merged.remove(term).unwrap_or_default();
        if term.chars().any(is_glued_script) {
            glued_keywords.entry(term).extend(kws.iter().copied());
        }
        keywords.insert(term, kws);
    }

    let generic = data_lines(GENERIC_TXT).map(str::trim).collect();
    Lexicon {
        merchants,
        glued_merchants,
        keywords,
        glued_keywords,
        generic,
        keyword_words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_load() {
        let lex = &*LEXICON;
        assert!(lex.merchants.by_first.len() > 300);
        assert!(lex.keyword_words.contains("groceries"));
        assert!(lex.generic.contains("airport"));
    }

    #[test]
    fn finds_the_longest_merchant() {
        let toks = tokenize("paid at Uber Eats today");
        let hit = LEXICON.merchants.longest_at(&toks, 2, false).unwrap();
        assert_eq!(hit.len, 2);
        assert_eq!(hit.value.name, "Uber Eats");
        let toks = tokenize("7-Eleven");
        assert_eq!(
            LEXICON.merchants.longest_at(&toks, 0, false).unwrap().value.name,
            "7-Eleven"
        );
    }

    #[test]
    fn keywords_match_plurals() {
        let toks = tokenize("two coffees and sandwiches");
        let hit = LEXICON.keywords.longest_at(&toks, 1, true).unwrap();
        assert_eq!(hit.value[0].category, Category::FoodAndDrink);
        assert!(LEXICON.keywords.longest_at(&toks, 3, true).is_some());
    }

    #[test]
    fn singulars() {
        assert_eq!(singular("coffees").as_deref(), Some("coffee"));
        assert_eq!(singular("groceries").as_deref(), Some("grocery"));
        assert_eq!(singular("sandwiches").as_deref(), Some("sandwich"));
        assert_eq!(singular("bus"), None);
        assert_eq!(singular("glass"), None);
    }
}
