//! POST /v1/logout
user_token_domain::http_function!(user_token_domain::doors::velo::logout);
