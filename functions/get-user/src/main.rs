//! GET /v2/users/{userId}
user_token_domain::http_function!(user_token_domain::velo::get_user);
