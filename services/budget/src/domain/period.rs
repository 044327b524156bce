//! Budget periods: calendar months, or ISO weeks (Monday first), of an expense's
//! `occurred_on`.

use chrono::{Datelike, Days, Months, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodKind {
    Monthly,
    Weekly,
}

/// The first and last day of one period, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Monthly => "MONTHLY",
            PeriodKind::Weekly => "WEEKLY",
        }
    }

    /// The stored name back; `None` for anything else (a row this version did not write).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "MONTHLY" => Some(PeriodKind::Monthly),
            "WEEKLY" => Some(PeriodKind::Weekly),
            _ => None,
        }
    }

    /// The period of this kind that contains `day`.
    pub fn containing(self, day: NaiveDate) -> Period {
        match self {
            PeriodKind::Monthly => {
                let start = day.with_day(1).unwrap_or(day);
                // The day before the first of next month; saturates at chrono's last date.
                let end = start
                    .checked_add_months(Months::new(1))
                    .and_then(|d| d.pred_opt())
                    .unwrap_or(NaiveDate::MAX);
                Period { start, end }
            }
            PeriodKind::Weekly => {
                let back = u64::from(day.weekday().num_days_from_monday());
                let start = day.checked_sub_days(Days::new(back)).unwrap_or(NaiveDate::MIN);
                let end = start.checked_add_days(Days::new(6)).unwrap_or(NaiveDate::MAX);
                Period { start, end }
            }
        }
    }
}

impl Period {
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_are_calendar_months() {
        let p = PeriodKind::Monthly.containing(d("2024-02-17"));
        assert_eq!((p.start, p.end), (d("2024-02-01"), d("2024-02-29")));
        let p = PeriodKind::Monthly.containing(d("2026-12-31"));
        assert_eq!((p.start, p.end), (d("2026-12-01"), d("2026-12-31")));
    }

    #[test]
    fn weeks_start_on_monday_and_cross_years() {
        // 2026-01-01 is a Thursday: its ISO week starts on Monday 2025-12-29.
        let p = PeriodKind::Weekly.containing(d("2026-01-01"));
        assert_eq!((p.start, p.end), (d("2025-12-29"), d("2026-01-04")));
        let monday = PeriodKind::Weekly.containing(d("2026-12-07"));
        assert_eq!(monday.start, d("2026-12-07"));
        let sunday = PeriodKind::Weekly.containing(d("2026-12-13"));
        assert_eq!(sunday, monday);
        assert!(sunday.contains(d("2026-12-10")) && !sunday.contains(d("2026-12-14")));
    }

    #[test]
    fn the_ends_of_the_calendar_do_not_panic() {
        for kind in [PeriodKind::Monthly, PeriodKind::Weekly] {
            for day in [NaiveDate::MIN, NaiveDate::MAX] {
                let p = kind.containing(day);
                assert!(p.contains(day), "{kind:?} {day}");
            }
        }
    }
}
