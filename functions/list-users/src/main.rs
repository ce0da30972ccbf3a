//! GET /v2/users
user_token_domain::http_function!(user_token_domain::doors::velo::list_users);
