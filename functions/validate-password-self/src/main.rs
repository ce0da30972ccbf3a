//! POST /v2/users/self/password/validate
user_token_domain::http_function!(user_token_domain::doors::velo::validate_password_self);
