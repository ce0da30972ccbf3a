//! POST /v1/mfa/register
user_token_domain::http_function!(user_token_domain::doors::velo::register_mfa);
