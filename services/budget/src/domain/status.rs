//! A period's spending against a budget: the status a client sees, and which alert
//! thresholds a change of spending crosses upward. Integer arithmetic only (i128, so
//! `spent × 100` cannot overflow).

/// What the projection holds for one budget and period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spending {
    /// Sum of the counted expenses, minor units of the budget's currency.
    pub spent: i64,
    /// Expenses counted in `spent`.
    pub count: i64,
    /// Expenses of the period and category in another currency, left out.
    pub other_currency: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Below the lowest alert threshold.
    Under,
    /// At or past the lowest threshold, below 100%.
    Warning,
    /// At or past 100%.
    Over,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub spent: i64,
    /// `amount - spent`: negative when over.
    pub remaining: i64,
    /// `spent / amount × 100`, rounded down (saturating at i32::MAX).
    pub percent: i32,
    pub state: State,
}

/// Whether `spent` is at or past `percent`% of `amount`.
fn reached(spent: i64, amount: i64, percent: i32) -> bool {
    i128::from(spent) * 100 >= i128::from(percent) * i128::from(amount)
}

impl Status {
    /// `amount` is positive (a budget's); `alert_percents` ascending.
    pub fn of(spent: i64, amount: i64, alert_percents: &[i32]) -> Self {
        let percent = (i128::from(spent) * 100).div_euclid(i128::from(amount.max(1)));
        let state = if reached(spent, amount, 100) {
            State::Over
        } else if alert_percents
            .iter()
            .min()
            .is_some_and(|&lowest| reached(spent, amount, lowest))
        {
            State::Warning
        } else {
            State::Under
        };
        Status {
            spent,
            remaining: amount.saturating_sub(spent),
            percent: i32::try_from(percent.max(0)).unwrap_or(i32::MAX),
            state,
        }
    }
}

/// Spending of one period against one budget amount, for [`crossed_thresholds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub spent: i64,
    pub amount: i64,
}

/// The thresholds of `alert_percents` that a change takes from below (at `before`) to at
/// or above (at `after`), ascending. Nothing when spending falls or stays. The amounts may
/// differ: an edit of the budget's amount moves its percent too.
pub fn crossed_thresholds(before: Level, after: Level, alert_percents: &[i32]) -> Vec<i32> {
    alert_percents
        .iter()
        .copied()
        .filter(|&t| !reached(before.spent, before.amount, t) && reached(after.spent, after.amount, t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percent_is_rounded_down_and_the_state_follows_the_thresholds() {
        let s = Status::of(7999, 10_000, &[80, 100]);
        assert_eq!((s.percent, s.state, s.remaining), (79, State::Under, 2001));
        let s = Status::of(8000, 10_000, &[80, 100]);
        assert_eq!((s.percent, s.state), (80, State::Warning));
        let s = Status::of(10_000, 10_000, &[80, 100]);
        assert_eq!((s.percent, s.state, s.remaining), (100, State::Over, 0));
        let s = Status::of(12_345, 10_000, &[50]);
        assert_eq!((s.percent, s.state, s.remaining), (123, State::Over, -2345));
        let s = Status::of(0, 1, &[80]);
        assert_eq!((s.percent, s.state), (0, State::Under));
    }

    #[test]
    fn huge_amounts_do_not_overflow() {
        let s = Status::of(i64::MAX, 1, &[80]);
        assert_eq!(s.percent, i32::MAX);
        assert_eq!(s.state, State::Over);
        let (zero, full) = (
            Level {
                spent: 0,
                amount: i64::MAX,
            },
            Level {
                spent: i64::MAX,
                amount: i64::MAX,
            },
        );
        assert_eq!(crossed_thresholds(zero, full, &[1, 100, 1000]), vec![1, 100]);
    }

    #[test]
    fn only_upward_crossings_count() {
        let t = [80, 100];
        let at = |spent, amount| Level { spent, amount };
        let crossed = |b, a| crossed_thresholds(at(b, 10_000), at(a, 10_000), &t);
        assert_eq!(crossed(7000, 8000), vec![80]);
        assert_eq!(crossed(7000, 12_000), vec![80, 100]);
        assert_eq!(crossed(8000, 9000), Vec::<i32>::new());
        assert_eq!(crossed(12_000, 7000), Vec::<i32>::new());
        // Exactly at the threshold is "at or above": 33% of 300 is 99.
        assert_eq!(crossed_thresholds(at(98, 300), at(99, 300), &[33, 34]), vec![33]);
        // Lowering the amount from 10,000 to 8,000 at 7,000 spent crosses 80%.
        assert_eq!(crossed_thresholds(at(7000, 10_000), at(7000, 8000), &t), vec![80]);
    }
}
