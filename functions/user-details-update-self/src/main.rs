//! POST /v2/users/self/userDetailsUpdate
user_token_domain::http_function!(user_token_domain::doors::velo::user_details_update_self);
