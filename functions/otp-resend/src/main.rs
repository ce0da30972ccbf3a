//! POST /api/n/otp-handler/{requestId}/resend
user_token_domain::http_function!(user_token_domain::doors::sigma::resend);
