//! Who reads a public list: nobody, or a signed-in account (whose blocks
//! then apply). A request without `Authorization` reads anonymously; one
//! with a bad token is refused `401`, never read as anonymous.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header};
use std::future::{Ready, ready};

use super::ApiError;
use super::auth::{AuthUser, authenticate};
use crate::domain::ids::UserId;
use crate::domain::role::Role;

#[derive(Debug, Clone, Copy)]
pub struct Viewer(pub Option<AuthUser>);

impl Viewer {
    pub fn id(&self) -> Option<UserId> {
        self.0.map(|u| u.id)
    }

    pub fn is_admin(&self) -> bool {
        self.0.is_some_and(|u| u.role == Role::Admin)
    }
}

impl FromRequest for Viewer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if req.headers().contains_key(header::AUTHORIZATION) {
            ready(authenticate(req).map(|u| Viewer(Some(u))))
        } else {
            ready(Ok(Viewer(None)))
        }
    }
}
