//! POST /v2/users/{userId}/unlock
user_token_domain::http_function!(user_token_domain::doors::velo::unlock_user);
