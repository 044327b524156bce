//! Merchants: where the money went.
//!
//! Candidates come from the places a merchant is named in ("at X", "@X", "from X",
//! "to X", "X: 12.50", "X - 40", "40 EUR X ...", bank SMS "to VPA x@ybl", "Info: UPI/..."),
//! plus any well-known brand mentioned; the best-placed one wins. A phrase is cut at
//! prepositions, dates, times, numbers and punctuation, and generic places or people
//! ("the airport", "a bar", "mom") name no merchant.

use super::language::{is_glued_script, Roles};
use super::lexicon::{Merchant, LEXICON};
use super::token::{Kind, Token};
use super::{Analysis, Role};

/// The merchant found, and where.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub name: String,
    pub known: Option<&'static Merchant>,
    pub first: usize,
    pub last: usize,
    /// Where it was read (set by [`find`]): 55 and up is a payee slot ("at", "to", a VPA,
    /// "Info:"), 50 a brand or name merely mentioned.
    pub placed: i32,
}

/// Words that end a merchant phrase.
#[rustfmt::skip]
fn is_stop(w: &str) -> bool {
    matches!(
        w,
        "for" | "on" | "with" | "via" | "using" | "by" | "from" | "to" | "in" | "at" | "into"
            | "onto" | "near" | "around" | "yesterday" | "today" | "tonight" | "ago" | "or"
            | "but" | "ref" | "refno" | "upi" | "txn" | "avl" | "bal" | "info" | "not" | "call"
            | "is" | "was" | "has" | "have" | "had" | "paid" | "spent" | "bought" | "pay" | "got"
            | "buy" | "get" | "per" | "each" | "incl" | "including" | "plus" | "total" | "dated"
            | "date" | "time" | "vpa" | "card" | "ending" | "thru" | "through" | "towards"
            | "after" | "before" | "during" | "while" | "when" | "then" | "so" | "because" | "as"
            | "also" | "again" | "last" | "this" | "next" | "every" | "tomorrow" | "morning"
            | "evening" | "night" | "afternoon" | "if" | "please" | "pls" | "dear" | "your" | "my"
            | "our" | "a/c" | "acct" | "account" | "bank" | "wallet" | "credit" | "debit"
            | "debited" | "credited" | "sent" | "received" | "transfer" | "trf" | "ltd" | "pvt"
            | "private" | "limited" | "inc" | "llc" | "gmbh" | "sa" | "srl" | "which" | "that"
            | "who" | "where" | "it" | "will" | "would" | "can" | "could" | "should" | "just"
            | "only" | "about" | "approx" | "approximately" | "like" | "least" | "once" | "all"
            | "since" | "till" | "until" | "between" | "against" | "rs" | "inr" | "amount" | "amt"
            | "payment" | "order" | "bill" | "purchase" | "ticket" | "tickets" | "reference"
            | "status" | "go" | "went" | "going" | "do" | "did" | "done" | "make" | "made"
            | "take" | "took" | "drink" | "eat" | "ate" | "and"
    )
}

/// Stop words that end a name even when capitalised ("RAMESH STALL Refno", "Casa Pepe On
/// Monday"); the other stop words may be part of a capitalised name ("Plus Florence").
#[rustfmt::skip]
fn is_hard_stop(w: &str) -> bool {
    matches!(
        w,
        "for" | "on" | "with" | "via" | "using" | "by" | "from" | "to" | "in" | "at" | "into"
            | "onto" | "near" | "yesterday" | "today" | "tonight" | "ago" | "ref" | "refno"
            | "upi" | "txn" | "avl" | "bal" | "info" | "not" | "call" | "is" | "was" | "has"
            | "have" | "had" | "paid" | "spent" | "bought" | "vpa" | "card" | "ending" | "dated"
            | "date" | "towards" | "a/c" | "acct" | "account" | "debited" | "credited" | "trf"
            | "rs" | "inr" | "amount" | "amt" | "or" | "but" | "ltd" | "pvt" | "limited" | "inc"
            | "llc" | "gmbh" | "srl" | "tomorrow" | "if" | "your" | "my" | "our" | "bank"
            | "wallet" | "credit" | "debit" | "sent" | "received" | "transfer" | "reference"
    )
}

/// Legal-form suffixes trimmed from the end of a name ("DORMIKOR OÜ", "Zo-vital B.V.",
/// "Kontist GmbH", "BAUHOF GROUP AS").
#[rustfmt::skip]
fn is_legal_form(w: &str) -> bool {
    matches!(
        w,
        "ltd" | "pvt" | "inc" | "llc" | "gmbh" | "ag" | "sa" | "srl" | "sarl" | "sas" | "bv" | "nv" | "oü" | "ou"
            | "as" | "oy" | "ab" | "aps" | "spa" | "plc" | "pte" | "bhd" | "sdn" | "kft" | "sro" | "doo" | "corp"
            | "co" | "llp" | "lp" | "kg" | "se" | "osaühing" | "limited" | "private"
    )
}

/// Drops legal-form suffixes (and the dots between their letters) from the end of
/// `first..=last`.
fn trim_legal_form(tokens: &[Token], first: usize, mut last: usize) -> usize {
    while last > first {
        let t = &tokens[last];
        if t.is_sym('.') || t.is_sym(',') {
            last -= 1;
            continue;
        }
        // "B.V.": letters split by dots.
        let dotted_bv = t.is_word()
            && last >= first + 2
            && tokens[last - 1].is_sym('.')
            && !t.space_before
            && tokens[last - 2].is_word()
            && is_legal_form(&format!("{}{}", tokens[last - 2].lower, t.lower));
        if dotted_bv {
            last -= 3;
            continue;
        }
        if t.is_word() && is_legal_form(&t.lower) {
            last -= 1;
            continue;
        }
        break;
    }
    last
}

/// Connectors allowed inside a capitalised name ("Advent of Code", "Marks & Spencer").
#[rustfmt::skip]
fn is_connector(w: &str) -> bool {
    matches!(
        w,
        "of" | "de" | "da" | "di" | "do" | "du" | "del" | "della" | "la" | "le" | "les" | "los"
            | "las" | "el" | "van" | "von" | "der" | "den" | "and" | "n" | "the" | "y" | "e"
            | "und" | "et"
    )
}

/// Nouns before "to" that make it a destination ("bus to Katowice"), not a payee.
#[rustfmt::skip]
fn is_route_word(w: &str) -> bool {
    matches!(
        w,
        "bus" | "train" | "flight" | "flights" | "taxi" | "cab" | "ride" | "ticket" | "tickets"
            | "trip" | "tram" | "metro" | "ferry" | "drive" | "uber" | "ola" | "lyft" | "auto"
            | "rickshaw" | "fare" | "way" | "return" | "journey" | "commute" | "went" | "going"
            | "go" | "back" | "travel" | "fly" | "flew" | "flying" | "coach" | "boat" | "shuttle"
            | "transfer" | "walk" | "lift" | "home" | "airport" | "plane" | "subway" | "rapido"
            | "bike" | "scooter"
    )
}

/// Words before "to" that make it no payment ("due to rain", "next to", "have to").
#[rustfmt::skip]
fn is_not_payee_before_to(w: &str) -> bool {
    matches!(
        w,
        "due" | "thanks" | "according" | "next" | "close" | "similar" | "compared" | "up"
            | "want" | "wanted" | "have" | "has" | "had" | "need" | "needed" | "used" | "able"
            | "trying" | "try" | "tried" | "how" | "where" | "what" | "like" | "listen" | "talk"
            | "talked" | "moved" | "came" | "come" | "welcome" | "ticket" | "tickets" | "visit"
    )
}

#[rustfmt::skip]
fn is_determiner(w: &str) -> bool {
    matches!(
        w,
        "a" | "an"
            | "tu"
            | "su"
            | "mi"
            | "tus"
            | "sus"
            | "my"
            | "our"
            | "your"
            | "his"
            | "her"
            | "their"
            | "its"
            | "this"
            | "that"
            | "these"
            | "those"
            | "some"
            | "any"
            | "every"
            | "each"
            | "one"
            | "two"
            | "few"
            | "several"
            | "many"
            | "another"
            | "other"
            | "same"
            | "no"
    )
}

/// Words of any message's boilerplate that never name a payee: the bank's instructions
/// ("to dispute", "to raise an issue", "to report") and time zones ("IST", "UTC").
#[rustfmt::skip]
fn is_boilerplate(w: &str) -> bool {
    matches!(
        w,
        "dispute" | "reissue" | "report" | "raise" | "unblock" | "ist" | "utc" | "gmt" | "est" | "edt"
            | "pst" | "pdt" | "cet" | "cest" | "bst" | "eat" | "wat" | "sast" | "hkt" | "sgt" | "jst"
            | "kst" | "aest" | "aedt" | "msk"
    )
}

/// Words that open a card-statement line before the merchant ("CHECKCARD 0312 ...",
/// "RECURRING PAYMENT AUTHORIZED ON 03/13 ...", "CARTE 01/03/25 ...").
#[rustfmt::skip]
fn is_descriptor_noise(w: &str) -> bool {
    matches!(
        w,
        "checkcard" | "check" | "card" | "carte" | "cb" | "pos" | "recurring" | "payment" | "purchase"
            | "authorized" | "authorised" | "on" | "debit" | "visa" | "mastercard" | "ach" | "prlv"
            | "achat" | "compra" | "kartenzahlung" | "retrait" | "dab" | "atm" | "withdrawal"
            | "sepa" | "sdd" | "dd" | "deb"
    )
}

/// Payment processors that prefix the merchant on card statements ("SQ *", "TST*").
#[rustfmt::skip]
fn is_processor_prefix(w: &str) -> bool {
    matches!(
        w,
        "sq" | "tst" | "paypal" | "pp" | "sp" | "py" | "ic" | "pos" | "sumup" | "zettle" | "iz" | "ckd" | "raz"
            | "rzp" | "pyu" | "payu" | "ccav" | "google" | "amzn" | "dnh" | "sqc" | "spy" | "sepay"
    )
}

/// A web address's top-level domain ("WWW.JOHNLEWIS.COM", "NETFLIX.COM"): not part of the
/// name shown.
fn is_tld(w: &str) -> bool {
    matches!(
        w,
        "com"
            | "de"
            | "nl"
            | "net"
            | "org"
            | "eu"
            | "be"
            | "co"
            | "uk"
            | "io"
            | "fr"
            | "in"
            | "es"
            | "it"
            | "ru"
    )
}

/// Country tails glued to a brand on card descriptors ("PAYPAL *SPOTIFYUSA", "NETFLIXUK"):
/// the brand is the word without them.
const GLUED_COUNTRY_TAILS: [&str; 4] = ["usa", "us", "uk", "com"];

/// Noise in bank "Info:" lines and VPAs.
#[rustfmt::skip]
fn is_bank_noise(w: &str) -> bool {
    matches!(
        w,
        "upi" | "p2m" | "p2a" | "pos" | "imps" | "neft" | "rtgs" | "ach" | "mmt" | "ecom" | "bil"
            | "onl" | "vps" | "vin" | "nach" | "ecs" | "atm" | "cash" | "wdl" | "txn" | "ref"
            | "payment" | "paymen" | "pay" | "bank" | "ltd" | "pvt" | "india" | "in" | "ind"
            | "yes" | "hdfc" | "icici" | "sbi" | "axis" | "kotak" | "paytm" | "ybl" | "okaxis"
            | "okhdfcbank" | "oksbi" | "okicici" | "ibl" | "axl" | "apl" | "upi_ref" | "collect"
            | "request" | "sent" | "using" | "from" | "to" | "via" | "mandate" | "autopay" | "dr"
            | "cr" | "trf" | "transfer" | "q" | "qr" | "merchant" | "debit" | "credit" | "card"
            | "a" | "c" | "no" | "rrn" | "utr" | "id" | "dispute" | "block" | "reissue" | "report"
            | "fraud" | "unblock" | "helpline" | "abuse" | "complaint" | "enquiry" | "inquiry"
            | "support" | "customer" | "view" | "subject" | "raise" | "issue" | "log" | "login"
            | "paytmqr" | "bharatpe" | "agent"
    )
}

struct Ctx<'t, 'a> {
    a: &'t Analysis<'a>,
}

impl<'t, 'a> Ctx<'t, 'a> {
    fn tokens(&self) -> &'t [Token<'a>] {
        &self.a.tokens
    }

    fn word(&self, i: usize) -> Option<&'t str> {
        self.a
            .tokens
            .get(i)
            .filter(|t| t.is_word())
            .map(|t| t.lower.as_ref())
    }

    fn free(&self, i: usize) -> bool {
        self.a.roles.get(i) == Some(&Role::Free)
    }

    /// Capital letters carry meaning here (not an all-caps or Every Word Capped text).
    fn informative_caps(&self, i: usize) -> bool {
        !self.a.style.shouting && !self.a.style.title_case && self.a.tokens[i].is_capitalized()
    }

    /// A known merchant at `i`, if allowed there.
    fn known_at(&self, i: usize, in_slot: bool) -> Option<(usize, &'static Merchant)> {
        if !self.free(i) {
            return None;
        }
        let t = &self.tokens()[i];
        let (len, m): (usize, &'static Merchant) = match LEXICON.merchants.longest_at(self.tokens(), i, false)
        {
            Some(hit) => (hit.len, hit.value),
            // "SPOTIFYUSA": a brand with a country tail glued on, in capitals.
            None if t.is_word() && t.is_all_caps() => {
                let w = t.lower.as_ref();
                GLUED_COUNTRY_TAILS.iter().find_map(|tail| {
                    let stem = w.strip_suffix(tail).filter(|s| s.chars().count() >= 4)?;
                    LEXICON.merchants.single(stem).map(|m| (1, m))
                })?
            }
            None => return None,
        };
        if (i..i + len).any(|k| !self.free(k)) {
            return None;
        }
        if m.instrument && !in_slot {
            return None;
        }
        if m.ambiguous && !in_slot {
            // Outside a slot an ambiguous name must look like one: capitalised ("Orange"),
            // and an acronym in capitals ("INA", not the name "Ana").
            let acronym = m.name.len() <= 4 && m.name.chars().all(|c| !c.is_lowercase());
            let written_as_name = if acronym {
                t.is_all_caps() || t.is_num()
            } else {
                t.is_capitalized() || t.is_num()
            };
            if !written_as_name {
                return None;
            }
        }
        Some((len, m))
    }

    /// A known merchant's display name: the canonical one, unless the text writes it in
    /// another script ("Аэрофлот", "МТС" stay Cyrillic; "AEROFLOT" becomes "Aeroflot") or
    /// by another of its names ("LUKU" is TANESCO's prepaid meter service, "KPLC" Kenya
    /// Power's initials: the text's name is the one the person knows).
    fn known_name(&self, first: usize, last: usize, m: &Merchant) -> String {
        let latin = |s: &str| {
            s.chars()
                .filter(|c| c.is_alphabetic())
                .all(|c| c.is_ascii_alphabetic())
        };
        let letters = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        let written: String = self.tokens()[first..=last].iter().map(|t| t.raw).collect();
        let (w, n) = (letters(&written), letters(m.name));
        // Not a contraction of it either ("WHOLEFDS" is Whole Foods).
        let prefix = |s: &str| s.chars().take(3).collect::<String>();
        let another_name = w.len() >= 3 && !n.contains(&w) && !w.contains(&n) && prefix(&w) != prefix(&n);
        if latin(m.name) != latin(&written) || another_name && self.tokens()[first].is_all_caps() {
            self.display(first, last)
        } else {
            m.name.to_owned()
        }
    }

    /// A word of the bank vocabulary of some language ("Покупка", "Ostatok", "일시불",
    /// "Saldo"): never part of a payee's name.
    fn bank_word(&self, i: usize) -> bool {
        let tokens = self.tokens();
        tokens[i].is_word() && {
            let roles = self.a.words[i].0;
            // Payee words introduce a name; cash and transfer words only inform the
            // confidence.
            let naming = Roles::PAYEE | Roles::PAYEE_LABEL | Roles::CASH | Roles::TRANSFER | Roles::ACT;
            !roles.without(naming).is_empty()
        }
    }

    /// A name in a script without capitals (Hangul): a word that is no bank word.
    fn caseless_name(&self, i: usize) -> bool {
        let t = &self.tokens()[i];
        t.is_word()
            && self.free(i)
            && t.raw.chars().all(is_glued_script)
            && !self.bank_word(i)
            && !self.common(i)
    }

    /// Whether the word at `i` is a plain common word (generic place/person or a category
    /// keyword): such a word alone is no merchant name.
    fn common(&self, i: usize) -> bool {
        let Some(w) = self.word(i) else { return false };
        LEXICON.generic.contains(w)
            || LEXICON.keyword_words.contains(w)
            || super::lexicon::singular(w).is_some_and(|s| {
                LEXICON.keyword_words.contains(s.as_ref()) || LEXICON.generic.contains(s.as_ref())
            })
            || is_stop(w)
            || is_determiner(w)
    }

    /// A merchant phrase starting at `start`. `in_slot` is true after "at"/"@"/"from"/"to".
    fn phrase(&self, start: usize, in_slot: bool) -> Option<Found> {
        let tokens = self.tokens();
        let mut i = start;
        // "at the Hilton" vs "at the airport"
        if self.word(i) == Some("the") {
            let next_is_name = i + 1 < tokens.len()
                && (self.informative_caps(i + 1) || self.known_at(i + 1, in_slot).is_some());
            if !next_is_name {
                return None;
            }
            i += 1;
        }
        // Payment processors' prefixes on card descriptors: "SQ *JOE'S", "TST* CAVA",
        // "PAYPAL *SPOTIFY".
        if self.word(i).is_some_and(is_processor_prefix) && tokens.get(i + 1).is_some_and(|t| t.is_sym('*')) {
            i += 2;
        }
        // "WWW.JOHNLEWIS.COM": a web address names the shop without its "www.".
        if self.word(i) == Some("www")
            && tokens
                .get(i + 1)
                .is_some_and(|t| t.is_sym('.') && !t.space_before)
            && tokens.get(i + 2).is_some_and(|t| t.is_word() && !t.space_before)
        {
            i += 2;
        }
        // "sent to 0501000222 KWAME BOATENG": the payee's phone number, then the name.
        let phone = |t: &Token| t.is_num() && t.raw.len() >= 9 && t.raw.bytes().all(|b| b.is_ascii_digit());
        if in_slot && tokens.get(i).is_some_and(phone) && tokens.get(i + 1).is_some_and(|n| n.is_all_caps()) {
            i += 1;
        }
        if i >= tokens.len() || !self.free(i) {
            return None;
        }
        if let Some(hit) = LEXICON.merchants.longest_at(tokens, i, false) {
            if hit.value.instrument && !in_slot {
                return None; // "Chase: ...", "PayPal 20": the way of paying, not the payee
            }
        }
        if let Some((len, m)) = self.known_at(i, in_slot) {
            return Some(Found {
                name: self.known_name(i, i + len - 1, m),
                known: Some(m),
                first: i,
                last: i + len - 1,
                placed: 0,
            });
        }
        if self.bank_word(i)
            || self.word(i).is_some()
                && !self.a.words[i]
                    .0
                    .without(Roles::PAYEE | Roles::PAYEE_LABEL)
                    .is_empty()
        {
            return None; // "Покупка", "INTERNET-Überweisung", "ATM"
        }
        let first = &tokens[i];
        let w = self.word(i)?;
        let glued_next = tokens.get(i + 1).is_some_and(|n| !n.space_before);
        // "at Plus Florence": a capitalised soft stop word opening a capitalised name.
        let opens_name = self.informative_caps(i)
            && !is_hard_stop(w)
            && i + 1 < tokens.len()
            && self.free(i + 1)
            && self.informative_caps(i + 1);
        if (is_determiner(w) && !glued_next) || (is_stop(w) && !opens_name) {
            return None;
        }
        if self.a.style.bank && is_bank_noise(w) || is_boilerplate(w) {
            return None; // "towards NACH mandate", "to UPI", "to raise an issue", "IST"
        }
        // In a slot, a name in capitals reads as a name even in an all-caps or Title Case
        // message ("Lugar de Transacción: CAFE SAN ALBERTO MUSEO").
        let caps = self.informative_caps(i)
            || in_slot
                && first.is_all_caps()
                && tokens
                    .get(i + 1)
                    .is_some_and(|n| n.is_all_caps() && !n.line_start && self.free(i + 1));
        let max_words = if caps { 6 } else { 3 };
        let mut last = i;
        let mut words = 0;
        let mut j = i;
        while j < tokens.len() && words < max_words {
            if !self.free(j) {
                break;
            }
            let t = &tokens[j];
            if j > i && (self.bank_word(j) || t.line_start) {
                break; // "WILDBERRIES, карта", "MAGNIT Ostatok", the next line of an alert
            }
            match t.kind {
                Kind::Word => {
                    let lw = t.lower.as_ref();
                    let glued_to_prev = j > i && !t.space_before;
                    if j > i && !glued_to_prev {
                        if caps {
                            if !self.informative_caps(j) && !t.is_all_caps() {
                                // "Advent of Code", "Marks and Spencer"
                                let bridge = is_connector(lw)
                                    && j + 1 < tokens.len()
                                    && self.free(j + 1)
                                    && self.informative_caps(j + 1);
                                if !bridge {
                                    break;
                                }
                            } else if is_stop(lw) && (is_hard_stop(lw) || !t.is_capitalized()) {
                                break;
                            }
                        } else if self.common(j) {
                            break;
                        }
                    }
                    if j == i && !caps && self.common(j) && !glued_next {
                        return None;
                    }
                    let part_of_name =
                        caps && t.is_capitalized() && !is_hard_stop(lw) && (j > i || opens_name);
                    if is_stop(lw) && !part_of_name {
                        if j == i {
                            return None;
                        }
                        break;
                    }
                    if !glued_to_prev {
                        words += 1;
                    }
                    last = j;
                }
                Kind::Num => {
                    // Only glued into a name: "7-Eleven", "Studio54", "Rema 1000" is not.
                    let glued = j > i && !t.space_before && tokens[j - 1].kind != Kind::Num;
                    let leads_name = j == i
                        && tokens
                            .get(j + 1)
                            .is_some_and(|n| !n.space_before && (n.is_word() || n.lower == "-"));
                    if !(glued || leads_name) {
                        break;
                    }
                    last = j;
                }
                Kind::Sym => {
                    let glued_both = !t.space_before
                        && tokens
                            .get(j + 1)
                            .is_some_and(|n| !n.space_before && n.kind != Kind::Sym);
                    // "JOHNLEWIS.COM": the domain is no part of the name.
                    let tld = t.lower == "."
                        && glued_both
                        && tokens.get(j + 1).is_some_and(|n| n.is_word() && is_tld(&n.lower))
                        && tokens.get(j + 2).is_none_or(|n| n.space_before || !n.is_word());
                    if tld {
                        break;
                    }
                    let inner = match t.lower.as_ref() {
                        "&" => tokens.get(j + 1).is_some_and(|n| n.is_word()),
                        "'" | "." | "-" | "+" | "!" => glued_both,
                        _ => false,
                    };
                    let plus_suffix =
                        t.lower == "+" && !t.space_before && tokens.get(j + 1).is_none_or(|n| n.space_before);
                    if !(inner || plus_suffix) {
                        break;
                    }
                    last = j;
                }
            }
            j += 1;
        }
        // Trim trailing connectors and symbols.
        while last > i {
            let t = &tokens[last];
            if t.kind == Kind::Sym && t.lower != "+" || t.is_word() && is_connector(&t.lower) {
                last -= 1;
            } else {
                break;
            }
        }
        let last = trim_legal_form(tokens, i, last);
        // "23,55 AT  K2": a card or terminal code of a letter or two glued to digits (the
        // Austrian POS line's card number), no name.
        if last == i + 1 && first.is_word() && first.raw.chars().count() <= 2 && tokens[last].is_num() {
            return None;
        }
        // A lone common word names no merchant ("Coffee: 4.50", "at Work"), unless it is
        // capitalised inside a sentence after "at" ("fuel at Petrol"): then it is a name.
        if last == i && self.common(i) {
            let w = first.lower.as_ref();
            let generic = LEXICON.generic.contains(w) || is_stop(w) || is_determiner(w);
            let named_in_slot = in_slot && caps && i > 0 && !generic;
            if !named_in_slot {
                return None;
            }
        }
        Some(Found {
            name: self.display(i, last),
            known: None,
            first: i,
            last,
            placed: 0,
        })
    }

    /// The merchant as shown: as written, with all-caps bank names and all-lowercase
    /// typing turned to Title Case ("AMAZON RETAIL" → "Amazon Retail", "pikapika" →
    /// "Pikapika"); short all-caps names stay ("KFC").
    fn display(&self, first: usize, last: usize) -> String {
        let tokens = self.tokens();
        let mut out = String::new();
        let any_lower = tokens[first..=last]
            .iter()
            .any(|t| t.raw.chars().any(char::is_lowercase));
        let any_upper = tokens[first..=last]
            .iter()
            .any(|t| t.raw.chars().any(char::is_uppercase));
        for (k, t) in tokens[first..=last].iter().enumerate() {
            if k > 0 && t.space_before {
                out.push(' ');
            }
            // All-caps words are title-cased ("AMAZON RETAIL" → "Amazon Retail") unless short
            // enough to be an acronym ("KFC"; in typed text also "IKEA").
            let letters = t.raw.chars().filter(|c| c.is_alphabetic()).count();
            let min = if self.a.style.shouting || self.a.style.bank {
                4
            } else {
                5
            };
            let long_word_in_phrase = tokens[first..=last]
                .iter()
                .any(|t| t.raw.chars().filter(|c| c.is_alphabetic()).count() >= min);
            let shout = !any_lower && (letters >= min || last > first && long_word_in_phrase && letters >= 2);
            if t.is_word() && (shout || !any_upper) {
                // Title-case the word.
                let lower = t.raw.to_lowercase();
                let mut chars = lower.chars();
                if let Some(c) = chars.next() {
                    out.extend(c.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                out.push_str(t.raw);
            }
        }
        out
    }

    /// "to" at `i` introduces a destination rather than a payee.
    fn is_route_to(&self, i: usize) -> bool {
        let tokens = self.tokens();
        if i == 0 {
            return false;
        }
        let p = i - 1;
        let prev = &tokens[p];
        if prev.is_word() && (is_route_word(&prev.lower) || is_not_payee_before_to(&prev.lower)) {
            return true;
        }
        // "Malmö to Copenhagen": a place name right before.
        if prev.is_word() && p > 0 && self.informative_caps(p) && self.free(p) {
            return true;
        }
        false
    }

    /// "from X to Y": the X of a route.
    fn is_route_from(&self, found: &Found) -> bool {
        self.word(found.last + 1) == Some("to")
    }
}

/// UPI handles: "swiggy@ybl", "zomato-order@paytm", "9876543210@ybl".
fn from_vpa(cx: &Ctx) -> Option<Found> {
    let tokens = cx.tokens();
    for (k, t) in tokens.iter().enumerate() {
        if !(t.is_sym('@') && !t.space_before && k > 0) {
            continue;
        }
        if !tokens.get(k + 1).is_some_and(|n| !n.space_before && n.is_word()) {
            continue;
        }
        // The local part: glued tokens before '@'.
        let mut s = k;
        while s > 0 && !tokens[s].space_before {
            s -= 1;
        }
        let local = &tokens[s..k];
        // Known merchant inside the handle ("swiggy.stores@axb").
        for (off, lt) in local.iter().enumerate() {
            if lt.is_word() {
                if let Some(hit) = LEXICON.merchants.longest_at(tokens, s + off, false) {
                    if !hit.value.instrument {
                        return Some(Found {
                            name: hit.value.name.to_owned(),
                            known: Some(hit.value),
                            first: s,
                            last: k + 1,
                            placed: 0,
                        });
                    }
                }
            }
        }
        let word = local
            .iter()
            .find(|lt| lt.is_word() && lt.lower.chars().count() >= 3 && !is_bank_noise(&lt.lower))?;
        let mut name = String::new();
        let mut chars = word.lower.chars();
        if let Some(c) = chars.next() {
            name.extend(c.to_uppercase());
            name.push_str(chars.as_str());
        }
        return Some(Found {
            name,
            known: None,
            first: s,
            last: k + 1,
            placed: 0,
        });
    }
    None
}

/// "Info: UPI/P2M/412345678901/SWIGGY LIMITED/..." and similar slash-separated lines.
fn from_info(cx: &Ctx) -> Option<Found> {
    let tokens = cx.tokens();
    let label = tokens
        .iter()
        .position(|t| t.is_word() && matches!(t.lower.as_ref(), "info" | "desc" | "narration" | "remarks"));
    let mut k = match label {
        Some(start) => start + 1,
        // No label, but a rail's slash-separated narration: "UPI/P2M/000000000000/RAHUL SHARMA".
        None => tokens.iter().enumerate().position(|(k, t)| {
            t.is_word()
                && matches!(
                    t.lower.as_ref(),
                    "upi" | "imps" | "neft" | "rtgs" | "ach" | "nach"
                )
                && tokens
                    .get(k + 1)
                    .is_some_and(|n| n.is_sym('/') && !n.space_before)
                && tokens.get(k + 2).is_some_and(|n| !n.space_before)
        })?,
    };
    if tokens.get(k).is_some_and(|t| t.is_sym(':') || t.is_sym('-')) {
        k += 1;
    }
    // Segments split on '/', '*', '-' or '_'.
    let mut seg_start = k;
    let mut j = k;
    while j <= tokens.len() {
        let at_end = j == tokens.len();
        let sep = !at_end
            && tokens[j].kind == Kind::Sym
            && matches!(tokens[j].lower.as_ref(), "/" | "*" | "-" | "_" | "|");
        let stop = !at_end
            && (tokens[j].kind == Kind::Sym
                && matches!(tokens[j].lower.as_ref(), "." | ";" | "," | "(" | ")" | "?")
                && tokens.get(j + 1).is_none_or(|n| n.space_before)
                // The narration ends where the message goes on: "…/RAHUL SHARMA Not you?".
                || j > seg_start
                    && tokens[j].space_before
                    && (tokens[j].is_num() || tokens[j].is_word() && is_hard_stop(&tokens[j].lower)));
        if at_end || sep || stop {
            let seg = &tokens[seg_start..j];
            let words: Vec<&Token> = seg.iter().filter(|t| t.is_word()).collect();
            let meaningful = !words.is_empty()
                && seg.iter().all(|t| t.kind != Kind::Num || !t.space_before)
                && words
                    .iter()
                    .any(|t| t.lower.chars().count() >= 3 && !is_bank_noise(&t.lower));
            if meaningful {
                let first = seg_start;
                let mut last = j - 1;
                while last > first && !tokens[last].is_word() {
                    last -= 1;
                }
                if let Some((_, m)) = cx.known_at(first, true) {
                    return Some(Found {
                        name: m.name.to_owned(),
                        known: Some(m),
                        first,
                        last,
                        placed: 0,
                    });
                }
                // Drop trailing bank words ("SWIGGY LIMITED").
                while last > first && tokens[last].is_word() && is_stop(&tokens[last].lower) {
                    last -= 1;
                }
                return Some(Found {
                    name: cx.display(first, last),
                    known: None,
                    first,
                    last,
                    placed: 0,
                });
            }
            if stop || at_end {
                return None;
            }
            seg_start = j + 1;
        }
        j += 1;
    }
    None
}

/// SEPA structured remittance lines (Dutch and German bank exports): the payee is the
/// "/NAME/" field, after "collecting for" or "inzake" when a payment service collects for
/// the shop, without a processor prefix ("SPY*SEPAY-") or a web address's "www." and
/// top-level domain: "/IBAN/NL30…/NAME/Ingenico collecting for Koninklijke PostNL/REMI/…".
fn from_sepa_name(cx: &Ctx) -> Option<Found> {
    let tokens = cx.tokens();
    let glued = |k: usize| tokens.get(k).is_some_and(|t| !t.space_before);
    let k = (1..tokens.len().saturating_sub(1)).find(|&k| {
        tokens[k - 1].is_sym('/')
            && cx.word(k) == Some("name")
            && glued(k)
            && tokens[k + 1].is_sym('/')
            && glued(k + 1)
    })?;
    let start = k + 2;
    let end = (start..tokens.len()).find(|&j| tokens[j].is_sym('/'))?;
    if end <= start {
        return None;
    }
    // A payment service collecting for the shop: the shop is named after it.
    let mut first = start;
    for j in start..end {
        let w = cx.word(j);
        if w == Some("inzake") || w == Some("for") && j > start && cx.word(j - 1) == Some("collecting") {
            first = j + 1;
        }
    }
    // "SPY*SEPAY-Salon Arjo", "www.thomann.de".
    loop {
        let prefix = cx.word(first).is_some()
            && glued(first + 1)
            && tokens.get(first + 1).is_some_and(|t| t.is_sym('*'))
            || cx.word(first).is_some_and(is_processor_prefix)
                && glued(first + 1)
                && tokens.get(first + 1).is_some_and(|t| t.is_sym('-'));
        let www = cx.word(first) == Some("www") && tokens.get(first + 1).is_some_and(|t| t.is_sym('.'));
        if (prefix || www) && first + 2 < end {
            first += 2;
        } else {
            break;
        }
    }
    let mut last = first;
    for (j, t) in tokens.iter().enumerate().take(end).skip(first) {
        let tld = t.is_sym('.') && glued(j) && glued(j + 1) && cx.word(j + 1).is_some_and(is_tld);
        if tld || !cx.free(j) {
            break;
        }
        if t.is_word() || t.is_num() {
            last = j;
        }
    }
    let last = trim_legal_form(tokens, first, last);
    if !(first..=last).any(|j| tokens[j].is_word()) || first == last && cx.common(first) {
        return None;
    }
    if let Some((len, m)) = cx.known_at(first, true) {
        return Some(Found {
            name: cx.known_name(first, first + len - 1, m),
            known: Some(m),
            first,
            last: first + len - 1,
            placed: 0,
        });
    }
    Some(Found {
        name: cx.display(first, last),
        known: None,
        first,
        last,
        placed: 0,
    })
}

/// ICICI style: "Acct XX123 debited for Rs 250.00 on 12-Jan-24; SWIGGY credited."
fn before_credited(cx: &Ctx) -> Option<Found> {
    let tokens = cx.tokens();
    let c = tokens.iter().position(|t| t.is_word() && t.lower == "credited")?;
    let debit_before = tokens[..c]
        .iter()
        .any(|t| t.is_word() && matches!(t.lower.as_ref(), "debited" | "debit" | "spent" | "paid" | "sent"));
    if !debit_before || c == 0 {
        return None;
    }
    // "INDIAN OIL CORP credited": the legal form ends no name.
    let mut last = c - 1;
    while last > 0
        && cx.word(last).is_some_and(is_legal_form)
        && cx.free(last - 1)
        && tokens[last - 1].is_word()
    {
        last -= 1;
    }
    // A name in capitals may hold common words ("INDIAN OIL", "HOME CENTRE").
    let caps_name = tokens[last].is_all_caps();
    let mut first = last;
    loop {
        let t = &tokens[first];
        let name_like = t.is_capitalized() || t.is_all_caps();
        let common = cx.common(first) && !(caps_name && t.is_all_caps() && !is_stop(&t.lower));
        if !t.is_word() || !name_like || !cx.free(first) || is_stop(&t.lower) || common {
            if first == last {
                return None;
            }
            first += 1;
            break;
        }
        if first == 0 || last - first >= 4 {
            break;
        }
        first -= 1;
    }
    if !tokens[first].is_word() {
        return None;
    }
    // "UBER INDIA SYSTEMS credited": a known name opening the payee's legal name.
    let known = cx
        .known_at(first, true)
        .filter(|(len, _)| first + len - 1 <= last);
    Some(Found {
        name: known.map_or_else(|| cx.display(first, last), |(_, m)| m.name.to_owned()),
        known: known.map(|(_, m)| m),
        first,
        last,
        placed: 0,
    })
}

/// Multi-line alerts: the merchant alone on the line next to the amount's (or to a date or
/// time line beside it): "Spent INR 123.45 ⏎ Axis Bank Card no. XX0000 ⏎ 02-05-26 19:53:18
/// IST ⏎ SampleMerchant Store ⏎ Avl Limit…", "34,90 € ⏎ FNAC PARIS TERNES ⏎ Carte ****7788".
fn own_line(cx: &Ctx) -> Option<Found> {
    let tokens = cx.tokens();
    let a = cx.a;
    let mut lines: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for k in 1..=tokens.len() {
        if k == tokens.len() || tokens[k].line_start {
            lines.push((start, k));
            start = k;
        }
    }
    if lines.len() < 2 {
        return None;
    }
    let has_amount = |(s, e): (usize, usize)| (s..e).any(|k| a.roles[k] == Role::Amount);
    let only_when = |(s, e): (usize, usize)| {
        (s..e).all(|k| {
            matches!(a.roles[k], Role::Date | Role::Time)
                || tokens[k].kind == Kind::Sym
                || cx.word(k).is_some_and(is_boilerplate)
        })
    };
    // The card or account line ("Axis Bank Card no. XX0000", "Carte ****7788").
    let about_the_card = |(s, e): (usize, usize)| {
        (s..e).any(|k| {
            cx.word(k).is_some_and(|w| {
                matches!(
                    w,
                    "card" | "carte" | "tarjeta" | "a/c" | "acct" | "account" | "karta" | "карта"
                )
            })
        })
    };
    let amount_line = lines.iter().position(|&l| has_amount(l))?;
    // The line before the amount's, then the lines after it past its date and card lines.
    let mut order = Vec::new();
    if amount_line > 0 {
        order.push(amount_line - 1);
    }
    if let Some(n) =
        (amount_line + 1..lines.len()).find(|&n| !only_when(lines[n]) && !about_the_card(lines[n]))
    {
        order.push(n);
    }
    for n in order {
        let (mut s, e) = lines[n];
        // "(SEATTLE CITY LIGHT)"
        if s + 1 < e && tokens[s].is_sym('(') {
            s += 1;
        }
        if e - s > 8 {
            continue;
        }
        let name_like = |k: usize| {
            let t = &tokens[k];
            t.is_word() && (t.is_capitalized() || t.raw.chars().all(is_glued_script))
        };
        let clean = (s..e).all(|k| {
            a.roles[k] == Role::Free
                && (tokens[k].is_word()
                    || tokens[k].kind == Kind::Sym
                        && matches!(tokens[k].lower.as_ref(), "&" | "'" | "-" | "." | "(" | ")")
                    || tokens[k].is_num() && !tokens[k].space_before)
        });
        if !clean || !name_like(s) {
            continue;
        }
        let w = cx.word(s)?;
        if cx.bank_word(s) || is_stop(w) || is_determiner(w) || is_boilerplate(w) || is_bank_noise(w) {
            continue;
        }
        if (s..e)
            .any(|k| cx.bank_word(k) || cx.word(k).is_some_and(|w| is_bank_noise(w) || is_boilerplate(w)))
        {
            continue;
        }
        let (first, mut last) = (s, e - 1);
        while last > first && tokens[last].kind == Kind::Sym {
            last -= 1;
        }
        let last = trim_legal_form(tokens, first, last);
        if first == last && cx.common(first) {
            continue;
        }
        if let Some((len, m)) = cx.known_at(first, true) {
            if m.instrument {
                continue;
            }
            return Some(Found {
                name: cx.known_name(first, first + len - 1, m),
                known: Some(m),
                first,
                last: first + len - 1,
                placed: 0,
            });
        }
        return Some(Found {
            name: cx.display(first, last),
            known: None,
            first,
            last,
            placed: 0,
        });
    }
    None
}

/// A delimited export row: the date, then the payee's field ("04.07.2022;OLEREX VIIMSI
/// \MUULI TEE 2;D;14,10;…", "05/01/2023,DOLLARAMA # 845 _M,1.96,,13.04").
fn from_delimited_row(cx: &Ctx) -> Option<Found> {
    let tokens = cx.tokens();
    let a = cx.a;
    let delim = |t: &Token| t.kind == Kind::Sym && matches!(t.lower.as_ref(), ";" | "," | "\\" | "|" | "\t");
    // The row opens with a date glued to a delimiter.
    let mut k = 0;
    while k < tokens.len() && a.roles[k] == Role::Date {
        k += 1;
    }
    if k == 0 || !tokens.get(k).is_some_and(|t| delim(t) && !t.space_before) {
        return None;
    }
    let d = &tokens[k].lower;
    // A row has several such delimiters.
    if tokens
        .iter()
        .filter(|t| t.kind == Kind::Sym && t.lower == *d)
        .count()
        < 2
    {
        return None;
    }
    let first = k + 1;
    let w = cx.word(first)?;
    let roles = a.words[first].0.without(Roles::PAYEE | Roles::PAYEE_LABEL);
    if !cx.free(first)
        || !roles.is_empty()
        || is_bank_noise(w)
        || is_descriptor_noise(w)
        || is_stop(w)
        || w == "send"
    {
        return None;
    }
    let mut last = first;
    let mut j = first;
    while j < tokens.len() && j - first < 8 {
        let t = &tokens[j];
        if delim(t)
            || t.is_sym('\\')
            || t.is_sym('#')
            || t.is_sym('_')
            || t.is_sym('*')
            || !cx.free(j)
            || t.is_num() && t.space_before
        {
            break;
        }
        if t.is_word() && j > first && (is_hard_stop(&t.lower) || cx.bank_word(j)) {
            break;
        }
        if t.is_word() || t.is_num() {
            last = j;
        }
        j += 1;
    }
    while last > first && tokens[last].is_word() && is_stop(&tokens[last].lower) {
        last -= 1;
    }
    let last = trim_legal_form(tokens, first, last);
    if first == last && cx.common(first) {
        return None;
    }
    if let Some((len, m)) = cx.known_at(first, true) {
        if !m.instrument {
            return Some(Found {
                name: cx.known_name(first, first + len - 1, m),
                known: Some(m),
                first,
                last: first + len - 1,
                placed: 0,
            });
        }
        return None;
    }
    Some(Found {
        name: cx.display(first, last),
        known: None,
        first,
        last,
        placed: 0,
    })
}

pub(crate) fn find(a: &Analysis) -> Option<Found> {
    let cx = Ctx { a };
    let tokens = cx.tokens();
    let mut best: Option<(i32, usize, Found)> = None;
    let mut offer = |priority: i32, found: Found| {
        let placed = priority;
        let priority = priority + if found.known.is_some() { 10 } else { 0 };
        let better = match &best {
            None => true,
            Some((p, pos, _)) => priority > *p || priority == *p && found.first < *pos,
        };
        if better {
            best = Some((priority, found.first, Found { placed, ..found }));
        }
    };

    if a.style.bank {
        if let Some(f) = from_vpa(&cx) {
            offer(90, f);
        }
        if let Some(f) = from_info(&cx) {
            offer(88, f);
        }
        if let Some(f) = before_credited(&cx) {
            offer(85, f);
        }
    }
    if let Some(f) = from_sepa_name(&cx) {
        offer(88, f);
    }
    if let Some(f) = own_line(&cx) {
        offer(58, f);
    }
    if let Some(f) = from_delimited_row(&cx) {
        offer(62, f);
    }

    for (i, t) in tokens.iter().enumerate() {
        if !cx.free(i) {
            continue;
        }
        let w = t.lower.as_ref();
        // "@Biedronka", "@ Biedronka" (but not "swiggy@ybl").
        let at_sign = t.is_sym('@') && (t.space_before || i == 0);
        // "en STARBUCKS", "chez CARREFOUR", "в DNS-SHOP.RU", "kwa NAIVAS": the languages'
        // words for "at".
        let (roles, len) = a.words[i];
        let colon_after = tokens.get(i + len).is_some_and(|n| n.is_sym(':'));
        // "Pagaste $ 4.500 a Carrefour", "Pix enviado: R$ 85,00 para Padaria…", "45,00 kr til
        // Lagkagehuset": a payee word right after the amount.
        let after_amount = i > 0 && matches!(a.roles[i - 1], Role::Amount | Role::Currency);
        if roles.has(Roles::PAYEE_AFTER_AMOUNT) && after_amount {
            if let Some(f) = cx.phrase(i + len, true) {
                offer(80, f);
            }
            continue;
        }
        // "INTERNET-Überweisung Martina Kogler", "Перевод Иван Петрович": a transfer noun,
        // then the payee's name.
        if roles.has(Roles::TRANSFER)
            && tokens
                .get(i + len)
                .is_some_and(|n| n.is_capitalized() && !n.line_start)
        {
            if let Some(f) = cx.phrase(i + len, true) {
                offer(55, f);
            }
        }
        if roles.has(Roles::PAYEE_LABEL) && colon_after {
            // "Where:  REI #11 SEATTLE WA", "Lugar de Transacción: CAFE SAN ALBERTO MUSEO".
            if let Some(f) = cx.phrase(i + len + 1, true) {
                offer(80, f);
            }
        } else if t.is_word() && w == "at" || at_sign || roles.has(Roles::PAYEE) {
            let mut after = if at_sign || w == "at" { i + 1 } else { i + len };
            if tokens.get(after).is_some_and(|n| n.is_sym(':')) {
                after += 1; // "لدى: HUNGERSTATION"
            }
            if let Some(f) = cx.phrase(after, true) {
                offer(80, f);
            }
        } else if t.is_word()
            && w == "with"
            && i > 0
            && matches!(
                tokens[i - 1].lower.as_ref(),
                "transaction" | "txn" | "purchase" | "payment" | "order"
            )
        {
            // "You made a $42.17 transaction with TARGET"
            if let Some(f) = cx.phrase(i + 1, true) {
                offer(80, f);
            }
        } else if t.is_word() && matches!(w, "from" | "to" | "towards" | "trf") {
            if w == "to" && cx.is_route_to(i) {
                continue;
            }
            if w == "from" && a.style.bank {
                continue;
            }
            // "to VPA swiggy@ybl" is handled above.
            if cx.word(i + 1) == Some("vpa") {
                continue;
            }
            if let Some(f) = cx.phrase(i + 1, true) {
                if w == "from" && (cx.is_route_from(&f) || f.known.is_some_and(|m| m.instrument)) {
                    continue; // "withdrawn from M-PESA Agent ...": the wallet, not a payee
                }
                offer(55, f);
            }
        }
    }

    // "Biedronka 69.00 HRK", "KFC - dinner - 14.14", "Psychodela: 13.93": a name first.
    if let Some(start) = (0..tokens.len()).find(|&k| cx.free(k)) {
        let only_dates_before = (0..start).all(|k| matches!(a.roles[k], Role::Date | Role::Time));
        if only_dates_before && (start == 0 || tokens[start].is_word()) {
            // A card-statement line: capitals throughout, the amount last.
            let descriptor = a.style.shouting
                && tokens[start].is_all_caps()
                && a.roles
                    .last()
                    .is_some_and(|r| matches!(r, Role::Amount | Role::Currency));
            // "CHECKCARD 0312 PANERA BREAD", "RECURRING PAYMENT AUTHORIZED ON 03/13 HULU",
            // "CARTE 01/03/25 PAYEE NAME": the line's kind and dates before the name.
            let mut start = start;
            if descriptor {
                while start + 1 < tokens.len()
                    && (!cx.free(start)
                        || tokens[start].is_num()
                        || cx.word(start).is_some_and(is_descriptor_noise))
                {
                    start += 1;
                }
            }
            let fee_line = descriptor
                && (start..tokens.len()).take(4).any(|k| {
                    cx.word(k)
                        .is_some_and(|w| matches!(w, "fee" | "fees" | "charge" | "charges" | "interest"))
                });
            let named = !fee_line
                && (cx.informative_caps(start) || cx.known_at(start, false).is_some() || descriptor);
            if named {
                if let Some(f) = cx.phrase(start, false) {
                    let next = tokens.get(f.last + 1);
                    // An acronym before an item is a name too ("ZET tram 4 kn", "DB ticket").
                    let acronym = f.first == f.last
                        && tokens[f.first].is_all_caps()
                        && tokens[f.first].raw.chars().count() <= 5;
                    // "Psychodela: 13.93" names the place; "Hora: 15:33:30", "Subject: …" and a
                    // bank's "BBVA: Pago de $1,299.00 a TELCEL" label a field or sign a message.
                    let after_colon = a.roles.get(f.last + 2).copied();
                    let amount_after_colon = matches!(after_colon, Some(Role::Amount | Role::Currency));
                    let colon_names = next.is_some_and(|n| n.is_sym(':'))
                        && (f.last + 2 >= tokens.len() || !cx.bank_word(f.last + 2))
                        && (amount_after_colon
                            || !a.style.bank && !matches!(after_colon, Some(Role::Date | Role::Time)));
                    let follows_ok = match next {
                        None => f.known.is_some(),
                        Some(n) => {
                            matches!(a.roles[f.last + 1], Role::Amount | Role::Currency)
                                || colon_names
                                || (n.is_sym('-') && n.space_before)
                                || n.is_sym('–')
                                || f.known.is_some()
                                || (acronym && n.is_word() && !n.is_capitalized())
                        }
                    };
                    let route = cx.word(f.last + 1) == Some("to");
                    // "PKO BP: Transakcja …", "BBVA: Pago de …": the sender of the message.
                    let sender = next.is_some_and(|n| n.is_sym(':'))
                        && f.last + 2 < tokens.len()
                        && cx.bank_word(f.last + 2);
                    // "Prague: Albert 245 CZK": a label, then the name right before the amount.
                    let labelled = next.is_some_and(|n| n.is_sym(':'))
                        && f.known.is_none()
                        && f.last + 2 < tokens.len()
                        && cx.informative_caps(f.last + 2);
                    let after_label = labelled
                        .then(|| cx.phrase(f.last + 2, false))
                        .flatten()
                        .filter(|g| {
                            g.last + 1 < tokens.len()
                                && matches!(a.roles[g.last + 1], Role::Amount | Role::Currency)
                        });
                    if let Some(g) = after_label {
                        offer(62, g);
                    } else if (follows_ok || descriptor) && !route && !sender {
                        offer(60, f);
                    }
                }
            }
        }
    }

    // "101.39 zł Carrefour supplies", "2018-10-05 Uber 20,52", "4 days ago Ryanair".
    for (i, t) in tokens.iter().enumerate().skip(1) {
        // "최*호", "Ki*** Sm***": the card holder's masked name.
        let masked = tokens
            .get(i + 1)
            .is_some_and(|n| n.is_sym('*') && !n.space_before)
            || tokens[i - 1].is_sym('*') && !t.space_before;
        if masked {
            continue;
        }
        let after_block = (!cx.free(i - 1) || cx.bank_word(i - 1)) && cx.free(i);
        let named = cx.informative_caps(i)
            || cx.caseless_name(i)
            || a.style.shouting && t.is_all_caps() && cx.bank_word(i - 1)
            || cx.known_at(i, false).is_some();
        if !after_block || !named {
            continue;
        }
        if let Some(f) = cx.phrase(i, false) {
            if cx.word(f.last + 1) == Some("to") {
                continue; // a route: "30 EUR Berlin to Hamburg"
            }
            offer(50, f);
        }
    }

    // A known brand anywhere ("uber to office 250", "netflix 649"): it beats an unknown
    // payee after "to" ("for LIC OF INDIA").
    let mut i = 0;
    while i < tokens.len() {
        if let Some((len, m)) = cx.known_at(i, false) {
            offer(
                50,
                Found {
                    name: cx.known_name(i, i + len - 1, m),
                    known: Some(m),
                    first: i,
                    last: i + len - 1,
                    placed: 0,
                },
            );
            i += len;
        } else {
            if cx.free(i) && tokens[i].is_word() && tokens[i].raw.chars().any(is_glued_script) {
                // "网银在线-京东商城业务CHN": a known name inside a glued token.
                let mut hit: Option<&'static Merchant> = None;
                LEXICON.glued_merchants.scan(&tokens[i].lower, |m| {
                    if hit.is_none() {
                        hit = m.as_ref().filter(|m| !m.instrument);
                    }
                });
                if let Some(m) = hit {
                    offer(
                        50,
                        Found {
                            name: m.name.to_owned(),
                            known: Some(m),
                            first: i,
                            last: i,
                            placed: 0,
                        },
                    );
                }
            }
            i += 1;
        }
    }

    // Cash from a machine or an agent ("ATM WITHDRAWAL CENTRAL BRANCH", "Cash Out to KOFI
    // AGENCIES"): no merchant, unless a known one or one named after "at".
    best.filter(|(_, _, f)| !a.cash || f.known.is_some() || f.placed >= 80)
        .map(|(_, _, f)| f)
}
