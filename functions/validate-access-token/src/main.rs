//! POST /v1/validate
user_token_domain::http_function!(user_token_domain::doors::velo::validate_access_token);
