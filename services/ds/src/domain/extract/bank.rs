//! Bank and wallet messages: telling a debit (an expense) from a credit, an OTP, a balance
//! alert, a reminder or a promotion, none of which may be guessed into an expense.

use super::language::{self, Roles};
use super::token::Token;

/// Looks like a bank or wallet SMS rather than something a person typed.
pub(crate) fn is_bank_style(tokens: &[Token]) -> bool {
    let mut hits = 0;
    for (i, t) in tokens.iter().enumerate() {
        let w = t.lower.as_ref();
        let strong = t.is_word()
            && matches!(
                w,
                "debited"
                    | "credited"
                    | "acct"
                    | "upi"
                    | "vpa"
                    | "avl"
                    | "txn"
                    | "refno"
                    | "neft"
                    | "imps"
                    | "rtgs"
                    | "utr"
                    | "rrn"
                    | "a/c"
            );
        // "A/c", "a/c"
        let account = t.is_word()
            && w == "a"
            && tokens.get(i + 1).is_some_and(|n| n.is_sym('/'))
            && tokens
                .get(i + 2)
                .is_some_and(|n| n.lower == "c" || n.lower == "cno");
        // "XX1234", "**1234"
        let masked = t.is_num()
            && i > 0
            && !t.space_before
            && (tokens[i - 1].lower.chars().all(|c| c == 'x') || tokens[i - 1].is_sym('*'));
        if strong || account || masked {
            hits += 1;
        }
    }
    hits >= 1
}

/// What one pass over the words found.
#[derive(Default)]
struct Signals {
    past_debit: bool,
    purchase: bool,
    offer: bool,
    txn: bool,
    at_or_on: bool,
    dr: bool,
    credit: bool,
    added: bool,
    wallet_or_account: bool,
    got: bool,
    back: bool,
    otp: bool,
    failed: bool,
    could_not: bool,
    processed: bool,
    requested: bool,
    paid_or_spent: bool,
    promo: u32,
    percent: bool,
    due: bool,
    will_be: bool,
    future_verb: bool,
    reminder: bool,
    scheduled: bool,
    balance: bool,
    /// A payment noun from the language data ("Оплата", "pago", "결제"): a debit, unless
    /// the message is a reminder.
    payment_noun: bool,
    /// A refund, reversal or cashback word among the first three words.
    refund_head: bool,
    /// A fee word among the first three words: the row is the fee charged for a transfer
    /// ("COMMISSIONE RICARICA PREPAGATA"), which is spent even when the transfer is not.
    fee_head: bool,
    /// A word of the language data said "balance" (specific enough outside bank style).
    balance_word: bool,
    /// "your payment of ... was received": the biller confirms a payment.
    payment_received: bool,
    /// A call to act ("pay", "verify", "pague").
    act: bool,
    /// The card's own bill is named ("credit card bill", "Kreditkartenabrechnung").
    card_bill: bool,
    /// Money moved to or from the holder's own account: "transferred to your PPF A/c",
    /// "Ksh50.00 transferred to M-Shwari account", "TRF TO FD".
    own_transfer: bool,
    /// "Total … outstanding … due on": a loan or overdraft statement, not a purchase.
    outstanding: bool,
}

/// Why the text is not an expense, if it is not one.
pub(crate) fn non_expense(tokens: &[Token], bank: bool) -> Option<&'static str> {
    let word = |i: usize| -> &str {
        tokens
            .get(i)
            .filter(|t| t.is_word())
            .map_or("", |t| t.lower.as_ref())
    };
    let mut s = Signals {
        percent: tokens.iter().any(|t| t.is_sym('%')),
        ..Signals::default()
    };
    // "123456 is your OTP", but not "never share your OTP": a warning in the four words
    // before an OTP word (any language's, or English's own) makes it no OTP message.
    let disclaimed = |i: usize| {
        (i.saturating_sub(4)..i).any(|k| {
            matches!(
                word(k),
                "share" | "disclose" | "never" | "not" | "don't" | "dont" | "asks" | "ask"
            )
        })
    };
    let mut words_seen = 0usize;
    let mut payment_at: Option<usize> = None;
    let mut transfer_at: Option<usize> = None;
    // The end of the last phrase of the language data: its words say nothing more on their
    // own ("hạn thanh toán" is a due date, not the payment "thanh toán").
    let mut phrase_end = 0usize;
    for i in 0..tokens.len() {
        let w = word(i);
        if w.is_empty() {
            continue;
        }
        words_seen += 1;
        let next = word(i + 1);
        // The language data: the same signals in every language it lists.
        let (roles, len) = if i < phrase_end {
            (Roles::default(), 1)
        } else {
            language::roles_at(tokens, i)
        };
        if len > 1 {
            phrase_end = i + len;
        }
        if matches!(w, "transferred" | "transfer" | "trf" | "moved") || roles.has(Roles::TRANSFER) {
            transfer_at = Some(i);
        }
        // "transferred to your PPF/SSY A/c", "trf to FD", "transferred … from your M-Shwari
        // account": the holder's own account, a few words after the transfer (money "sent
        // from your A/c" to someone is no such thing).
        let own = roles.has(Roles::OWN_ACCOUNT) || w == "your" && i >= 1 && word(i - 1) == "to";
        if own && transfer_at.is_some_and(|t| i > t && i - t <= 6) {
            s.own_transfer = true;
        }
        if !roles.is_empty() {
            if roles.has(Roles::CARD_BILL) {
                s.card_bill = true;
            }
            if roles.has(Roles::PURCHASE) {
                s.past_debit = true;
            }
            if roles.has(Roles::PAYMENT) {
                s.payment_noun = true;
            }
            // "Cashback of … credited", "Возврат покупки", "… credited … as reversal of":
            // a refund heading the message, or named after a credit.
            if roles.has(Roles::REFUND) && (words_seen <= 3 || s.credit) {
                s.refund_head = true;
            }
            if roles.has(Roles::FEE) && words_seen <= 3 {
                s.fee_head = true;
            }
            if roles.has(Roles::CREDIT) {
                s.credit = true;
            }
            if roles.has(Roles::DECLINED) {
                s.failed = true;
            }
            if roles.has(Roles::BALANCE) {
                s.balance = true;
                s.balance_word = true;
            }
            if roles.has(Roles::DUE) {
                s.due = true;
            }
            if roles.has(Roles::FUTURE) {
                s.scheduled = true;
                s.due = true;
            }
            if roles.has(Roles::OTP) {
                s.otp |= !disclaimed(i);
            }
            if roles.has(Roles::ACT) {
                s.act = true;
            }
            if roles.has(Roles::PROMO) && promo_weight(w, next, s.percent) == 0 {
                s.promo += 1;
            }
        }
        // "your payment of $89 was received" (the biller confirms what you paid), not
        // "Payment of Rs 5,000 received towards your credit card" (your bank got it).
        if w == "payment" && i > 0 && word(i - 1) == "your" {
            payment_at = Some(i);
        }
        if w == "received" && payment_at.is_some_and(|p| i - p <= 12) {
            s.payment_received = true;
        }
        match w {
            // "Jordan sent you $40": money in.
            "sent" if next == "you" => {}
            // "Pls ignore if paid", "if already paid": a reminder's courtesy, no debit.
            "paid"
                if word(i.wrapping_sub(1)) == "if"
                    || word(i.wrapping_sub(2)) == "if" && word(i - 1) == "already" => {}
            "debited" | "spent" | "paid" | "withdrawn" | "withdrew" | "purchased" | "sent" | "charged"
            | "deducted" | "bought" | "payed" | "transferred" | "debit" => {
                s.past_debit = true;
                s.paid_or_spent |= matches!(w, "paid" | "spent");
                s.future_verb |= matches!(w, "debited" | "charged" | "deducted");
            }
            "purchase" => s.purchase = true,
            "txn" | "transaction" => s.txn = true,
            "at" | "on" => s.at_or_on = true,
            "dr" => s.dr = true,
            "credited" | "received" | "refund" | "refunded" | "refunds" | "deposited" | "reversed"
            | "reversal" | "cr" | "salary" => s.credit = true,
            "added" => s.added = true,
            // "INTEREST CREDIT 5.45", "FUND TRANSFER FROM … JOHN SMITH", "Payment from Checking
            // account": a statement row's money in.
            "credit" if word(i.wrapping_sub(1)) == "interest" => s.credit = true,
            "transfer" | "payment" | "deposit" if next == "from" => s.credit = true,
            "outstanding" => s.outstanding = true,
            "wallet" | "account" => s.wallet_or_account = true,
            "got" => s.got = true,
            "back" => s.back = true,
            "otp" | "otps" | "passcode" => s.otp |= !disclaimed(i),
            "one" if next == "time" && matches!(word(i + 2), "password" | "pin") => s.otp = true,
            "verification" if next == "code" => s.otp = true,
            "failed" | "declined" | "unsuccessful" | "rejected" | "insufficient" => s.failed = true,
            "could" if next == "not" => s.could_not = true,
            "processed" => s.processed = true,
            // "Ramesh has requested money", "is requesting PHP 500" (not "as you requested").
            "requested" | "requesting" | "requests" if word(i.wrapping_sub(1)) != "you" => s.requested = true,
            "collect" | "payment" if next == "request" => s.requested = true,
            "due" if next != "to" => s.due = true,
            "will" if next == "be" => s.will_be = true,
            "reminder" | "statement" => s.reminder = true,
            "scheduled" => s.scheduled = true,
            "bill" if next == "generated" => s.reminder = true,
            "balance" | "bal" | "avl" => s.balance = true,
            "available" if next == "limit" => s.balance = true,
            _ => {}
        }
        s.offer |= matches!(w, "offer" | "offers");
        s.promo += promo_weight(w, next, s.percent);
    }
    // "-89,000VND", "  -34,5 EUR": a statement's or alert's signed debit.
    let signed_debit = tokens
        .windows(2)
        .any(|p| p[0].is_sym('-') && p[0].space_before && p[1].is_num() && !p[1].space_before);
    let past_debit = s.past_debit
        || signed_debit
        || s.payment_received
        || (s.purchase && !s.offer)
        || (bank && s.txn && s.at_or_on)
        || (bank && s.dr);
    // "Cashback of $5 credited … for your purchase", "Возврат покупки …": a refund heading
    // the message is a credit even though it names the purchase.
    let refund = s.refund_head && s.credit;
    let credit =
        refund || s.credit && !s.payment_received || (s.added && s.wallet_or_account) || (s.got && s.back);

    if s.otp {
        return Some("OTP");
    }
    if card_bill_payment(tokens) || s.card_bill && (s.payment_noun || s.past_debit || s.credit) && !s.due {
        return Some("credit card bill payment (money moved to the card, not spent)");
    }
    if credit_column(tokens) {
        return Some("credit");
    }
    if s.act && !past_debit && has_link(tokens) {
        return Some("a request to pay or verify through a link (likely phishing)");
    }
    if s.failed || (s.could_not && s.processed) {
        return Some("failed or declined transaction");
    }
    if s.own_transfer && !s.fee_head {
        return Some("a transfer between the holder's own accounts (saved, not spent)");
    }
    if s.requested && !s.paid_or_spent {
        return Some("payment request");
    }
    if refund || credit && !past_debit {
        return Some("credit");
    }
    if s.promo >= 3 && !past_debit {
        return Some("promotion");
    }
    let future_debit = s.will_be || s.scheduled;
    let reminder = s.due || (s.will_be && s.future_verb) || s.reminder || s.scheduled;
    if reminder && (!past_debit || future_debit || s.due && s.outstanding) && (bank || s.due) {
        return Some("payment reminder");
    }
    if s.balance
        && !past_debit
        && !s.payment_noun
        && !credit
        && (bank || s.wallet_or_account || s.balance_word)
    {
        return Some("balance alert");
    }
    None
}

/// A web address: "http…", "www…", or a name glued to a dot and a top-level domain
/// ("royalmail-redeliver.example", "bbva-seguridad-clientes.com").
fn has_link(tokens: &[Token]) -> bool {
    tokens.iter().enumerate().any(|(k, t)| {
        t.is_word() && matches!(t.lower.as_ref(), "http" | "https" | "www")
            || k >= 2
                && t.is_word()
                && !t.space_before
                && tokens[k - 1].is_sym('.')
                && !tokens[k - 1].space_before
                && tokens[k - 2].is_word()
                && matches!(
                    t.lower.as_ref(),
                    "com"
                        | "net"
                        | "org"
                        | "info"
                        | "site"
                        | "tk"
                        | "xyz"
                        | "top"
                        | "online"
                        | "link"
                        | "example"
                        | "io"
                        | "co"
                        | "me"
                        | "ly"
                        | "in"
                        | "de"
                        | "br"
                        | "es"
                        | "fr"
                        | "ru"
                        | "cc"
                        | "app"
                        | "shop"
                )
    })
}

/// Paying the card's own bill: "Thanks for your Credit Card Payment", "credit card bill of
/// Rs 2,500 has been paid", "PAYMENT - THANK YOU" on a card statement, "Online Payment …
/// credited to your card". The purchases were the expenses; this moves money to the card.
fn card_bill_payment(tokens: &[Token]) -> bool {
    let words: Vec<&str> = tokens
        .iter()
        .filter(|t| t.is_word())
        .map(|t| t.lower.as_ref())
        .collect();
    let has = |w: &str| words.contains(&w);
    let credit_card = words.windows(2).any(|p| p == ["credit", "card"]);
    let phrase = words.windows(3).any(|p| {
        p == ["credit", "card", "payment"]
            || p == ["credit", "card", "bill"]
            || p == ["card", "bill", "paid"]
            || p == ["payment", "thank", "you"]
    });
    let repaid = credit_card && (has("repayment") || has("repaid"));
    // "Payment of Rs 1000 … was credited to your card", "… received on your … Credit Card".
    let to_the_card = words.windows(3).any(|p| {
        matches!(p[0], "credited" | "received")
            && matches!(p[1], "to" | "on" | "towards")
            && matches!(p[2], "your" | "card")
    }) && has("payment");
    // "Your payment of $500.00 was received … Available credit: $4,278.81": the card's
    // issuer got the bill's payment.
    let issuer_got_it = has("payment")
        && has("received")
        && words
            .windows(2)
            .any(|p| p == ["available", "credit"] || p == ["credit", "limit"] || p == ["available", "limit"]);
    phrase && (has("paid") || has("payment") || has("thank") || has("thanks"))
        || repaid
        || to_the_card
        || issuer_got_it
}

/// A statement or export line whose last word marks the amount as a credit: "25.00 CNY
/// CREDIT", "16,50 (crédit)", "4,621.01 CR", or whose debit/credit field says C
/// ("06.07.2022;ANDRES TAMM;C;30,00;Inv;EUR").
fn credit_column(tokens: &[Token]) -> bool {
    let c_field = tokens.windows(3).any(|w| {
        w[0].is_sym(';')
            && w[2].is_sym(';')
            && w[1].is_word()
            && matches!(w[1].lower.as_ref(), "c" | "cr" | "k")
    });
    if c_field {
        return true;
    }
    let Some(k) = tokens.iter().rposition(|t| t.is_word()) else {
        return false;
    };
    let only_symbols_after = tokens[k + 1..].iter().all(|t| t.kind == super::token::Kind::Sym);
    let after_amount = tokens[..k].iter().rev().take(3).any(|t| t.is_num());
    // "Bal: NGN20,817.22CR" marks the balance, not the amount.
    let after_balance =
        tokens[..k].iter().rev().take(6).any(|t| {
            t.is_word() && matches!(t.lower.as_ref(), "bal" | "balance" | "avl" | "solde" | "saldo")
        });
    only_symbols_after
        && after_amount
        && !after_balance
        && (tokens[k].space_before || k > 0 && tokens[k - 1].is_sym('('))
        && matches!(
            tokens[k].lower.as_ref(),
            "credit" | "crédit" | "cr" | "haben" | "gutschrift"
        )
}

/// How much a word says "promotion": 2 for links and calls to act, 1 for sales words.
fn promo_weight(w: &str, next: &str, percent: bool) -> u32 {
    match w {
        "preapproved" | "pre-approved" | "t&c" | "tnc" | "t&cs" | "coupon" | "promo" | "http" | "https"
        | "www" | "click" | "hurry" | "unsubscribe" => 2,
        "pre" if next == "approved" => 2,
        "apply" if next == "now" => 2,
        "use" if next == "code" => 2,
        "shop" | "book" | "order" | "download" if next == "now" => 2,
        "off" if percent => 2,
        "upto" | "avail" | "eligible" | "exclusive" | "win" | "voucher" | "claim" | "offer" | "offers"
        | "sale" | "deal" | "deals" | "discount" | "loan" | "cashback" | "get" | "flat" | "extra"
        | "save" => 1,
        "up" if next == "to" => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::token::tokenize;
    use super::*;

    fn classify(text: &str) -> Option<&'static str> {
        let t = tokenize(text);
        non_expense(&t, is_bank_style(&t))
    }

    #[test]
    fn debits_are_expenses() {
        for text in [
            "Rs.250.00 debited from a/c **1234 on 12-01-24 to VPA swiggy@ybl (UPI Ref No 401234567890). Not you? Call 18002586161",
            "Dear UPI user A/C X1234 debited by 250.0 on date 12Jan24 trf to SWIGGY Refno 401234567890. If not u? call 1800111109. -SBI",
            "ICICI Bank Acct XX123 debited for Rs 250.00 on 12-Jan-24; SWIGGY credited. UPI:401234567890. Call 18002662 for dispute.",
            "You've spent Rs.1,499.00 on your HDFC Bank Credit Card xx1234 at AMAZON PAY on 2024-01-12. Never share your OTP with anyone.",
            "spent 20 on lunch",
        ] {
            assert_eq!(classify(text), None, "{text}");
        }
    }

    #[test]
    fn non_expenses_are_named() {
        let cases = [
            (
                "123456 is your OTP for txn of INR 2,500.00 at AMAZON. Valid for 10 mins. Do not share it.",
                "OTP",
            ),
            ("Use one time password 4455 to log in", "OTP"),
            (
                "Rs.5,000.00 credited to your A/c XX1234 on 12-01-24 by NEFT. Avl Bal Rs.12,000.00",
                "credit",
            ),
            (
                "Refund of Rs 250 for your Swiggy order has been processed",
                "credit",
            ),
            ("received 500 from mom", "credit"),
            (
                "Your A/c XX1234 balance is Rs 5,000.00 as on 12-Jan-24",
                "balance alert",
            ),
            (
                "Get flat 20% off on your next order! Use code SAVE20. T&C apply",
                "promotion",
            ),
            (
                "Congratulations! You have a pre-approved personal loan of Rs 5,00,000. Apply now: http://x.co",
                "promotion",
            ),
            (
                "Your card payment of Rs 499 to Netflix failed due to insufficient balance",
                "failed or declined transaction",
            ),
            (
                "Your credit card bill of Rs 12,345 is due on 05-Feb. Min amount due Rs 620",
                "payment reminder",
            ),
            (
                "Rs 649 will be debited from your a/c for Netflix on 12-Feb",
                "payment reminder",
            ),
            (
                "Ramesh has requested money from you. On approving, Rs 500 will be debited",
                "payment request",
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(classify(text), Some(reason), "{text}");
        }
    }
}
