//! POST /v1/password/reset/confirm
user_token_domain::http_function!(user_token_domain::doors::velo::confirm_password_reset);
