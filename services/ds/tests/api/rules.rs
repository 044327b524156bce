//! The rules RPCs: validation, ownership, the 500-rule limit.

use contracts::expense::Category;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread")]
async fn each_invalid_field_is_named() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let food = Category::FoodAndDrink as i32;
    let long_pattern = "a".repeat(101);
    let long_merchant = "m".repeat(201);
    for (pattern, merchant, category, expected) in [
        ("", "", food, "merchant_pattern is required"),
        ("  ", "", food, "merchant_pattern is required"),
        ("*!*", "", food, "merchant_pattern \"*!*\" has no letter or digit"),
        (
            long_pattern.as_str(),
            "",
            food,
            "merchant_pattern is 101 characters long",
        ),
        (
            "swiggy",
            long_merchant.as_str(),
            food,
            "merchant is 201 characters long",
        ),
        ("swiggy", "", 0, "category is required"),
        ("swiggy", "", 77, "category 77 is not a known category"),
    ] {
        let err = app
            .create_rule(user, pattern, merchant, category)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{expected}: {err:?}");
        assert!(err.message().contains(expected), "{}", err.message());
    }
    let err = app.delete_rule(user, "rule-1").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("\"rule-1\" is not a rule id"),
        "{}",
        err.message()
    );
    assert!(app.rules(user).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_rule_is_not_found_and_stays() {
    let app = spawn_app(&[]).await;
    let (owner, intruder) = (Uuid::now_v7(), Uuid::now_v7());
    let rule = app
        .create_rule(owner, "swiggy", "", Category::Groceries as i32)
        .await
        .unwrap();
    let err = app.delete_rule(intruder, &rule.id).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(app.rules(intruder).await.is_empty());
    assert_eq!(app.rules(owner).await.len(), 1);
    let err = app
        .delete_rule(owner, &Uuid::now_v7().to_string())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_a_pattern_again_replaces_its_rule() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let first = app
        .create_rule(user, "Swiggy", "", Category::Groceries as i32)
        .await
        .unwrap();
    let second = app
        .create_rule(user, " swiggy ", "Swiggy", Category::FoodAndDrink as i32)
        .await
        .unwrap();
    assert_eq!(second.id, first.id);
    let rules = app.rules(user).await;
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].merchant.as_str(), rules[0].category),
        ("Swiggy", Category::FoodAndDrink as i32)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_has_at_most_500_rules() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    for i in 0..500 {
        app.create_rule(user, &format!("shop {i}"), "", Category::Shopping as i32)
            .await
            .unwrap();
    }
    let err = app
        .create_rule(user, "shop 500", "", Category::Shopping as i32)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message().contains("500 extraction rules"),
        "{}",
        err.message()
    );
    // Replacing one is no new rule; after a deletion there is room again.
    app.create_rule(user, "shop 7", "Shop Seven", Category::Shopping as i32)
        .await
        .unwrap();
    let rules = app.rules(user).await;
    assert_eq!(rules.len(), 500);
    app.delete_rule(user, &rules[0].id).await.unwrap();
    app.create_rule(user, "shop 500", "", Category::Shopping as i32)
        .await
        .unwrap();
    // Another user is not limited by this one.
    app.create_rule(Uuid::now_v7(), "shop 1", "", Category::Shopping as i32)
        .await
        .unwrap();
}
