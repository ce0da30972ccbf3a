//! POST /v2/users/{userId}/tokens
user_token_domain::http_function!(user_token_domain::doors::velo::resend_token);
