//! POST /v1/authenticate
user_token_domain::http_function!(user_token_domain::doors::velo::authenticate);
