//! PUT /account/{account_key}/device/{device_key}/validate (QI Tech)
user_token_domain::http_function!(user_token_domain::doors::qi::validate_device);
