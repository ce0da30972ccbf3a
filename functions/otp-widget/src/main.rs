//! GET /api/n/otp-handler/widget/{widgetId}
user_token_domain::http_function!(user_token_domain::doors::sigma::widget);
