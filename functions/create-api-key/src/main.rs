//! POST /v1/payors/{payorId}/applications/{applicationId}/keys
user_token_domain::http_function!(user_token_domain::doors::velo::create_api_key);
