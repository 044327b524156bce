//! A small tokenizer: words, numbers and single-character symbols, with their byte spans
//! in the original text and whether whitespace came before them.
//!
//! Everything downstream works on tokens rather than on regular expressions over the raw
//! text: one linear pass here, then window checks of a few tokens, which keeps the
//! extractor linear in the length of the text and fast on short messages.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A run of letters (with inner apostrophes: "mcdonald's").
    Word,
    /// ASCII digits with inner `.`, `,` or `'` separators ("1,234.56", "27.09.2018").
    Num,
    /// Any other single character that is not whitespace ("$", "-", "@", "🍕").
    Sym,
}

#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub kind: Kind,
    /// The text as written.
    pub raw: &'a str,
    /// Lower-cased, with typographic apostrophes made plain; for numbers, the digits and
    /// separators with no-break spaces removed.
    pub lower: Cow<'a, str>,
    /// Whitespace (or the start of the text) comes right before this token.
    pub space_before: bool,
    /// A line break comes right before this token: multi-line alerts put each field (and
    /// the merchant) on a line of its own.
    pub line_start: bool,
}

impl Token<'_> {
    pub fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    pub fn is_num(&self) -> bool {
        self.kind == Kind::Num
    }

    pub fn is_sym(&self, c: char) -> bool {
        self.kind == Kind::Sym && self.raw.starts_with(c)
    }

    /// A word whose first letter is upper case ("Carrefour", "IKEA", "McDonald's").
    pub fn is_capitalized(&self) -> bool {
        self.kind == Kind::Word && self.raw.chars().next().is_some_and(char::is_uppercase)
    }

    /// A word of two or more letters, all upper case ("KFC", "AMAZON").
    pub fn is_all_caps(&self) -> bool {
        self.kind == Kind::Word
            && self.raw.chars().filter(|c| c.is_alphabetic()).count() >= 2
            && !self.raw.chars().any(char::is_lowercase)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphabetic() || ('\u{0300}'..='\u{036f}').contains(&c)
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

/// No-break spaces used as thousands separators ("1 234,56").
fn is_nbsp(c: char) -> bool {
    c == '\u{00a0}' || c == '\u{202f}' || c == '\u{2009}'
}

pub(crate) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::with_capacity(text.len() / 3 + 1);
    let bytes = text.as_bytes();
    let mut chars = text.char_indices().peekable();
    let mut space_before = true;
    let mut line_start = false;
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() || c.is_control() {
            space_before = true;
            line_start |= c == '\n' || c == '\r';
            continue;
        }
        if c.is_ascii_digit() {
            let mut end = start + 1;
            let mut has_nbsp = false;
            loop {
                match chars.peek() {
                    Some(&(_, d)) if d.is_ascii_digit() => {
                        chars.next();
                        end += 1;
                    }
                    Some(&(i, s)) if matches!(s, '.' | ',' | '\'') || is_nbsp(s) => {
                        // A separator belongs to the number only when a digit follows it
                        // ("1,234" yes, "12, 5" no, "29.09." keeps its last dot outside).
                        let next = i + s.len_utf8();
                        if bytes.get(next).is_some_and(u8::is_ascii_digit) {
                            has_nbsp |= is_nbsp(s);
                            chars.next();
                            end = next;
                        } else {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            let raw = &text[start..end];
            let lower = if has_nbsp {
                Cow::Owned(raw.chars().filter(|&c| !is_nbsp(c)).collect())
            } else {
                Cow::Borrowed(raw)
            };
            tokens.push(Token {
                kind: Kind::Num,
                raw,
                lower,
                space_before,
                line_start,
            });
        } else if is_word_char(c) {
            let mut end = start + c.len_utf8();
            loop {
                match chars.peek() {
                    Some(&(i, d)) if is_word_char(d) => {
                        chars.next();
                        end = i + d.len_utf8();
                    }
                    Some(&(i, a)) if is_apostrophe(a) => {
                        let next = i + a.len_utf8();
                        if text[next..].chars().next().is_some_and(is_word_char) {
                            chars.next();
                            end = next;
                        } else {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            let raw = &text[start..end];
            let lower = if raw.chars().any(|c| c.is_uppercase() || c == '’') {
                Cow::Owned(raw.to_lowercase().replace('’', "'"))
            } else {
                Cow::Borrowed(raw)
            };
            tokens.push(Token {
                kind: Kind::Word,
                raw,
                lower,
                space_before,
                line_start,
            });
        } else {
            let end = start + c.len_utf8();
            let raw = &text[start..end];
            let lower = match c {
                '’' | '‘' => Cow::Borrowed("'"),
                '–' | '—' | '−' => Cow::Borrowed("-"),
                '＄' => Cow::Borrowed("$"),
                '￥' => Cow::Borrowed("¥"),
                '＠' => Cow::Borrowed("@"),
                _ => Cow::Borrowed(raw),
            };
            tokens.push(Token {
                kind: Kind::Sym,
                raw,
                lower,
                space_before,
                line_start,
            });
        }
        space_before = false;
        line_start = false;
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, String, bool)> {
        tokenize(text)
            .into_iter()
            .map(|t| (t.kind, t.lower.into_owned(), t.space_before))
            .collect()
    }

    #[test]
    fn splits_words_numbers_and_symbols() {
        use Kind::*;
        assert_eq!(
            kinds("Rs.1,250.00/- at McDonald’s"),
            vec![
                (Word, "rs".into(), true),
                (Sym, ".".into(), false),
                (Num, "1,250.00".into(), false),
                (Sym, "/".into(), false),
                (Sym, "-".into(), false),
                (Word, "at".into(), true),
                (Word, "mcdonald's".into(), true),
            ]
        );
    }

    #[test]
    fn keeps_trailing_dots_out_of_numbers() {
        let t = tokenize("on 29.09. and 12, 5");
        assert_eq!(t[1].raw, "29.09");
        assert!(t[2].is_sym('.'));
        assert_eq!(t[4].raw, "12");
        assert!(t[5].is_sym(','));
    }

    #[test]
    fn no_break_space_groups_digits() {
        let t = tokenize("1\u{a0}234,56 €");
        assert_eq!(t[0].lower, "1234,56");
        assert!(t[1].is_sym('€'));
    }

    #[test]
    fn letters_and_digits_split_but_stay_glued() {
        let t = tokenize("XX1234 2.5k");
        assert_eq!(t[0].lower, "xx");
        assert_eq!(t[1].raw, "1234");
        assert!(!t[1].space_before);
        assert_eq!(t[3].lower, "k");
        assert!(!t[3].space_before);
    }

    #[test]
    fn handles_any_unicode() {
        for s in [
            "",
            "🍕🍕",
            "\u{0301}",
            "é\u{0301}x",
            "Blå",
            "١٢٣",
            "\u{202f}",
            "'",
            "a'",
        ] {
            let _ = tokenize(s);
        }
        assert_eq!(tokenize("Den Blå Planet")[1].raw, "Blå");
    }
}
