//! Property tests: no input, however hostile, makes a parser or a newtype panic.

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::domain::device::DocumentNumber;
    use crate::domain::password::Password;
    use crate::domain::{Email, EntityId, PersonName, PhoneNumber, Role, UserId};
    use crate::doors::http::json_body;
    use crate::doors::velo::wire::{InviteUserRequest, UserDetailsUpdateRequest, VerificationCode};

    fn request_with_body(body: Vec<u8>) -> lambda_http::Request {
        lambda_http::Request::new(lambda_http::Body::Binary(body))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn newtypes_parse_any_text_without_panicking(text in any::<String>()) {
            let _ = text.parse::<Email>();
            let _ = text.parse::<PhoneNumber>();
            let _ = text.parse::<UserId>();
            let _ = text.parse::<EntityId>();
            let _ = text.parse::<Role>();
            let _ = text.parse::<DocumentNumber>();
            let _ = PersonName::try_from(text.clone());
            let _ = Password::try_from(text.clone());
            let _ = VerificationCode::try_from(text.clone());
            if let Ok(phone) = text.parse::<PhoneNumber>() {
                prop_assert!(!phone.masked().is_empty());
            }
            if let Ok(email) = text.parse::<Email>() {
                prop_assert!(email.masked().contains('@'));
            }
        }

        #[test]
        fn request_bodies_of_any_bytes_are_a_result_not_a_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let request = request_with_body(body);
            let _ = json_body::<InviteUserRequest>(&request);
            let _ = json_body::<UserDetailsUpdateRequest>(&request);
            let _ = json_body::<serde_json::Value>(&request);
        }

        /// Whatever a client sends in a field, as a string, a number or inside an array or object, the error names
        /// the field and what it must be, never the value (which may be a code or a password).
        #[test]
        fn a_refused_value_is_never_in_the_error(
            field in proptest::sample::select(vec![
                "email", "mfaType", "smsNumber", "primaryContactNumber", "roles", "entityId", "userType",
                "verificationCode", "firstName",
            ]),
            text in "zqx[a-zA-Z0-9 ,`'.:\"\\\\-]{0,30}",
            number in 10_000_000_000u64..,
            shape in 0..4u8,
        ) {
            let mut body = serde_json::json!({
                "email": "pat@example.com", "mfaType": "SMS", "smsNumber": "+15555550123",
                "primaryContactNumber": "+15555550123", "roles": ["velo.backoffice.admin"],
            });
            let value = match shape {
                0 => serde_json::json!(text),
                1 => serde_json::json!(number),
                2 => serde_json::json!([text, number]),
                _ => serde_json::json!({"nested": text, "n": number}),
            };
            body[field] = value;
            let digits = number.to_string();
            if let Err(error) = json_body::<InviteUserRequest>(&request_with_body(body.to_string().into_bytes())) {
                let shown = error.to_string();
                prop_assert!(!shown.contains("zqx") && !shown.contains(&digits), "{field}: {shown}");
                if let crate::domain::DomainError::Invalid(invalid, _) = &error {
                    prop_assert!(!invalid.message.contains("zqx") && !invalid.message.contains(&digits));
                    // serde_json reports an enum given a number or an array as a syntax error, at `body`.
                    prop_assert!(invalid.location.starts_with(field) || invalid.location == "body", "{field}: {shown}");
                }
            }
        }

        #[test]
        fn json_shaped_bodies_name_a_field_or_parse(
            email in "\\PC{0,40}",
            phone in "[+0-9 ]{0,20}",
            roles in proptest::collection::vec("\\PC{0,30}", 0..4),
            extra in any::<i64>(),
        ) {
            let body = serde_json::json!({
                "email": email, "mfaType": "SMS", "smsNumber": phone, "primaryContactNumber": phone,
                "roles": roles, "entityId": extra,
            });
            match json_body::<InviteUserRequest>(&request_with_body(body.to_string().into_bytes())) {
                Ok(_) => {}
                Err(crate::domain::DomainError::Invalid(field, _)) => prop_assert!(!field.location.is_empty()),
                Err(other) => prop_assert!(false, "not a 400: {other:?}"),
            }
        }
    }
}
