//! A labelled synthetic ledger for recurring detection: subscriptions (weekly, monthly,
//! yearly) with the noise real ledgers have — charges a day or two off, skipped months,
//! price changes, spellings a bank varies, one-offs at subscription merchants, one merchant
//! billing in two currencies — among everyday spending (coffee most days at similar
//! prices, groceries every few days, occasional shops). Seeded: one seed, one ledger.
//!
//! Shared by the bench (`benches/recurring.rs`) and the quality test
//! (`tests/recurring_quality.rs`), which include this file (kept in a folder so cargo does
//! not take it for a bench of its own).

use std::collections::HashSet;

use chrono::{Datelike, Days, Months, NaiveDate};
use domain::{Category, Currency, Money};
use expense_service::domain::recurring::{Cadence, Occurrence, Series};
use rand::{rngs::StdRng, Rng, SeedableRng};
use uuid::Uuid;

/// A series the ledger was generated with.
pub struct TrueSeries {
    pub cadence: Cadence,
    pub ids: HashSet<Uuid>,
}

pub struct Labelled {
    pub expenses: Vec<Occurrence>,
    pub series: Vec<TrueSeries>,
}

const SUBSCRIPTIONS: [&[&str]; 24] = [
    &["Netflix", "NETFLIX.COM", "PAYPAL *NETFLIX"],
    &["Spotify", "SPOTIFY", "Spotify AB"],
    &["Disney Plus", "DISNEY PLUS"],
    &["Apple", "APPLE"],
    &["Google", "GOOGLE"],
    &["Dropbox", "DROPBOX"],
    &["Adobe", "ADOBE"],
    &["Gym Pure", "GYM PURE", "POS GYM PURE"],
    &["Airtel", "AIRTEL"],
    &["Jio Fiber", "JIO FIBER"],
    &["City Power", "CITY POWER"],
    &["Water Board", "WATER BOARD"],
    &["HDFC Life", "HDFC LIFE"],
    &["Rent Co", "RENT CO"],
    &["Audible", "AUDIBLE"],
    &["YouTube Premium", "YOUTUBE PREMIUM"],
    &["NYTimes", "NYTIMES"],
    &["Duolingo", "DUOLINGO"],
    &["Notion", "NOTION"],
    &["GitHub", "GITHUB"],
    &["Patreon", "PATREON"],
    &["Hulu", "HULU"],
    &["Zee5", "ZEE5"],
    &["iCloud", "ICLOUD"],
];
const WEEKLY: [&str; 5] = [
    "Yoga Studio",
    "Cleaner Services",
    "Farmers Box",
    "Piano Lessons",
    "Swim Club",
];
const YEARLY: [&str; 6] = [
    "Amazon Prime",
    "Car Insurance Co",
    "Domain Registrar",
    "Costco Membership",
    "Antivirus Pro",
    "Road Tax",
];
const EVERYDAY: [&str; 12] = [
    "Blue Tokai Coffee",
    "Starbucks",
    "Whole Foods",
    "Big Bazaar",
    "Uber",
    "Swiggy",
    "Zomato",
    "Shell",
    "Amazon",
    "Pharmacy Plus",
    "Subway",
    "Local Bakery",
];

struct Gen {
    rng: StdRng,
    start: NaiveDate,
    today: NaiveDate,
    expenses: Vec<Occurrence>,
    series: Vec<TrueSeries>,
}

impl Gen {
    fn add(
        &mut self,
        merchant: &str,
        category: Category,
        minor: i64,
        currency: Currency,
        on: NaiveDate,
    ) -> Uuid {
        let id = Uuid::from_u128(self.rng.random());
        self.expenses.push(Occurrence {
            id,
            merchant: merchant.to_owned(),
            category,
            amount: Money::from_minor(minor.max(1), currency).expect("in range"),
            occurred_on: on,
        });
        id
    }

    fn jitter(&mut self, on: NaiveDate, days: i64) -> NaiveDate {
        let j = self.rng.random_range(-days..=days);
        on.checked_add_signed(chrono::Duration::days(j))
            .expect("in range")
    }

    fn random_day(&mut self) -> NaiveDate {
        let span = (self.today - self.start).num_days();
        self.start + Days::new(self.rng.random_range(0..=span) as u64)
    }

    /// One labelled series: `dates` are the nominal dates; each is jittered, some are
    /// skipped (never two in a row), the price may step up once by 5–15%.
    fn series(
        &mut self,
        spellings: &[&str],
        cadence: Cadence,
        currency: Currency,
        minor: i64,
        dates: Vec<NaiveDate>,
    ) {
        let (jitter, skip_p) = match cadence {
            Cadence::Weekly => (1, 0.05),
            Cadence::Monthly => (2, 0.06),
            Cadence::Yearly => (3, 0.0),
        };
        let change_at = self
            .rng
            .random_bool(0.3)
            .then(|| self.rng.random_range(1..dates.len().max(2)));
        let bump = 100 + self.rng.random_range(5..=15);
        let category =
            [Category::Entertainment, Category::Utilities, Category::Health][self.rng.random_range(0..3)];
        let mut ids = HashSet::new();
        let mut skipped_last = false;
        let n = dates.len();
        for (i, on) in dates.into_iter().enumerate() {
            // Never the first or last two: a series is still recognisable as one.
            if i > 0 && i + 2 < n && !skipped_last && self.rng.random_bool(skip_p) {
                skipped_last = true;
                continue;
            }
            skipped_last = false;
            let on = self.jitter(on, jitter);
            if on > self.today {
                continue;
            }
            let price = if change_at.is_some_and(|c| i >= c) {
                minor * bump / 100
            } else {
                minor
            };
            let spelling = spellings[self.rng.random_range(0..spellings.len())];
            ids.insert(self.add(spelling, category, price, currency, on));
        }
        if ids.len() >= 3 {
            self.series.push(TrueSeries { cadence, ids });
        }
    }
}

fn monthly_dates(first: NaiveDate, day: u32, until: NaiveDate) -> Vec<NaiveDate> {
    let mut out = vec![];
    let mut month = first.with_day(1).expect("day 1");
    while month <= until {
        let last = (month + Months::new(1)).pred_opt().expect("in range");
        out.push(month.with_day(day.min(last.day())).expect("valid day"));
        month = month + Months::new(1);
    }
    out.retain(|d| *d >= first && *d <= until);
    out
}

/// A ledger of about `size` expenses (at least the series), dated up to `today` over the
/// last three years.
pub fn ledger(seed: u64, size: usize, today: NaiveDate) -> Labelled {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        start: today - Days::new(3 * 365),
        today,
        expenses: vec![],
        series: vec![],
    };
    let currencies = [Currency::USD, Currency::EUR, Currency::INR];
    for (k, spellings) in SUBSCRIPTIONS.iter().enumerate() {
        let currency = currencies[k % currencies.len()];
        let minor = g.rng.random_range(199..=15_000);
        let first = g.start + Days::new(g.rng.random_range(0..700));
        let day = g.rng.random_range(1..=31);
        let dates = monthly_dates(first, day, today);
        g.series(spellings, Cadence::Monthly, currency, minor, dates);
        // One-offs at the merchant: other prices, and sometimes the same price on a stray date.
        for _ in 0..g.rng.random_range(0..=2) {
            let on = g.random_day();
            let factor = [30, 250, 400][g.rng.random_range(0..3)];
            g.add(
                spellings[0],
                Category::Shopping,
                minor * factor / 100,
                currency,
                on,
            );
        }
        if g.rng.random_bool(0.25) {
            let on = g.random_day();
            g.add(spellings[0], Category::Shopping, minor, currency, on);
        }
    }
    // One merchant bills in two currencies.
    let first = g.start + Days::new(g.rng.random_range(0..500));
    let dates = monthly_dates(first, 12, today);
    g.series(&["iCloud"], Cadence::Monthly, Currency::GBP, 299, dates);
    for name in WEEKLY {
        let weeks = g.rng.random_range(8..60);
        let first = g.random_day().min(today - Days::new(7 * weeks));
        let dates = (0..weeks).map(|w| first + Days::new(7 * w)).collect();
        let minor = g.rng.random_range(1_000..=8_000);
        g.series(&[name], Cadence::Weekly, Currency::USD, minor, dates);
    }
    for name in YEARLY {
        let first = g.start + Days::new(g.rng.random_range(5..60));
        let dates = (0..3).map(|y| first + Months::new(12 * y)).collect();
        let minor = g.rng.random_range(2_000..=90_000);
        g.series(&[name], Cadence::Yearly, Currency::USD, minor, dates);
    }
    // Everyday spending fills the rest: a few merchants most days, at similar prices.
    while g.expenses.len() < size {
        let k = g.rng.random_range(0..EVERYDAY.len());
        let base = 300 + 700 * k as i64;
        let minor = base + g.rng.random_range(-(base / 3)..=base / 3);
        let on = g.random_day();
        g.add(EVERYDAY[k], Category::FoodAndDrink, minor, Currency::USD, on);
    }
    Labelled {
        expenses: g.expenses,
        series: g.series,
    }
}

/// Precision and recall of `found` against the labels: a found series is right when it
/// has the true series' cadence and at least 80% of its ids are that series', covering at
/// least 80% of it.
pub fn precision_recall(found: &[Series], truth: &[TrueSeries]) -> (f64, f64, usize, usize) {
    let matches = |s: &Series, t: &TrueSeries| {
        let common = s.expense_ids.iter().filter(|id| t.ids.contains(id)).count();
        s.cadence == t.cadence && common * 5 >= s.expense_ids.len() * 4 && common * 5 >= t.ids.len() * 4
    };
    let right = found
        .iter()
        .filter(|s| truth.iter().any(|t| matches(s, t)))
        .count();
    let recalled = truth
        .iter()
        .filter(|t| found.iter().any(|s| matches(s, t)))
        .count();
    (
        right as f64 / found.len().max(1) as f64,
        recalled as f64 / truth.len().max(1) as f64,
        found.len(),
        truth.len(),
    )
}
