//! GET /.well-known/jwks.json
user_token_domain::http_function!(user_token_domain::doors::velo::jwks);
