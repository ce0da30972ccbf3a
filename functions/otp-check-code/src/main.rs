//! POST /api/n/otp-handler/{requestId}/checkCode
user_token_domain::http_function!(user_token_domain::doors::sigma::check_code);
