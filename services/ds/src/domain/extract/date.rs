//! Dates and times of day.
//!
//! Every date expression in the text is found and its tokens marked, so that "19/09" or
//! "3 days ago" are never read as amounts; the first one gives the expense date. Dates
//! resolve against the reference date (the user's today): a date without a year is the
//! most recent such date not after it, and nothing lands in the future.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use super::currency::Marker;
use super::token::Token;
use super::Role;

/// What the date scan found.
#[derive(Debug, Default)]
pub(crate) struct DateScan {
    pub date: Option<NaiveDate>,
    pub warnings: Vec<String>,
    /// Another, different date is written too (a statement row's booking and value dates,
    /// "AUTHORIZED ON 03/13" on a line dated 03/14): the first may not be the purchase's.
    pub other_dates: bool,
}

/// Options that shape how numeric dates read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DateRules {
    pub reference: NaiveDate,
    pub day_first: bool,
}

/// A candidate date before the future check.
enum Found {
    /// A resolved calendar date.
    Date(NaiveDate),
    /// An expression that is a date but names no usable day ("next friday", "31/02").
    Unusable(String),
}

pub(crate) fn month_number(word: &str) -> Option<u32> {
    Some(match word {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    })
}

fn weekday(word: &str) -> Option<(Weekday, bool)> {
    // The bool says whether the word is unambiguous on its own ("friday" yes, "sat" no).
    Some(match word {
        "monday" | "mondays" => (Weekday::Mon, true),
        "tuesday" => (Weekday::Tue, true),
        "wednesday" => (Weekday::Wed, true),
        "thursday" => (Weekday::Thu, true),
        "friday" => (Weekday::Fri, true),
        "saturday" => (Weekday::Sat, true),
        "sunday" => (Weekday::Sun, true),
        "mon" => (Weekday::Mon, false),
        "tue" | "tues" => (Weekday::Tue, false),
        "wed" | "weds" => (Weekday::Wed, false),
        "thu" | "thur" | "thurs" => (Weekday::Thu, false),
        "fri" => (Weekday::Fri, false),
        "sat" => (Weekday::Sat, false),
        "sun" => (Weekday::Sun, false),
        _ => return None,
    })
}

fn small_number_word(word: &str) -> Option<u32> {
    Some(match word {
        "a" | "an" | "one" => 1,
        "two" | "couple" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "few" => 3,
        _ => return None,
    })
}

/// Words after "may" that make it the verb ("it may be", "5 may not").
#[rustfmt::skip]
fn follows_may_verb(word: &str) -> bool {
    matches!(
        word,
        "be" | "have" | "not" | "need" | "also" | "still" | "cost" | "get" | "take" | "want"
            | "help" | "apply" | "vary" | "change" | "come"
    )
}

fn is_ordinal_suffix(word: &str) -> bool {
    matches!(word, "st" | "nd" | "rd" | "th")
}

/// A plain run of ASCII digits.
fn digits(t: &Token) -> Option<u32> {
    if t.is_num() && t.raw.len() <= 4 && t.raw.bytes().all(|b| b.is_ascii_digit()) {
        t.raw.parse().ok()
    } else {
        None
    }
}

fn year_of(raw_len: usize, value: u32, reference: NaiveDate) -> Option<i32> {
    match raw_len {
        4 if (1900..=2200).contains(&value) => Some(value as i32),
        2 => {
            let century = reference.year() / 100 * 100;
            let y = century + value as i32;
            // "99" written in 2024 is 1999, not 2099.
            Some(if y > reference.year() + 1 { y - 100 } else { y })
        }
        _ => None,
    }
}

pub(crate) struct Scanner<'t, 'a> {
    tokens: &'t [Token<'a>],
    rules: DateRules,
    /// Tokens right after a currency marker ("$30 feb 12": 30 is money, not a day).
    after_marker: Vec<bool>,
    /// Tokens right before one ("3 May 12 EUR").
    before_marker: Vec<bool>,
}

impl<'t, 'a> Scanner<'t, 'a> {
    fn word(&self, i: usize) -> Option<&str> {
        self.tokens
            .get(i)
            .filter(|t| t.is_word())
            .map(|t| t.lower.as_ref())
    }

    fn sym(&self, i: usize, c: char) -> bool {
        self.tokens.get(i).is_some_and(|t| t.is_sym(c))
    }

    fn glued(&self, i: usize) -> bool {
        self.tokens.get(i).is_some_and(|t| !t.space_before)
    }

    fn ymd(&self, y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    /// The most recent (month, day) not after the reference date.
    fn recent_md(&self, m: u32, d: u32) -> Option<NaiveDate> {
        let r = self.rules.reference;
        (0..=8).find_map(|back| self.ymd(r.year() - back, m, d).filter(|date| *date <= r))
    }

    /// The most recent day-of-month not after the reference date.
    fn recent_day(&self, d: u32) -> Option<NaiveDate> {
        if !(1..=31).contains(&d) {
            return None;
        }
        let r = self.rules.reference;
        let first = r.with_day(1)?;
        (0..=12).find_map(|back| {
            let month = first.checked_sub_months(Months::new(back))?;
            month.with_day(d).filter(|date| *date <= r)
        })
    }

    fn recent_weekday(&self, wd: Weekday, strictly_before: bool) -> NaiveDate {
        let r = self.rules.reference;
        let mut back = (7 + r.weekday().num_days_from_monday() - wd.num_days_from_monday()) % 7;
        if back == 0 && strictly_before {
            back = 7;
        }
        r - Days::new(u64::from(back))
    }

    fn days_back(&self, n: u64) -> Option<NaiveDate> {
        self.rules.reference.checked_sub_days(Days::new(n))
    }

    /// Day and month from two numbers in the user's order, trying the other order when the
    /// first is impossible ("25/12" for a month-first user).
    fn day_month(&self, a: u32, b: u32) -> (u32, u32) {
        let (d, m) = if self.rules.day_first { (a, b) } else { (b, a) };
        if m > 12 && d <= 12 {
            (m, d)
        } else {
            (d, m)
        }
    }

    fn with_year(&self, y: Option<i32>, m: u32, d: u32) -> Found {
        let date = match y {
            Some(y) => self.ymd(y, m, d),
            None => self.recent_md(m, d),
        };
        match date {
            Some(date) => Found::Date(date),
            None => Found::Unusable(format!("no such date: day {d} of month {m}")),
        }
    }

    /// A date expression starting at token `i`: its length in tokens and what it says.
    fn date_at(&self, i: usize) -> Option<(usize, Found)> {
        let t = &self.tokens[i];
        let w = self.word(i);

        // --- relative words -----------------------------------------------------------
        if let Some(w) = w {
            match w {
                "today" | "tonight" | "tdy" => return Some((1, Found::Date(self.rules.reference))),
                "yesterday" | "yday" | "yest" | "ystrdy" | "yesterdays" | "yesterday's" => {
                    return Some((1, Found::Date(self.days_back(1)?)))
                }
                "day" if self.word(i + 1) == Some("before") && self.word(i + 2) == Some("yesterday") => {
                    return Some((3, Found::Date(self.days_back(2)?)))
                }
                "last" | "past" | "this" | "on" | "previous" | "next" | "coming" => {
                    if let Some(found) = self.qualified(i, w) {
                        return Some(found);
                    }
                }
                _ => {}
            }
            // "friday" alone.
            if let Some((wd, alone)) = weekday(w) {
                if alone {
                    return Some((1, Found::Date(self.recent_weekday(wd, false))));
                }
            }
            // "a week ago", "two days ago", "couple of days back".
            if let Some(n) = small_number_word(w) {
                if let Some(found) = self.ago(i + 1, n) {
                    return Some(found);
                }
            }
            // "May 3", "Nov 10, 2018", "sept 25th" (but not "you may 5 times").
            let may_verb = w == "may"
                && i > 0
                && self.word(i - 1).is_some_and(|p| {
                    matches!(
                        p,
                        "i" | "you"
                            | "we"
                            | "they"
                            | "he"
                            | "she"
                            | "it"
                            | "this"
                            | "that"
                            | "which"
                            | "who"
                            | "there"
                    )
                });
            if let Some(m) = month_number(w).filter(|_| !may_verb) {
                let mut j = i + 1;
                if self.sym(j, '.') && self.glued(j) {
                    j += 1; // "Sept. 3"
                }
                if let Some(d) = self
                    .tokens
                    .get(j)
                    .and_then(digits)
                    .filter(|d| (1..=31).contains(d))
                {
                    if self.tokens[j].raw.len() <= 2 {
                        let mut len = j + 1 - i;
                        if self.word(j + 1).is_some_and(is_ordinal_suffix) && self.glued(j + 1) {
                            len += 1;
                        }
                        let (year, extra) = self.trailing_year(i + len);
                        return Some((len + extra, self.with_year(year, m, d)));
                    }
                }
            }
        }

        // --- numbers ------------------------------------------------------------------
        if !t.is_num() {
            return None;
        }
        // A single token with dots: "27.09.2018", "2018.10.05", "29.09" + ".".
        if t.raw.contains('.') && !t.raw.contains(',') {
            let parts: Vec<&str> = t.raw.split('.').collect();
            if parts.len() == 3 {
                return self.numeric_triple(&parts).map(|f| (1, f));
            }
            if parts.len() == 2 && parts.iter().all(|p| p.len() <= 2) {
                let trailing_dot = self.sym(i + 1, '.') && self.glued(i + 1);
                let after_on = i > 0 && matches!(self.word(i - 1), Some("on" | "dated" | "date"));
                if trailing_dot || after_on {
                    let a: u32 = parts[0].parse().ok()?;
                    let b: u32 = parts[1].parse().ok()?;
                    let (d, m) = self.day_month(a, b);
                    if (1..=12).contains(&m) && (1..=31).contains(&d) {
                        let len = if trailing_dot { 2 } else { 1 };
                        return Some((len, self.with_year(None, m, d)));
                    }
                }
            }
            return None;
        }
        // "20230511": a statement's compact year-month-day, when it is a real day of the last
        // ten years (a reference number rarely is one).
        if t.raw.len() == 8 && t.raw.bytes().all(|b| b.is_ascii_digit()) {
            let (y, m, d) = (&t.raw[..4], &t.raw[4..6], &t.raw[6..]);
            let (y, m, d): (i32, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
            let r = self.rules.reference;
            let date = NaiveDate::from_ymd_opt(y, m, d)?;
            let recent = date <= r + chrono::TimeDelta::days(1) && y >= r.year() - 10;
            return recent.then_some((1, Found::Date(date)));
        }
        let a = digits(t)?;
        // "19/09", "19/09/2018", "2018-10-05", "05-10-2018", "12/01/24".
        for sep in ['/', '-'] {
            if self.sym(i + 1, sep) && self.glued(i + 1) && self.glued(i + 2) {
                let Some(b) = self.tokens.get(i + 2).and_then(digits) else {
                    continue;
                };
                let third = self.sym(i + 3, sep) && self.glued(i + 3) && self.glued(i + 4);
                if third && self.tokens.get(i + 4).and_then(digits).is_some() {
                    let raw = [t.raw, self.tokens[i + 2].raw, self.tokens[i + 4].raw];
                    return self.numeric_triple(&raw).map(|f| (5, f));
                }
                // Two parts: a date only with a slash ("10-12" is more often a range).
                if sep == '/' && t.raw.len() <= 2 && self.tokens[i + 2].raw.len() <= 2 {
                    let (d, m) = self.day_month(a, b);
                    if (1..=12).contains(&m) && (1..=31).contains(&d) {
                        return Some((3, self.with_year(None, m, d)));
                    }
                }
            }
        }
        // "3 May", "3rd of May 2024", "03-May-24", "12Jan24", "25 sep".
        if t.raw.len() <= 2 && (1..=31).contains(&a) && !self.after_marker[i] {
            let mut j = i + 1;
            let ordinal = self.word(j).is_some_and(is_ordinal_suffix) && self.glued(j);
            if ordinal {
                j += 1;
            }
            if self.word(j) == Some("of") {
                j += 1;
            }
            let dashed = (self.sym(j, '-') || self.sym(j, '/') || self.sym(j, '.'))
                && self.glued(j)
                && self.glued(j + 1);
            if dashed {
                j += 1;
            }
            // "on 05 Mar 24": a zero-padded day (or one after "on") and a two-digit number
            // that is this year or last as a year: day, month and short year.
            let short_year = self.tokens.get(j + 1).and_then(|n| {
                let padded_day = t.raw.len() == 2
                    && (t.raw.starts_with('0') || i.checked_sub(1).and_then(|k| self.word(k)) == Some("on"));
                if !(padded_day && n.is_num() && n.space_before && n.raw.len() == 2) {
                    return None;
                }
                let y = digits(n).and_then(|v| year_of(2, v, self.rules.reference))?;
                let this_year = self.rules.reference.year();
                (y == this_year || y == this_year - 1).then_some(y)
            });
            // "lunch 12 May 3": the day is the number after the month, and 12 is money.
            let day_follows = short_year.is_none()
                && self.tokens.get(j + 1).is_some_and(|n| {
                    n.is_num() && n.space_before && n.raw.len() <= 2 && !self.before_marker[j + 1]
                });
            if let Some(m) = self
                .word(j)
                .and_then(month_number)
                .filter(|_| !day_follows || ordinal)
            {
                // "5 may be" is the verb.
                let is_may_verb =
                    self.word(j) == Some("may") && self.word(j + 1).is_some_and(follows_may_verb);
                if !is_may_verb {
                    let mut len = j + 1 - i;
                    // A two-digit year only when glued or dashed ("12Jan24", "03-May-24").
                    let close = self.tokens.get(j + 1).is_some_and(|n| !n.space_before);
                    let (year, extra) = if dashed
                        && self.sym(j + 1, self.tokens[j - 1].raw.chars().next().unwrap_or('-'))
                        && self.glued(j + 2)
                    {
                        match self.tokens.get(j + 2) {
                            Some(n) if n.is_num() => {
                                match digits(n).and_then(|v| year_of(n.raw.len(), v, self.rules.reference)) {
                                    Some(y) => (Some(y), 2),
                                    None => (None, 0),
                                }
                            }
                            _ => (None, 0),
                        }
                    } else if let Some(y) = short_year {
                        (Some(y), 1)
                    } else if close && self.tokens.get(j + 1).is_some_and(|n| n.is_num()) {
                        let n = &self.tokens[j + 1];
                        match digits(n).and_then(|v| year_of(n.raw.len(), v, self.rules.reference)) {
                            Some(y) => (Some(y), 1),
                            None => (None, 0),
                        }
                    } else {
                        self.trailing_year(j + 1)
                    };
                    len += extra;
                    let found = self.with_year(year, m, a);
                    if matches!(found, Found::Unusable(_)) && year.is_none() {
                        return None; // "30 feb 12": let "feb 12" be the date
                    }
                    return Some((len, found));
                }
            }
        }
        // "3 days ago", "2 weeks back".
        if let Some(found) = self.ago(i + 1, a) {
            return Some(found);
        }
        None
    }

    /// ", 2018" or " 2018" after a day and month: a four-digit year.
    fn trailing_year(&self, j: usize) -> (Option<i32>, usize) {
        let (k, extra) = if self.sym(j, ',') { (j + 1, 1) } else { (j, 0) };
        match self.tokens.get(k) {
            Some(n) if n.raw.len() == 4 => {
                match digits(n).and_then(|v| year_of(4, v, self.rules.reference)) {
                    Some(y) => (Some(y), extra + 1),
                    None => (None, 0),
                }
            }
            _ => (None, 0),
        }
    }

    /// "N days ago" with the count already read; `j` is the unit's index.
    fn ago(&self, j: usize, n: u32) -> Option<(usize, Found)> {
        let mut k = j;
        if self.word(k) == Some("of") {
            k += 1; // "couple of days ago"
        }
        let unit = self.word(k)?;
        let ago = matches!(self.word(k + 1), Some("ago" | "back"));
        if !ago {
            return None;
        }
        let n = u64::from(n);
        let date = match unit {
            "day" | "days" => self.days_back(n)?,
            "week" | "weeks" => self.days_back(n * 7)?,
            "fortnight" | "fortnights" => self.days_back(n * 14)?,
            "month" | "months" => self
                .rules
                .reference
                .checked_sub_months(Months::new(u32::try_from(n).ok()?))?,
            "year" | "years" => self
                .rules
                .reference
                .checked_sub_months(Months::new(u32::try_from(n).ok()? * 12))?,
            _ => return None,
        };
        Some((k + 2 - j + 1, Found::Date(date)))
    }

    /// "last friday", "on tue", "this morning", "last week", "on the 20th", "next monday".
    fn qualified(&self, i: usize, w: &str) -> Option<(usize, Found)> {
        let mut j = i + 1;
        // "on last friday"
        if w == "on" && matches!(self.word(j), Some("last" | "this" | "past")) {
            let inner = self.word(j)?;
            return self.qualified(j, inner).map(|(len, f)| (len + 1, f));
        }
        let next = self.word(j);
        if let Some((wd, _)) = next.and_then(weekday) {
            return Some(match w {
                "last" | "past" | "previous" => (2, Found::Date(self.recent_weekday(wd, true))),
                "next" | "coming" => (2, Found::Unusable(format!("'{w} {}' is in the future", next?))),
                _ => (2, Found::Date(self.recent_weekday(wd, false))),
            });
        }
        match (w, next) {
            ("this", Some("morning" | "afternoon" | "evening")) => {
                return Some((2, Found::Date(self.rules.reference)))
            }
            ("last", Some("night" | "evening")) => return Some((2, Found::Date(self.days_back(1)?))),
            ("last", Some("week")) => return Some((2, Found::Date(self.days_back(7)?))),
            _ => {}
        }
        // "on the 20th", "the 5th", "on 20th".
        if w == "on" || w == "this" {
            if self.word(j) == Some("the") {
                j += 1;
            }
            let day = self.tokens.get(j).and_then(digits)?;
            let ordinal = self.word(j + 1).is_some_and(is_ordinal_suffix) && self.glued(j + 1);
            // A month may follow ("on the 3rd of May"): leave that to the day-month rule.
            let mut k = j + if ordinal { 2 } else { 1 };
            if self.word(k) == Some("of") {
                k += 1;
            }
            if self.word(k).and_then(month_number).is_some() {
                return None;
            }
            if ordinal && self.tokens[j].raw.len() <= 2 {
                return Some(match self.recent_day(day) {
                    Some(date) => (j + 2 - i, Found::Date(date)),
                    None => (
                        j + 2 - i,
                        Found::Unusable(format!("no day {day} in recent months")),
                    ),
                });
            }
        }
        None
    }

    /// Three numeric parts: y-m-d when the first has four digits, else d-m-y (or m-d-y).
    fn numeric_triple(&self, parts: &[&str]) -> Option<Found> {
        let nums: Vec<u32> = parts.iter().map(|p| p.parse().ok()).collect::<Option<_>>()?;
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        let r = self.rules.reference;
        let (y, m, d) = if lens[0] == 4 {
            (year_of(4, nums[0], r)?, nums[1], nums[2])
        } else if lens[0] <= 2 && lens[1] <= 2 && (lens[2] == 2 || lens[2] == 4) {
            let (d, m) = self.day_month(nums[0], nums[1]);
            (year_of(lens[2], nums[2], r)?, m, d)
        } else {
            return None;
        };
        Some(match self.ymd(y, m, d) {
            Some(date) => Found::Date(date),
            None => Found::Unusable(format!("no such date: {}", parts.join("-"))),
        })
    }

    /// A time of day at token `i` ("7pm", "7:30", "14:33:20", "7.30 pm", "1430 hrs").
    fn time_at(&self, i: usize) -> Option<usize> {
        let t = &self.tokens[i];
        if !t.is_num() {
            return None;
        }
        let meridiem = |k: usize| {
            matches!(
                self.word(k),
                Some("am" | "pm" | "a" | "p" | "hrs" | "hr" | "h" | "uhr")
            )
        };
        // "14:33" / "14:33:20"
        if t.raw.len() <= 2 && self.sym(i + 1, ':') && self.glued(i + 1) && self.glued(i + 2) {
            if let Some(mm) = self.tokens.get(i + 2).filter(|n| n.is_num() && n.raw.len() == 2) {
                let _ = mm;
                let mut len = 3;
                if self.sym(i + 3, ':')
                    && self
                        .tokens
                        .get(i + 4)
                        .is_some_and(|n| n.is_num() && n.raw.len() == 2)
                {
                    len = 5;
                }
                if meridiem(i + len) {
                    len += 1;
                    if self.sym(i + len, '.') {
                        len += 1;
                    }
                }
                return Some(len);
            }
        }
        // "7pm", "7 pm", "7.30pm", "1430 hrs"
        let hourish = t.raw.len() <= 2 || (t.raw.len() <= 5 && t.raw.contains('.')) || t.raw.len() == 4;
        if hourish && meridiem(i + 1) {
            let w = self.word(i + 1)?;
            // "a"/"p" only glued ("7p"), and "h" only glued ("20h").
            if matches!(w, "a" | "p" | "h") && !self.glued(i + 1) {
                return None;
            }
            if t.raw.len() == 4 && !t.raw.contains('.') && !matches!(w, "hrs" | "hr" | "h") {
                return None;
            }
            let mut len = 2;
            // "7 p.m."
            if matches!(w, "a" | "p") && self.sym(i + 2, '.') && self.word(i + 3) == Some("m") {
                len = 4;
                if self.sym(i + 4, '.') {
                    len += 1;
                }
            }
            return Some(len);
        }
        None
    }
}

/// "08.21", "23.59": hours and minutes written with a dot.
fn dotted_clock(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.len() == 5
        && b[2] == b'.'
        && [b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit)
        && (b[0] - b'0') * 10 + (b[1] - b'0') <= 23
        && (b[3] - b'0') * 10 + (b[4] - b'0') <= 59
}

/// Finds dates and times, marks their tokens, and returns the first date.
pub(crate) fn scan(tokens: &[Token], roles: &mut [Role], rules: DateRules, markers: &[Marker]) -> DateScan {
    let mut after_marker = vec![false; tokens.len()];
    for m in markers {
        for k in [m.last + 1, m.last + 2] {
            if k < tokens.len() && tokens[k].is_num() {
                after_marker[k] = true;
                break;
            }
        }
    }
    let mut before_marker = vec![false; tokens.len()];
    for m in markers {
        if m.first > 0 && tokens[m.first - 1].is_num() {
            before_marker[m.first - 1] = true;
        }
    }
    let scanner = Scanner {
        tokens,
        rules,
        after_marker,
        before_marker,
    };
    let mut out = DateScan::default();
    let mut i = 0;
    while i < tokens.len() {
        if roles[i] != Role::Free {
            i += 1;
            continue;
        }
        // "24/11/2020 08.21": a dotted clock right after a date with its year, or a
        // zero-padded one, is the time of the transaction, not an amount.
        if i > 0
            && roles[i - 1] == Role::Date
            && tokens[i].space_before
            && dotted_clock(tokens[i].raw)
            && (tokens[i].raw.starts_with('0') || tokens[i - 1].raw.len() == 4)
        {
            roles[i] = Role::Time;
            i += 1;
            continue;
        }
        if let Some(len) = scanner.time_at(i) {
            let end = (i + len).min(tokens.len());
            roles[i..end].fill(Role::Time);
            i = end;
            continue;
        }
        if let Some((len, found)) = scanner.date_at(i) {
            let end = (i + len).min(tokens.len());
            roles[i..end].fill(Role::Date);
            if let (Some(first), Found::Date(date)) = (out.date, &found) {
                out.other_dates |= *date != first;
            }
            if out.date.is_none() {
                match found {
                    Found::Date(date) if date > rules.reference => {
                        if date - rules.reference <= chrono::TimeDelta::days(1) {
                            out.warnings.push(format!(
                                "date {date} is after the reference date {}; used {}",
                                rules.reference, rules.reference
                            ));
                            out.date = Some(rules.reference);
                        } else {
                            out.warnings
                                .push(format!("date {date} is in the future; ignored it"));
                        }
                    }
                    Found::Date(date) => out.date = Some(date),
                    Found::Unusable(why) => out.warnings.push(format!("{why}; ignored that date")),
                }
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::token::tokenize;
    use super::*;

    fn date(text: &str, reference: &str) -> Option<String> {
        date_rules(text, reference, true)
    }

    fn date_rules(text: &str, reference: &str, day_first: bool) -> Option<String> {
        let tokens = tokenize(text);
        let mut roles = vec![Role::Free; tokens.len()];
        let rules = DateRules {
            reference: reference.parse().unwrap(),
            day_first,
        };
        let markers = super::super::currency::find_markers(&tokens, false);
        scan(&tokens, &mut roles, rules, &markers)
            .date
            .map(|d| d.to_string())
    }

    // 2024-05-15 is a Wednesday.
    const WED: &str = "2024-05-15";

    #[test]
    fn relative_words() {
        assert_eq!(date("lunch today", WED).unwrap(), "2024-05-15");
        assert_eq!(date("Yesterday taxi", WED).unwrap(), "2024-05-14");
        assert_eq!(date("day before yesterday", WED).unwrap(), "2024-05-13");
        assert_eq!(date("3 days ago", WED).unwrap(), "2024-05-12");
        assert_eq!(date("a week ago", WED).unwrap(), "2024-05-08");
        assert_eq!(date("two weeks ago", WED).unwrap(), "2024-05-01");
        assert_eq!(date("a couple of days ago", WED).unwrap(), "2024-05-13");
        assert_eq!(date("last night", WED).unwrap(), "2024-05-14");
        assert_eq!(date("a month ago", WED).unwrap(), "2024-04-15");
    }

    #[test]
    fn weekdays_are_the_most_recent_past_one() {
        assert_eq!(date("on friday", WED).unwrap(), "2024-05-10");
        assert_eq!(date("last tue", WED).unwrap(), "2024-05-14");
        assert_eq!(date("on wednesday", WED).unwrap(), "2024-05-15");
        assert_eq!(date("last wednesday", WED).unwrap(), "2024-05-08");
        assert_eq!(date("Sunday", WED).unwrap(), "2024-05-12");
        assert_eq!(date("on sat", WED).unwrap(), "2024-05-11");
        assert_eq!(date("sat down", WED), None);
        assert_eq!(date("next friday", WED), None);
    }

    #[test]
    fn day_and_month_names() {
        assert_eq!(date("3rd May", WED).unwrap(), "2024-05-03");
        assert_eq!(date("May 3", WED).unwrap(), "2024-05-03");
        assert_eq!(date("on 25 sep", WED).unwrap(), "2023-09-25");
        assert_eq!(date("November 9", WED).unwrap(), "2023-11-09");
        assert_eq!(date("3rd of May 2023", WED).unwrap(), "2023-05-03");
        assert_eq!(date("Nov 10, 2018", WED).unwrap(), "2018-11-10");
        assert_eq!(date("03-May-24", WED).unwrap(), "2024-05-03");
        assert_eq!(date("on 12Jan24 trf", WED).unwrap(), "2024-01-12");
        assert_eq!(date("you may 5 times", WED), None);
        assert_eq!(date("copay $30 feb 12", WED).unwrap(), "2024-02-12");
        assert_eq!(
            date("Revolut: You paid €12.00 at Lime on 13 May", WED).unwrap(),
            "2024-05-13"
        );
        assert_eq!(date("about 5 may be more", WED), None);
    }

    #[test]
    fn the_nth() {
        assert_eq!(date("on the 20th", WED).unwrap(), "2024-04-20");
        assert_eq!(date("on the 5th", WED).unwrap(), "2024-05-05");
        assert_eq!(date("on 15th", WED).unwrap(), "2024-05-15");
        assert_eq!(date("on the 31st", "2024-05-15").unwrap(), "2024-03-31");
    }

    #[test]
    fn numeric_dates() {
        assert_eq!(date("2024-05-03", WED).unwrap(), "2024-05-03");
        assert_eq!(date("19/09", "2018-09-24").unwrap(), "2018-09-19");
        assert_eq!(date("03/05/24", WED).unwrap(), "2024-05-03");
        assert_eq!(date("03-05-2024", WED).unwrap(), "2024-05-03");
        assert_eq!(date("27.09.2018", WED).unwrap(), "2018-09-27");
        assert_eq!(date("on 29.09.", "2018-10-09").unwrap(), "2018-09-29");
        assert_eq!(date("On 06.11. snack", "2018-11-09").unwrap(), "2018-11-06");
        assert_eq!(date("paid 12.50", WED), None);
        assert_eq!(date_rules("05/03/24", WED, false).unwrap(), "2024-05-03");
        assert_eq!(date_rules("05/03/24", WED, true).unwrap(), "2024-03-05");
        // Impossible as month-first, so day-first.
        assert_eq!(date_rules("25/04", WED, false).unwrap(), "2024-04-25");
    }

    #[test]
    fn years_omitted_never_land_in_the_future() {
        assert_eq!(date("20/12", WED).unwrap(), "2023-12-20");
        assert_eq!(date("Dec 20", WED).unwrap(), "2023-12-20");
        assert_eq!(date("29 feb", "2025-03-01").unwrap(), "2024-02-29");
    }

    #[test]
    fn explicit_future_dates_are_dropped() {
        assert_eq!(date("2024-06-01", WED), None);
        assert_eq!(date("2024-05-16", WED).unwrap(), "2024-05-15");
    }

    #[test]
    fn times_are_not_dates_nor_amounts() {
        let tokens = tokenize("at 7pm 14:33:20 and 7.30 pm");
        let mut roles = vec![Role::Free; tokens.len()];
        let rules = DateRules {
            reference: WED.parse().unwrap(),
            day_first: true,
        };
        let out = scan(&tokens, &mut roles, rules, &[]);
        assert!(out.date.is_none());
        assert!(tokens
            .iter()
            .zip(&roles)
            .filter(|(t, _)| t.is_num())
            .all(|(_, r)| *r == Role::Time));
    }
}
