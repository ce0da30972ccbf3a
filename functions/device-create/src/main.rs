//! POST /account/{account_key}/device (QI Tech)
user_token_domain::http_function!(user_token_domain::doors::qi::create_device);
