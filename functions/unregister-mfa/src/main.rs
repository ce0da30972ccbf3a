//! POST /v2/users/{userId}/mfa/unregister
user_token_domain::http_function!(user_token_domain::velo::unregister_mfa);
