//! What recipients read, per purpose and locale. Every message carries its code or link and when it expires.

use time::OffsetDateTime;

use crate::domain::token::{Channel, Secret, TokenPurpose};
use crate::ports::EmailMessage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    PtBr,
    Ru,
}

/// A rendered message, for the channel it goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Sms(String),
    Email(EmailMessage),
}

fn expiry(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.format(&format)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// (subject, text body) for one purpose and locale; `{code}` and `{expiry}` are filled in.
fn wording(purpose: TokenPurpose, locale: Locale) -> (&'static str, &'static str) {
    use Locale::*;
    use TokenPurpose::*;
    match (purpose, locale) {
        (Invitation, En) => (
            "You have been invited",
            "You have been invited to join. Accept the invitation here: {code}\nThis link expires at {expiry}.",
        ),
        (Invitation, PtBr) => (
            "Você foi convidado",
            "Você foi convidado a participar. Aceite o convite aqui: {code}\nEste link expira em {expiry}.",
        ),
        (Invitation, Ru) => (
            "Вас пригласили",
            "Вас пригласили присоединиться. Примите приглашение здесь: {code}\nСсылка действует до {expiry}.",
        ),
        (MfaRegistration, En) => (
            "Register your MFA device",
            "Register your multi-factor authentication device here: {code}\nThis link expires at {expiry}.",
        ),
        (MfaRegistration, PtBr) => (
            "Registre seu dispositivo de MFA",
            "Registre seu dispositivo de autenticação multifator aqui: {code}\nEste link expira em {expiry}.",
        ),
        (MfaRegistration, Ru) => (
            "Зарегистрируйте устройство MFA",
            "Зарегистрируйте устройство многофакторной аутентификации здесь: {code}\nСсылка действует до {expiry}.",
        ),
        (PasswordReset, En) => (
            "Reset your password",
            "Choose a new password here: {code}\nThis link expires at {expiry}. If you did not ask for it, ignore this message.",
        ),
        (PasswordReset, PtBr) => (
            "Redefina sua senha",
            "Escolha uma nova senha aqui: {code}\nEste link expira em {expiry}. Se você não pediu, ignore esta mensagem.",
        ),
        (PasswordReset, Ru) => (
            "Сброс пароля",
            "Задайте новый пароль здесь: {code}\nСсылка действует до {expiry}. Если вы не запрашивали сброс, проигнорируйте это сообщение.",
        ),
        (MfaEnrolment, En) => (
            "Confirm your number",
            "Your code to register this number for sign-in is {code}. It expires at {expiry}.",
        ),
        (MfaEnrolment, PtBr) => (
            "Confirme seu número",
            "Seu código para registrar este número para acesso é {code}. Ele expira em {expiry}.",
        ),
        (MfaEnrolment, Ru) => (
            "Подтвердите номер",
            "Ваш код для регистрации этого номера для входа: {code}. Код действует до {expiry}.",
        ),
        (SmsVerification, En) => (
            "Your verification code",
            "Your verification code is {code}. It expires at {expiry}.",
        ),
        (SmsVerification, PtBr) => (
            "Seu código de verificação",
            "Seu código de verificação é {code}. Ele expira em {expiry}.",
        ),
        (SmsVerification, Ru) => (
            "Ваш код подтверждения",
            "Ваш код подтверждения: {code}. Код действует до {expiry}.",
        ),
        (DeviceApproval, En) => (
            "New device approval",
            "Your code to approve the new device is {code}. It expires at {expiry}.",
        ),
        (DeviceApproval, PtBr) => (
            "Aprovação de novo dispositivo",
            "Seu código para aprovar o novo dispositivo é {code}. Ele expira em {expiry}.",
        ),
        (DeviceApproval, Ru) => (
            "Подтверждение нового устройства",
            "Ваш код для подтверждения нового устройства: {code}. Код действует до {expiry}.",
        ),
        (SignIn, En) => (
            "Your sign-in code",
            "Your sign-in code is {code}. It expires at {expiry}. If you are not signing in, change your password.",
        ),
        (SignIn, PtBr) => (
            "Seu código de acesso",
            "Seu código de acesso é {code}. Ele expira em {expiry}. Se não é você entrando, troque sua senha.",
        ),
        (SignIn, Ru) => (
            "Код для входа",
            "Ваш код для входа: {code}. Код действует до {expiry}. Если вы не входите, смените пароль.",
        ),
        (OtpSession, En) => ("Verification code", "Your verification code is {code}. It is valid until {expiry}."),
        (OtpSession, PtBr) => ("Código de verificação", "Seu código de verificação é {code}. Ele é válido até {expiry}."),
        (OtpSession, Ru) => ("Код подтверждения", "Ваш код подтверждения: {code}. Код действует до {expiry}."),
    }
}

/// The message for one code. Link purposes put `link_base` + token in place of the code.
pub fn render(
    purpose: TokenPurpose,
    locale: Locale,
    channel: Channel,
    secret: &Secret,
    expires_at: OffsetDateTime,
    link_base: &str,
) -> Outgoing {
    let (subject, template) = wording(purpose, locale);
    let code = match purpose.format() {
        crate::domain::token::CodeFormat::UrlSafe => format!("{link_base}{}", secret.expose()),
        _ => secret.expose().to_owned(),
    };
    let when = expiry(expires_at);
    let text = template.replace("{code}", &code).replace("{expiry}", &when);
    match channel {
        Channel::Sms => Outgoing::Sms(text),
        Channel::Email => {
            let html_body = escape(template)
                .replace("{code}", &format!("<strong>{}</strong>", escape(&code)))
                .replace("{expiry}", &escape(&when))
                .replace('\n', "<br>");
            Outgoing::Email(EmailMessage {
                subject: subject.to_owned(),
                html: format!("<p>{html_body}</p>"),
                text,
            })
        }
    }
}

/// The email telling an address's owner that someone tried to invite it (the invitation was not made, and the
/// inviter was not told the address is taken).
pub fn invitation_notice() -> EmailMessage {
    let text = "Someone tried to invite this email address to join, but it already belongs to an account, so no \
                invitation was made and your account is unchanged. If you expected an invitation, ask the person who \
                sent it to contact you; otherwise you can ignore this message.";
    EmailMessage {
        subject: "Someone tried to invite you".to_owned(),
        html: format!("<p>{}</p>", escape(text)),
        text: text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token::CodeFormat;

    #[test]
    fn every_message_carries_its_code_and_expiry_in_its_language() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let code = Secret::generate(CodeFormat::Digits);
        let Outgoing::Sms(ru) = render(
            TokenPurpose::OtpSession,
            Locale::Ru,
            Channel::Sms,
            &code,
            at,
            "",
        ) else {
            panic!("sms")
        };
        assert!(
            ru.contains(code.expose())
                && ru.contains("1970-01-01 00:00 UTC")
                && ru.contains("Ваш код")
        );
        let Outgoing::Email(pt) = render(
            TokenPurpose::DeviceApproval,
            Locale::PtBr,
            Channel::Email,
            &code,
            at,
            "",
        ) else {
            panic!("email")
        };
        assert!(
            pt.text.contains(code.expose())
                && pt.html.contains(code.expose())
                && pt.subject.contains("dispositivo")
        );
        let link = Secret::generate(CodeFormat::UrlSafe);
        let Outgoing::Email(invite) = render(
            TokenPurpose::Invitation,
            Locale::En,
            Channel::Email,
            &link,
            at,
            "https://x.test/i?token=",
        ) else {
            panic!("email")
        };
        assert!(invite
            .text
            .contains(&format!("https://x.test/i?token={}", link.expose())));
        assert!(invite.html.contains("expires at"));
    }

    #[test]
    fn every_purpose_has_its_own_words_in_every_locale() {
        use TokenPurpose::*;
        let at = OffsetDateTime::UNIX_EPOCH;
        for purpose in [
            Invitation,
            MfaRegistration,
            SmsVerification,
            DeviceApproval,
            OtpSession,
            SignIn,
            PasswordReset,
            MfaEnrolment,
        ] {
            let mut seen = Vec::new();
            for locale in [Locale::En, Locale::PtBr, Locale::Ru] {
                let code = Secret::generate(purpose.format());
                let Outgoing::Email(mail) = render(
                    purpose,
                    locale,
                    Channel::Email,
                    &code,
                    at,
                    "https://x.test/?t=",
                ) else {
                    panic!("email")
                };
                assert!(mail.text.contains(code.expose()), "{purpose:?} {locale:?}");
                assert!(
                    mail.text.contains("1970-01-01 00:00 UTC"),
                    "{purpose:?} {locale:?}"
                );
                assert!(!seen.contains(&mail.subject), "{purpose:?} {locale:?}");
                seen.push(mail.subject);
            }
        }
    }
}
