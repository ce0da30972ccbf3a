//! POST /v2/users/{userId}/enable
user_token_domain::http_function!(user_token_domain::doors::velo::enable_user);
