//! The test federation over HTTP (features `test-idp` + `oidc` + `axum`), and its
//! in-process back channel. **TEST ONLY — loopback, never for production.**

use serde_json::json;

use super::{OpRefusal, TestFederation};

impl crate::axum::OidcBackChannel for TestFederation {
    fn post_form(&self, url: &str, body: &str) -> Result<String, String> {
        let op = self.op_id();
        if url == format!("{op}/token") {
            return Ok(match self.token(body, self.clock()) {
                Ok(json) => json,
                Err(r) => json!({"error": r.error, "error_description": r.description}).to_string(),
            });
        }
        if url == format!("{op}/revocation") {
            self.revoke(body);
            return Ok(String::new());
        }
        Err("not found".to_owned())
    }

    fn get_with_authorization(&self, url: &str, authorization: &str) -> Result<String, String> {
        if url != format!("{}/userinfo", self.op_id()) {
            return Err("not found".to_owned());
        }
        self.userinfo(authorization, self.clock())
            .map_err(|r| r.error.to_owned())
    }
}

/// The federation over HTTP on loopback (features `test-idp` + `oidc` + `axum`): entity
/// configurations, the anchor's fetch endpoint, and the OP's authorization (auto-approve
/// of the made-up user, after automatic registration of the RP from its Entity
/// Configuration given at construction), token, userinfo and revocation endpoints.
pub fn router(
    federation: std::sync::Arc<TestFederation>,
    rp_entity_configuration: impl Fn() -> String + Send + Sync + 'static,
) -> ::axum::Router {
    use ::axum::extract::{Extension, RawQuery};
    use ::axum::http::{header, HeaderMap, StatusCode, Uri};
    use ::axum::response::{IntoResponse, Response};
    use ::axum::routing::{get, post};
    type Fed = Extension<std::sync::Arc<TestFederation>>;
    type RpEc = Extension<std::sync::Arc<dyn Fn() -> String + Send + Sync>>;
    fn oauth_error(r: &OpRefusal) -> Response {
        let body = json!({"error": r.error, "error_description": r.description}).to_string();
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
    async fn federation_doc(Extension(f): Fed, uri: Uri) -> Response {
        let url = format!("{}{}", f.base, uri);
        match f.get(&url, f.clock()) {
            Some(jwt) => (
                [(header::CONTENT_TYPE, "application/entity-statement+jwt")],
                jwt,
            )
                .into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    async fn authorization(
        Extension(f): Fed,
        Extension(rp): RpEc,
        RawQuery(q): RawQuery,
    ) -> Response {
        let now = f.clock();
        if let Err(r) = f.register_rp(&rp(), now) {
            return oauth_error(&r);
        }
        match f.authorize(q.as_deref().unwrap_or(""), now) {
            Ok(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response(),
            Err(r) => oauth_error(&r),
        }
    }
    async fn token(Extension(f): Fed, body: String) -> Response {
        match f.token(&body, f.clock()) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(r) => oauth_error(&r),
        }
    }
    async fn userinfo(Extension(f): Fed, headers: HeaderMap) -> Response {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match f.userinfo(auth, f.clock()) {
            Ok(jwt) => ([(header::CONTENT_TYPE, "application/jose")], jwt).into_response(),
            Err(r) => (StatusCode::UNAUTHORIZED, r.error).into_response(),
        }
    }
    async fn revocation(Extension(f): Fed, body: String) -> StatusCode {
        f.revoke(&body);
        StatusCode::OK
    }
    let wk = crate::oidc::WELL_KNOWN_FEDERATION;
    let rp: std::sync::Arc<dyn Fn() -> String + Send + Sync> =
        std::sync::Arc::new(rp_entity_configuration);
    ::axum::Router::new()
        .route(&format!("/ta{wk}"), get(federation_doc))
        .route(&format!("/op{wk}"), get(federation_doc))
        .route(&format!("/tmi{wk}"), get(federation_doc))
        .route("/ta/fetch", get(federation_doc))
        .route("/op/authorization", get(authorization))
        .route("/op/token", post(token))
        .route("/op/userinfo", get(userinfo).post(userinfo))
        .route("/op/revocation", post(revocation))
        .layer(Extension(rp))
        .layer(Extension(federation))
}
