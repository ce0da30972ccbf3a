//! GET /v2/users/self
user_token_domain::http_function!(user_token_domain::velo::get_self);
