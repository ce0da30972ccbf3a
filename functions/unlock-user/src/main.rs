//! POST /v2/users/{userId}/unlock
user_token_domain::http_function!(user_token_domain::velo::unlock_user);
