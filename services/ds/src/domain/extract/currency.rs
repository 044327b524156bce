//! Currency markers: symbols ("€", "R$"), ISO codes ("PLN", "usd") and words ("rupees",
//! "bucks", "złoty"), and how an ambiguous one ("$", "kr", "¥") is resolved against the
//! user's default currency.

use std::sync::LazyLock;

use domain::Currency;

use super::lexicon::FastMap;
use super::token::{Kind, Token};

/// Where a marker may stand relative to its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Both,
    /// Only after the number: the word is also an ordinary English word ("5000 won", but
    /// "won 50 in a raffle" is no currency).
    After,
}

/// What a marker says about the currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hint {
    /// The currency the marker means when the default currency is not in `family`. Empty
    /// for "/-" (an amount marker that names no currency).
    pub canonical: &'static str,
    /// Currencies written with the same marker; the user's default wins when it is one.
    pub family: &'static [&'static str],
}

impl Hint {
    const fn code(code: &'static str) -> Hint {
        Hint {
            canonical: code,
            family: &[],
        }
    }

    const fn family(canonical: &'static str, family: &'static [&'static str]) -> Hint {
        Hint { canonical, family }
    }

    /// The currency this marker means for a user whose default is `default`, and a note
    /// when the choice was a guess among several currencies.
    pub fn resolve(&self, default: Currency) -> (Currency, Option<&'static str>) {
        if self.canonical.is_empty() || self.family.contains(&default.code()) {
            return (default, None);
        }
        let currency = Currency::parse(self.canonical).unwrap_or(default);
        let note = (!self.family.is_empty()).then_some(self.canonical);
        (currency, note)
    }

    pub fn names_currency(&self) -> bool {
        !self.canonical.is_empty()
    }
}

/// A currency marker found in the text: tokens `first..=last`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marker {
    pub first: usize,
    pub last: usize,
    pub hint: Hint,
    pub side: Side,
    /// How sure the marker is: 3 ISO code or unambiguous symbol, 2 symbol/word, 1 "/-".
    pub strength: u8,
}

const DOLLARS: &[&str] = &[
    "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "JMD", "BSD", "BBD", "BZD", "BMD", "BND", "FJD", "GYD",
    "KYD", "LRD", "NAD", "SBD", "SRD", "TTD", "XCD", "ZWG", "MXN", "CLP", "COP", "ARS", "UYU", "DOP", "CUP",
    "NIO", "BRL",
];
const DOLLAR_NAMES: &[&str] = &[
    "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "JMD", "BSD", "BBD", "BZD", "BMD", "BND", "FJD", "GYD",
    "KYD", "LRD", "NAD", "SBD", "SRD", "TTD", "XCD", "ZWG",
];
const KRONA: &[&str] = &["SEK", "NOK", "DKK", "ISK"];
const KRONE: &[&str] = &["DKK", "NOK"];
const RUPEES: &[&str] = &["INR", "PKR", "LKR", "NPR", "MUR", "SCR"];
const POUNDS: &[&str] = &["GBP", "EGP", "GIP", "FKP", "SHP", "SYP", "LBP", "SSP", "SDG"];
const YEN: &[&str] = &["JPY", "CNY"];
const YUAN: &[&str] = &["CNY", "TWD", "HKD"];
const WON: &[&str] = &["KRW", "KPW"];
const FRANCS: &[&str] = &[
    "CHF", "XOF", "XAF", "XPF", "CDF", "GNF", "RWF", "BIF", "DJF", "KMF",
];
const PESOS: &[&str] = &["MXN", "ARS", "CLP", "COP", "PHP", "UYU", "DOP", "CUP"];
const DIRHAMS: &[&str] = &["AED", "MAD"];
const RIYALS: &[&str] = &["SAR", "QAR", "OMR", "YER", "IRR"];
const DINARS: &[&str] = &["KWD", "BHD", "JOD", "IQD", "LYD", "TND", "DZD", "RSD", "MKD"];
const SHILLINGS: &[&str] = &["KES", "UGX", "TZS", "SOS"];
const LIRA: &[&str] = &["TRY"];
const RAND: &[&str] = &["ZAR"];
const PESO_SIGN: &[&str] = &["PHP", "CUP"];
const RUPIAH: &[&str] = &["IDR"];

/// Currency words, lower case.
static WORDS: LazyLock<FastMap<&'static str, (Hint, Side)>> = LazyLock::new(|| {
    use Side::*;
    let f = Hint::family;
    let c = Hint::code;
    let entries: &[(&[&str], Hint, Side)] = &[
        (
            &["rs", "rupee", "rupees", "rupaye", "rupiya", "inr"],
            f("INR", RUPEES),
            Both,
        ),
        (
            &["dollar", "dollars", "bucks", "buck", "dlrs"],
            f("USD", DOLLAR_NAMES),
            Both,
        ),
        (&["usd", "usdollars"], c("USD"), Both),
        (&["euro", "euros", "eur"], c("EUR"), Both),
        (
            &["pound", "pounds", "quid", "sterling", "gbp", "quids"],
            f("GBP", POUNDS),
            After,
        ),
        (&["yen", "jpy"], c("JPY"), Both),
        (&["yuan", "rmb", "renminbi", "cny", "kuai"], f("CNY", YUAN), Both),
        (&["won", "krw"], f("KRW", WON), After),
        (
            &[
                "zloty", "złoty", "zlotys", "złotych", "zlotych", "zł", "zl", "pln", "zloties",
            ],
            c("PLN"),
            Both,
        ),
        (&["kuna", "kune", "kunas", "kn", "hrk"], c("HRK"), Both),
        (&["din", "dinara"], c("RSD"), After),
        (&["ft"], c("HUF"), After),
        (&["eura", "evra", "evro", "euri", "euro's"], c("EUR"), After),
        (&["kr", "kronor", "krona", "kronur"], f("SEK", KRONA), Both),
        (&["kroner", "krone"], f("DKK", KRONE), Both),
        (&["sek"], c("SEK"), Both),
        (&["nok"], c("NOK"), Both),
        (&["dkk"], c("DKK"), Both),
        (&["isk"], c("ISK"), Both),
        (&["franc", "francs", "fr", "chf", "sfr"], f("CHF", FRANCS), Both),
        (&["peso", "pesos"], f("MXN", PESOS), Both),
        (&["real", "reais", "reals", "brl"], c("BRL"), After),
        (&["baht", "thb"], c("THB"), Both),
        (
            &["dirham", "dirhams", "dhs", "aed", "dh"],
            f("AED", DIRHAMS),
            Both,
        ),
        (&["ringgit", "rm", "myr"], c("MYR"), Both),
        (&["rand", "zar"], f("ZAR", RAND), After),
        (&["lira", "lire", "tl"], f("TRY", LIRA), Both),
        (
            &["rouble", "roubles", "ruble", "rubles", "rub", "руб", "р"],
            c("RUB"),
            After,
        ),
        (&["dong", "vnd"], c("VND"), After),
        (&["hryvnia", "hryvnias", "hryvnya", "uah", "грн"], c("UAH"), Both),
        (&["shekel", "shekels", "nis", "ils"], c("ILS"), Both),
        (&["koruna", "korun", "kč", "czk"], c("CZK"), Both),
        (&["forint", "forints", "huf"], c("HUF"), Both),
        (&["lei", "leu", "ron"], c("RON"), After),
        (&["lev", "leva", "лв", "bgn"], c("BGN"), After),
        (&["rupiah", "rp", "idr"], f("IDR", RUPIAH), Both),
        (
            &["riyal", "riyals", "rial", "rials", "sar", "sr"],
            f("SAR", RIYALS),
            Both,
        ),
        (&["qar"], c("QAR"), Both),
        (&["dinar", "dinars"], f("KWD", DINARS), After),
        (&["kwd", "kd"], c("KWD"), Both),
        (&["bhd", "bd"], c("BHD"), Both),
        (&["omr"], c("OMR"), Both),
        (&["naira", "ngn"], c("NGN"), Both),
        (
            &["shilling", "shillings", "ksh", "kes", "kshs"],
            f("KES", SHILLINGS),
            Both,
        ),
        (&["cedi", "cedis", "ghs"], c("GHS"), Both),
        (&["taka", "tk", "bdt"], c("BDT"), Both),
        (&["pkr"], c("PKR"), Both),
        (&["lkr"], c("LKR"), Both),
        (&["npr"], c("NPR"), Both),
        (&["php"], c("PHP"), Both),
        (&["sgd"], c("SGD"), Both),
        (&["hkd"], c("HKD"), Both),
        (&["aud"], c("AUD"), Both),
        (&["cad"], c("CAD"), Both),
        (&["nzd"], c("NZD"), Both),
        (&["mxn"], c("MXN"), Both),
        (&["twd"], c("TWD"), Both),
        (&["egp"], c("EGP"), Both),
        (&["ars"], c("ARS"), Both),
        (&["clp"], c("CLP"), Both),
        (&["cop"], c("COP"), Both),
        (&["jod"], c("JOD"), Both),
        (&["rsd"], c("RSD"), Both),
        (&["bam"], c("BAM"), Both),
        (&["mkd"], c("MKD"), Both),
        (&["kzt", "tenge"], c("KZT"), Both),
        (&["元", "块", "rmb元"], f("CNY", YUAN), Both),
        (&["円"], c("JPY"), Both),
    ];
    let mut map = FastMap::default();
    for (words, hint, side) in entries {
        for w in *words {
            map.insert(*w, (*hint, *side));
        }
    }
    map
});

/// Single-character currency symbols.
fn symbol(c: &str) -> Option<Hint> {
    let f = Hint::family;
    let code = Hint::code;
    Some(match c {
        "$" => f("USD", DOLLARS),
        "€" => code("EUR"),
        "£" => f("GBP", POUNDS),
        "¥" => f("JPY", YEN),
        "₹" => code("INR"),
        "₨" => f("INR", RUPEES),
        "₩" => f("KRW", WON),
        "₽" => code("RUB"),
        "₺" => code("TRY"),
        "₫" => code("VND"),
        "₴" => code("UAH"),
        "₪" => code("ILS"),
        "₦" => code("NGN"),
        "₱" => f("PHP", PESO_SIGN),
        "฿" => code("THB"),
        "₵" => code("GHS"),
        "₡" => code("CRC"),
        "₸" => code("KZT"),
        "₼" => code("AZN"),
        "₾" => code("GEL"),
        "৳" => code("BDT"),
        "₭" => code("LAK"),
        "₮" => code("MNT"),
        "៛" => code("KHR"),
        "₲" => code("PYG"),
        "元" => f("CNY", YUAN),
        "円" => code("JPY"),
        "₣" => f("CHF", FRANCS),
        _ => return None,
    })
}

/// Letters written right before "$": "R$", "A$", "NZ$", "US$".
fn dollar_prefix(prefix: &str) -> Option<Hint> {
    Some(match prefix {
        "us" | "u" => Hint::code("USD"),
        "a" | "au" => Hint::code("AUD"),
        "c" | "ca" | "can" => Hint::family("CAD", &["CAD", "NIO"]),
        "nz" => Hint::code("NZD"),
        "hk" => Hint::code("HKD"),
        "s" | "sg" => Hint::code("SGD"),
        "r" => Hint::code("BRL"),
        "mx" | "mex" => Hint::code("MXN"),
        "nt" => Hint::code("TWD"),
        "rd" => Hint::code("DOP"),
        "j" => Hint::code("JMD"),
        "n" => Hint::code("NAD"),
        "b" => Hint::code("BND"),
        "fj" => Hint::code("FJD"),
        "tt" => Hint::code("TTD"),
        _ => return None,
    })
}

/// ISO codes that are also everyday English words: taken only when written in capitals
/// in text that is not all capitals.
const ENGLISH_CODES: &[&str] = &[
    "ALL", "TOP", "TRY", "CUP", "MAD", "GEL", "PEN", "MOP", "BOB", "NAD", "SOS", "RUB", "RON", "LAK", "BAM",
    "ARS", "AMD", "ANG", "BIF", "CVE", "DOP", "ERN", "GIP", "MGA", "MUR", "PAB", "SHP", "SLL", "STD", "SVC",
    "TMT", "YER", "ZAR", "GYD", "KES", "SAR", "BTN", "AOA", "AFN",
];

/// Finds every currency marker in the text.
pub(crate) fn find_markers(tokens: &[Token], shouting: bool) -> Vec<Marker> {
    let mut markers = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match t.kind {
            Kind::Sym => {
                if t.lower == "/"
                    && tokens
                        .get(i + 1)
                        .is_some_and(|n| n.lower == "-" && !n.space_before)
                {
                    // "250/-": an Indian-subcontinent way of closing an amount.
                    let after_number = i > 0 && tokens[i - 1].is_num();
                    if after_number {
                        markers.push(Marker {
                            first: i,
                            last: i + 1,
                            hint: Hint::code(""),
                            side: Side::After,
                            strength: 1,
                        });
                        i += 2;
                        continue;
                    }
                }
                if let Some(hint) = symbol(&t.lower) {
                    // "R$", "NZ$", "US$": a prefix glued before "$".
                    if t.lower == "$" && i > 0 && !t.space_before && tokens[i - 1].is_word() {
                        if let Some(h) = dollar_prefix(&tokens[i - 1].lower) {
                            markers.push(Marker {
                                first: i - 1,
                                last: i,
                                hint: h,
                                side: Side::Both,
                                strength: 3,
                            });
                            i += 1;
                            continue;
                        }
                    }
                    markers.push(Marker {
                        first: i,
                        last: i,
                        hint,
                        side: Side::Both,
                        strength: if hint.family.is_empty() { 3 } else { 2 },
                    });
                }
            }
            Kind::Word => {
                let next_is_dollar = tokens
                    .get(i + 1)
                    .is_some_and(|n| n.lower == "$" && !n.space_before);
                if next_is_dollar && dollar_prefix(&t.lower).is_some() {
                    i += 1; // handled with the "$"
                    continue;
                }
                if let Some((hint, side)) = WORDS.get(t.lower.as_ref()) {
                    // "Rs." and "Fr." carry a dot that belongs to the marker.
                    let last = if tokens
                        .get(i + 1)
                        .is_some_and(|n| n.lower == "." && !n.space_before)
                        && matches!(t.lower.as_ref(), "rs" | "fr" | "kr" | "sr" | "dh" | "tk" | "rp")
                    {
                        i + 1
                    } else {
                        i
                    };
                    let strength = if t.raw.len() == 3 && t.is_all_caps() { 3 } else { 2 };
                    // An ISO code names one currency, whatever family its word belongs to
                    // ("CNY" is no Hong Kong dollar, "INR" no Pakistani rupee).
                    let hint = match Currency::parse(t.raw) {
                        Ok(c) if !hint.family.is_empty() => Hint::code(c.code()),
                        _ => *hint,
                    };
                    markers.push(Marker {
                        first: i,
                        last,
                        hint,
                        side: *side,
                        strength,
                    });
                    i = last + 1;
                    continue;
                }
                if let Some((code, family)) = super::language::WORDS.currencies.get(t.lower.as_ref()) {
                    // Currency words of the language data ("руб", "원", "ksh").
                    markers.push(Marker {
                        first: i,
                        last: i,
                        hint: Hint::family(code, family),
                        side: Side::Both,
                        strength: 2,
                    });
                    i += 1;
                    continue;
                }
                if t.raw.len() == 3 && t.raw.bytes().all(|b| b.is_ascii_uppercase()) {
                    let english = ENGLISH_CODES.contains(&t.raw);
                    if !(english && shouting) {
                        if let Ok(currency) = Currency::parse(t.raw) {
                            markers.push(Marker {
                                first: i,
                                last: i,
                                hint: Hint::code(currency.code()),
                                side: if english { Side::After } else { Side::Both },
                                strength: 3,
                            });
                        }
                    }
                }
            }
            Kind::Num => {}
        }
        i += 1;
    }
    markers
}

#[cfg(test)]
mod tests {
    use super::super::token::tokenize;
    use super::*;

    fn resolve(text: &str, default: &str) -> Vec<String> {
        let toks = tokenize(text);
        let default = Currency::parse(default).unwrap();
        find_markers(&toks, false)
            .iter()
            .map(|m| m.hint.resolve(default).0.code().to_owned())
            .collect()
    }

    #[test]
    fn symbols_and_prefixes() {
        assert_eq!(
            resolve("€5 £3 ₹7 R$9 NZ$4 A$ 2", "USD"),
            ["EUR", "GBP", "INR", "BRL", "NZD", "AUD"]
        );
    }

    #[test]
    fn dollar_follows_a_dollar_default() {
        assert_eq!(resolve("$5", "CAD"), ["CAD"]);
        assert_eq!(resolve("$5", "SGD"), ["SGD"]);
        assert_eq!(resolve("$5", "EUR"), ["USD"]);
        assert_eq!(resolve("5 bucks", "AUD"), ["AUD"]);
        assert_eq!(resolve("5 bucks", "INR"), ["USD"]);
    }

    #[test]
    fn yen_kr_and_rupees_follow_their_family() {
        assert_eq!(resolve("¥500", "CNY"), ["CNY"]);
        assert_eq!(resolve("¥500", "USD"), ["JPY"]);
        assert_eq!(resolve("100 kr", "NOK"), ["NOK"]);
        assert_eq!(resolve("100 kr", "EUR"), ["SEK"]);
        assert_eq!(resolve("Rs. 100", "PKR"), ["PKR"]);
        assert_eq!(resolve("Rs. 100", "USD"), ["INR"]);
    }

    #[test]
    fn codes_and_words() {
        assert_eq!(
            resolve("10 PLN 5 zł 3 kuna 2 eur", "USD"),
            ["PLN", "PLN", "HRK", "EUR"]
        );
        assert_eq!(resolve("20 CHF", "USD"), ["CHF"]);
        // "try" and "all" are words in lower case.
        assert!(resolve("try all of it", "USD").is_empty());
        assert_eq!(resolve("250/-", "INR"), ["INR"]);
    }
}
