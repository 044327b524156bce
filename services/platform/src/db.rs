//! Postgres through diesel-async: a deadpool pool, embedded migrations run at start-up,
//! and per-test databases.

use diesel::{Connection, RunQueryDsl as _};
use diesel_async::{
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{deadpool::Pool, AsyncDieselConnectionManager},
    AsyncPgConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub type PgPool = Pool<AsyncPgConnection>;
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;
pub type PooledConnection = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;

/// The platform's own tables (outbox, processed events). Versions start at 1 so they
/// never collide with a service's timestamped migrations.
pub const PLATFORM_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pool of at most `max_size` connections to `url`.
pub fn pool(url: &str, max_size: usize) -> Result<PgPool, crate::BoxError> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    let pool = Pool::builder(manager)
        .max_size(max_size)
        // Fail fast when the database is down, so RPCs answer UNAVAILABLE instead of hanging.
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    crate::metrics::watch_pool(&pool);
    Ok(pool)
}

/// The advisory lock key migrations hold (any constant; advisory locks are per database).
const MIGRATION_LOCK: i64 = 0x6574_6d69_6772; // "etmigr"

/// Runs the platform's migrations, then the service's, on a dedicated blocking thread
/// (diesel's migration harness is synchronous), one replica at a time.
pub async fn migrate(url: &str, service: EmbeddedMigrations) -> Result<(), crate::BoxError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> Result<(), crate::BoxError> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        // Replicas starting together (a rollout, a first install) take turns: the first
        // migrates, the others then find nothing pending. The lock ends with the session.
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(&mut conn)?;
        conn.run_pending_migrations(PLATFORM_MIGRATIONS)?;
        conn.run_pending_migrations(service)?;
        diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(&mut conn)?;
        Ok(())
    })
    .await?
}

/// Creates database `name` on the server at `server_url` (a URL without a database, or
/// ending in `/postgres`) and returns its URL. For tests: one fresh database per test.
pub async fn create_database(server_url: &str, name: &str) -> Result<String, crate::BoxError> {
    let base = server_url
        .trim_end_matches('/')
        .trim_end_matches("/postgres")
        .to_owned();
    let admin = format!("{base}/postgres");
    let name_owned = name.to_owned();
    tokio::task::spawn_blocking(move || -> Result<(), crate::BoxError> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&admin)?;
        diesel::sql_query(format!("CREATE DATABASE \"{}\"", name_owned.replace('"', "")))
            .execute(&mut conn)?;
        Ok(())
    })
    .await??;
    Ok(format!("{base}/{name}"))
}
