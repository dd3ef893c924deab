//! The signed-in account's own profile: read, edit, withdraw.

use actix_web::{HttpResponse, delete, get, patch, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::UserId;
use crate::domain::image::ImageSet;
use crate::domain::password::Password;
use crate::domain::role::Role;
use crate::domain::text;
use crate::domain::time::Timestamp;
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::{RevokeReason, UserRecord};

#[derive(Serialize, ToSchema)]
pub struct Profile {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
    /// The picture's display size, if the account has a picture.
    pub picture_url: Option<String>,
    /// The picture in its three sizes.
    pub picture: Option<ImageSet>,
    /// Whether the email was verified (buying may require it).
    pub email_verified: bool,
}

impl From<UserRecord> for Profile {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            created_at: u.created_at,
            email_verified: u.email_verified,
            picture_url: None,
            picture: None,
        }
    }
}

impl Profile {
    fn with_picture(self, picture: Option<ImageSet>) -> Self {
        Self {
            picture_url: picture.as_ref().map(|p| p.display.key.url()),
            picture,
            ..self
        }
    }
}

/// Fields to change; at least one. A new password needs the current one and
/// ends every session (log in again everywhere).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub password: Option<String>,
    pub current_password: Option<String>,
}

async fn live_account(state: &AppState, caller: AuthUser) -> Result<UserRecord, ApiError> {
    state
        .store
        .find_user(caller.id)
        .await?
        .filter(|u| !u.deleted)
        .ok_or(ApiError::Unauthorized("this account has been withdrawn"))
}

/// The caller's profile.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Profile),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
    )
)]
#[get("/users/me")]
pub async fn me(state: web::Data<AppState>, caller: AuthUser) -> Result<HttpResponse, ApiError> {
    let user = live_account(&state, caller).await?;
    let picture = state.store.user_picture(caller.id).await?;
    Ok(HttpResponse::Ok().json(Profile::from(user).with_picture(picture)))
}

/// Changes the caller's name and/or password. Checking the current
/// password spends one check of the account's budget.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    request_body = ProfileChange,
    responses(
        (status = 200, body = Profile),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: wrong current password, or an admin password (managed by configuration)", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the account's budget of password checks is spent (see `Retry-After`)", body = Problem),
        (status = 503, description = "`OVERLOADED`: every password hashing slot is busy (see `Retry-After`)", body = Problem),
    )
)]
#[patch("/users/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: web::Json<ProfileChange>,
) -> Result<HttpResponse, ApiError> {
    let change = body.into_inner();
    let name = change.name.as_deref().map(text::person_name).transpose()?;
    let password = change
        .password
        .as_deref()
        .map(Password::parse)
        .transpose()?;
    if name.is_none() && password.is_none() {
        return Err(ApiError::Validation(
            "give `name` and/or `password` to change".into(),
        ));
    }
    let user = live_account(&state, caller).await?;
    let new_hash = match password {
        None => None,
        Some(_) if user.role == Role::Admin => {
            return Err(ApiError::Forbidden(
                "the admin password is managed by configuration",
            ));
        }
        Some(password) => {
            let current = change.current_password.ok_or_else(|| {
                ApiError::Validation("current_password: required to set a new password".into())
            })?;
            state.accounts.spend(&user.email).await?;
            if !state
                .passwords
                .verify(current, Some(user.password_hash.clone()))
                .await?
            {
                return Err(ApiError::Forbidden("current_password is wrong"));
            }
            Some(state.passwords.hash(password.expose().to_owned()).await?)
        }
    };
    if !state
        .store
        .update_user(caller.id, name.as_deref(), new_hash.as_deref())
        .await?
    {
        return Err(ApiError::Unauthorized("this account has been withdrawn"));
    }
    if new_hash.is_some() {
        state
            .sessions
            .close_all(caller.id, RevokeReason::PasswordChanged)
            .await?;
    }
    let user = live_account(&state, caller).await?;
    let picture = state.store.user_picture(caller.id).await?;
    Ok(HttpResponse::Ok().json(Profile::from(user).with_picture(picture)))
}

/// The current password, which withdrawing asks for again: an access
/// token alone (stolen, or left on a shared machine) must not end the account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    #[schema(min_length = 1, max_length = 1024)]
    pub current_password: String,
}

/// Withdraws the caller's account: it can no longer sign in, every session
/// ends, and a seller's products leave the catalog. Its orders stay.
/// Checking the password spends one check of the account's budget.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    request_body = WithdrawRequest,
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 400, description = "`VALIDATION_FAILED`: `current_password` missing or malformed", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: wrong current password, or an admin (managed by configuration)", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the account's budget of password checks is spent (see `Retry-After`)", body = Problem),
        (status = 503, description = "`OVERLOADED`: every password hashing slot is busy (see `Retry-After`)", body = Problem),
    )
)]
#[delete("/users/me")]
pub async fn withdraw(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: web::Json<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    if caller.role == Role::Admin {
        return Err(ApiError::Forbidden(
            "admin accounts are managed by configuration",
        ));
    }
    let WithdrawRequest { current_password } = body.into_inner();
    if current_password.is_empty() || current_password.len() > 1024 {
        return Err(ApiError::Validation(
            "current_password: must be 1 to 1024 bytes".into(),
        ));
    }
    let user = live_account(&state, caller).await?;
    state.accounts.spend(&user.email).await?;
    if !state
        .passwords
        .verify(current_password, Some(user.password_hash))
        .await?
    {
        return Err(ApiError::Forbidden("current_password is wrong"));
    }
    if !state.store.withdraw_user(caller.id).await? {
        return Err(ApiError::Unauthorized("this account has been withdrawn"));
    }
    // A withdrawn account's picture is no longer anyone's to show.
    if let Some(old) = state.store.remove_user_picture(caller.id).await? {
        state.media.remove(old.keys().into_iter()).await;
    }
    if caller.role == Role::Seller {
        // Their products leave the catalog: no cached page or product may
        // keep showing them.
        state.catalog.invalidate_all();
    }
    state
        .sessions
        .close_all(caller.id, RevokeReason::Withdrawn)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
