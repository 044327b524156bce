//! Merchant names as a bank, a card terminal or a person writes them, folded to one key:
//! "SQ *KUMARAN STORES #12", "POS KUMARAN STORES STORE 123" and "Kumaran Stores" are all
//! `kumaran stores`, so one correction covers the variants (ds-service's learned rules) and
//! one subscription is one series however the statement spells it (expense-service's
//! recurring expenses).

/// Payment-processor and terminal prefixes, lower case. They say how the merchant was paid,
/// not who it is. Longest first, so "sq *" wins over "sq ".
const PREFIXES: [&str; 12] = [
    "paypal *", "paypal*", "tst* ", "tst *", "tst*", "sq * ", "sq *", "sq*", "sp * ", "sp *", "pos ", "ecom ",
];

/// A store-number marker when a number follows it ("STORE 123", "NO 4").
const STORE_WORDS: [&str; 4] = ["store", "str", "no", "unit"];

/// Country codes a card statement appends. Stripped only at the end and only when two words
/// remain before them, so "Forever 21 US" keeps "forever 21" and a one-word name is kept.
const COUNTRIES: [&str; 16] = [
    "in", "ind", "us", "usa", "gb", "gbr", "uk", "ae", "are", "sg", "sgp", "de", "deu", "au", "aus", "ca",
];

/// Cities a statement appends after the name. Same rule as the country codes: only at the
/// end, only with two words left ("Hotel Mumbai" stays itself).
const CITIES: [&str; 16] = [
    "mumbai",
    "bangalore",
    "bengaluru",
    "delhi",
    "chennai",
    "hyderabad",
    "pune",
    "kolkata",
    "gurgaon",
    "noida",
    "london",
    "berlin",
    "paris",
    "seattle",
    "singapore",
    "dubai",
];

/// A trailing number at least this long is a store or terminal number ("WALMART 1234");
/// shorter ones are part of names ("Forever 21", "Studio 54").
const STORE_NUMBER_DIGITS: usize = 3;

/// The words of `text`: lower case, apostrophes dropped ("McDonald's" → `mcdonalds`), every
/// other non-alphanumeric character a separator. Used for texts and explicit patterns.
pub fn words(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if matches!(c, '\'' | '’' | '`') {
            // "McDonald's": the apostrophe joins.
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The key of a merchant name: [`words`] after removing payment-processor prefixes, UPI
/// references, store numbers and trailing city/country words. Empty when nothing is left.
pub fn merchant_key(merchant: &str) -> String {
    let lower = merchant.trim().to_lowercase();
    let name = strip_prefixes(&lower);
    let mut tokens: Vec<String> = vec![];
    let raw = words_keeping_hash(name);
    let mut i = 0;
    while i < raw.len() {
        let t = &raw[i];
        // "#456", "#12": a store number.
        if t.starts_with('#') {
            i += 1;
            continue;
        }
        // "store 123": the marker and its number.
        if STORE_WORDS.contains(&t.as_str())
            && raw.get(i + 1).is_some_and(|n| is_number(n))
            && !tokens.is_empty()
        {
            i += 2;
            continue;
        }
        tokens.push(t.clone());
        i += 1;
    }
    while tokens.len() > 1 {
        let last = tokens.last().map(String::as_str).unwrap_or_default();
        let long_number = is_number(last) && last.len() >= STORE_NUMBER_DIGITS;
        let place = (COUNTRIES.contains(&last) || CITIES.contains(&last)) && tokens.len() > 2;
        if long_number || place {
            tokens.pop();
        } else {
            break;
        }
    }
    tokens.join(" ")
}

/// Whether `needle` occurs in `haystack` as a contiguous word sequence.
pub fn contains_words(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn is_number(token: &str) -> bool {
    !token.is_empty() && token.chars().all(|c| c.is_ascii_digit())
}

/// Removes processor prefixes (repeatedly: "POS SQ *BLUE TOKAI") and reduces a UPI narration
/// ("upi/dr/412345678901/kumaran stores/yesb/…") to its payee.
fn strip_prefixes(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if s.starts_with("upi/") || s.starts_with("upi-") {
            return upi_payee(s).unwrap_or_default();
        }
        match PREFIXES.iter().find(|p| s.starts_with(*p)) {
            Some(p) => s = &s[p.len()..],
            None => return s,
        }
    }
}

/// The payee of a UPI narration: the first segment after "upi", the direction ("dr", "cr",
/// "p2m", "p2a") and numeric references.
fn upi_payee(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("upi/").or_else(|| s.strip_prefix("upi-"))?;
    rest.split(['/', '-'])
        .map(str::trim)
        .filter(|seg| !seg.is_empty())
        .find(|seg| {
            !matches!(*seg, "dr" | "cr" | "p2m" | "p2a" | "upi")
                && !seg.chars().all(|c| c.is_ascii_digit() || c.is_whitespace())
        })
}

/// Like [`words`], but a `#` starts a word, so "#456" can be told from a plain "456".
fn words_keeping_hash(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if matches!(c, '\'' | '’' | '`') {
        } else {
            if !word.is_empty() && word != "#" {
                out.push(std::mem::take(&mut word));
            }
            word.clear();
            if c == '#' {
                word.push('#');
            }
        }
    }
    if !word.is_empty() && word != "#" {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_variants_of_one_merchant_share_a_key() {
        for variant in [
            "Kumaran Stores",
            "KUMARAN STORES",
            "SQ *KUMARAN STORES #12",
            "SQ * Kumaran Stores #456",
            "TST* Kumaran Stores",
            "PAYPAL *KUMARAN STORES",
            "POS KUMARAN STORES STORE 123",
            "UPI/DR/412345678901/KUMARAN STORES/YESB/kumaran@ybl",
            "UPI-KUMARAN STORES-412345678901",
            "Kumaran Stores, Chennai",
            "KUMARAN STORES CHENNAI IN",
            "Kumaran-Stores 10234",
            "  kumaran   stores.  ",
        ] {
            assert_eq!(merchant_key(variant), "kumaran stores", "{variant}");
        }
    }

    #[test]
    fn names_with_numbers_and_places_are_kept_when_stripping_is_unsafe() {
        assert_eq!(merchant_key("Forever 21"), "forever 21");
        assert_eq!(merchant_key("7-Eleven"), "7 eleven");
        assert_eq!(merchant_key("Hotel Mumbai"), "hotel mumbai");
        assert_eq!(merchant_key("Studio 54"), "studio 54");
        assert_eq!(merchant_key("McDonald's"), "mcdonalds");
        assert_eq!(merchant_key("Store"), "store");
        assert_eq!(merchant_key("No Frills"), "no frills");
        assert_eq!(merchant_key("Café Noir"), "café noir");
    }

    #[test]
    fn nothing_left_is_empty() {
        assert_eq!(merchant_key(""), "");
        assert_eq!(merchant_key("  #12 "), "");
        assert_eq!(merchant_key("SQ *"), "");
        assert_eq!(merchant_key("UPI/DR/412345678901/"), "");
    }

    #[test]
    fn word_sequences_match_whole_words_only() {
        let text = words("Paid 340 to Kumaran Stores yesterday");
        assert!(contains_words(&text, &words("kumaran stores")));
        assert!(!contains_words(&text, &words("kumaran store")));
        assert!(!contains_words(&text, &words("stores kumaran")));
        assert!(!contains_words(&text, &[]));
        assert!(contains_words(
            &words("SQ *KUMARAN STORES #12 340"),
            &words("kumaran stores")
        ));
    }

    #[test]
    fn words_fold_case_and_punctuation() {
        assert_eq!(words("SWIGGY*Order, 340!"), ["swiggy", "order", "340"]);
        assert_eq!(words("ÉCOLE"), ["école"]);
        assert!(words(" .,;").is_empty());
    }
}
