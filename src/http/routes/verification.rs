//! Email verification: enter the code from the mail (or open its link), or
//! ask for a new one. Mounted in the auth scope (per client IP budget).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::email::Email;
use crate::domain::time::Timestamp;
use crate::domain::verification::{LinkToken, VerificationCode};
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::CodeCheck;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub email: String,
    /// The 6 digits from the mail.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct Verified {
    pub email_verified: bool,
}

fn verified() -> HttpResponse {
    HttpResponse::Ok().json(Verified {
        email_verified: true,
    })
}

/// Verifies the email with the code from the mail. A wrong code spends one
/// of the code's tries; after the last one the code is burnt. Access tokens
/// issued before say "not verified": refresh them to buy.
#[utoipa::path(
    tag = "auth",
    request_body = VerifyRequest,
    responses(
        (status = 200, body = Verified),
        (status = 400, description = "`VALIDATION_FAILED` (malformed email or code), or `INVALID_CODE`: wrong code, the detail says how many tries remain", body = Problem),
        (status = 409, description = "`CONFLICT`: the email is already verified", body = Problem),
        (status = 410, description = "`CODE_EXPIRED`: no live code (expired, used, burnt by wrong tries, or never sent): ask for a new one", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
    )
)]
#[post("/verify-email")]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: web::Json<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email)?;
    let code = VerificationCode::parse(&body.code)?;
    let user = state
        .store
        .find_user_by_email(&email)
        .await?
        .filter(|u| !u.deleted);
    // An unknown account answers like a wrong code: nothing tells it apart.
    let Some(user) = user else {
        return Err(ApiError::InvalidCode("wrong code".into()));
    };
    if user.email_verified {
        return Err(ApiError::Conflict("this email is already verified".into()));
    }
    let hash = state.verifier.key().code_hash(user.id.get(), &code);
    match state
        .store
        .check_code(user.id, &hash, Timestamp::now())
        .await?
    {
        CodeCheck::Verified => Ok(verified()),
        CodeCheck::Wrong { left: 0 } => Err(ApiError::InvalidCode(
            "wrong code; no tries left, ask for a new code".into(),
        )),
        CodeCheck::Wrong { left } => Err(ApiError::InvalidCode(format!(
            "wrong code; {left} tries left"
        ))),
        CodeCheck::Expired => Err(ApiError::CodeExpired),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// The token of the link in the mail.
    pub token: String,
}

/// Verifies the email through the link in the mail.
#[utoipa::path(
    tag = "auth",
    params(LinkQuery),
    responses(
        (status = 200, body = Verified),
        (status = 400, description = "`VALIDATION_FAILED`: not a verification token", body = Problem),
        (status = 410, description = "`CODE_EXPIRED`: the link expired, was used, or its code was replaced or burnt", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
    )
)]
#[get("/verify-email")]
pub async fn verify_link(
    state: web::Data<AppState>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = LinkToken::parse(&query.token)?;
    let hash = state.verifier.key().link_hash(&token);
    match state.store.check_link(&hash, Timestamp::now()).await? {
        Some(_) => Ok(verified()),
        None => Err(ApiError::CodeExpired),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub email: String,
}

/// Sends a new code (retiring the one before) to an account that is not
/// verified yet. Answers 202 whether or not such an account exists. Each
/// request spends from the account's and the client IP's hourly budgets.
#[utoipa::path(
    tag = "auth",
    request_body = ResendRequest,
    responses(
        (status = 202, description = "A new code is on its way, if the account exists and is not verified"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the account's or the client IP's resend budget is spent (see `Retry-After`)", body = Problem),
    )
)]
#[post("/resend-verification")]
pub async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ResendRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email)?;
    let client = state.limits.client(&req);
    state.verifier.spend_resend(client.as_ref(), &email)?;
    let user = state
        .store
        .find_user_by_email(&email)
        .await?
        .filter(|u| !u.deleted && !u.email_verified);
    if let Some(user) = user {
        let code = state.verifier.issue(user.id, &email);
        state.store.replace_code(user.id, &code).await?;
        state.mail.wake();
    }
    Ok(HttpResponse::Accepted().finish())
}
