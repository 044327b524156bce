//! The gRPC adapter: authenticate, parse the request into domain types, run the store's
//! transaction, map the result. The user always comes from the verified token.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use contracts::budget::{
    self as pb, budget_service_server::BudgetService, CreateBudgetRequest, DeleteBudgetRequest,
    DeleteBudgetResponse, GetBudgetRequest, ListAlertsRequest, ListAlertsResponse, ListBudgetsRequest,
    ListBudgetsResponse, UpdateBudgetRequest,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use domain::Currency;
use platform::{db::PgPool, grpc::caller, jwt::Caller, profile::Profiles, Error};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    alerts,
    domain::{
        budget_id_for_request, parse_alert_percents, parse_category, parse_money, parse_name, parse_on,
        parse_period, BudgetError, BudgetSpec, FieldError, Level, PeriodKind, MAX_BUDGETS_PER_USER,
    },
    page_token, proto,
    store::{
        models::{BudgetRow, CorruptRow, DayTotal},
        queries,
    },
};

/// ListAlerts' page size when the request says 0, and the most it may ask.
const DEFAULT_PAGE_SIZE: i32 = 50;
const MAX_PAGE_SIZE: i32 = 100;
/// The fields UpdateBudget's mask may name.
const MASKABLE: [&str; 6] = [
    "name",
    "amount",
    "currency",
    "category",
    "period",
    "alert_percents",
];

pub struct BudgetGrpc {
    pool: PgPool,
    profiles: Profiles,
    default_zone: Tz,
}

impl BudgetGrpc {
    pub fn new(pool: PgPool, profiles: Profiles, default_zone: Tz) -> Self {
        Self {
            pool,
            profiles,
            default_zone,
        }
    }

    /// Today in the caller's zone: the profile's, else the configured default (the
    /// profile only supplies a default, so its failure is logged, not returned).
    async fn today(&self, caller: &Caller) -> NaiveDate {
        let zone = match self.profiles.preferences(caller).await {
            Ok(p) => p.zone.unwrap_or(self.default_zone),
            Err(e) => {
                tracing::warn!(reason = %e, zone = %self.default_zone, "no profile zone; using the default");
                self.default_zone
            }
        };
        Utc::now().with_timezone(&zone).date_naive()
    }

    /// The request's `on`, else today.
    async fn day(&self, caller: &Caller, on: &str) -> Result<NaiveDate, Status> {
        match parse_on(on).map_err(|e| BudgetError::Invalid(vec![e]))? {
            Some(day) => Ok(day),
            None => Ok(self.today(caller).await),
        }
    }

    async fn conn(
        &self,
    ) -> Result<diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>, Status> {
        self.pool.get().await.map_err(|e| Status::from(Error::from(e)))
    }
}

// === errors ===

impl From<BudgetError> for Status {
    fn from(e: BudgetError) -> Self {
        match e {
            BudgetError::Invalid(_) => Error::invalid(e.to_string()).into(),
            BudgetError::NotFound => Error::not_found(e.to_string()).into(),
            // A cap, not throttling: waiting does not help, so no retry-after (platform's
            // ResourceExhausted always carries one). Same code, same HTTP 429 at the edge.
            BudgetError::TooMany(_) => Status::resource_exhausted(e.to_string()),
        }
    }
}

/// Why a transaction failed: the request, the database, or a stored row.
#[derive(Debug)]
enum Failure {
    Budget(BudgetError),
    Db(diesel::result::Error),
    Corrupt(CorruptRow),
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<BudgetError> for Failure {
    fn from(e: BudgetError) -> Self {
        Failure::Budget(e)
    }
}

impl From<CorruptRow> for Failure {
    fn from(e: CorruptRow) -> Self {
        Failure::Corrupt(e)
    }
}

impl From<Failure> for Status {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Budget(e) => e.into(),
            Failure::Db(e) => Error::from(e).into(),
            Failure::Corrupt(e) => Error::internal(e).into(),
        }
    }
}

fn parse_id(raw: &str) -> Result<Uuid, BudgetError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| BudgetError::invalid("id", format!("{:?} is not a budget id (a UUID)", snippet(raw))))
}

fn snippet(s: &str) -> String {
    s.chars().take(64).collect()
}

fn exponent(currency: &str) -> u32 {
    Currency::parse(currency).map_or(2, |c| c.exponent())
}

fn kind_of(row: &BudgetRow) -> Result<PeriodKind, CorruptRow> {
    PeriodKind::from_name(&row.period).ok_or_else(|| CorruptRow {
        id: row.id,
        what: "period",
        value: row.period.clone(),
    })
}

/// The budget with the spending of the period containing `day`.
async fn with_status(
    conn: &mut AsyncPgConnection,
    row: &BudgetRow,
    day: NaiveDate,
) -> Result<pb::Budget, Failure> {
    let period = kind_of(row)?.containing(day);
    let spending =
        queries::spending(conn, row.user_id, &row.currency, row.category.as_deref(), period).await?;
    Ok(proto::budget(row, exponent(&row.currency), period, spending))
}

/// The value, or `None` with its error recorded.
fn keep<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// The fields of a create request, every violation listed.
fn parse_create(r: &CreateBudgetRequest) -> Result<(BudgetSpec, Option<Uuid>), BudgetError> {
    let mut errors: Vec<FieldError> = vec![];
    let name = keep(&mut errors, parse_name(&r.name));
    let amount = keep(&mut errors, parse_money(&r.amount, &r.currency));
    let category = keep(&mut errors, parse_category(r.category));
    let period = keep(&mut errors, parse_period(r.period));
    let alert_percents = keep(&mut errors, parse_alert_percents(&r.alert_percents));
    let request_id = keep(
        &mut errors,
        if r.request_id.trim().is_empty() {
            Ok(None)
        } else {
            Uuid::parse_str(r.request_id.trim()).map(Some).map_err(|_| {
                FieldError::new(
                    "request_id",
                    format!(
                        "{:?} is not a UUID; send a UUID you generate, or none",
                        snippet(&r.request_id)
                    ),
                )
            })
        },
    );
    match (name, amount, category, period, alert_percents, request_id) {
        (Some(name), Some(amount), Some(category), Some(period), Some(alert_percents), Some(request_id)) => {
            Ok((
                BudgetSpec {
                    name,
                    amount,
                    category,
                    period,
                    alert_percents,
                },
                request_id,
            ))
        }
        _ => Err(BudgetError::Invalid(errors)),
    }
}

/// The mask's fields; every name must be one of [`MASKABLE`].
fn parse_mask(mask: &[String]) -> Result<Vec<&'static str>, BudgetError> {
    if mask.is_empty() {
        return Err(BudgetError::invalid(
            "update_mask",
            format!("is empty; name the fields to change: {}", MASKABLE.join(", ")),
        ));
    }
    let mut fields = vec![];
    for f in mask {
        let Some(known) = MASKABLE.iter().find(|m| **m == f.trim()) else {
            return Err(BudgetError::invalid(
                "update_mask",
                format!(
                    "{:?} is not a field of a budget; expected {}",
                    snippet(f),
                    MASKABLE.join(", ")
                ),
            ));
        };
        fields.push(*known);
    }
    Ok(fields)
}

/// `old` with the masked fields of `r`, every violation listed.
fn apply_mask(old: &BudgetSpec, r: &UpdateBudgetRequest, mask: &[&str]) -> Result<BudgetSpec, BudgetError> {
    let has = |f: &str| mask.contains(&f);
    let mut errors: Vec<FieldError> = vec![];
    let mut new = old.clone();
    if has("name") {
        parse_name(&r.name)
            .map(|v| new.name = v)
            .unwrap_or_else(|e| errors.push(e));
    }
    if has("amount") || has("currency") {
        // The unmasked half keeps its value: a currency change keeps the amount's digits.
        let amount = if has("amount") {
            r.amount.clone()
        } else {
            old.amount.to_decimal_string()
        };
        let currency = if has("currency") {
            r.currency.as_str()
        } else {
            old.amount.currency().code()
        };
        parse_money(&amount, currency)
            .map(|v| new.amount = v)
            .unwrap_or_else(|e| errors.push(e));
    }
    if has("category") {
        parse_category(r.category)
            .map(|v| new.category = v)
            .unwrap_or_else(|e| errors.push(e));
    }
    if has("period") {
        parse_period(r.period)
            .map(|v| new.period = v)
            .unwrap_or_else(|e| errors.push(e));
    }
    if has("alert_percents") {
        parse_alert_percents(&r.alert_percents)
            .map(|v| new.alert_percents = v)
            .unwrap_or_else(|e| errors.push(e));
    }
    BudgetError::collect(errors).map(|()| new)
}

#[tonic::async_trait]
impl BudgetService for BudgetGrpc {
    async fn create_budget(&self, req: Request<CreateBudgetRequest>) -> Result<Response<pb::Budget>, Status> {
        let caller = caller(&req)?.clone();
        let (spec, request_id) = parse_create(req.get_ref())?;
        let user_id = caller.user_id;
        let id = request_id.map_or_else(Uuid::now_v7, |r| budget_id_for_request(user_id, r));
        let today = self.today(&caller).await;
        let mut conn = self.conn().await?;
        let row = conn
            .transaction::<BudgetRow, Failure, _>(async move |conn| {
                queries::lock_user(conn, user_id).await?;
                if let Some(request_id) = request_id {
                    if let Some(existing) =
                        queries::find_budget_by_request(conn, user_id, id, request_id).await?
                    {
                        if existing.request_fingerprint.as_deref() == Some(spec.fingerprint().as_str()) {
                            return Ok(existing);
                        }
                        return Err(BudgetError::invalid(
                            "request_id",
                            "was already used for a different budget; send a new request_id for a new budget",
                        )
                        .into());
                    }
                }
                if queries::count_budgets(conn, user_id).await? >= MAX_BUDGETS_PER_USER as i64 {
                    return Err(BudgetError::TooMany(MAX_BUDGETS_PER_USER).into());
                }
                let row =
                    queries::insert_budget(conn, &BudgetRow::new(id, user_id, &spec, request_id)).await?;
                // A budget created when spending is already past thresholds says so at once.
                let period = spec.period.containing(today);
                let spent = queries::spending(conn, user_id, &row.currency, row.category.as_deref(), period)
                    .await?
                    .spent;
                let amount = row.amount_minor;
                alerts::raise(
                    conn,
                    &row,
                    period,
                    Level { spent: 0, amount },
                    Level { spent, amount },
                )
                .await?;
                Ok(row)
            })
            .await?;
        Ok(Response::new(with_status(&mut conn, &row, today).await?))
    }

    async fn get_budget(&self, req: Request<GetBudgetRequest>) -> Result<Response<pb::Budget>, Status> {
        let caller = caller(&req)?.clone();
        let id = parse_id(&req.get_ref().id)?;
        let day = self.day(&caller, &req.get_ref().on).await?;
        let mut conn = self.conn().await?;
        let row = queries::find_budget(&mut conn, caller.user_id, id)
            .await
            .map_err(Failure::from)?
            .ok_or(BudgetError::NotFound)?;
        Ok(Response::new(with_status(&mut conn, &row, day).await?))
    }

    async fn list_budgets(
        &self,
        req: Request<ListBudgetsRequest>,
    ) -> Result<Response<ListBudgetsResponse>, Status> {
        let caller = caller(&req)?.clone();
        let day = self.day(&caller, &req.get_ref().on).await?;
        let conn = self.conn().await?;
        // The days of every period a budget can have on `day` (its month and its week),
        // known before the budgets are: their query and the day totals' go out together,
        // one round trip for both.
        let periods = [PeriodKind::Monthly, PeriodKind::Weekly].map(|k| k.containing(day));
        let from = periods.iter().map(|p| p.start).min().unwrap_or(day);
        let to = periods.iter().map(|p| p.end).max().unwrap_or(day);
        let (rows, totals) = futures::try_join!(
            queries::budgets_of(&conn, caller.user_id),
            queries::day_totals(&conn, caller.user_id, from, to)
        )
        .map_err(Failure::from)?;
        let mut periods = HashMap::new();
        for row in &rows {
            periods.insert(row.id, kind_of(row).map_err(Failure::from)?.containing(day));
        }
        let budgets = rows
            .iter()
            .map(|row| {
                let period = periods[&row.id];
                proto::budget(
                    row,
                    exponent(&row.currency),
                    period,
                    DayTotal::spending_of(&totals, &row.currency, row.category.as_deref(), period),
                )
            })
            .collect();
        Ok(Response::new(ListBudgetsResponse { budgets }))
    }

    async fn update_budget(&self, req: Request<UpdateBudgetRequest>) -> Result<Response<pb::Budget>, Status> {
        let caller = caller(&req)?.clone();
        let r = req.into_inner();
        let id = parse_id(&r.id)?;
        let mask = parse_mask(&r.update_mask)?;
        let user_id = caller.user_id;
        let today = self.today(&caller).await;
        let mut conn = self.conn().await?;
        let row = conn
            .transaction::<BudgetRow, Failure, _>(async move |conn| {
                queries::lock_user(conn, user_id).await?;
                let mut row = queries::find_budget(conn, user_id, id)
                    .await?
                    .ok_or(BudgetError::NotFound)?;
                let old = row.spec()?;
                let new = apply_mask(&old, &r, &mask)?;
                // The current period's level under the old definition, then the new one:
                // an edit that takes it past a threshold raises that alert.
                let before_period = old.period.containing(today);
                let before = queries::spending(
                    conn,
                    user_id,
                    &row.currency,
                    row.category.as_deref(),
                    before_period,
                )
                .await?
                .spent;
                let before = Level {
                    spent: before,
                    amount: row.amount_minor,
                };
                row.set_spec(&new);
                let row = queries::update_budget(conn, &row).await?;
                let period = new.period.containing(today);
                let after = queries::spending(conn, user_id, &row.currency, row.category.as_deref(), period)
                    .await?
                    .spent;
                let after = Level {
                    spent: after,
                    amount: row.amount_minor,
                };
                alerts::raise(conn, &row, period, before, after).await?;
                Ok(row)
            })
            .await?;
        Ok(Response::new(with_status(&mut conn, &row, today).await?))
    }

    async fn delete_budget(
        &self,
        req: Request<DeleteBudgetRequest>,
    ) -> Result<Response<DeleteBudgetResponse>, Status> {
        let caller = caller(&req)?.clone();
        let id = parse_id(&req.get_ref().id)?;
        let user_id = caller.user_id;
        let mut conn = self.conn().await?;
        // Under the user's lock like every writer: a chunk of changes being applied reads
        // the user's budgets once and relies on them staying until it commits.
        let deleted = conn
            .transaction::<bool, Failure, _>(async move |conn| {
                queries::lock_user(conn, user_id).await?;
                Ok(queries::delete_budget(conn, user_id, id).await?)
            })
            .await?;
        if !deleted {
            return Err(BudgetError::NotFound.into());
        }
        Ok(Response::new(DeleteBudgetResponse {}))
    }

    async fn list_alerts(
        &self,
        req: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        let caller = caller(&req)?.clone();
        let r = req.get_ref();
        let size = match r.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            n => {
                return Err(BudgetError::invalid(
                    "page_size",
                    format!("{n} is out of range; ask 1 to {MAX_PAGE_SIZE}, or 0 for {DEFAULT_PAGE_SIZE}"),
                )
                .into())
            }
        };
        let after = page_token::decode(r.page_token.trim()).map_err(|e| BudgetError::Invalid(vec![e]))?;
        let mut conn = self.conn().await?;
        let mut rows = queries::alerts_of(&mut conn, caller.user_id, after, i64::from(size) + 1)
            .await
            .map_err(Failure::from)?;
        let more = rows.len() > size as usize;
        rows.truncate(size as usize);
        let next_page_token = match rows.last() {
            Some(last) if more => page_token::encode(last.created_at, last.id),
            _ => String::new(),
        };
        Ok(Response::new(ListAlertsResponse {
            alerts: rows.iter().map(alerts::to_proto).collect(),
            next_page_token,
        }))
    }
}
