//! POST /v2/users/self/password
user_token_domain::http_function!(user_token_domain::velo::update_password_self);
