//! GET /v2/users
user_token_domain::http_function!(user_token_domain::velo::list_users);
