//! GET /api/n/otp-handler/{requestId}/status
user_token_domain::http_function!(user_token_domain::doors::sigma::status);
