//! Accounts from the outside: signup, login, token refresh and logout.

use actix_web::{HttpResponse, post, web};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use utoipa::ToSchema;

use crate::domain::email::Email;
use crate::domain::ids::UserId;
use crate::domain::password::Password;
use crate::domain::role::Role;
use crate::domain::text;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    /// 8 to 128 characters mixing at least two of letters, digits, symbols.
    pub password: String,
    pub name: String,
    /// `customer` or `seller`; admins exist only through configuration.
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    pub id: UserId,
    pub email: Email,
    pub role: Role,
}

/// Opens a customer or seller account.
#[utoipa::path(
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, body = SignupResponse),
        (status = 400, description = "`VALIDATION_FAILED` (malformed email, weak password, admin role)", body = Problem),
        (status = 409, description = "`CONFLICT`: the email is taken", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
    )
)]
#[post("/auth/signup")]
pub async fn signup(
    state: web::Data<AppState>,
    body: web::Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let SignupRequest {
        email,
        password,
        name,
        role,
    } = body.into_inner();
    let email = Email::parse(&email)?;
    let password = Password::parse(&password)?;
    let name = text::person_name(&name)?;
    if role == Role::Admin {
        return Err(ApiError::Validation(
            "role: must be `customer` or `seller`".into(),
        ));
    }
    let hash = hash_password(password.expose().to_owned()).await?;
    let id = state.store.create_user(&email, &hash, &name, role).await?;
    Ok(HttpResponse::Created().json(SignupResponse { id, email, role }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Exchanges email and password for an access token.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { email, password } = body.into_inner();
    let email = Email::parse(&email)?;
    if password.is_empty() || password.len() > 1024 {
        return Err(ApiError::Validation(
            "password: must be 1 to 1024 bytes".into(),
        ));
    }
    let user = state
        .store
        .find_user_by_email(&email)
        .await?
        .filter(|u| !u.deleted);
    // Unknown emails are checked against a dummy hash so timing reveals nothing.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let valid = verify_password(password, hash).await?;
    let user = match user {
        Some(u) if valid => u,
        _ => return Err(ApiError::Unauthorized("email or password is wrong")),
    };
    let token = state.tokens.issue(user.id, user.role)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl().as_secs(),
    }))
}

/// Hashes a password (argon2id, random salt) off the async workers.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing password: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hash task: {e}")))?
}

async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    let hash = match hash {
        Some(h) => h,
        None => dummy_hash().await?,
    };
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verify task: {e}")))
}

async fn dummy_hash() -> Result<String, ApiError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = hash_password("not-a-real-password".into()).await?;
    Ok(DUMMY.get_or_init(|| h).clone())
}
