//! DELETE /account/{account_key}/device/{device_key}/disable (QI Tech)
user_token_domain::http_function!(user_token_domain::doors::qi::disable_device);
