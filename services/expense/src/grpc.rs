//! The gRPC adapter: authenticate, parse the request into domain types, call the store,
//! map the result. The user always comes from the verified token, never from the request.

use contracts::{
    events::ExpenseChanged,
    expense::{
        self as pb, expense_service_server::ExpenseService, CreateExpenseRequest, DeleteExpenseRequest,
        DeleteExpenseResponse, ExportExpensesRequest, ExportExpensesResponse, GetExpenseRequest,
        ListExpensesRequest, ListExpensesResponse, ListRecurringExpensesRequest,
        ListRecurringExpensesResponse, SummarizeExpensesRequest, SummarizeExpensesResponse, SummaryGroup,
        UpdateExpenseRequest,
    },
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use domain::Currency;
use platform::{
    db::PgPool,
    grpc::caller,
    requests::{self, Fingerprint},
    Error,
};
use tonic::{Request, Response, Status};

use crate::{
    changes::{self, Cause},
    domain::{
        export::{self, ExportQuery},
        format_minor_total, next_page_token, parse_id,
        recurring::{self, Occurrence},
        Cursor, Expense, ExpenseError, ExpenseUpdate, ListFilter, ListInput, ListQuery, ManualInput,
        SummaryQuery, UpdateInput,
    },
    proto,
    store::{models::ExpenseRow, queries},
};

/// Ids of expenses created with a `request_id`: UUIDv5 of (user, request_id) in this
/// namespace, so a retry after its record expired cannot create a second expense.
const CREATED_EXPENSE_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x0e6b_3f7c_92d1_4a58_b7c3_6d1e_f2a0_48b9);

pub struct ExpenseGrpc {
    pool: PgPool,
}

impl ExpenseGrpc {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl From<ExpenseError> for Error {
    fn from(e: ExpenseError) -> Self {
        match e {
            ExpenseError::Invalid(_) => Error::invalid(e.to_string()),
            ExpenseError::NotFound => Error::not_found(e.to_string()),
        }
    }
}

/// Errors of a transaction: the domain's, the database's, or a stored row that does not parse.
enum TxError {
    Domain(ExpenseError),
    Db(diesel::result::Error),
    Internal(Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(e)
    }
}

impl From<TxError> for Error {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Domain(e) => e.into(),
            TxError::Db(e) => e.into(),
            TxError::Internal(e) => e,
        }
    }
}

fn row_to_proto(row: ExpenseRow) -> Result<pb::Expense, Error> {
    Ok(proto::expense(&Expense::try_from(row)?))
}

/// Writes a change's event to the outbox; call it in the change's transaction.
async fn announce(conn: &mut AsyncPgConnection, event: ExpenseChanged) -> Result<(), TxError> {
    let id = platform::outbox::enqueue(conn, &event).await?;
    tracing::debug!(event_id = %id, kind = event.kind, "ExpenseChanged queued in the outbox");
    Ok(())
}

#[tonic::async_trait]
impl ExpenseService for ExpenseGrpc {
    async fn create_expense(
        &self,
        req: Request<CreateExpenseRequest>,
    ) -> Result<Response<pb::Expense>, Status> {
        let user_id = caller(&req)?.user_id;
        let r = req.get_ref();
        let key = requests::key(user_id, &r.request_id)?;
        let mut expense = Expense::manual(
            user_id,
            ManualInput {
                amount: &r.amount,
                currency: &r.currency,
                merchant: &r.merchant,
                category: r.category,
                occurred_on: &r.occurred_on,
                note: &r.note,
            },
            crate::domain::now(),
        )
        .map_err(Error::from)?;
        if let Some(key) = key {
            expense.id = requests::derive_id(CREATED_EXPENSE_NAMESPACE, key);
        }
        let fingerprint = Fingerprint::of(
            "expense_tracker.expense.v1.ExpenseService/CreateExpense",
            &CreateExpenseRequest {
                request_id: String::new(),
                ..r.clone()
            },
        );
        let row = ExpenseRow::from(&expense);
        // The answer, known before the insert (the row is written as built), so it can be
        // recorded in the insert's transaction.
        let answer = proto::expense(&expense);
        let event = changes::recorded(&expense, Cause::Manual);
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        // The user lock and the tombstone check keep a deleted account (whose access token
        // lives on for a few minutes) from writing after its purge.
        let stored = conn
            .transaction::<Option<(pb::Expense, bool)>, TxError, _>(async move |conn| {
                queries::lock_users_shared(conn, [user_id]).await?;
                if queries::is_deleted_user(conn, user_id).await? {
                    return Ok(None);
                }
                // A retry (or a concurrent duplicate, which waits here for the first to
                // commit) answers the recorded answer and writes nothing.
                if let Some(key) = key {
                    if let Some(first) = requests::record(conn, key, &fingerprint, &answer, true)
                        .await
                        .map_err(TxError::Internal)?
                    {
                        return Ok(Some((first.response, false)));
                    }
                }
                let row = match queries::insert(conn, &row).await {
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) if key.is_some() => {
                        return Err(TxError::Internal(Error::AlreadyExists(format!(
                            "request_id {} made expense {} more than {} hours ago and is no longer \
                             remembered; send a new request_id for a new expense",
                            key.map(|k| k.request_id.to_string()).unwrap_or_default(),
                            row.id,
                            requests::RETENTION.as_secs() / 3600
                        ))))
                    }
                    other => other?,
                };
                announce(conn, event).await?;
                Ok(Some((row_to_proto(row).map_err(TxError::Internal)?, true)))
            })
            .await
            .map_err(Error::from)?;
        let Some((expense, created)) = stored else {
            return Err(Error::PermissionDenied("this account is deleted".into()).into());
        };
        if created {
            tracing::info!(%user_id, id = %expense.id, "expense created");
        } else {
            tracing::info!(%user_id, id = %expense.id, request_id = %r.request_id.trim(), "expense creation retried; answered as the first time");
        }
        Ok(Response::new(expense))
    }

    async fn get_expense(&self, req: Request<GetExpenseRequest>) -> Result<Response<pb::Expense>, Status> {
        let user_id = caller(&req)?.user_id;
        let id = parse_id(&req.get_ref().id).map_err(Error::from)?;
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        let row = queries::find_by_id_for_user(&mut conn, user_id, id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::from(ExpenseError::NotFound))?;
        Ok(Response::new(row_to_proto(row)?))
    }

    async fn list_expenses(
        &self,
        req: Request<ListExpensesRequest>,
    ) -> Result<Response<ListExpensesResponse>, Status> {
        let user_id = caller(&req)?.user_id;
        let r = req.get_ref();
        let query = ListQuery::parse(ListInput {
            from: &r.from,
            to: &r.to,
            category: r.category,
            merchant: &r.merchant,
            min_amount: &r.min_amount,
            max_amount: &r.max_amount,
            currency: &r.currency,
            page_size: r.page_size,
            page_token: &r.page_token,
        })
        .map_err(Error::from)?;
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        let mut rows = queries::list_page(&mut conn, user_id, &query)
            .await
            .map_err(Error::from)?;
        // One row more than the page was asked for: its presence says a next page exists.
        let more = rows.len() > query.page_size;
        rows.truncate(query.page_size);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => next_page_token(
                &query.filter,
                Cursor {
                    occurred_on: last.occurred_on,
                    id: last.id,
                },
            ),
            _ => String::new(),
        };
        let expenses = rows.into_iter().map(row_to_proto).collect::<Result<_, _>>()?;
        Ok(Response::new(ListExpensesResponse {
            expenses,
            next_page_token,
        }))
    }

    async fn update_expense(
        &self,
        req: Request<UpdateExpenseRequest>,
    ) -> Result<Response<pb::Expense>, Status> {
        let user_id = caller(&req)?.user_id;
        let r = req.get_ref();
        let id = parse_id(&r.id).map_err(Error::from)?;
        let now = crate::domain::now();
        let update = ExpenseUpdate::parse(
            &r.update_mask,
            UpdateInput {
                amount: &r.amount,
                currency: &r.currency,
                merchant: &r.merchant,
                category: r.category,
                occurred_on: &r.occurred_on,
                note: &r.note,
            },
            now,
        )
        .map_err(Error::from)?;
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        // Read, change and write under the row lock: a concurrent update cannot slip between.
        let (expense, changed) = conn
            .transaction::<_, TxError, _>(async move |conn| {
                let row = queries::find_by_id_for_user_for_update(conn, user_id, id)
                    .await?
                    .ok_or(TxError::Domain(ExpenseError::NotFound))?;
                let before = Expense::try_from(row).map_err(TxError::Internal)?;
                let mut after = before.clone();
                let changed = update.apply(&mut after, now).map_err(TxError::Domain)?;
                // Writing the stored values again is not a change: no write, no event.
                if changed.is_empty() {
                    return Ok((before, changed));
                }
                let row = queries::update(conn, &ExpenseRow::from(&after)).await?;
                announce(conn, changes::updated(&before, &after, &changed, Cause::Manual)).await?;
                Ok((Expense::try_from(row).map_err(TxError::Internal)?, changed))
            })
            .await
            .map_err(Error::from)?;
        tracing::info!(%user_id, %id, mask = ?r.update_mask, changed = ?changed, version = expense.version, "expense updated");
        Ok(Response::new(proto::expense(&expense)))
    }

    async fn delete_expense(
        &self,
        req: Request<DeleteExpenseRequest>,
    ) -> Result<Response<DeleteExpenseResponse>, Status> {
        let user_id = caller(&req)?.user_id;
        let id = parse_id(&req.get_ref().id).map_err(Error::from)?;
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        // The event carries the row as the DELETE removed it: the last version, exactly.
        let version = conn
            .transaction::<_, TxError, _>(async move |conn| {
                let row = queries::delete_by_id_for_user(conn, user_id, id)
                    .await?
                    .ok_or(TxError::Domain(ExpenseError::NotFound))?;
                let before = Expense::try_from(row).map_err(TxError::Internal)?;
                announce(conn, changes::deleted(&before, crate::domain::now())).await?;
                Ok(before.version)
            })
            .await
            .map_err(Error::from)?;
        tracing::info!(%user_id, %id, version, "expense deleted");
        Ok(Response::new(DeleteExpenseResponse {}))
    }

    async fn summarize_expenses(
        &self,
        req: Request<SummarizeExpensesRequest>,
    ) -> Result<Response<SummarizeExpensesResponse>, Status> {
        let user_id = caller(&req)?.user_id;
        let r = req.get_ref();
        let query = SummaryQuery::parse(r.group_by, &r.from, &r.to, &r.currency).map_err(Error::from)?;
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        let rows = queries::summarize(&mut conn, user_id, &query)
            .await
            .map_err(Error::from)?;
        let groups = rows
            .into_iter()
            .map(|row| {
                let currency = Currency::parse(&row.currency)
                    .map_err(|_| Error::internal(format!("stored currency {:?} is invalid", row.currency)))?;
                let total = format_minor_total(&row.total_minor, currency.exponent())
                    .ok_or_else(|| Error::internal(format!("sum {:?} is not an integer", row.total_minor)))?;
                Ok(SummaryGroup {
                    key: row.key,
                    currency: currency.code().to_owned(),
                    total,
                    count: i32::try_from(row.count).unwrap_or(i32::MAX),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Response::new(SummarizeExpensesResponse { groups }))
    }

    async fn export_expenses(
        &self,
        req: Request<ExportExpensesRequest>,
    ) -> Result<Response<ExportExpensesResponse>, Status> {
        let user_id = caller(&req)?.user_id;
        let r = req.get_ref();
        let query = ExportQuery::parse(r.format, &r.from, &r.to, &r.page_token).map_err(Error::from)?;
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        // The listing's keyset query, a part's worth of rows plus one.
        let rows = queries::list_page(&mut conn, user_id, &query.list)
            .await
            .map_err(Error::from)?;
        drop(conn);
        let more = rows.len() > query.list.page_size;
        let expenses = rows
            .into_iter()
            .take(query.list.page_size)
            .map(Expense::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let part = export::write_csv(&expenses, query.list.page_size, more)
            .map_err(|e| Error::internal(format!("writing CSV: {e}")))?;
        let next_page_token = part
            .resume_after
            .map(|last| next_page_token(&query.list.filter, last))
            .unwrap_or_default();
        tracing::info!(%user_id, rows = part.rows, bytes = part.content.len(), more = !next_page_token.is_empty(), "expenses exported");
        Ok(Response::new(ExportExpensesResponse {
            filename: query.filename(crate::domain::now().date_naive()),
            content_type: export::CONTENT_TYPE.to_owned(),
            content: part.content,
            row_count: i32::try_from(part.rows).unwrap_or(i32::MAX),
            next_page_token,
        }))
    }

    async fn list_recurring_expenses(
        &self,
        req: Request<ListRecurringExpensesRequest>,
    ) -> Result<Response<ListRecurringExpensesResponse>, Status> {
        let user_id = caller(&req)?.user_id;
        // One bounded read: the newest expenses of the window, by the listing's index.
        let query = ListQuery {
            filter: ListFilter {
                from: Some(recurring::window_start(crate::domain::now().date_naive())),
                ..ListFilter::default()
            },
            page_size: recurring::MAX_EXPENSES,
            after: None,
        };
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        let rows = queries::list_page(&mut conn, user_id, &query)
            .await
            .map_err(Error::from)?;
        drop(conn);
        let occurrences = rows
            .into_iter()
            .take(recurring::MAX_EXPENSES)
            .map(|row| {
                let e = Expense::try_from(row)?;
                Ok(Occurrence {
                    id: e.id,
                    merchant: e.merchant.as_str().to_owned(),
                    category: e.category,
                    amount: e.amount,
                    occurred_on: e.occurred_on,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let found = recurring::detect(&occurrences);
        tracing::debug!(%user_id, expenses = occurrences.len(), series = found.len(), "recurring expenses found");
        Ok(Response::new(ListRecurringExpensesResponse {
            series: found.iter().map(proto::series).collect(),
        }))
    }
}
