//! Tokens: `Authorization: Bearer TOKEN`, checked against the store's tokens
//! (`gauntlet token create`). Write actions always need one; reads only when
//! [`crate::WebState::private_reads`] is set.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::pages::PageError;
use crate::{App, Error, Result};

/// The token of a request, if it sent one as `Bearer`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The name of the token the request carries; 401 without one or with one that is not valid.
pub(crate) async fn authorize(app: &App, headers: &HeaderMap) -> Result<String> {
    let Some(token) = bearer(headers) else {
        return Err(Error::Unauthorized {
            message: "a token is needed: Authorization: Bearer TOKEN".into(),
            invalid: false,
        });
    };
    match app.store.check_token(token).await? {
        Some(name) => Ok(name),
        None => {
            tracing::warn!("web: a request with a token that is not valid");
            Err(Error::Unauthorized {
                message: "the token is not valid (unknown or revoked)".into(),
                invalid: true,
            })
        }
    }
}

/// Adds the `WWW-Authenticate` challenge to a 401 answer.
pub(crate) fn challenge(error: &Error, response: &mut Response) {
    if let Error::Unauthorized { invalid, .. } = error {
        let value = if *invalid {
            "Bearer realm=\"gauntlet\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"gauntlet\""
        };
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    }
}

/// Reads need a token: everything but the stylesheet, the scripts and the API's description.
pub(crate) async fn private_reads(
    State(app): State<App>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/static/") || path == "/api/v1/openapi.json" {
        return next.run(request).await;
    }
    let api = path.starts_with("/api/");
    match authorize(&app, request.headers()).await {
        Ok(_) => next.run(request).await,
        Err(e) if api => ApiError::from(e).into_response(),
        Err(e) => PageError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_in_any_case() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  abc "),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}
