//! PATCH /account/{account_key}/device/{device_key}/resend_token (QI Tech)
user_token_domain::http_function!(user_token_domain::doors::qi::resend_device_token);
