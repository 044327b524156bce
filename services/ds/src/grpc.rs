//! The gRPC adapter: authenticate, parse the request, settle currency, zone and reference
//! date (request, else profile, else defaults), extract, let
//! the caller's rules correct the answer, publish `ExpenseExtracted` and wait for the
//! broker's acknowledgement, answer. With a `request_id` the answer is recorded before
//! the publish and a retry answers it again (`platform::requests`). Also the caller's
//! rules: list, write, delete.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use contracts::{
    ds::{
        extraction_service_server::ExtractionService, CreateExtractionRuleRequest,
        DeleteExtractionRuleRequest, DeleteExtractionRuleResponse, ExtractExpenseRequest,
        ExtractExpenseResponse, ListExtractionRulesRequest, ListExtractionRulesResponse, Rule as RuleMessage,
    },
    events::ExpenseExtracted,
    expense::{Expense, Source},
};
use domain::{Category, Currency};
use platform::{
    db::PgPool,
    grpc::caller,
    jwt::Caller,
    kafka::EventProducer,
    requests::{self, Fingerprint, Recorded, RequestKey},
    Error,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{ExtractContext, ExtractionInput, InputError, Rejection, NO_CATEGORY_WARNING, NO_DATE_WARNING},
    extraction::{By, Extractor},
    memory::{self, Answer, ExplicitRule, Probe},
    profile::Profiles,
    rulebook::Rulebook,
};

/// Most rules told to the model per extraction: the best matches are enough, and each
/// costs prompt tokens.
const MAX_HINTS: usize = 3;

/// Ids of expenses extracted with a `request_id`: UUIDv5 of (user, request_id) in this
/// namespace (`platform::requests::derive_id`), so every retry publishes the same expense
/// id and expense-service, which inserts by id, stores it once.
const EXTRACTED_EXPENSE_NAMESPACE: Uuid = Uuid::from_u128(0x5c2e_91a4_7d3b_4f06_8e1a_c4b7_2f90_d35e);

const UNPUBLISHED: &str = "the expense could not be recorded right now (the event log is unavailable); nothing was saved, please try again shortly";

/// Used when neither the request nor the profile says.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub currency: Currency,
    pub zone: Tz,
}

pub struct ExtractionGrpc {
    extractor: Arc<Extractor>,
    profiles: Profiles,
    producer: EventProducer,
    defaults: Defaults,
    rulebook: Rulebook,
    /// Where the answers to requests with a `request_id` are recorded.
    pool: PgPool,
}

impl ExtractionGrpc {
    pub fn new(
        extractor: Arc<Extractor>,
        profiles: Profiles,
        producer: EventProducer,
        defaults: Defaults,
        rulebook: Rulebook,
        pool: PgPool,
    ) -> Self {
        Self {
            extractor,
            profiles,
            producer,
            defaults,
            rulebook,
            pool,
        }
    }

    /// Publishes the `ExpenseExtracted` of `answer`, extracted at `extracted_at`, and waits
    /// for the acknowledgement.
    async fn publish(
        &self,
        answer: &ExtractExpenseResponse,
        extracted_at: chrono::DateTime<Utc>,
    ) -> Result<(), Error> {
        let Some(expense) = &answer.expense else {
            return Err(Error::internal("an extraction answer without its expense"));
        };
        let event = ExpenseExtracted {
            expense_id: expense.id.clone(),
            user_id: expense.user_id.clone(),
            amount: expense.amount.clone(),
            currency: expense.currency.clone(),
            merchant: expense.merchant.clone(),
            category: expense.category,
            occurred_on: expense.occurred_on.clone(),
            raw_text: expense.raw_text.clone(),
            source: expense.source,
            confidence: expense.confidence,
            extractor: answer.extractor.clone(),
            extracted_at: Some(timestamp(extracted_at)),
        };
        self.producer.publish(&event).await.map(|_| ()).map_err(|e| {
            tracing::error!(error = %e, expense_id = %expense.id, "ExpenseExtracted not acknowledged");
            Error::unavailable(UNPUBLISHED)
        })
    }

    /// The answer recorded for a retried request: its event published again first unless
    /// the broker acknowledged it already (same expense id, so it is stored once).
    async fn replay(
        &self,
        key: RequestKey,
        recorded: Recorded<ExtractExpenseResponse>,
    ) -> Result<Response<ExtractExpenseResponse>, Status> {
        if !recorded.completed {
            // Dated when the answer was recorded, before the first attempt: expense-service
            // lets only an extraction newer than the owner's last edit change a stored
            // expense, so a late retry never undoes an edit made since.
            self.publish(&recorded.response, recorded.recorded_at).await?;
            self.mark_published(key).await;
        }
        tracing::info!(
            user_id = %key.user_id,
            request_id = %key.request_id,
            expense_id = recorded.response.expense.as_ref().map(|e| e.id.as_str()),
            republished = !recorded.completed,
            "extraction retried; answered as the first time"
        );
        Ok(Response::new(recorded.response))
    }

    /// Notes that `key`'s event was acknowledged. Best effort: if it is not noted, a retry
    /// publishes the same event again, which stores nothing new.
    async fn mark_published(&self, key: RequestKey) {
        let marked = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            requests::complete(&mut conn, key)
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(e) = marked.await {
            tracing::warn!(error = %e, request_id = %key.request_id, "request not marked published");
        }
    }

    /// Currency, zone and reference date, with a warning when the profile was needed but
    /// could not be read.
    async fn settle(&self, caller: &Caller, input: &ExtractionInput) -> (Settled, Option<String>) {
        // The zone only serves to find "today": a given reference date makes it moot.
        let need_zone = input.zone.is_none() && input.reference_date.is_none();
        let need_profile = input.currency.is_none() || need_zone;
        let (profile, failure) = if need_profile {
            match self.profiles.preferences(caller).await {
                Ok(p) => (Some(p), None),
                Err(e) => {
                    tracing::warn!(user_id = %caller.user_id, reason = %e, "profile unavailable; using defaults");
                    (None, Some(e))
                }
            }
        } else {
            (None, None)
        };
        let mut defaulted = vec![];
        let currency = input
            .currency
            .or(profile.and_then(|p| p.currency))
            .unwrap_or_else(|| {
                defaulted.push(format!("currency {}", self.defaults.currency.code()));
                self.defaults.currency
            });
        let zone = input.zone.or(profile.and_then(|p| p.zone)).unwrap_or_else(|| {
            if need_zone {
                defaulted.push(format!("time zone {}", self.defaults.zone.name()));
            }
            self.defaults.zone
        });
        let (reference_date, given) = match input.reference_date {
            Some(d) => (d, true),
            None => (Utc::now().with_timezone(&zone).date_naive(), false),
        };
        let warning = (!defaulted.is_empty()).then(|| {
            let defaulted = defaulted.join(" and ");
            match failure {
                Some(why) => format!("could not read your profile ({why}); used the default {defaulted}"),
                None => format!("your profile does not say; used the default {defaulted}"),
            }
        });
        (
            Settled {
                currency,
                zone,
                reference_date,
                reference_given: given,
            },
            warning,
        )
    }
}

struct Settled {
    currency: Currency,
    zone: Tz,
    reference_date: NaiveDate,
    reference_given: bool,
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::invalid(e.to_string())
    }
}

/// The `outcome` label of a rejected extraction (`ds_extractions_total`).
fn outcome(r: &Rejection) -> &'static str {
    match r {
        Rejection::NoAmount => "no_amount",
        Rejection::NotAnExpense(_) => "not_an_expense",
        Rejection::Empty | Rejection::TooLong => "invalid",
    }
}

fn rejected(r: Rejection) -> Error {
    Error::invalid(r.to_string())
}

fn timestamp(t: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

#[tonic::async_trait]
impl ExtractionService for ExtractionGrpc {
    async fn extract_expense(
        &self,
        req: Request<ExtractExpenseRequest>,
    ) -> Result<Response<ExtractExpenseResponse>, Status> {
        let caller = caller(&req)?;
        let r = req.get_ref();
        // Dry runs create nothing: there is nothing to make safe to retry.
        let key = requests::key(caller.user_id, &r.request_id)?.filter(|_| !r.dry_run);
        let fingerprint = Fingerprint::of(
            "expense_tracker.ds.v1.ExtractionService/ExtractExpense",
            &ExtractExpenseRequest {
                request_id: String::new(),
                ..r.clone()
            },
        );
        let input = ExtractionInput::parse(
            &r.text,
            &r.default_currency,
            &r.timezone,
            &r.reference_date,
            r.dry_run,
            Utc::now(),
        )
        .map_err(Error::from)?;
        if let Some(key) = key {
            let mut conn = self.pool.get().await.map_err(Error::from)?;
            if let Some(recorded) = requests::find(&mut conn, key, &fingerprint).await? {
                return self.replay(key, recorded).await;
            }
        }

        let (settled, profile_warning) = self.settle(caller, &input).await;
        let ctx = ExtractContext::new(settled.reference_date, settled.currency);
        // With a model configured, the caller's few most relevant rules go into its prompt
        // (those the text matches; the merchant is not known yet). Without their rules the
        // model is asked all the same.
        let hints: Vec<String> = match self.extractor.llm() {
            Some(_) => match self
                .rulebook
                .matching(caller.user_id, &Probe::new(&input.text, None))
                .await
            {
                Ok(rules) => memory::rules::hints(&rules, &input.text, MAX_HINTS)
                    .into_iter()
                    .map(memory::rules::hint_line)
                    .collect(),
                Err(_) => vec![],
            },
            None => vec![],
        };
        let extracted = self
            .extractor
            .extract_with_hints(&input.text, &ctx, settled.zone.name(), &hints)
            .await
            .inspect_err(|r| platform::metrics::extraction("rules", outcome(r), false))
            .map_err(rejected)?;
        let mut x = extracted.extraction;

        let mut warnings: Vec<String> = profile_warning.into_iter().collect();
        let occurred_on = match x.date {
            Some(d) => d,
            None => {
                let used = if settled.reference_given {
                    format!(
                        "no date in text; used the reference date {}",
                        settled.reference_date
                    )
                } else {
                    format!(
                        "no date in text; used today, {} ({})",
                        settled.reference_date,
                        settled.zone.name()
                    )
                };
                warnings.push(used);
                settled.reference_date
            }
        };
        warnings.extend(x.warnings.iter().filter(|w| *w != NO_DATE_WARNING).cloned());

        // Only the rules this text and merchant match leave the database.
        let probe = Probe::new(&input.text, x.merchant.as_deref());
        let applied = match &self.rulebook.matching(caller.user_id, &probe).await {
            Ok(rules) => {
                let mut answer = Answer {
                    merchant: x.merchant.take(),
                    category: x.category,
                };
                let applied = memory::apply(rules, &input.text, &mut answer);
                (x.merchant, x.category) = (answer.merchant, answer.category);
                applied
            }
            Err(why) => {
                tracing::warn!(user_id = %caller.user_id, reason = %why, "rules unavailable; extracting without them");
                warnings.push(format!(
                    "your extraction rules could not be read ({why}); answered without them"
                ));
                None
            }
        };
        if let Some(a) = &applied {
            if x.category != Category::Other {
                warnings.retain(|w| w != NO_CATEGORY_WARNING);
            }
            warnings.push(a.warning.clone());
        }

        let by = if matches!(extracted.by, By::Llm { .. }) {
            "llm"
        } else {
            "rules"
        };
        platform::metrics::extraction(by, "ok", applied.is_some());
        let money = x.money();
        let (source, extractor) = match &extracted.by {
            By::Rules => (Source::TextRules, extracted.by.name()),
            By::Llm { .. } => (Source::TextLlm, extracted.by.name()),
        };
        let id = key.map_or_else(Uuid::now_v7, |k| {
            requests::derive_id(EXTRACTED_EXPENSE_NAMESPACE, k)
        });
        let expense = Expense {
            id: id.to_string(),
            user_id: caller.user_id.to_string(),
            amount: money.to_decimal_string(),
            currency: money.currency().code().to_owned(),
            merchant: x.merchant.clone().unwrap_or_default(),
            category: x.category.proto_number(),
            occurred_on: occurred_on.format("%Y-%m-%d").to_string(),
            note: String::new(),
            raw_text: input.text.clone(),
            source: source as i32,
            confidence: x.confidence,
            created_at: None,
            updated_at: None,
            // Not stored yet: expense-service gives version 1 when it records the expense.
            version: 0,
        };

        let rule_id = applied.as_ref().map(|a| a.rule_id);
        let answer = ExtractExpenseResponse {
            expense: Some(expense),
            extractor,
            confidence: x.confidence,
            warnings,
            rule_id: rule_id.map(|id| id.to_string()).unwrap_or_default(),
        };

        if !input.dry_run {
            // The answer is recorded before the publish: a retry after an unacknowledged
            // publish (which the broker may have kept) publishes this same answer again.
            if let Some(key) = key {
                let mut conn = self.pool.get().await.map_err(Error::from)?;
                if let Some(first) = requests::record(&mut conn, key, &fingerprint, &answer, false).await? {
                    // A concurrent duplicate recorded its answer first: that one stands.
                    drop(conn);
                    return self.replay(key, first).await;
                }
            }
            self.publish(&answer, Utc::now()).await?;
            if let Some(key) = key {
                self.mark_published(key).await;
            }
            if let Some(rule_id) = rule_id {
                self.rulebook.count_hit(caller.user_id, rule_id);
            }
        }
        tracing::info!(
            user_id = %caller.user_id,
            expense_id = %id,
            extractor = %answer.extractor,
            text_chars = input.text.chars().count(),
            dry_run = input.dry_run,
            request_id = key.map(|k| k.request_id.to_string()),
            rule_id = rule_id.map(|id| id.to_string()),
            "expense extracted"
        );
        Ok(Response::new(answer))
    }

    async fn list_extraction_rules(
        &self,
        req: Request<ListExtractionRulesRequest>,
    ) -> Result<Response<ListExtractionRulesResponse>, Status> {
        let caller = caller(&req)?;
        let rules = self
            .rulebook
            .list(caller.user_id)
            .await?
            .iter()
            .map(|r| r.to_message())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(ListExtractionRulesResponse { rules }))
    }

    async fn create_extraction_rule(
        &self,
        req: Request<CreateExtractionRuleRequest>,
    ) -> Result<Response<RuleMessage>, Status> {
        let caller = caller(&req)?;
        let r = req.get_ref();
        let rule = ExplicitRule::parse(&r.merchant_pattern, &r.merchant, r.category)
            .map_err(crate::error::Error::from)?;
        let row = self.rulebook.write(caller.user_id, rule).await?;
        tracing::info!(user_id = %caller.user_id, rule_id = %row.id, pattern = %row.pattern, "extraction rule written");
        Ok(Response::new(row.to_message()?))
    }

    async fn delete_extraction_rule(
        &self,
        req: Request<DeleteExtractionRuleRequest>,
    ) -> Result<Response<DeleteExtractionRuleResponse>, Status> {
        let caller = caller(&req)?;
        self.rulebook.delete(caller.user_id, &req.get_ref().id).await?;
        tracing::info!(user_id = %caller.user_id, rule_id = %req.get_ref().id.trim(), "extraction rule deleted");
        Ok(Response::new(DeleteExtractionRuleResponse {}))
    }
}
