//! The gRPC adapter: authenticate, parse the request into domain types, call the store,
//! map the result.

use std::time::Duration;

use chrono::Utc;
use contracts::{
    events::UserDeleted,
    user::{
        user_service_server::UserService, DeleteMeRequest, DeleteMeResponse, GetMeRequest, GetUserRequest,
        UpdateMeRequest, UserProfile,
    },
};
use diesel_async::AsyncConnection;
use platform::{db::PgPool, grpc::caller, Error};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{Profile, ProfileError, ProfileUpdate},
    store::{models::ProfileRow, queries},
};

pub struct UserGrpc {
    pool: PgPool,
    profile_wait: Duration,
}

impl UserGrpc {
    pub fn new(pool: PgPool, profile_wait: Duration) -> Self {
        Self { pool, profile_wait }
    }

    async fn load(&self, user_id: Uuid) -> Result<Option<Profile>, Error> {
        let mut conn = self.pool.get().await?;
        queries::find_by_user_id(&mut conn, user_id)
            .await?
            .map(Profile::try_from)
            .transpose()
    }

    /// The caller's profile. A profile is created from the registration event, so right
    /// after signup it may not exist yet: wait up to `profile_wait` for it rather than
    /// send a fresh user a confusing 404.
    async fn load_waiting(&self, user_id: Uuid) -> Result<Profile, Error> {
        let deadline = tokio::time::Instant::now() + self.profile_wait;
        loop {
            if let Some(p) = self.load(user_id).await? {
                return Ok(p);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::not_found(
                    "profile not found: it is deleted, or the account was created moments ago and its profile \
                     is still being created; retry in a few seconds",
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn to_proto(p: Profile) -> UserProfile {
    UserProfile {
        user_id: p.user_id.to_string(),
        email: p.email,
        display_name: p.display_name,
        default_currency: p.default_currency.code().to_owned(),
        timezone: p.timezone.name().to_owned(),
        created_at: Some(timestamp(p.created_at)),
        updated_at: Some(timestamp(p.updated_at)),
    }
}

fn timestamp(t: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

impl From<ProfileError> for Error {
    fn from(e: ProfileError) -> Self {
        Error::invalid(e.to_string())
    }
}

#[tonic::async_trait]
impl UserService for UserGrpc {
    async fn get_me(&self, req: Request<GetMeRequest>) -> Result<Response<UserProfile>, Status> {
        let user_id = caller(&req)?.user_id;
        Ok(Response::new(to_proto(self.load_waiting(user_id).await?)))
    }

    async fn update_me(&self, req: Request<UpdateMeRequest>) -> Result<Response<UserProfile>, Status> {
        let user_id = caller(&req)?.user_id;
        let r = req.get_ref();
        let update = ProfileUpdate::parse(&r.update_mask, &r.display_name, &r.default_currency, &r.timezone)
            .map_err(Error::from)?;
        let mut profile = self.load_waiting(user_id).await?;
        update.apply(&mut profile, Utc::now());
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        let row = queries::update(&mut conn, &ProfileRow::from(&profile))
            .await
            .map_err(|e| match e {
                diesel::result::Error::NotFound => Error::not_found("profile not found"),
                e => Error::from(e),
            })?;
        tracing::info!(%user_id, fields = ?r.update_mask, "profile updated");
        Ok(Response::new(to_proto(Profile::try_from(row)?)))
    }

    async fn delete_me(&self, req: Request<DeleteMeRequest>) -> Result<Response<DeleteMeResponse>, Status> {
        let user_id = caller(&req)?.user_id;
        let mut conn = self.pool.get().await.map_err(Error::from)?;
        // The profile goes and UserDeleted is recorded in one transaction: either both or neither.
        let existed = conn
            .transaction::<bool, diesel::result::Error, _>(async move |conn| {
                let existed = queries::delete_by_user_id(conn, user_id).await?;
                if existed {
                    let event = UserDeleted {
                        user_id: user_id.to_string(),
                        deleted_at: Some(timestamp(Utc::now())),
                    };
                    platform::outbox::enqueue(conn, &event).await?;
                }
                Ok(existed)
            })
            .await
            .map_err(Error::from)?;
        if !existed {
            return Err(Error::not_found("profile not found: it is already deleted").into());
        }
        tracing::info!(%user_id, "profile deleted; UserDeleted queued");
        Ok(Response::new(DeleteMeResponse {}))
    }

    async fn get_user(&self, req: Request<GetUserRequest>) -> Result<Response<UserProfile>, Status> {
        let caller = caller(&req)?.user_id;
        let wanted = Uuid::parse_str(req.get_ref().user_id.trim())
            .map_err(|_| Error::invalid("user_id must be a UUID"))?;
        // Only on behalf of the same user; another user's profile looks exactly like a missing one.
        if wanted != caller {
            return Err(Error::not_found("profile not found").into());
        }
        match self.load(wanted).await? {
            Some(p) => Ok(Response::new(to_proto(p))),
            None => Err(Error::not_found("profile not found").into()),
        }
    }
}
