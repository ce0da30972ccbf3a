//! POST /account/{account_key}/device (QI Tech)
user_token_domain::http_function!(user_token_domain::qi::create_device);
