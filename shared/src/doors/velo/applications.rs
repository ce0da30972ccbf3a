//! Velo's applications and API keys: `POST /v1/payors/{payorId}/applications`, `POST
//! /v1/payors/{payorId}/applications/{applicationId}/keys`, and (ours, in Velo's style) deleting a key.

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::serve;
use crate::domain::apikey::{ApiKey, ApiKeyId, Application, ApplicationId, KeyDetails};
use crate::domain::{DomainError, EntityId};
use crate::doors::http::{empty_response, json_body, json_response, path_param};
use crate::engine::App;

/// Velo's `PayorCreateApplicationRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateApplicationRequest {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

/// Velo's `PayorCreateApiKeyRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateApiKeyRequest {
    name: String,
    #[serde(default)]
    description: Option<String>,
    roles: Vec<String>,
}

/// Velo's `PayorCreateApiKeyResponse`: the only time the secret is shown.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateApiKeyResponse {
    api_key: String,
    api_secret: String,
}

fn uuid_param<T: std::str::FromStr<Err = &'static str>>(
    request: &Request,
    name: &str,
) -> Result<T, DomainError> {
    path_param(request, name)
        .unwrap_or_default()
        .parse()
        .map_err(|reason| DomainError::invalid_path(name, reason))
}

/// `POST /v1/payors/{payorId}/applications`: 201 with the application's `Location`.
pub async fn create_application(app: &App, request: Request) -> Response<Body> {
    serve(
        "payorCreateApplicationV1",
        request,
        |request, caller| async move {
            let payor: EntityId = uuid_param(&request, "payorId")?;
            caller.may_manage_payor(&payor)?;
            let body: CreateApplicationRequest = json_body(&request)?;
            let application = Application::new(
                payor,
                &body.name,
                body.description.as_deref(),
                OffsetDateTime::now_utc(),
            )?;
            app.store.create_application(&application).await?;
            let location = format!(
                "/v1/payors/{payor}/applications/{}",
                application.application_id
            );
            let mut response = empty_response(201);
            if let Ok(value) = location.parse() {
                response.headers_mut().insert("location", value);
            }
            Ok(response)
        },
    )
    .await
}

/// `POST /v1/payors/{payorId}/applications/{applicationId}/keys`: 200 `{apiKey, apiSecret}`.
pub async fn create_api_key(app: &App, request: Request) -> Response<Body> {
    serve(
        "payorCreateApiKeyV1",
        request,
        |request, caller| async move {
            let payor: EntityId = uuid_param(&request, "payorId")?;
            let application_id: ApplicationId = uuid_param(&request, "applicationId")?;
            caller.may_manage_payor(&payor)?;
            let body: CreateApiKeyRequest = json_body(&request)?;
            let details =
                KeyDetails::parse(&body.name, body.description.as_deref(), &body.roles)?;
            let application = app
                .store
                .get_application(&payor, &application_id)
                .await?
                .ok_or(DomainError::NotFound("application"))?;
            let (key, secret) = ApiKey::issue(
                &application,
                details,
                app.engine()?.hasher,
                OffsetDateTime::now_utc(),
            );
            app.store.create_api_key(&key).await?;
            tracing::info!(api_key = %key.key_id, %payor, %application_id, role = %key.role, "API key created");
            Ok(json_response(
                200,
                &CreateApiKeyResponse {
                    api_key: key.key_id.to_string(),
                    api_secret: secret.expose().to_owned(),
                },
            ))
        },
    )
    .await
}

/// `DELETE /v1/payors/{payorId}/applications/{applicationId}/keys/{apiKey}`: 204; the key's tokens are refused at
/// once (the authorizer reads the key on every request).
pub async fn delete_api_key(app: &App, request: Request) -> Response<Body> {
    serve("payorDeleteApiKey", request, |request, caller| async move {
        let payor: EntityId = uuid_param(&request, "payorId")?;
        let application_id: ApplicationId = uuid_param(&request, "applicationId")?;
        let key_id: ApiKeyId = uuid_param(&request, "apiKey")?;
        caller.may_manage_payor(&payor)?;
        let key = app
            .store
            .get_api_key(&key_id)
            .await?
            .filter(|key| key.payor_id == payor && key.application_id == application_id)
            .ok_or(DomainError::NotFound("API key"))?;
        if !app.store.delete_api_key(&key).await? {
            return Err(DomainError::NotFound("API key"));
        }
        tracing::info!(api_key = %key.key_id, %payor, "API key deleted");
        Ok(empty_response(204))
    })
    .await
}
