//! POST /v2/users/invite
user_token_domain::http_function!(user_token_domain::doors::velo::invite_user);
