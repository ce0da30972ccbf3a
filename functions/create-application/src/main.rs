//! POST /v1/payors/{payorId}/applications
user_token_domain::http_function!(user_token_domain::doors::velo::create_application);
