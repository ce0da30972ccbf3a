//! POST /v1/mfa/register/confirm
user_token_domain::http_function!(user_token_domain::doors::velo::confirm_mfa);
