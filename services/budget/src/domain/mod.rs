//! Budgets' types and rules, with no tonic, diesel or rdkafka: what a budget is, its
//! periods, its spending status, and which thresholds a change crosses.

mod budget;
mod error;
mod period;
mod status;

pub use budget::{
    alert_id, budget_id_for_request, parse_alert_percents, parse_category, parse_money, parse_name, parse_on,
    parse_period, BudgetSpec, DEFAULT_ALERT_PERCENTS, MAX_BUDGETS_PER_USER,
};
pub use domain::format_minor;
pub use error::{BudgetError, FieldError};
pub use period::{Period, PeriodKind};
pub use status::{crossed_thresholds, Level, Spending, State, Status};
