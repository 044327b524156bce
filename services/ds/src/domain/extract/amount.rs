//! Amounts: reading numbers in every common notation, and choosing the one that was spent
//! when a text holds several (balances, account digits, quantities, reference numbers).

use rust_decimal::Decimal;

use super::currency::{Marker, Side};
use super::language::{self, Roles};
use super::token::{Kind, Token};
use super::Role;

/// A number as written, read into a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reading {
    pub value: Decimal,
    /// When a single '.' is followed by exactly three digits ("1.234"), the value if the
    /// dot groups thousands; chosen once the currency is known.
    pub thousands: Option<Decimal>,
}

/// Reads the digits-and-separators string of a number token: "1,234.56", "1.234,56",
/// "1'234.50", "1,00,000", "12,50", "1234". `None` when the grouping makes no sense
/// ("1,2,3").
pub(crate) fn read_number(s: &str) -> Option<Reading> {
    if s.len() > 40 {
        return None;
    }
    let seps: Vec<(usize, u8)> = s
        .bytes()
        .enumerate()
        .filter(|(_, b)| !b.is_ascii_digit())
        .collect();
    let groups: Vec<&str> = s.split(|c: char| !c.is_ascii_digit()).collect();
    if groups.iter().any(|g| g.is_empty()) {
        return None;
    }
    let plain = |digits: &str| -> Option<Decimal> { digits.parse::<Decimal>().ok() };
    let joined = |parts: &[&str]| -> String { parts.concat() };
    if seps.is_empty() {
        return Some(Reading {
            value: plain(s)?,
            thousands: None,
        });
    }
    let last_sep = seps[seps.len() - 1].1;
    let all_same = seps.iter().all(|&(_, c)| c == last_sep);
    let decimal = |int_groups: &[&str], frac: &str| -> Option<Decimal> {
        plain(&format!("{}.{}", joined(int_groups), frac))
    };

    if all_same {
        let n = groups.len();
        return match last_sep {
            b'\'' => grouped(&groups).then(|| Reading {
                value: plain(&joined(&groups)).unwrap_or_default(),
                thousands: None,
            }),
            b',' if n == 2 && groups[1].len() != 3 => Some(Reading {
                value: decimal(&groups[..1], groups[1])?,
                thousands: None,
            }),
            b',' => grouped(&groups).then(|| Reading {
                value: plain(&joined(&groups)).unwrap_or_default(),
                thousands: None,
            }),
            b'.' if n == 2 => {
                let value = decimal(&groups[..1], groups[1])?;
                let thousands = (groups[1].len() == 3 && groups[0].len() <= 3 && groups[0] != "0")
                    .then(|| plain(&joined(&groups)))
                    .flatten();
                Some(Reading { value, thousands })
            }
            b'.' => grouped(&groups).then(|| Reading {
                value: plain(&joined(&groups)).unwrap_or_default(),
                thousands: None,
            }),
            _ => None,
        };
    }
    // Mixed: the last separator is the decimal one, the others group thousands, and they
    // must all be the same other character ("1,234.56", "1.234,56", "1'234.50").
    let (int_seps, _) = seps.split_at(seps.len() - 1);
    let group_char = int_seps[0].1;
    if group_char == last_sep || int_seps.iter().any(|&(_, c)| c != group_char) {
        return None;
    }
    let (int_groups, frac) = groups.split_at(groups.len() - 1);
    if !grouped(int_groups) {
        return None;
    }
    Some(Reading {
        value: decimal(int_groups, frac[0])?,
        thousands: None,
    })
}

/// Thousands grouping, Western ("12,345,678") or Indian ("1,23,45,678").
fn grouped(groups: &[&str]) -> bool {
    let Some((first, rest)) = groups.split_first() else {
        return false;
    };
    if rest.is_empty() || first.len() > 3 {
        return false;
    }
    let western = rest.iter().all(|g| g.len() == 3);
    let (last, middle) = rest.split_last().unwrap_or((&"", &[]));
    let indian = first.len() <= 2 && last.len() == 3 && middle.iter().all(|g| g.len() == 2);
    western || indian
}

/// English number words, for small spoken amounts ("twenty bucks", "a hundred and fifty").
fn number_word(w: &str) -> Option<(u64, WordKind)> {
    use WordKind::*;
    Some(match w {
        "zero" => (0, Unit),
        "one" => (1, Unit),
        "two" => (2, Unit),
        "three" => (3, Unit),
        "four" => (4, Unit),
        "five" => (5, Unit),
        "six" => (6, Unit),
        "seven" => (7, Unit),
        "eight" => (8, Unit),
        "nine" => (9, Unit),
        "ten" => (10, Unit),
        "eleven" => (11, Unit),
        "twelve" => (12, Unit),
        "thirteen" => (13, Unit),
        "fourteen" => (14, Unit),
        "fifteen" => (15, Unit),
        "sixteen" => (16, Unit),
        "seventeen" => (17, Unit),
        "eighteen" => (18, Unit),
        "nineteen" => (19, Unit),
        "twenty" => (20, Tens),
        "thirty" => (30, Tens),
        "forty" | "fourty" => (40, Tens),
        "fifty" => (50, Tens),
        "sixty" => (60, Tens),
        "seventy" => (70, Tens),
        "eighty" => (80, Tens),
        "ninety" => (90, Tens),
        "hundred" => (100, Scale),
        "thousand" => (1000, Scale),
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordKind {
    Unit,
    Tens,
    Scale,
}

/// Slang nouns that carry their own amount: "a tenner", "a fiver".
fn slang_amount(w: &str) -> Option<u64> {
    Some(match w {
        "fiver" => 5,
        "tenner" => 10,
        "score" => 20,
        "grand" => 1000,
        _ => return None,
    })
}

/// A possible amount: tokens `first..=last`.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub first: usize,
    pub last: usize,
    pub reading: Reading,
    /// Written in words ("twenty").
    pub words: bool,
    /// The adjacent currency marker, by index into the marker list.
    pub marker: Option<usize>,
    pub score: i32,
    /// Why it scored well, for the warning when several numbers compete.
    pub why: String,
}

/// Words right before an amount that say it was spent.
#[rustfmt::skip]
fn is_spend_word(w: &str) -> bool {
    matches!(
        w,
        "paid" | "pay" | "paying" | "payed" | "spent" | "spend" | "spending" | "debited" | "debit"
            | "charged" | "charge" | "withdrawn" | "withdrew" | "withdrawal" | "sent"
            | "transferred" | "purchase" | "purchased" | "bought" | "cost" | "costs" | "costing"
            | "worth" | "for" | "amount" | "amt" | "total" | "totalling" | "totaling" | "txn"
            | "transaction" | "payment" | "bill" | "price" | "priced" | "fare" | "was" | "of"
            | "dr" | "gave" | "tipped" | "deducted" | "="
    )
}

/// Words up to three tokens before a number that make it something other than the amount
/// spent ("Avl Bal Rs 5,000", "Ref No 4123...").
#[rustfmt::skip]
fn is_excluding_word(w: &str) -> bool {
    matches!(
        w,
        "bal" | "balance" | "avl" | "avail" | "available" | "avbl" | "limit" | "lmt" | "ref"
            | "refno" | "reference" | "utr" | "rrn" | "txnid" | "otp" | "pin" | "pincode" | "zip"
            | "outstanding" | "due" | "minimum" | "cashback" | "reward" | "rewards" | "points"
            | "saved" | "upto" | "discount" | "emi"
    )
}

/// Words right before a number that make it an identifier ("card ending 1234",
/// "A/c no. 5678", "call 1800...").
#[rustfmt::skip]
fn is_identifier_word(w: &str) -> bool {
    matches!(
        w,
        "card" | "account" | "acct" | "acc" | "ending" | "no" | "number" | "num" | "id" | "phone"
            | "mobile" | "mob" | "ph" | "tel" | "call" | "whatsapp" | "sms" | "cust" | "customer"
            | "upi" | "vpa" | "imps" | "neft" | "rtgs" | "code" | "ifsc" | "mcc" | "pnr" | "tid"
            | "mid" | "auth" | "approval"
    )
}

/// Purchase nouns that may also label an identifier ("order 40312345" vs "order 380").
#[rustfmt::skip]
fn is_soft_identifier_word(w: &str) -> bool {
    matches!(
        w,
        "order" | "booking" | "ticket" | "invoice" | "bill" | "receipt" | "policy"
    )
}

/// Nouns right before a number that make it a label ("room 204", "bus 42", "gate 7").
#[rustfmt::skip]
fn is_label_word(w: &str) -> bool {
    matches!(
        w,
        "room" | "flat" | "seat" | "gate" | "platform" | "bus" | "route" | "line" | "table"
            | "version" | "v" | "model" | "iphone" | "pixel" | "galaxy" | "page" | "chapter"
            | "level" | "floor" | "block" | "sector" | "street" | "road" | "year" | "since"
            | "min" | "save" | "off" | "tram" | "train" | "flight" | "terminal" | "apt" | "unit"
            | "house" | "no." | "week" | "day" | "top" | "size" | "rank" | "age" | "aged"
    )
}

/// Unit and counting words after a number: "2 kg", "3 nights", "5 people".
#[rustfmt::skip]
fn is_unit_word(w: &str) -> bool {
    matches!(
        w,
        "kg" | "kgs" | "g" | "gm" | "gms" | "gram" | "grams" | "km" | "kms" | "mi" | "miles" | "m"
            | "meters" | "metres" | "cm" | "mm" | "l" | "ltr" | "ltrs" | "litre" | "litres"
            | "liter" | "liters" | "ml" | "oz" | "lb" | "lbs" | "gb" | "mb" | "tb" | "mbps"
            | "hrs" | "hr" | "hour" | "hours" | "min" | "mins" | "minute" | "minutes" | "sec"
            | "secs" | "seconds" | "night" | "nights" | "day" | "days" | "week" | "weeks"
            | "month" | "months" | "year" | "years" | "yrs" | "yr" | "x" | "pcs" | "pc" | "piece"
            | "pieces" | "items" | "item" | "people" | "persons" | "person" | "pax" | "adults"
            | "kids" | "times" | "st" | "nd" | "rd" | "th" | "percent" | "pct" | "star" | "stars"
            | "inch" | "inches" | "seater" | "digit" | "digits" | "bhk"
    )
}

/// Multipliers after a number: "2.5k", "3 lakh", "1.2 crore", "2 million".
fn multiplier(tokens: &[Token], i: usize) -> Option<(Decimal, usize)> {
    let t = tokens.get(i)?;
    if !t.is_word() {
        return None;
    }
    let glued = !t.space_before;
    let factor: i64 = match t.lower.as_ref() {
        "k" if glued => 1_000,
        "thousand" | "grand" => 1_000,
        "lakh" | "lakhs" | "lac" | "lacs" => 100_000,
        "crore" | "crores" => 10_000_000,
        "cr" if glued => 10_000_000,
        "million" | "mn" | "mio" => 1_000_000,
        "billion" | "bn" => 1_000_000_000,
        _ => return None,
    };
    Some((Decimal::from(factor), 1))
}

pub(crate) struct Finder<'t, 'a> {
    pub tokens: &'t [Token<'a>],
    pub roles: &'t [Role],
    pub markers: &'t [Marker],
}

impl Finder<'_, '_> {
    fn word(&self, i: usize) -> Option<&str> {
        self.tokens
            .get(i)
            .filter(|t| t.is_word())
            .map(|t| t.lower.as_ref())
    }

    /// The marker adjacent to tokens `first..=last`, if any: right before ("Rs. 250",
    /// "$5", "INR 1,250") or right after ("250 zł", "5€", "250/-").
    fn adjacent_marker(&self, first: usize, last: usize) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (k, m) in self.markers.iter().enumerate() {
            let before = m.side == Side::Both && {
                // Allow one ':' or '.' between: "INR: 250", "Rs. 250" (dot inside marker).
                m.last + 1 == first
                    || (m.last + 2 == first
                        && self.tokens[m.last + 1].kind == Kind::Sym
                        && matches!(self.tokens[m.last + 1].lower.as_ref(), ":" | "." | "-"))
            };
            let after = m.first == last + 1 || (m.first == last + 2 && self.tokens[last + 1].lower == ")");
            if before || after {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let (ob, nb) = (&self.markers[b], m);
                        (nb.hint.names_currency(), nb.strength) > (ob.hint.names_currency(), ob.strength)
                    }
                };
                if better {
                    best = Some(k);
                }
            }
        }
        best
    }

    /// All amount candidates, scored.
    pub fn candidates(&self) -> Vec<Candidate> {
        let mut out = Vec::new();
        let n = self.tokens.len();
        let mut i = 0;
        while i < n {
            if self.roles[i] != Role::Free {
                i += 1;
                continue;
            }
            let t = &self.tokens[i];
            if t.kind == Kind::Num {
                if let Some(c) = self.numeric(i) {
                    i = c.last + 1;
                    out.push(c);
                    continue;
                }
            } else if t.kind == Kind::Word {
                if let Some(c) = self.spoken(i) {
                    i = c.last + 1;
                    out.push(c);
                    continue;
                }
            }
            i += 1;
        }
        out
    }

    fn numeric(&self, i: usize) -> Option<Candidate> {
        let t = &self.tokens[i];
        let mut last = i;
        let mut text = t.lower.to_string();
        // "1 234,56" / "1 000 000": digit groups separated by single spaces.
        if t.raw.len() <= 3 && t.raw.bytes().all(|b| b.is_ascii_digit()) {
            let mut j = i + 1;
            let mut groups = 0;
            let mut has_decimal = false;
            while let Some(nt) = self.tokens.get(j).filter(|_| groups < 5) {
                let ok_group = nt.is_num()
                    && nt.space_before
                    && self.roles[j] == Role::Free
                    && nt.raw.len() >= 3
                    && nt.raw.as_bytes()[..3].iter().all(u8::is_ascii_digit)
                    && (nt.raw.len() == 3
                        || (matches!(nt.raw.as_bytes()[3], b',' | b'.')
                            && (5..=6).contains(&nt.raw.len())
                            && nt.raw[4..].bytes().all(|b| b.is_ascii_digit())));
                if !ok_group {
                    break;
                }
                groups += 1;
                j += 1;
                if nt.raw.len() > 3 {
                    has_decimal = true;
                    break;
                }
            }
            // A long run of three-digit numbers is a list, not one number.
            let runs_on = self
                .tokens
                .get(j)
                .is_some_and(|nt| nt.is_num() && nt.space_before && nt.raw.len() == 3 && !has_decimal);
            if groups > 0 && !runs_on {
                let end = i + groups;
                let marked = self.adjacent_marker(i, end).is_some();
                // "3 000F", "25 000FCFA": a unit glued to the last group closes one number.
                let unit_glued = self
                    .tokens
                    .get(end + 1)
                    .is_some_and(|n| !n.space_before && n.is_word());
                if has_decimal && self.tokens[end].raw.contains(',') || groups >= 2 || marked || unit_glued {
                    text = self.tokens[i..=end]
                        .iter()
                        .map(|t| t.lower.as_ref())
                        .collect::<Vec<_>>()
                        .join("");
                    // The joined groups read as one number with '.' or ',' decimals.
                    if let Some(dot) = text.rfind([',', '.']) {
                        text.replace_range(dot..dot + 1, ".");
                    }
                    last = end;
                }
            }
        }
        let mut reading = read_number(&text)?;
        if let Some((factor, len)) = multiplier(self.tokens, last + 1) {
            reading.value = reading.value.checked_mul(factor)?;
            reading.thousands = None;
            last += len;
        }
        if reading.value <= Decimal::ZERO {
            return None;
        }
        let mut c = Candidate {
            first: i,
            last,
            reading,
            words: false,
            marker: self.adjacent_marker(i, last),
            score: 10,
            why: String::new(),
        };
        self.score(&mut c);
        Some(c)
    }

    /// Spoken numbers: "twenty", "a hundred and fifty", "twenty-five", "a tenner".
    fn spoken(&self, i: usize) -> Option<Candidate> {
        let w = self.word(i)?;
        if let Some(v) = slang_amount(w) {
            if w == "grand" || w == "score" {
                return None; // only as multipliers or in idioms
            }
            let mut c = Candidate {
                first: i,
                last: i,
                reading: Reading {
                    value: Decimal::from(v),
                    thousands: None,
                },
                words: true,
                marker: None,
                score: 4,
                why: String::new(),
            };
            self.score(&mut c);
            return Some(c);
        }
        let is_article = matches!(w, "a" | "an");
        if number_word(w).is_none() && !is_article {
            return None;
        }
        let mut total: u64 = 0;
        let mut current: u64 = 0;
        let mut j = i;
        let mut last = None;
        let mut prev: Option<WordKind> = None;
        while let Some(word) = self.word(j) {
            if self.roles[j] != Role::Free {
                break;
            }
            if matches!(word, "a" | "an") && j == i {
                // "a hundred", "a thousand"; "a buck" is one; "a tenner" is ten.
                if let Some(v) = self.word(j + 1).and_then(slang_amount).filter(|v| *v < 1000) {
                    let mut c = Candidate {
                        first: i,
                        last: i + 1,
                        reading: Reading {
                            value: Decimal::from(v),
                            thousands: None,
                        },
                        words: true,
                        marker: None,
                        score: 4,
                        why: String::new(),
                    };
                    self.score(&mut c);
                    return Some(c);
                }
                match self.word(j + 1) {
                    Some("hundred" | "thousand") => {
                        current = 1;
                        prev = Some(WordKind::Unit);
                        j += 1;
                        continue;
                    }
                    Some(next) if is_money_noun(next) => {
                        current = 1;
                        last = Some(j);
                        break;
                    }
                    _ => return None,
                }
            }
            if word == "and" && prev.is_some() && self.word(j + 1).and_then(number_word).is_some() {
                j += 1;
                continue;
            }
            let Some((v, kind)) = number_word(word) else {
                break;
            };
            match kind {
                WordKind::Unit | WordKind::Tens => {
                    if matches!(prev, Some(WordKind::Unit))
                        || (prev == Some(WordKind::Tens) && kind == WordKind::Tens)
                    {
                        break; // "one two" is not a number
                    }
                    if prev == Some(WordKind::Tens) && v >= 10 {
                        break;
                    }
                    current += v;
                }
                WordKind::Scale if v == 100 => {
                    current = current.max(1) * 100;
                }
                WordKind::Scale => {
                    total += current.max(1) * v;
                    current = 0;
                }
            }
            prev = Some(kind);
            last = Some(j);
            j += 1;
            // "twenty-five"
            if self
                .tokens
                .get(j)
                .is_some_and(|t| t.lower == "-" && !t.space_before)
                && kind == WordKind::Tens
            {
                j += 1;
            }
        }
        let last = last?;
        let value = total + current;
        if value == 0 {
            return None;
        }
        let mut c = Candidate {
            first: i,
            last,
            reading: Reading {
                value: Decimal::from(value),
                thousands: None,
            },
            words: true,
            marker: self.adjacent_marker(i, last),
            score: 4,
            why: String::new(),
        };
        self.score(&mut c);
        // A lone "one" or "two" without a currency or a spend word is a count, not money.
        if c.marker.is_none() && value < 10 && c.score < 20 {
            return None;
        }
        Some(c)
    }

    /// The index of the meaningful token before `i`, skipping currency markers and light
    /// punctuation.
    fn before(&self, i: usize) -> Option<usize> {
        let mut k = i.checked_sub(1)?;
        loop {
            let t = &self.tokens[k];
            let is_marker = self.markers.iter().any(|m| (m.first..=m.last).contains(&k));
            let light = t.kind == Kind::Sym && matches!(t.lower.as_ref(), ":" | "." | "(" | "-" | "=" | "~");
            if !(is_marker || light) {
                return Some(k);
            }
            k = k.checked_sub(1)?;
        }
    }

    fn score(&self, c: &mut Candidate) {
        let tokens = self.tokens;
        let first = &tokens[c.first];
        let mut why = String::new();
        if let Some(k) = c.marker {
            let m = &self.markers[k];
            c.score += if m.hint.names_currency() { 50 } else { 35 };
            let text: String = tokens[m.first..=m.last].iter().map(|t| t.raw).collect();
            why = format!("next to '{text}'");
        }
        // What comes before.
        let mut spend_before = false;
        if let Some(b) = self.before(c.first) {
            let bw = tokens[b].lower.as_ref();
            let spend_role = tokens[b].is_word()
                && language::roles_of(tokens, b).has(Roles::PURCHASE | Roles::PAYMENT | Roles::AMOUNT);
            spend_before = tokens[b].is_word() && is_spend_word(bw) || spend_role;
            if spend_before {
                let strong = !matches!(bw, "of" | "was" | "for" | "bill" | "=");
                c.score += if strong { 20 } else { 12 };
                if why.is_empty() {
                    why = format!("after '{}'", tokens[b].raw);
                }
            } else if bw == "by" {
                // "debited by 250", not "paid by card 1234"
                if self.before(b).is_some_and(|bb| {
                    matches!(
                        tokens[bb].lower.as_ref(),
                        "debited" | "credited" | "charged" | "debit"
                    )
                }) {
                    c.score += 20;
                }
            }
        }
        // Exclusion words up to three tokens back ("Avl Bal Rs 5,000", "A/c XX1234").
        let mut k = c.first;
        for _ in 0..3 {
            let Some(b) = self.before(k) else { break };
            let t = &tokens[b];
            let w = t.lower.as_ref();
            let account =
                t.is_word() && w == "c" && b >= 2 && tokens[b - 1].is_sym('/') && tokens[b - 2].lower == "a";
            let roles = if t.is_word() {
                language::roles_of(tokens, b)
            } else {
                Roles::default()
            };
            if t.is_word() && is_excluding_word(w) || account || roles.has(Roles::BALANCE) {
                c.score -= 60;
                break;
            }
            if roles.has(Roles::FEE) {
                // "Fee charged: GHS 2.00" beside "Cash Out … GHS 200.00"; alone, a fee is spent.
                c.score -= 35;
                break;
            }
            let right_before = k == c.first;
            let plain_digits = first.raw.bytes().all(|b| b.is_ascii_digit());
            if t.is_word() && (is_identifier_word(w) || roles.has(Roles::ACCOUNT)) {
                if right_before {
                    c.score -= if plain_digits && first.raw.len() >= 4 {
                        60
                    } else {
                        15
                    };
                }
                break;
            }
            if t.is_word() && is_soft_identifier_word(w) {
                if right_before && plain_digits && first.raw.len() >= 6 {
                    c.score -= 60;
                }
                break;
            }
            if t.is_word() && is_label_word(w) {
                if b + 1 == c.first {
                    c.score -= 25;
                }
                break;
            }
            if (t.is_sym('#') || t.is_sym('*')) && b + 1 == c.first && !first.space_before {
                c.score -= 60;
                break;
            }
            if t.is_num() && self.roles[b] == Role::Free {
                break; // another number in between: context is its own
            }
            k = b;
        }
        // Glued to letters: "XX1234", "A1", "1234ABC" (but "Rs250", "250zł", "2.5k").
        if c.first > 0 && !first.space_before {
            let prev = &tokens[c.first - 1];
            let prev_is_marker = self.markers.iter().any(|m| m.last == c.first - 1);
            if prev.is_word() && !prev_is_marker {
                c.score -= 50;
            }
            // "+254712…" is a phone number; "+50,00" on a statement line a signed amount (money
            // in: refused once chosen).
            let signed = prev.is_sym('+')
                && prev.space_before
                && (first.raw.contains([',', '.']) || first.raw.len() < 7);
            if prev.is_sym('+') && !signed || prev.is_sym('#') || prev.is_sym('*') || prev.is_sym('x') {
                c.score -= 60;
            }
            // "alert(1)", "file_2": a symbol glued between a word and the number.
            let code_like = prev.kind == Kind::Sym
                && !prev_is_marker
                && c.first >= 2
                && !prev.space_before
                && tokens[c.first - 2].is_word()
                && matches!(prev.lower.as_ref(), "(" | "_" | "/" | "=" | "[" | "{" | "<");
            if code_like {
                c.score -= 30;
            }
            if prev.is_sym('/') || prev.is_sym('-') && c.first >= 2 && tokens[c.first - 2].is_num() {
                c.score -= 40; // "12/34", "2018-..." leftovers, "555-0148"
            }
        }
        // "014-3372", "105-876": phone numbers and codes in groups.
        let dash_group = tokens
            .get(c.last + 1)
            .is_some_and(|n| n.is_sym('-') && !n.space_before)
            && tokens
                .get(c.last + 2)
                .is_some_and(|n| n.is_num() && !n.space_before);
        if dash_group && c.marker.is_none() {
            c.score -= 40;
        }
        // Six or more bare digits with nothing saying money: a code, a phone or a reference.
        let bare_long = first.raw.len() >= 6 && first.raw.bytes().all(|b| b.is_ascii_digit());
        if bare_long && c.first == c.last && c.marker.is_none() && !spend_before {
            c.score -= 40;
        }
        if let Some(next) = tokens.get(c.last + 1) {
            let next_is_marker = self.markers.iter().any(|m| m.first == c.last + 1);
            if !next_is_marker {
                let nw = next.lower.as_ref();
                if next.is_sym('%') || nw == "percent" || nw == "pct" {
                    c.score -= 80;
                } else if next.is_word() && is_unit_word(nw) && self.roles[c.last + 1] == Role::Free {
                    c.score -= 40;
                } else if next.is_word() && !next.space_before
                    || next.is_sym('/') && tokens.get(c.last + 2).is_some_and(|t| t.is_num())
                {
                    // "1234ABC", "12/34"
                    c.score -= 30;
                } else if next.is_word()
                    && !next.is_capitalized()
                    && c.reading.value.fract().is_zero()
                    && c.reading.value <= Decimal::from(20)
                    && nw.len() > 3
                    && nw.ends_with('s')
                    && !nw.ends_with("ss")
                {
                    // "2 coffees", "3 beers": a count.
                    c.score -= 15;
                }
            }
        }
        // The number itself.
        let raw = first.raw;
        if !c.words {
            if c.reading.value.scale() == 2 && c.first == c.last {
                c.score += 5;
            }
            let digits_only = raw.bytes().all(|b| b.is_ascii_digit());
            if c.marker.is_none() && digits_only && raw.len() >= 7 {
                c.score -= 40; // reference, phone or account number
            }
            if c.marker.is_none() && digits_only && raw.len() > 1 && raw.starts_with('0') {
                c.score -= 20;
            } else if digits_only && raw.len() >= 4 && raw.starts_with('0') {
                // "TK 0011004" (a Vietnamese account, after a word that is also the taka's
                // symbol): nobody writes money with leading zeros, marker or not.
                c.score -= 60;
            }
            if c.marker.is_none()
                && digits_only
                && raw.len() == 4
                && (1990..=2100).contains(&raw.parse::<u32>().unwrap_or(0))
            {
                c.score -= 15;
            }
        }
        // "at 7" is a time more often than a price.
        if c.marker.is_none()
            && c.reading.value.fract().is_zero()
            && c.reading.value <= Decimal::from(12)
            && self.before(c.first).is_some_and(|b| tokens[b].lower == "at")
        {
            c.score -= 10;
        }
        c.why = why;
    }
}

#[rustfmt::skip]
fn is_money_noun(w: &str) -> bool {
    matches!(
        w,
        "buck" | "dollar" | "euro" | "quid" | "pound" | "rupee" | "yen" | "franc"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn reads_common_notations() {
        let v = |s: &str| read_number(s).map(|r| r.value);
        assert_eq!(v("12.50"), Some(d("12.50")));
        assert_eq!(v("1,234.56"), Some(d("1234.56")));
        assert_eq!(v("1.234,56"), Some(d("1234.56")));
        assert_eq!(v("1'234.50"), Some(d("1234.50")));
        assert_eq!(v("1,00,000"), Some(d("100000")));
        assert_eq!(v("1,00,000.50"), Some(d("100000.50")));
        assert_eq!(v("12,345,678"), Some(d("12345678")));
        assert_eq!(v("12,50"), Some(d("12.50")));
        assert_eq!(v("10,00"), Some(d("10.00")));
        assert_eq!(v("1,234"), Some(d("1234")));
        assert_eq!(v("1.234.567"), Some(d("1234567")));
        assert_eq!(v("250"), Some(d("250")));
        assert_eq!(v("1,2,3"), None);
        assert_eq!(v("1.234,5.6"), None);
    }

    #[test]
    fn a_single_dot_before_three_digits_is_ambiguous() {
        let r = read_number("1.234").unwrap();
        assert_eq!(r.value, d("1.234"));
        assert_eq!(r.thousands, Some(d("1234")));
        assert_eq!(read_number("0.250").unwrap().thousands, None);
        assert_eq!(read_number("12.50").unwrap().thousands, None);
    }
}
