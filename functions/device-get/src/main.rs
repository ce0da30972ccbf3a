//! GET /account/{account_key}/device/{device_key} (QI Tech)
user_token_domain::http_function!(user_token_domain::doors::qi::get_device);
