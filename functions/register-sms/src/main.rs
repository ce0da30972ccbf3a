//! POST /v2/users/registration/sms
user_token_domain::http_function!(user_token_domain::doors::velo::register_sms);
