//! Product reviews: a buyer whose order line of a product was delivered
//! may review it once; anyone reads them. Writing a review updates the
//! product's rating totals in the same transaction, then forgets the
//! product's cached reads so its detail and listings show the new rating.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::ids::{ProductId, UserId};
use crate::domain::page::PageRequest;
use crate::domain::review::NewReview;
use crate::domain::time::Timestamp;
use crate::http::auth::Customer;
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::{ApiError, AppState};
use crate::persistence::{ReviewAdd, ReviewRecord};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReviewRequest {
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    /// 1 to 2,000 characters.
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewView {
    pub id: i64,
    pub product_id: ProductId,
    pub user_id: UserId,
    /// The reviewer's display name.
    pub author: String,
    pub rating: u8,
    pub text: String,
    pub created_at: Timestamp,
}

impl From<ReviewRecord> for ReviewView {
    fn from(r: ReviewRecord) -> Self {
        Self {
            id: r.id,
            product_id: r.product_id,
            user_id: r.user_id,
            author: r.author,
            rating: r.rating,
            text: r.text,
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReviewPage {
    pub items: Vec<ReviewView>,
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// From 1; default 1.
    #[param(minimum = 1, maximum = 4294967295_i64)]
    pub page: Option<i64>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

fn no_product(id: ProductId) -> ApiError {
    ApiError::NotFound(format!("product {id} does not exist"))
}

/// Reviews a product the caller received: once per product.
#[utoipa::path(
    tag = "reviews",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Product id")),
    request_body = NewReviewRequest,
    responses(
        (status = 201, body = ReviewView),
        (status = 400, description = "`VALIDATION_FAILED`: rating outside 1..=5, empty or too long text", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only; `REVIEW_NOT_ALLOWED`: no delivered order line of this product", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted product", body = Problem),
        (status = 409, description = "`CONFLICT`: the caller reviewed this product already", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/products/{id}/reviews")]
pub async fn add(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<i64>,
    body: web::Json<NewReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let product = ProductId::new(id.into_inner());
    let review = NewReview::parse(body.rating, &body.text)?;
    match state
        .store
        .add_review(customer.id(), product, &review)
        .await?
    {
        ReviewAdd::Added(record) => {
            // After the commit: the cached product and pages show the old rating.
            state.catalog.invalidate(product);
            Ok(HttpResponse::Created().json(ReviewView::from(record)))
        }
        ReviewAdd::NoSuchProduct => Err(no_product(product)),
        ReviewAdd::NotDelivered => Err(ApiError::ReviewNotAllowed(
            "only a buyer whose order of this product was delivered may review it".into(),
        )),
        ReviewAdd::AlreadyReviewed => Err(ApiError::Conflict(
            "you have reviewed this product already".into(),
        )),
    }
}

/// A product's reviews, newest first.
#[utoipa::path(
    tag = "reviews",
    params(("id" = i64, Path, description = "Product id"), ReviewQuery),
    responses(
        (status = 200, body = ReviewPage),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted product", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/products/{id}/reviews")]
pub async fn list(
    _budget: PublicRead,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<ReviewQuery>,
) -> Result<HttpResponse, ApiError> {
    let product = ProductId::new(id.into_inner());
    let page = PageRequest::new(query.page, query.page_size)?;
    if !state.store.product_is_live(product).await? {
        return Err(no_product(product));
    }
    let (reviews, total) = state.store.reviews(product, page).await?;
    Ok(HttpResponse::Ok().json(ReviewPage {
        items: reviews.into_iter().map(ReviewView::from).collect(),
        page: page.page,
        page_size: page.page_size,
        total,
    }))
}
