//! POST /v1/password/reset
user_token_domain::http_function!(user_token_domain::doors::velo::reset_password);
