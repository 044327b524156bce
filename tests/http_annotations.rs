//! The contracts cover the public JSON API of ARCHITECTURE.md exactly: every route of the
//! API table is an annotated RPC, every annotated RPC is in the table, and REST-facing
//! messages follow Kong's JSON rules.

use std::collections::BTreeSet;

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor, Value};

/// The API table of ARCHITECTURE.md: (verb, path, body, fully qualified method).
const API_TABLE: &[(&str, &str, &str, &str)] = &[
    (
        "post",
        "/v1/auth/signup",
        "*",
        "expense_tracker.auth.v1.AuthService.Signup",
    ),
    (
        "post",
        "/v1/auth/login",
        "*",
        "expense_tracker.auth.v1.AuthService.Login",
    ),
    (
        "post",
        "/v1/auth/refresh",
        "*",
        "expense_tracker.auth.v1.AuthService.Refresh",
    ),
    (
        "post",
        "/v1/auth/logout",
        "*",
        "expense_tracker.auth.v1.AuthService.Logout",
    ),
    (
        "get",
        "/v1/auth/jwks",
        "",
        "expense_tracker.auth.v1.AuthService.GetJwks",
    ),
    (
        "get",
        "/v1/users/me",
        "",
        "expense_tracker.user.v1.UserService.GetMe",
    ),
    (
        "patch",
        "/v1/users/me",
        "*",
        "expense_tracker.user.v1.UserService.UpdateMe",
    ),
    (
        "delete",
        "/v1/users/me",
        "",
        "expense_tracker.user.v1.UserService.DeleteMe",
    ),
    (
        "post",
        "/v1/extractions",
        "*",
        "expense_tracker.ds.v1.ExtractionService.ExtractExpense",
    ),
    (
        "get",
        "/v1/extraction-rules",
        "",
        "expense_tracker.ds.v1.ExtractionService.ListExtractionRules",
    ),
    (
        "post",
        "/v1/extraction-rules",
        "*",
        "expense_tracker.ds.v1.ExtractionService.CreateExtractionRule",
    ),
    (
        "delete",
        "/v1/extraction-rules/{id}",
        "",
        "expense_tracker.ds.v1.ExtractionService.DeleteExtractionRule",
    ),
    (
        "post",
        "/v1/budgets",
        "*",
        "expense_tracker.budget.v1.BudgetService.CreateBudget",
    ),
    (
        "get",
        "/v1/budgets",
        "",
        "expense_tracker.budget.v1.BudgetService.ListBudgets",
    ),
    (
        "get",
        "/v1/budgets/{id}",
        "",
        "expense_tracker.budget.v1.BudgetService.GetBudget",
    ),
    (
        "patch",
        "/v1/budgets/{id}",
        "*",
        "expense_tracker.budget.v1.BudgetService.UpdateBudget",
    ),
    (
        "delete",
        "/v1/budgets/{id}",
        "",
        "expense_tracker.budget.v1.BudgetService.DeleteBudget",
    ),
    (
        "get",
        "/v1/alerts",
        "",
        "expense_tracker.budget.v1.BudgetService.ListAlerts",
    ),
    (
        "post",
        "/v1/expenses",
        "*",
        "expense_tracker.expense.v1.ExpenseService.CreateExpense",
    ),
    (
        "get",
        "/v1/expenses/{id}",
        "",
        "expense_tracker.expense.v1.ExpenseService.GetExpense",
    ),
    (
        "get",
        "/v1/expenses",
        "",
        "expense_tracker.expense.v1.ExpenseService.ListExpenses",
    ),
    (
        "patch",
        "/v1/expenses/{id}",
        "*",
        "expense_tracker.expense.v1.ExpenseService.UpdateExpense",
    ),
    (
        "delete",
        "/v1/expenses/{id}",
        "",
        "expense_tracker.expense.v1.ExpenseService.DeleteExpense",
    ),
    (
        "get",
        "/v1/expense-summary",
        "",
        "expense_tracker.expense.v1.ExpenseService.SummarizeExpenses",
    ),
    (
        "get",
        "/v1/expense-export",
        "",
        "expense_tracker.expense.v1.ExpenseService.ExportExpenses",
    ),
    (
        "get",
        "/v1/recurring-expenses",
        "",
        "expense_tracker.expense.v1.ExpenseService.ListRecurringExpenses",
    ),
];

/// RPCs that are deliberately internal (no HTTP route).
const INTERNAL: &[&str] = &["expense_tracker.user.v1.UserService.GetUser"];

fn pool() -> DescriptorPool {
    DescriptorPool::decode(contracts::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

/// (verb, path, body) of every `google.api.http` rule on a method, bindings included.
fn http_rules(
    pool: &DescriptorPool,
    method: &prost_reflect::MethodDescriptor,
) -> Vec<(String, String, String)> {
    let ext = pool
        .get_extension_by_name("google.api.http")
        .expect("google.api.http extension");
    let opts = method.options();
    if !opts.has_extension(&ext) {
        return vec![];
    }
    let rule = opts.get_extension(&ext);
    let rule = rule.as_message().expect("HttpRule is a message").clone();
    let mut out = vec![];
    let mut push = |r: &prost_reflect::DynamicMessage| {
        for verb in ["get", "put", "post", "delete", "patch"] {
            if r.has_field_by_name(verb) {
                let path = r.get_field_by_name(verb).unwrap().as_str().unwrap().to_owned();
                let body = r.get_field_by_name("body").unwrap().as_str().unwrap().to_owned();
                out.push((verb.to_owned(), path, body));
            }
        }
    };
    push(&rule);
    if let Some(Value::List(extra)) = rule
        .get_field_by_name("additional_bindings")
        .map(|v| v.into_owned())
    {
        for b in extra {
            push(b.as_message().unwrap());
        }
    }
    out
}

#[test]
fn every_route_of_the_api_table_is_an_annotated_rpc_and_nothing_else_is() {
    let pool = pool();
    let mut found = BTreeSet::new();
    let mut unannotated = vec![];
    for service in pool
        .services()
        .filter(|s| s.full_name().starts_with("expense_tracker."))
    {
        for method in service.methods() {
            let rules = http_rules(&pool, &method);
            if rules.is_empty() {
                unannotated.push(method.full_name().to_owned());
            }
            assert!(
                rules.len() <= 2,
                "{}: Kong supports one additional binding at most",
                method.full_name()
            );
            for (verb, path, body) in rules {
                found.insert((verb, path, body, method.full_name().to_owned()));
            }
        }
    }
    let expected: BTreeSet<_> = API_TABLE
        .iter()
        .map(|(v, p, b, m)| (v.to_string(), p.to_string(), b.to_string(), m.to_string()))
        .collect();
    assert_eq!(found, expected, "annotations differ from the API table");
    assert_eq!(
        unannotated, INTERNAL,
        "only deliberate internal RPCs may lack an http annotation"
    );
}

/// Kong's grpc-gateway encodes int64 as JSON numbers (precision loss) and has no special
/// handling for wrappers, oneof or proto3 `optional`: REST-facing messages must avoid them.
fn assert_kong_safe(msg: &MessageDescriptor, seen: &mut BTreeSet<String>) {
    if !seen.insert(msg.full_name().to_owned()) || msg.full_name() == "google.protobuf.Timestamp" {
        return;
    }
    assert!(
        msg.oneofs().next().is_none(),
        "{} uses oneof/optional",
        msg.full_name()
    );
    for field in msg.fields() {
        let name = format!("{}.{}", msg.full_name(), field.name());
        assert_eq!(
            field.name(),
            field.name().to_lowercase(),
            "{name} is not snake_case"
        );
        match field.kind() {
            Kind::Int64 | Kind::Uint64 | Kind::Sint64 | Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => {
                panic!("{name} is 64-bit: use a string")
            }
            Kind::Message(m) => {
                assert!(
                    !m.full_name().starts_with("google.protobuf.")
                        || m.full_name() == "google.protobuf.Timestamp",
                    "{name} uses {}",
                    m.full_name()
                );
                assert_kong_safe(&m, seen);
            }
            _ => {}
        }
    }
}

#[test]
fn rest_facing_messages_follow_kongs_json_rules() {
    let pool = pool();
    let mut seen = BTreeSet::new();
    for service in pool
        .services()
        .filter(|s| s.full_name().starts_with("expense_tracker."))
    {
        for method in service.methods() {
            assert_kong_safe(&method.input(), &mut seen);
            assert_kong_safe(&method.output(), &mut seen);
        }
    }
    assert!(seen.len() > 20, "walked only {} messages", seen.len());
}

#[test]
fn updates_carry_a_repeated_string_update_mask() {
    let pool = pool();
    for name in [
        "expense_tracker.user.v1.UpdateMeRequest",
        "expense_tracker.expense.v1.UpdateExpenseRequest",
    ] {
        let msg = pool.get_message_by_name(name).unwrap();
        let mask = msg
            .get_field_by_name("update_mask")
            .unwrap_or_else(|| panic!("{name} has no update_mask"));
        assert!(
            mask.is_list() && mask.kind() == Kind::String,
            "{name}.update_mask must be repeated string"
        );
    }
}

#[test]
fn path_parameters_are_plain_fields_of_the_request() {
    let pool = pool();
    for (_, path, _, method) in API_TABLE {
        let (svc, m) = method.rsplit_once('.').unwrap();
        let method = pool
            .get_service_by_name(svc)
            .unwrap()
            .methods()
            .find(|x| x.name() == m)
            .unwrap();
        for seg in path.split('/').filter(|s| s.starts_with('{')) {
            let field = seg.trim_matches(|c| c == '{' || c == '}');
            assert!(!field.contains('.'), "{path}: dotted path parameters break Kong");
            assert!(
                method.input().get_field_by_name(field).is_some(),
                "{path}: {field} not in request"
            );
        }
    }
}

#[test]
fn the_category_enum_matches_the_design() {
    let pool = pool();
    let cat = pool
        .get_enum_by_name("expense_tracker.expense.v1.Category")
        .unwrap();
    let names: Vec<_> = cat.values().skip(1).map(|v| v.name().to_owned()).collect();
    assert_eq!(
        names,
        [
            "FOOD_AND_DRINK",
            "GROCERIES",
            "TRANSPORT",
            "SHOPPING",
            "HOUSING",
            "UTILITIES",
            "HEALTH",
            "ENTERTAINMENT",
            "TRAVEL",
            "EDUCATION",
            "PERSONAL_CARE",
            "GIFTS_AND_DONATIONS",
            "FEES_AND_CHARGES",
            "INSURANCE",
            "OTHER"
        ]
    );
}
