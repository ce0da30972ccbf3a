//! POST /api/n/otp-handler/ (Sigma OTP start)
user_token_domain::http_function!(user_token_domain::doors::sigma::start);
