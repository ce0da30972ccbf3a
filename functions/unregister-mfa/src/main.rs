//! POST /v2/users/{userId}/mfa/unregister
user_token_domain::http_function!(user_token_domain::doors::velo::unregister_mfa);
