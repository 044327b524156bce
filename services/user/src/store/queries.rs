//! Queries, named after their key.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{
    models::ProfileRow,
    schema::{deleted_users, profiles},
};

#[tracing::instrument(skip(conn))]
pub async fn find_by_user_id(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<ProfileRow>> {
    profiles::table
        .find(user_id)
        .select(ProfileRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Inserts unless a profile exists or the user was deleted; returns whether it inserted.
#[tracing::instrument(skip_all, fields(user_id = %row.user_id))]
pub async fn insert_if_absent(conn: &mut AsyncPgConnection, row: &ProfileRow) -> QueryResult<bool> {
    let tombstoned: bool = diesel::select(diesel::dsl::exists(deleted_users::table.find(row.user_id)))
        .get_result(conn)
        .await?;
    if tombstoned {
        return Ok(false);
    }
    let n = diesel::insert_into(profiles::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

#[tracing::instrument(skip_all, fields(user_id = %row.user_id))]
pub async fn update(conn: &mut AsyncPgConnection, row: &ProfileRow) -> QueryResult<ProfileRow> {
    diesel::update(profiles::table.find(row.user_id))
        .set(row)
        .returning(ProfileRow::as_returning())
        .get_result(conn)
        .await
}

/// Deletes the profile and leaves a tombstone; returns whether a profile existed.
#[tracing::instrument(skip(conn))]
pub async fn delete_by_user_id(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<bool> {
    let n = diesel::delete(profiles::table.find(user_id))
        .execute(conn)
        .await?;
    diesel::insert_into(deleted_users::table)
        .values(deleted_users::user_id.eq(user_id))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}
