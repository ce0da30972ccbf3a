//! DELETE /v2/users/{userId}
user_token_domain::http_function!(user_token_domain::doors::velo::delete_user);
