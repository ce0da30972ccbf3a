//! POST /v2/users/{userId}/disable
user_token_domain::http_function!(user_token_domain::doors::velo::disable_user);
