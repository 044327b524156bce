//! The words of bank, card and wallet messages in every language the extractor reads —
//! purchase, payment, amount, balance, declined, credit, OTP, due, promotion and currency
//! words — from `services/ds/data/languages.tsv`, so a language is added with data only.
//!
//! Words match whole tokens (or several tokens, for phrases); in scripts that glue words
//! into one token (Hangul: "해외승인취소", "결제예정금액") a word also matches inside a token.

use std::sync::LazyLock;

use super::lexicon::{FastMap, GluedIndex, PhraseIndex};
use super::token::Token;

static LANGUAGES_TSV: &str = include_str!("../../../data/languages.tsv");

/// What a word says about the message; several may hold at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Roles(u32);

impl Roles {
    pub const PURCHASE: Roles = Roles(1);
    pub const PAYMENT: Roles = Roles(1 << 1);
    pub const AMOUNT: Roles = Roles(1 << 2);
    pub const BALANCE: Roles = Roles(1 << 3);
    pub const DECLINED: Roles = Roles(1 << 4);
    pub const CREDIT: Roles = Roles(1 << 5);
    pub const OTP: Roles = Roles(1 << 6);
    pub const DUE: Roles = Roles(1 << 7);
    pub const PROMO: Roles = Roles(1 << 8);
    /// A refund, reversal or cashback: at the head of a message it makes it a credit.
    pub const REFUND: Roles = Roles(1 << 9);
    /// A charge announced, set up or held, not made: a reminder.
    pub const FUTURE: Roles = Roles(1 << 10);
    /// Introduces the payee, like "at".
    pub const PAYEE: Roles = Roles(1 << 11);
    /// Labels a fee or commission.
    pub const FEE: Roles = Roles(1 << 12);
    /// A field label naming the payee when a colon follows ("Where:", "Lugar de
    /// Transacción:", "Fvg:", "لدى:"): the name after the colon is the merchant.
    pub const PAYEE_LABEL: Roles = Roles(1 << 13);
    /// A cash withdrawal ("ATM", "withdrawn", "retrait", "снятие"): no merchant and no
    /// category are the right answer there.
    pub const CASH: Roles = Roles(1 << 14);
    /// Money sent to a person or an account ("sent to", "Перевод", "转账"): OTHER is then
    /// the likely category.
    pub const TRANSFER: Roles = Roles(1 << 15);
    /// A call to act ("pay", "verify", "pague"): with a link, a request, not a payment.
    pub const ACT: Roles = Roles(1 << 16);
    /// Introduces the payee right after the amount ("$ 4.500 a Carrefour", "R$ 85,00 para
    /// …", "45,00 kr til …"): a word too common to mean "to" anywhere else.
    pub const PAYEE_AFTER_AMOUNT: Roles = Roles(1 << 17);
    /// The card's own bill ("credit card bill", "Kreditkartenabrechnung", "kredi karti
    /// borcunuza"): paying it moves money to the card, the purchases were the expenses.
    pub const CARD_BILL: Roles = Roles(1 << 18);
    /// One of the account holder's own savings or deposit accounts ("FD", "PPF",
    /// "M-Shwari", "savings account"): money moved there is saved, not spent.
    pub const OWN_ACCOUNT: Roles = Roles(1 << 19);
    /// A card or account word ("carta", "karta", "tarjeta", "картка"): a number right after
    /// it is the card's or account's number, never the amount.
    pub const ACCOUNT: Roles = Roles(1 << 20);

    pub fn has(self, r: Roles) -> bool {
        self.0 & r.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// These roles less those of `r`.
    pub fn without(self, r: Roles) -> Roles {
        Roles(self.0 & !r.0)
    }

    fn parse(name: &str) -> Option<Roles> {
        Some(match name {
            "purchase" => Roles::PURCHASE,
            "payment" => Roles::PAYMENT,
            "amount" => Roles::AMOUNT,
            "balance" => Roles::BALANCE,
            "declined" => Roles::DECLINED,
            "credit" => Roles::CREDIT,
            "otp" => Roles::OTP,
            "due" => Roles::DUE,
            "promo" => Roles::PROMO,
            "refund" => Roles::REFUND,
            "future" => Roles::FUTURE,
            "payee" => Roles::PAYEE,
            "fee" => Roles::FEE,
            "payee-label" => Roles::PAYEE_LABEL,
            "cash" => Roles::CASH,
            "transfer" => Roles::TRANSFER,
            "act" => Roles::ACT,
            "payee-after-amount" => Roles::PAYEE_AFTER_AMOUNT,
            "card-bill" => Roles::CARD_BILL,
            "own-account" => Roles::OWN_ACCOUNT,
            "account" => Roles::ACCOUNT,
            _ => return None,
        })
    }
}

impl std::ops::BitOr for Roles {
    type Output = Roles;

    fn bitor(self, o: Roles) -> Roles {
        Roles(self.0 | o.0)
    }
}

impl std::ops::BitOrAssign for Roles {
    fn bitor_assign(&mut self, o: Roles) {
        self.0 |= o.0;
    }
}

pub(crate) struct Words {
    phrases: PhraseIndex<Roles>,
    /// Words of scripts without spaces between the parts of a compound, matched inside
    /// tokens.
    glued: GluedIndex<Roles>,
    /// Currency words: lower-case word → ISO code, and the currencies written with the
    /// same word (the user's default wins among them: "ريال" is a Saudi riyal unless the
    /// user's currency is the Iranian rial).
    pub currencies: FastMap<String, (&'static str, &'static [&'static str])>,
}

/// Hangul syllables and jamo, CJK ideographs and kana: compounds (or whole phrases) are
/// written as one token.
pub(crate) fn is_glued_script(c: char) -> bool {
    matches!(
        c,
        '\u{ac00}'..='\u{d7a3}'
            | '\u{1100}'..='\u{11ff}'
            | '\u{3130}'..='\u{318f}'
            | '\u{4e00}'..='\u{9fff}'
            | '\u{3400}'..='\u{4dbf}'
            | '\u{3040}'..='\u{30ff}'
    )
}

pub(crate) static WORDS: LazyLock<Words> = LazyLock::new(build);

fn build() -> Words {
    let mut phrases = PhraseIndex::new();
    let mut merged: FastMap<&'static str, Roles> = FastMap::default();
    let mut order = Vec::new();
    let mut glued: GluedIndex<Roles> = GluedIndex::new();
    let mut currencies = FastMap::default();
    for line in LANGUAGES_TSV
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut cols = line.split('\t');
        let (Some(_lang), Some(role), Some(words)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("languages.tsv: malformed line {line:?}");
        };
        let words = words.split('|').map(str::trim).filter(|w| !w.is_empty());
        if let Some(codes) = role.strip_prefix("currency:") {
            // "currency:SAR/QAR/IRR": the first code, then the others sharing the word.
            let family: Vec<&'static str> = codes.split('/').collect();
            let code = family[0];
            let family: &'static [&'static str] = if family.len() > 1 {
                Box::leak(family.into_boxed_slice())
            } else {
                &[]
            };
            for w in words {
                currencies.insert(w.to_lowercase(), (code, family));
            }
            continue;
        }
        let Some(roles) = Roles::parse(role) else {
            panic!("languages.tsv: unknown role {role:?}");
        };
        for w in words {
            if w.chars().any(is_glued_script) {
                *glued.entry(w) |= roles;
            }
            let entry = merged.entry(w).or_insert_with(|| {
                order.push(w);
                Roles::default()
            });
            *entry |= roles;
        }
    }
    for w in order {
        phrases.insert(w, merged[w]);
    }
    Words {
        phrases,
        glued,
        currencies,
    }
}

/// The roles of the word or phrase starting at token `i`, and how many tokens it covers.
pub(crate) fn roles_at(tokens: &[Token], i: usize) -> (Roles, usize) {
    let words = &*WORDS;
    let t = &tokens[i];
    if !t.is_word() {
        return (Roles::default(), 1);
    }
    if let Some(hit) = words.phrases.longest_at(tokens, i, false) {
        return (*hit.value, hit.len);
    }
    if t.raw.chars().any(is_glued_script) {
        let mut roles = Roles::default();
        words.glued.scan(&t.lower, |r| roles |= *r);
        return (roles, 1);
    }
    (Roles::default(), 1)
}

/// The roles of the single token `i` (a phrase starting there counts too).
pub(crate) fn roles_of(tokens: &[Token], i: usize) -> Roles {
    roles_at(tokens, i).0
}

#[cfg(test)]
mod tests {
    use super::super::token::tokenize;
    use super::*;

    fn roles(text: &str) -> Roles {
        let t = tokenize(text);
        roles_of(&t, 0)
    }

    #[test]
    fn every_language_has_the_five_kinds_of_word() {
        for text in ["Покупка", "Pokupka", "승인", "compra", "umenunua", "spent"] {
            assert!(roles(text).has(Roles::PURCHASE), "{text}");
        }
        for text in ["Оплата", "결제", "pago", "malipo", "paid"] {
            assert!(
                roles(text).has(Roles::PAYMENT) || roles(text).has(Roles::PURCHASE),
                "{text}"
            );
        }
        for text in ["Остаток", "Ostatok", "잔액", "saldo", "salio", "balance"] {
            assert!(roles(text).has(Roles::BALANCE), "{text}");
        }
        for text in ["Отказ", "거절", "rechazada", "imeshindwa", "declined"] {
            assert!(roles(text).has(Roles::DECLINED), "{text}");
        }
        for text in ["Зачисление", "입금", "abono", "umepokea", "credited"] {
            assert!(roles(text).has(Roles::CREDIT), "{text}");
        }
    }

    #[test]
    fn phrases_and_glued_compounds() {
        let t = tokenize("New M-PESA balance is Ksh2,000");
        let (r, len) = roles_at(&t, 0);
        assert!(r.has(Roles::BALANCE));
        assert!(len >= 4, "{len}");
        // "결제예정금액": payment + due + amount inside one token.
        let r = roles("결제예정금액");
        assert!(r.has(Roles::DUE) && r.has(Roles::AMOUNT), "{r:?}");
        assert!(roles("해외승인취소").has(Roles::DECLINED));
        assert_eq!(WORDS.currencies.get("원").map(|c| c.0), Some("KRW"));
        assert_eq!(WORDS.currencies.get("ksh").map(|c| c.0), Some("KES"));
        assert!(WORDS.currencies.get("ريال").is_some_and(|c| c.1.contains(&"IRR")));
    }
}
