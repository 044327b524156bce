//! The expense tracker's contracts: every gRPC API and Kafka event, generated from
//! `proto/` (the only source of truth), plus the encoded file descriptor set.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

/// Encoded `google.protobuf.FileDescriptorSet` of every file under `proto/`, with
/// options (`google.api.http`) and source info. Feeds gRPC reflection and the edge.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

pub mod expense_tracker {
    pub mod auth {
        pub mod v1 {
            tonic::include_proto!("expense_tracker.auth.v1");
        }
    }
    pub mod user {
        pub mod v1 {
            tonic::include_proto!("expense_tracker.user.v1");
        }
    }
    pub mod expense {
        pub mod v1 {
            tonic::include_proto!("expense_tracker.expense.v1");
        }
    }
    pub mod ds {
        pub mod v1 {
            tonic::include_proto!("expense_tracker.ds.v1");
        }
    }
    pub mod budget {
        pub mod v1 {
            tonic::include_proto!("expense_tracker.budget.v1");
        }
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("expense_tracker.events.v1");
        }
    }
}

pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

pub use expense_tracker::{
    auth::v1 as auth, budget::v1 as budget, ds::v1 as ds, events::v1 as events, expense::v1 as expense,
    user::v1 as user,
};

/// Kafka topics. Each carries one protobuf message type, keyed by `user_id`.
pub mod topics {
    /// `events::UserRegistered`, produced by auth-service.
    pub const USER_REGISTERED: &str = "auth.user-registered.v1";
    /// `events::UserDeleted`, produced by user-service.
    pub const USER_DELETED: &str = "user.user-deleted.v1";
    /// `events::ExpenseExtracted`, produced by ds-service.
    pub const EXPENSE_EXTRACTED: &str = "ds.expense-extracted.v1";
    /// `events::ExpenseChanged`, produced by expense-service (outbox).
    pub const EXPENSE_CHANGED: &str = "expense.expense-changed.v1";
    /// `events::BudgetAlert`, produced by budget-service (outbox).
    pub const BUDGET_ALERT: &str = "budget.budget-alert.v1";
    /// Every topic above.
    pub const ALL: [&str; 5] = [
        USER_REGISTERED,
        USER_DELETED,
        EXPENSE_EXTRACTED,
        EXPENSE_CHANGED,
        BUDGET_ALERT,
    ];

    /// The dead-letter topic of `topic`: undecodable messages go there with the error in
    /// headers.
    pub fn dlq(topic: &str) -> String {
        format!("{topic}.dlq")
    }
}

/// A protobuf event with its CloudEvents `ce_type` and topic, so producers and consumers
/// cannot pair a message with the wrong topic.
pub trait Event: prost::Message + Default + Clone + 'static {
    /// CloudEvents `ce_type`, the fully qualified protobuf name.
    const TYPE: &'static str;
    /// The topic this event travels on.
    const TOPIC: &'static str;
    /// The Kafka key: the user the event is about.
    fn user_id(&self) -> &str;
}

impl Event for events::UserRegistered {
    const TYPE: &'static str = "expense_tracker.events.v1.UserRegistered";
    const TOPIC: &'static str = topics::USER_REGISTERED;
    fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl Event for events::UserDeleted {
    const TYPE: &'static str = "expense_tracker.events.v1.UserDeleted";
    const TOPIC: &'static str = topics::USER_DELETED;
    fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl Event for events::ExpenseExtracted {
    const TYPE: &'static str = "expense_tracker.events.v1.ExpenseExtracted";
    const TOPIC: &'static str = topics::EXPENSE_EXTRACTED;
    fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl Event for events::ExpenseChanged {
    const TYPE: &'static str = "expense_tracker.events.v1.ExpenseChanged";
    const TOPIC: &'static str = topics::EXPENSE_CHANGED;
    fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl Event for events::BudgetAlert {
    const TYPE: &'static str = "expense_tracker.events.v1.BudgetAlert";
    const TOPIC: &'static str = topics::BUDGET_ALERT;
    fn user_id(&self) -> &str {
        &self.user_id
    }
}
