use futures::future::join_all;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{count, spawn_app_with, Options, PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn a_saturated_hash_pool_refuses_with_resource_exhausted_and_a_retry_hint_then_recovers() {
    // The smallest budget: one 19 MiB hash at a time (one running, one queued), no waiting.
    let app = spawn_app_with(Options {
        env: vec![
            ("PASSWORD_HASH_MEMORY_MIB", "19".into()),
            ("PASSWORD_HASH_MAX_WAIT_MS", "0".into()),
        ],
        ..Options::default()
    })
    .await;

    let signups = (0..12).map(|i| {
        let app = &app;
        async move {
            app.signup(&format!("burst-{i}@example.com"), PASSWORD, "Burst")
                .await
        }
    });
    let results = join_all(signups).await;
    let (ok, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert!(!ok.is_empty(), "the first signups get the slots");
    assert!(!refused.is_empty(), "12 at once cannot all fit in 2 slots");
    for r in refused {
        let status = r.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(
            status.message().contains("retry in 1 s"),
            "{:?}",
            status.message()
        );
        assert_eq!(status.metadata().get("retry-after").unwrap(), "1");
        let info = status.get_details_retry_info().expect("RetryInfo details");
        assert_eq!(info.retry_delay, Some(std::time::Duration::from_secs(1)));
    }
    // A refused signup wrote nothing; the accepted ones are all there.
    let mut db = app.db().await;
    assert_eq!(
        count(&mut db, "SELECT count(*) AS n FROM users").await,
        ok.len() as i64
    );

    // Once the burst is over, signups and logins go through again.
    app.signup("after@example.com", PASSWORD, "After")
        .await
        .expect("signup after the burst");
    app.login("after@example.com", PASSWORD)
        .await
        .expect("login after the burst");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_logins_is_shed_as_busy_before_it_reaches_the_account_throttle() {
    // The slot is taken before the attempt is counted: at most 2 attempts are ever in
    // progress, under the limit of 3, so no refusal is a lock-out and nothing is counted
    // against the account for the refused ones.
    let app = spawn_app_with(Options {
        env: vec![
            ("PASSWORD_HASH_MEMORY_MIB", "19".into()),
            ("PASSWORD_HASH_MAX_WAIT_MS", "0".into()),
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3".into()),
        ],
        ..Options::default()
    })
    .await;
    app.signup_ok("busy@example.com").await;
    let logins = (0..12).map(|_| app.login("busy@example.com", PASSWORD));
    let results = join_all(logins).await;
    let mut refused = 0;
    for r in &results {
        if let Err(s) = r {
            assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
            assert!(
                s.message().contains("retry in 1 s"),
                "not a lock-out: {:?}",
                s.message()
            );
            refused += 1;
        }
    }
    assert!(refused > 0, "12 at once cannot all fit in 2 slots");
    assert!(refused < 12, "the first logins get the slots");
    app.login("busy@example.com", PASSWORD)
        .await
        .expect("the account is not locked");
    app.stop().await;
}
