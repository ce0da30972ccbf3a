//! POST /v2/users/{userId}/userDetailsUpdate
user_token_domain::http_function!(user_token_domain::doors::velo::user_details_update);
