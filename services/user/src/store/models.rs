//! Rows, and their conversion to and from the domain.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::profiles;
use crate::domain::{Profile, TimeZone};

#[derive(Debug, Clone, Insertable, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = profiles, check_for_backend(diesel::pg::Pg))]
pub struct ProfileRow {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub default_currency: String,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Profile> for ProfileRow {
    fn from(p: &Profile) -> Self {
        Self {
            user_id: p.user_id,
            email: p.email.clone(),
            display_name: p.display_name.clone(),
            default_currency: p.default_currency.code().to_owned(),
            timezone: p.timezone.name().to_owned(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl TryFrom<ProfileRow> for Profile {
    type Error = platform::Error;
    fn try_from(r: ProfileRow) -> Result<Self, Self::Error> {
        Ok(Profile {
            user_id: r.user_id,
            email: r.email,
            display_name: r.display_name,
            default_currency: domain::Currency::parse(&r.default_currency)
                .map_err(platform::Error::internal)?,
            timezone: TimeZone::parse(&r.timezone).map_err(platform::Error::internal)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}
