//! POST /v2/users/{userId}/roleUpdate
user_token_domain::http_function!(user_token_domain::doors::velo::role_update);
