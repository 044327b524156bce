//! Confidence from evidence: how likely each field is right given how it was found, and
//! the answer's confidence their product (the fields fail mostly independently).
//!
//! The per-field figures were measured on the development corpus (the "dev" lines of
//! `services/ds/eval/corpus`, the crate's sets and the shared dev set; `make eval` prints the
//! reliability table): what share of answers with that evidence had the field right. So an
//! answer reaches 0.9 only when every field rests on strong evidence — the amount next to its
//! currency with no close rival, the merchant read from a payee slot or known, the category
//! from a known merchant or a keyword, the date written — and anything guessed pulls it down.

/// How the amount was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AmountCue {
    /// Next to its currency, or after a spend word, and no rival scored close.
    Clear,
    /// Next to its currency, but another number scored close to it.
    Rivalled,
    /// No currency written (the user's default), a plain number.
    Bare,
    /// The currency is written elsewhere in the text, or was guessed among several.
    Loose,
}

/// Where the merchant came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MerchantCue {
    /// A known name in a payee slot ("at", "to", a VPA, a label).
    KnownInSlot,
    /// A known brand named elsewhere (first, after the amount, or merely mentioned).
    Known,
    /// An unknown name read from a payee slot.
    Slot,
    /// An unknown name read from where names usually stand (first, after the amount).
    Placed,
    /// A payment instrument in the slot (a wallet, a card network): says little.
    Instrument,
    /// No merchant named.
    None,
}

/// Where the category came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CategoryCue {
    /// A known merchant that decides its category.
    Merchant,
    /// A keyword, or a general store weighed against keywords.
    Keyword,
    /// Nothing matched: OTHER.
    Default,
}

/// What the extractor found, field by field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Evidence {
    pub amount: AmountCue,
    /// Written in words ("twenty bucks").
    pub spoken: bool,
    pub merchant: MerchantCue,
    pub category: CategoryCue,
    pub dated: bool,
    /// Several different dates are written: the first was taken.
    pub several_dates: bool,
    /// A bank or wallet message (a missing merchant or date is likelier a miss there).
    pub bank: bool,
    /// A cash withdrawal: no merchant and OTHER are what it should give.
    pub cash: bool,
    /// Money sent to a person or an account: OTHER is the likely category.
    pub transfer: bool,
}

/// The answer's confidence, 0.05..=0.99 with two decimals.
pub(crate) fn confidence(e: &Evidence) -> f32 {
    let amount = match e.amount {
        AmountCue::Clear => 0.99,
        AmountCue::Rivalled => 0.88,
        AmountCue::Bare => 0.975,
        AmountCue::Loose => 0.90,
    } - if e.spoken { 0.04 } else { 0.0 };
    let merchant = match (e.merchant, e.bank) {
        (MerchantCue::KnownInSlot, _) => 0.995,
        (MerchantCue::Known, false) => 0.95,
        (MerchantCue::Known, true) => 0.97,
        (MerchantCue::Slot, false) => 0.85,
        (MerchantCue::Slot, true) => 0.90,
        (MerchantCue::Placed, _) => 0.60,
        (MerchantCue::Instrument, _) => 0.50,
        // Cash from a machine or an agent has no merchant.
        (MerchantCue::None, _) if e.cash => 0.95,
        // A note that names no place usually has none; a bank message usually has one.
        (MerchantCue::None, false) => 0.85,
        (MerchantCue::None, true) => 0.65,
    };
    let category = match e.category {
        CategoryCue::Merchant => 0.98,
        CategoryCue::Keyword => 0.92,
        CategoryCue::Default if e.cash => 0.95,
        CategoryCue::Default if e.transfer => 0.85,
        CategoryCue::Default => 0.54,
    };
    let date = match (e.dated, e.bank) {
        // A statement row's booking and value dates, an alert's send and purchase dates:
        // the first written is not always the purchase's (on dev this took the ≥ 0.9 bin
        // from 97.2 % to 97.9 % right).
        (true, _) if e.several_dates => 0.90,
        (true, _) => 0.985,
        (false, false) => 0.95,
        (false, true) => 0.90,
    };
    // About one answer in 40 is a notice that is no expense at all (a refusal missed).
    let expense = 0.975;
    let p: f32 = expense * amount * merchant * category * date;
    (p.clamp(0.05, 0.99) * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong() -> Evidence {
        Evidence {
            amount: AmountCue::Clear,
            spoken: false,
            merchant: MerchantCue::Known,
            category: CategoryCue::Merchant,
            dated: true,
            several_dates: false,
            bank: true,
            cash: false,
            transfer: false,
        }
    }

    #[test]
    fn only_strong_evidence_everywhere_reaches_ninety() {
        assert!(confidence(&strong()) >= 0.9);
        for weaker in [
            Evidence {
                amount: AmountCue::Rivalled,
                ..strong()
            },
            Evidence {
                merchant: MerchantCue::None,
                ..strong()
            },
            Evidence {
                merchant: MerchantCue::Placed,
                ..strong()
            },
            Evidence {
                category: CategoryCue::Default,
                ..strong()
            },
            Evidence {
                several_dates: true,
                ..strong()
            },
        ] {
            assert!(confidence(&weaker) < 0.9, "{weaker:?}");
        }
    }

    #[test]
    fn guesses_compound() {
        let weak = Evidence {
            amount: AmountCue::Loose,
            merchant: MerchantCue::Placed,
            category: CategoryCue::Default,
            ..strong()
        };
        assert!(confidence(&weak) < 0.6);
        assert!((0.05..=0.99).contains(&confidence(&weak)));
    }
}
