//! Accounts from the outside: signup, login, token refresh and logout
//! (of one session, or of every device), and who a token speaks for.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::email::Email;
use crate::domain::ids::UserId;
use crate::domain::password::Password;
use crate::domain::role::Role;
use crate::domain::text;
use crate::domain::time::Timestamp;
use crate::http::auth::AuthUser;
use crate::http::peers::Note;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::{RevokeReason, UserRecord};

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
    /// False: when the shop requires it, a code is on its way by mail
    /// (`POST /auth/verify-email`).
    pub email_verified: bool,
}

/// Opens a customer or seller account. When the shop requires a verified
/// email to buy, the account is mailed a one-time code and a link.
#[utoipa::path(
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, body = SignupResponse),
        (status = 400, description = "`VALIDATION_FAILED` (malformed email, weak password, admin role)", body = Problem),
        (status = 409, description = "`CONFLICT`: the email is taken", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's budget is spent", body = Problem),
        (status = 503, description = "`OVERLOADED`: every password hashing slot is busy (see `Retry-After`)", body = Problem),
    )
)]
#[post("/signup")]
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
    let hash = state.passwords.hash(password.expose().to_owned()).await?;
    let require = state.require_verified_email;
    let id = state
        .store
        .create_user_with_code(&email, &hash, &name, role, |id| {
            require.then(|| state.verifier.issue(id, &email))
        })
        .await?;
    if require {
        state.mail.wake();
    }
    Ok(HttpResponse::Created().json(SignupResponse {
        id,
        email,
        role,
        email_verified: false,
    }))
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
    /// Exchange at `/auth/refresh` for a new pair; single use.
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges email and password for an access token. Every attempt spends
/// one password check of the account's budget.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's budget, or the account's budget of password checks, is spent (see `Retry-After`); refused before the password is checked", body = Problem),
        (status = 503, description = "`OVERLOADED`: every password hashing slot is busy (see `Retry-After`)", body = Problem),
    )
)]
#[post("/login")]
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
    // Before anything is read or hashed: a spent budget costs nothing.
    state.accounts.spend(email.as_str()).await?;
    let user = state
        .store
        .find_user_by_email(&email)
        .await?
        .filter(|u| !u.deleted);
    // Unknown emails are checked against a dummy hash so timing reveals nothing.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let valid = state.passwords.verify(password, hash).await?;
    let user = match user {
        Some(u) if valid => u,
        _ => return Err(ApiError::Unauthorized("email or password is wrong")),
    };
    let refresh_token = state.sessions.open(user.id).await?;
    token_pair(&state, &user, refresh_token)
}

/// Rotates a refresh token: answers a new pair and retires the old token.
/// Presenting a retired token again revokes its whole session.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`: invalid, expired, revoked or reused token", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
    )
)]
#[post("/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = state.sessions.verify(&body.refresh_token)?;
    let user = state
        .store
        .find_user(token.user)
        .await?
        .filter(|u| !u.deleted)
        .ok_or(ApiError::Unauthorized("this account no longer exists"))?;
    let next = state.sessions.rotate(&token).await?;
    token_pair(&state, &user, next)
}

/// Ends the session of the given refresh token. Access tokens already
/// issued stay valid until they expire (`expires_in`, 15 minutes by default).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is revoked (also when it already was)"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: another account's token", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
    )
)]
#[post("/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = state.sessions.verify(&body.refresh_token)?;
    state.sessions.close(&token, caller.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the caller (every device's refresh token) and
/// refuses every access token issued to them so far, this one included.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session is revoked and every access token issued so far refused: log in again"),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`: the database did not answer; nothing may have been revoked, try again", body = Problem),
    )
)]
#[post("/logout-all")]
pub async fn logout_all(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let now = Timestamp::now();
    // Stored first: a restart reloads it, so the tokens stay refused.
    state.store.revoke_access_tokens(caller.id, now).await?;
    state.tokens.revocations().revoke(caller.id, now);
    if let Some(peers) = &state.peers {
        peers.tell(Note::Revoked {
            user: caller.id.get(),
            at_ms: now.millis(),
        });
    }
    state
        .sessions
        .close_all(caller.id, RevokeReason::LogoutAll)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn token_pair(
    state: &AppState,
    user: &UserRecord,
    refresh_token: String,
) -> Result<HttpResponse, ApiError> {
    // Tokens must not be kept by any cache on the way.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TokenResponse {
            access_token: state
                .tokens
                .issue(user.id, user.role, user.email_verified)?,
            refresh_token,
            token_type: "Bearer",
            expires_in: state.tokens.ttl().as_secs(),
            refresh_expires_in: state.sessions.ttl().as_secs(),
        }))
}

/// Who an access token speaks for.
#[derive(Serialize, ToSchema)]
pub struct Session {
    pub user_id: UserId,
    pub role: Role,
    /// As of the token's issue; a refresh brings a newer answer.
    pub email_verified: bool,
}

/// Who the presented access token speaks for, once its signature, expiry
/// and revocation are checked; nothing is read from the database. A shop
/// front uses it to decide whether to ask for a login (and the load tool
/// as the cheapest authenticated route: the ceiling of the HTTP stack).
#[utoipa::path(
    get,
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Session),
        (status = 401, description = "`UNAUTHORIZED`: no token, or one invalid, expired or revoked", body = Problem),
    )
)]
#[get("/auth/whoami")]
pub async fn whoami(caller: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(Session {
        user_id: caller.id,
        role: caller.role,
        email_verified: caller.email_verified,
    })
}
