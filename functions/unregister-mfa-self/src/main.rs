//! POST /v2/users/self/mfa/unregister
user_token_domain::http_function!(user_token_domain::doors::velo::unregister_mfa_self);
