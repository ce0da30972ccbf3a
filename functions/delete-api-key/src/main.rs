//! DELETE /v1/payors/{payorId}/applications/{applicationId}/keys/{apiKey}
user_token_domain::http_function!(user_token_domain::doors::velo::delete_api_key);
