//! GET /v2/users/self
user_token_domain::http_function!(user_token_domain::doors::velo::get_self);
