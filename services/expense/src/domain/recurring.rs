//! Recurring expenses: subscriptions and other charges that repeat at a regular cadence,
//! found in a user's ledger. Pure: expenses in, series out.
//!
//! The rule, as the API documents it:
//! - a series is one merchant, compared by its normalised name ([`domain::merchant_key`],
//!   the key ds-service's learned rules use, so "NETFLIX.COM", "Netflix" and
//!   "PAYPAL *NETFLIX" are one merchant), in one currency;
//! - with at least [`MIN_OCCURRENCES`] occurrences at one cadence: **weekly**, each 7 ± 2
//!   days after the previous one; **monthly**, on the day of the month of the first
//!   occurrence ± 3 days (a series that starts on a month's last day expects every month's
//!   last day, and a day past a shorter month's end falls on that month's last day: the
//!   31st is the 30th in April and the 28th or 29th in February); **yearly**, on the same
//!   date ± 5 days (29 February falls on the 28th);
//! - one missed week or month does not break a series (the next occurrence may come two
//!   periods later); a missed year does;
//! - every amount within 20% of the series' median (prices change);
//! - and the series accounts for most of what was paid there at that price: from one
//!   period before its first occurrence to one period after its last, at most one other
//!   occurrence within 20% of its median per three of the series (and at least one). Irregular one-offs at the same merchant are left out of the
//!   series, and a merchant visited every few days (coffee, groceries) is not a weekly
//!   subscription merely because some of the visits are a week apart.
//!
//! Amounts compare in integer minor units; no floats.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Days, Months, NaiveDate};
use domain::{merchant_key, Category, Currency, Money};
use uuid::Uuid;

/// Fewest occurrences that make a series.
pub const MIN_OCCURRENCES: usize = 3;
/// How far back the ledger is read: three years (three yearly occurrences, the latest up
/// to a year old) plus their tolerance.
pub const WINDOW_DAYS: u64 = 1_110;
/// At most this many expenses (the newest) are read for detection.
pub const MAX_EXPENSES: usize = 20_000;
/// Every amount within this percentage of the series' median.
const AMOUNT_TOLERANCE_PERCENT: i128 = 20;
/// Other occurrences in a series' amount band around its dates: at most one per this many
/// members (and at least one).
const MEMBERS_PER_EXTRA: usize = 3;

/// How often a series repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cadence {
    Weekly,
    Monthly,
    Yearly,
}

impl Cadence {
    pub const ALL: [Cadence; 3] = [Cadence::Weekly, Cadence::Monthly, Cadence::Yearly];

    /// The proto enum number (`CADENCE_UNSPECIFIED` is 0).
    pub fn proto_number(self) -> i32 {
        match self {
            Cadence::Weekly => 1,
            Cadence::Monthly => 2,
            Cadence::Yearly => 3,
        }
    }

    /// Days an occurrence may lie from its expected date.
    fn tolerance_days(self) -> u64 {
        match self {
            Cadence::Weekly => 2,
            Cadence::Monthly => 3,
            Cadence::Yearly => 5,
        }
    }

    /// Periods the next occurrence may lie after the previous one: 2 lets one be missed.
    fn max_step(self) -> u32 {
        match self {
            Cadence::Weekly | Cadence::Monthly => 2,
            Cadence::Yearly => 1,
        }
    }
}

/// One expense as detection sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    pub id: Uuid,
    pub merchant: String,
    pub category: Category,
    pub amount: Money,
    pub occurred_on: NaiveDate,
}

/// A repeating expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// As the latest occurrence spells it.
    pub merchant: String,
    /// The most frequent category of the occurrences (ties: the latest's).
    pub category: Category,
    pub currency: Currency,
    /// The median amount (for an even count, the lower middle one).
    pub typical_amount: Money,
    pub cadence: Cadence,
    pub first_on: NaiveDate,
    pub last_on: NaiveDate,
    /// One period after `last_on`.
    pub next_expected_on: NaiveDate,
    /// Oldest first.
    pub expense_ids: Vec<Uuid>,
}

/// The first day of the window detection reads, for a ledger read on `today`.
pub fn window_start(today: NaiveDate) -> NaiveDate {
    today
        .checked_sub_days(Days::new(WINDOW_DAYS))
        .unwrap_or(NaiveDate::MIN)
}

/// Every series in `expenses` (any order, one user's), ordered by `next_expected_on`, then
/// merchant and currency. An expense belongs to one series at most.
pub fn detect(expenses: &[Occurrence]) -> Vec<Series> {
    let mut groups: HashMap<(String, Currency), Vec<&Occurrence>> = HashMap::new();
    for e in expenses {
        let key = merchant_key(&e.merchant);
        // No merchant, no series: "" is every unnamed expense, not one payee.
        if key.is_empty() {
            continue;
        }
        groups.entry((key, e.amount.currency())).or_default().push(e);
    }
    let mut keyed: Vec<(String, Series)> = vec![];
    for ((key, _), mut group) in groups {
        if group.len() < MIN_OCCURRENCES {
            continue;
        }
        group.sort_by_key(|e| (e.occurred_on, e.id));
        keyed.extend(detect_in_group(&group).into_iter().map(|s| (key.clone(), s)));
    }
    keyed.sort_by(|(ka, a), (kb, b)| {
        (a.next_expected_on, ka, a.currency.code(), a.cadence, a.first_on).cmp(&(
            b.next_expected_on,
            kb,
            b.currency.code(),
            b.cadence,
            b.first_on,
        ))
    });
    keyed.into_iter().map(|(_, s)| s).collect()
}

/// The series of one merchant and currency; `group` sorted by date.
fn detect_in_group(group: &[&Occurrence]) -> Vec<Series> {
    let mut candidates: Vec<(Cadence, Vec<usize>)> = vec![];
    for cadence in Cadence::ALL {
        // Each occurrence not yet in a series of this cadence starts a chain: the amount
        // it was paid at is the chain's, the date its schedule's anchor.
        let mut covered = vec![false; group.len()];
        for start in 0..group.len() {
            if covered[start] {
                continue;
            }
            let chain = chain_from(group, start, cadence);
            if chain.len() >= MIN_OCCURRENCES && is_series(group, &chain, cadence) {
                for &i in &chain {
                    covered[i] = true;
                }
                candidates.push((cadence, chain));
            }
        }
    }
    // The longest series first; an expense already in an accepted series is not reused.
    let mut built: Vec<Series> = candidates
        .iter()
        .filter_map(|(cadence, chain)| {
            let members: Vec<&Occurrence> = chain.iter().map(|&i| group[i]).collect();
            build(*cadence, &members)
        })
        .collect();
    built.sort_by(|a, b| {
        b.expense_ids
            .len()
            .cmp(&a.expense_ids.len())
            .then(a.cadence.cmp(&b.cadence))
            .then(b.last_on.cmp(&a.last_on))
    });
    let mut taken: HashSet<Uuid> = HashSet::new();
    let mut out = vec![];
    for s in built {
        if s.expense_ids.iter().any(|id| taken.contains(id)) {
            continue;
        }
        taken.extend(s.expense_ids.iter().copied());
        out.push(s);
    }
    out
}

/// `|amount - centre| <= 20% of centre`, exactly.
fn within_tolerance(amount: i64, centre: i64) -> bool {
    (i128::from(amount) - i128::from(centre)).abs() * 100 <= AMOUNT_TOLERANCE_PERCENT * i128::from(centre)
}

/// The chain of `group` (sorted by date) from `start` at `cadence`, as indexes. Greedy:
/// the next member is the occurrence within 20% of the start's amount closest to the next
/// expected date (one period on, else two).
fn chain_from(group: &[&Occurrence], start: usize, cadence: Cadence) -> Vec<usize> {
    let schedule = Schedule::new(group[start].occurred_on, cadence);
    let amount = group[start].amount.minor();
    let mut chain = vec![start];
    let mut period = 0u32;
    while let Some((next, p)) = next_member(group, &schedule, amount, chain[chain.len() - 1], period) {
        chain.push(next);
        period = p;
    }
    chain
}

/// When occurrences of a chain are expected. Weekly steps from the previous occurrence;
/// monthly and yearly from the chain's first date, so days do not drift.
struct Schedule {
    anchor: NaiveDate,
    cadence: Cadence,
    /// The anchor is its month's last day: expect every month's last day.
    month_end: bool,
}

impl Schedule {
    fn new(anchor: NaiveDate, cadence: Cadence) -> Self {
        Self {
            anchor,
            cadence,
            month_end: anchor.succ_opt().is_none_or(|d| d.month() != anchor.month()),
        }
    }

    /// The expected date `step` periods after period `period` (0 is the anchor); `prev` is
    /// the previous member's date, which weekly steps from.
    fn expected(&self, period: u32, step: u32, prev: NaiveDate) -> Option<NaiveDate> {
        match self.cadence {
            Cadence::Weekly => prev.checked_add_days(Days::new(7 * u64::from(step))),
            Cadence::Monthly => {
                let d = self.anchor.checked_add_months(Months::new(period + step))?;
                if self.month_end {
                    last_day_of_month(d)
                } else {
                    Some(d)
                }
            }
            // chrono clamps: 29 February plus a year is 28 February.
            Cadence::Yearly => self.anchor.checked_add_months(Months::new(12 * (period + step))),
        }
    }
}

fn last_day_of_month(d: NaiveDate) -> Option<NaiveDate> {
    let first_of_next =
        NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?.checked_add_months(Months::new(1))?;
    first_of_next.pred_opt()
}

/// The member after `group[prev]` (in period `period`) and its period, if any.
fn next_member(
    group: &[&Occurrence],
    schedule: &Schedule,
    amount: i64,
    prev: usize,
    period: u32,
) -> Option<(usize, u32)> {
    let tol = schedule.cadence.tolerance_days();
    let prev_date = group[prev].occurred_on;
    for step in 1..=schedule.cadence.max_step() {
        let expected = schedule.expected(period, step, prev_date)?;
        let lo = expected.checked_sub_days(Days::new(tol))?;
        let hi = expected.checked_add_days(Days::new(tol))?;
        let first = group.partition_point(|e| e.occurred_on < lo).max(prev + 1);
        let best = (first..group.len())
            .take_while(|&i| group[i].occurred_on <= hi)
            .filter(|&i| {
                group[i].occurred_on > prev_date && within_tolerance(group[i].amount.minor(), amount)
            })
            .min_by_key(|&i| (group[i].occurred_on - expected).num_days().abs());
        if let Some(i) = best {
            return Some((i, period + step));
        }
    }
    None
}

/// Whether a chain (sorted indexes into `group`) is a series: amounts within 20% of its
/// median, and few other occurrences in that band from one period before its first date
/// to one period after its last.
fn is_series(group: &[&Occurrence], chain: &[usize], cadence: Cadence) -> bool {
    let mut amounts: Vec<i64> = chain.iter().map(|&i| group[i].amount.minor()).collect();
    amounts.sort_unstable();
    let median = amounts[(amounts.len() - 1) / 2];
    if !amounts.iter().all(|&a| within_tolerance(a, median)) {
        return false;
    }
    let period = Days::new(match cadence {
        Cadence::Weekly => 7,
        Cadence::Monthly => 31,
        Cadence::Yearly => 366,
    });
    let lo = group[chain[0]].occurred_on.checked_sub_days(period);
    let hi = group[chain[chain.len() - 1]].occurred_on.checked_add_days(period);
    let from = lo.map_or(0, |lo| group.partition_point(|e| e.occurred_on < lo));
    let allowed = (chain.len() / MEMBERS_PER_EXTRA).max(1);
    let mut extras = 0;
    for (i, e) in group.iter().enumerate().skip(from) {
        if hi.is_some_and(|hi| e.occurred_on > hi) {
            break;
        }
        if chain.binary_search(&i).is_err() && within_tolerance(e.amount.minor(), median) {
            extras += 1;
            if extras > allowed {
                return false;
            }
        }
    }
    true
}

/// The series of a chain (sorted by date) found at `cadence`.
fn build(cadence: Cadence, members: &[&Occurrence]) -> Option<Series> {
    let first = members.first()?;
    let last = members.last()?;
    let mut amounts: Vec<Money> = members.iter().map(|e| e.amount).collect();
    amounts.sort_by_key(Money::minor);
    let typical_amount = amounts[(amounts.len() - 1) / 2];
    Some(Series {
        merchant: last.merchant.clone(),
        category: usual_category(members),
        currency: typical_amount.currency(),
        typical_amount,
        cadence,
        first_on: first.occurred_on,
        last_on: last.occurred_on,
        next_expected_on: next_expected(members, cadence)?,
        expense_ids: members.iter().map(|e| e.id).collect(),
    })
}

fn usual_category(members: &[&Occurrence]) -> Category {
    let mut counts: HashMap<Category, usize> = HashMap::new();
    for e in members {
        *counts.entry(e.category).or_default() += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    members
        .iter()
        .rev()
        .find(|e| counts[&e.category] == top)
        .map(|e| e.category)
        .unwrap_or(Category::Other)
}

/// One period after the latest occurrence. Monthly: on the series' usual day of the month
/// (the most frequent; ties: the later day), or the month's last day when it is shorter.
fn next_expected(members: &[&Occurrence], cadence: Cadence) -> Option<NaiveDate> {
    let last = members.last()?.occurred_on;
    match cadence {
        Cadence::Weekly => last.checked_add_days(Days::new(7)),
        Cadence::Yearly => last.checked_add_months(Months::new(12)),
        Cadence::Monthly => {
            let mut days = [0usize; 32];
            for e in members {
                days[e.occurred_on.day() as usize] += 1;
            }
            let top = days.iter().copied().max()?;
            let day = (1..=31u32).rev().find(|&d| days[d as usize] == top)?;
            // From the first of the month, so the latest's own day (28 February) does not
            // cap the next one's.
            let next_month = last.with_day(1)?.checked_add_months(Months::new(1))?;
            let end = last_day_of_month(next_month)?;
            next_month.with_day(day.min(end.day()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn usd(s: &str) -> Money {
        Money::parse(s, Currency::USD).unwrap()
    }

    struct Ledger(Vec<Occurrence>);

    impl Ledger {
        fn new() -> Self {
            Self(vec![])
        }

        fn add(&mut self, merchant: &str, amount: Money, on: &str) -> Uuid {
            let id = Uuid::now_v7();
            self.0.push(Occurrence {
                id,
                merchant: merchant.into(),
                category: Category::Entertainment,
                amount,
                occurred_on: d(on),
            });
            id
        }

        fn add_all(&mut self, merchant: &str, amount: &str, dates: &[&str]) -> Vec<Uuid> {
            dates
                .iter()
                .map(|on| self.add(merchant, usd(amount), on))
                .collect()
        }
    }

    #[test]
    fn a_monthly_subscription_is_found_with_its_next_date() {
        let mut l = Ledger::new();
        let ids = l.add_all(
            "Netflix",
            "15.49",
            &[
                "2025-01-05",
                "2025-02-06",
                "2025-03-04",
                "2025-04-05",
                "2025-05-07",
            ],
        );
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].cadence, Cadence::Monthly);
        assert_eq!(s[0].expense_ids, ids);
        assert_eq!(s[0].typical_amount, usd("15.49"));
        assert_eq!(s[0].first_on, d("2025-01-05"));
        assert_eq!(s[0].last_on, d("2025-05-07"));
        assert_eq!(s[0].next_expected_on, d("2025-06-05"));
        assert_eq!(s[0].category, Category::Entertainment);
    }

    #[test]
    fn a_charge_on_the_31st_falls_on_shorter_months_last_day() {
        let mut l = Ledger::new();
        let dates = [
            "2024-01-31",
            "2024-02-29",
            "2024-03-31",
            "2024-04-30",
            "2024-05-31",
            "2024-06-30",
        ];
        let ids = l.add_all("Rent Co", "1200.00", &dates);
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].expense_ids, ids);
        assert_eq!(s[0].cadence, Cadence::Monthly);
        assert_eq!(s[0].next_expected_on, d("2024-07-31"));

        // Starting in a short month: every month's last day, so 28 February leads to the
        // 31st of March, not the 28th.
        let mut l = Ledger::new();
        let ids = l.add_all(
            "Rent Co",
            "1200.00",
            &["2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31"],
        );
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].expense_ids, ids);
        assert_eq!(s[0].next_expected_on, d("2025-06-30"));
    }

    #[test]
    fn a_weekly_series_tolerates_two_days() {
        let mut l = Ledger::new();
        let ids = l.add_all(
            "Yoga Studio",
            "20.00",
            &[
                "2025-03-03",
                "2025-03-10",
                "2025-03-19",
                "2025-03-24",
                "2025-03-29",
            ],
        );
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].cadence, Cadence::Weekly);
        assert_eq!(s[0].expense_ids, ids);
        assert_eq!(s[0].next_expected_on, d("2025-04-05"));

        // Ten days apart is not weekly (nor anything else).
        let mut l = Ledger::new();
        l.add_all(
            "Yoga Studio",
            "20.00",
            &["2025-03-01", "2025-03-11", "2025-03-21"],
        );
        assert!(detect(&l.0).is_empty());
    }

    #[test]
    fn a_yearly_series_tolerates_five_days_and_29_february() {
        let mut l = Ledger::new();
        let ids = l.add_all(
            "Amazon Prime",
            "139.00",
            &["2023-02-26", "2024-02-29", "2025-03-03"],
        );
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].cadence, Cadence::Yearly);
        assert_eq!(s[0].expense_ids, ids);
        assert_eq!(s[0].next_expected_on, d("2026-03-03"));

        let mut l = Ledger::new();
        l.add_all(
            "Amazon Prime",
            "139.00",
            &["2023-02-01", "2024-02-10", "2025-02-01"],
        );
        assert!(detect(&l.0).is_empty(), "nine days late is not the same date");
    }

    #[test]
    fn a_price_change_within_20_percent_stays_one_series() {
        let mut l = Ledger::new();
        let mut ids = l.add_all("Spotify", "9.99", &["2025-01-10", "2025-02-10", "2025-03-10"]);
        // +15%.
        ids.extend(l.add_all("SPOTIFY", "11.49", &["2025-04-10", "2025-05-10"]));
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].expense_ids, ids);
        assert_eq!(s[0].typical_amount, usd("9.99"));
        assert_eq!(s[0].merchant, "SPOTIFY");

        // Doubling is not a price change: the old price makes a series only if it has 3.
        let mut l = Ledger::new();
        l.add_all("Spotify", "9.99", &["2025-01-10", "2025-02-10"]);
        l.add_all("Spotify", "19.99", &["2025-03-10", "2025-04-10"]);
        assert!(detect(&l.0).is_empty());
    }

    #[test]
    fn a_one_off_at_a_subscription_merchant_is_left_out() {
        let mut l = Ledger::new();
        let ids = l.add_all(
            "Apple",
            "2.99",
            &["2025-01-15", "2025-02-15", "2025-03-15", "2025-04-15"],
        );
        // An app bought once, and an in-app purchase at the same price on a stray date.
        l.add("APPLE.COM/BILL", usd("49.00"), "2025-02-02");
        l.add("Apple", usd("2.99"), "2025-03-02");
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].expense_ids, ids);
    }

    #[test]
    fn irregular_purchases_are_not_a_series() {
        let mut l = Ledger::new();
        l.add_all(
            "Amazon",
            "25.00",
            &[
                "2025-01-03",
                "2025-01-29",
                "2025-03-17",
                "2025-04-02",
                "2025-06-20",
            ],
        );
        assert!(detect(&l.0).is_empty());
    }

    #[test]
    fn visits_every_few_days_are_not_a_weekly_subscription() {
        let mut l = Ledger::new();
        let mut on = d("2025-01-01");
        for i in 0..60u64 {
            l.add("Blue Tokai Coffee", usd("4.50"), &on.to_string());
            on = on + Days::new(1 + i % 3);
        }
        assert!(detect(&l.0).is_empty(), "{:?}", detect(&l.0));
    }

    #[test]
    fn a_skipped_month_does_not_break_a_series() {
        let mut l = Ledger::new();
        // No charge in March.
        let ids = l.add_all(
            "Gym",
            "40.00",
            &["2025-01-02", "2025-02-02", "2025-04-01", "2025-05-02"],
        );
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].expense_ids, ids);
        assert_eq!(s[0].cadence, Cadence::Monthly);

        // Two missed months in a row do.
        let mut l = Ledger::new();
        l.add_all("Gym", "40.00", &["2025-01-02", "2025-02-02", "2025-05-02"]);
        assert!(detect(&l.0).is_empty());
    }

    #[test]
    fn two_currencies_at_one_merchant_are_two_series() {
        let mut l = Ledger::new();
        let usd_ids = l.add_all("iCloud", "2.99", &["2025-01-08", "2025-02-08", "2025-03-08"]);
        let eur = Money::parse("2.99", Currency::EUR).unwrap();
        let eur_ids: Vec<Uuid> = ["2025-01-20", "2025-02-20", "2025-03-20"]
            .iter()
            .map(|on| l.add("iCloud", eur, on))
            .collect();
        let s = detect(&l.0);
        assert_eq!(s.len(), 2, "{s:?}");
        // Ordered by next_expected_on: the USD one (8 April) first.
        assert_eq!(s[0].currency, Currency::USD);
        assert_eq!(s[0].expense_ids, usd_ids);
        assert_eq!(s[1].currency, Currency::EUR);
        assert_eq!(s[1].expense_ids, eur_ids);

        // Two charges in one currency and one in the other are no series at all.
        let mut l = Ledger::new();
        l.add_all("iCloud", "2.99", &["2025-01-08", "2025-02-08"]);
        l.add("iCloud", eur, "2025-03-08");
        assert!(detect(&l.0).is_empty());
    }

    #[test]
    fn spellings_of_one_merchant_are_one_series_and_unnamed_ones_none() {
        let mut l = Ledger::new();
        let mut ids = vec![l.add("NETFLIX", usd("15.49"), "2025-01-05")];
        ids.push(l.add("PAYPAL *NETFLIX", usd("15.49"), "2025-02-05"));
        ids.push(l.add("Netflix", usd("15.49"), "2025-03-05"));
        l.add_all("", "15.49", &["2025-01-05", "2025-02-05", "2025-03-05"]);
        let s = detect(&l.0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].expense_ids, ids);
    }

    #[test]
    fn two_subscriptions_at_one_merchant_and_currency_are_told_apart_by_amount() {
        let mut l = Ledger::new();
        let small = l.add_all("Google", "1.99", &["2025-01-03", "2025-02-03", "2025-03-03"]);
        let big = l.add_all("Google", "9.99", &["2025-01-17", "2025-02-17", "2025-03-17"]);
        let s = detect(&l.0);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].expense_ids, small);
        assert_eq!(s[1].expense_ids, big);
    }

    #[test]
    fn series_are_ordered_by_next_expected_date() {
        let mut l = Ledger::new();
        l.add_all("Later", "5.00", &["2025-01-20", "2025-02-20", "2025-03-20"]);
        l.add_all("Sooner", "5.00", &["2025-01-10", "2025-02-10", "2025-03-10"]);
        l.add_all("Weekly", "5.00", &["2025-03-01", "2025-03-08", "2025-03-15"]);
        let s = detect(&l.0);
        let order: Vec<&str> = s.iter().map(|s| s.merchant.as_str()).collect();
        assert_eq!(order, ["Weekly", "Sooner", "Later"]);
    }

    #[test]
    fn the_window_covers_three_yearly_occurrences() {
        let today = d("2026-12-02");
        let start = window_start(today);
        // The latest charge a year (and its tolerance) ago, two more before it.
        let oldest = d("2023-11-27");
        assert!(start <= oldest, "{start}");
    }
}
