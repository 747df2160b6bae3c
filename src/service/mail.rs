//! The mail prefcenter itself sends: preference links and sign-up confirmations, in
//! the recipient's language, as text and HTML (from `templates/mail/`).

use askama::Template;

use crate::error::Error;
use crate::i18n::Lang;
use crate::mailer::Mail;

/// A mail's HTML part: its paragraphs and one link as a button.
#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlPart<'a> {
    lang: &'static str,
    paragraphs: [&'a str; 2],
    url: &'a str,
    button: &'a str,
}

/// A mail's text part: the same words, the link written out.
#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextPart<'a> {
    intro: &'a str,
    button: &'a str,
    url: &'a str,
    validity: &'a str,
}

/// A mail of an introduction, a link and how long the link works, in both parts.
fn message(
    lang: Lang,
    to: &str,
    subject: &str,
    intro: &str,
    validity: &str,
    url: &str,
    button: &str,
) -> Result<Mail, Error> {
    let html = HtmlPart { lang: lang.code(), paragraphs: [intro, validity], url, button };
    let text = TextPart { intro, button, url, validity };
    let render = |e: askama::Error| Error::internal("rendering a mail", e);
    Ok(Mail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: text.render().map_err(render)?,
        html: html.render().map_err(render)?,
        list_unsubscribe: None,
    })
}

/// The mail that carries a fresh preference link.
pub fn preference_link(lang: Lang, to: &str, url: &str, days: i64) -> Result<Mail, Error> {
    let (subject, intro, validity, button) = match lang {
        Lang::En => (
            "Your email preferences",
            "Someone, probably you, asked for a link to choose which email you receive from us.",
            format!("The link works for {days} days. If you did not ask for it, ignore this message."),
            "Choose what you receive",
        ),
        Lang::Fr => (
            "Vos préférences d'e-mail",
            "Quelqu'un, sans doute vous, a demandé un lien pour choisir les e-mails que vous recevez de notre part.",
            format!("Le lien est valable {days} jours. Si vous ne l'avez pas demandé, ignorez ce message."),
            "Choisir ce que je reçois",
        ),
    };
    message(lang, to, subject, intro, &validity, url, button)
}

/// The double opt-in confirmation. Its `List-Unsubscribe` link cancels the request.
pub fn confirmation(
    lang: Lang,
    to: &str,
    topics: &[String],
    url: &str,
    cancel_url: &str,
    days: i64,
) -> Result<Mail, Error> {
    let topics = topics.join(", ");
    let (subject, intro, validity, button) = match lang {
        Lang::En => (
            "Please confirm your subscription",
            format!("Please confirm that you want to receive: {topics}."),
            format!("The link works for {days} days. If you did not ask for this, ignore this message: nothing will be sent."),
            "Confirm my subscription",
        ),
        Lang::Fr => (
            "Merci de confirmer votre inscription",
            format!("Merci de confirmer que vous souhaitez recevoir : {topics}."),
            format!("Le lien est valable {days} jours. Si vous n'avez rien demandé, ignorez ce message : rien ne vous sera envoyé."),
            "Confirmer mon inscription",
        ),
    };
    let mail = message(lang, to, subject, &intro, &validity, url, button)?;
    Ok(Mail { list_unsubscribe: Some(cancel_url.to_owned()), ..mail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_escaped_in_the_html_part_only() {
        let names = ["<script>x</script> & \"b\"".to_owned()];
        let mail = confirmation(
            Lang::Fr,
            "a@example.com",
            &names,
            "https://p.example/c/T?a=1&b=2",
            "https://p.example/u/U",
            7,
        )
        .unwrap();
        assert!(mail.html.contains("&#60;script&#62;x&#60;/script&#62; &#38; &#34;b&#34;"), "{}", mail.html);
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail
            .html
            .contains(r#"<a href="https://p.example/c/T?a=1&#38;b=2">Confirmer mon inscription</a>"#));
        // The words are escaped once: an apostrophe, not its entity escaped again.
        assert!(
            mail.html.contains("n&#39;avez rien demandé") && !mail.html.contains("&#38;#39;"),
            "{}",
            mail.html
        );
        assert!(mail.html.starts_with("<!doctype html>\n<html lang=\"fr\">"), "{}", mail.html);
        assert_eq!(
            mail.text,
            "Merci de confirmer que vous souhaitez recevoir : <script>x</script> & \"b\".\n\n\
             Confirmer mon inscription: https://p.example/c/T?a=1&b=2\n\n\
             Le lien est valable 7 jours. Si vous n'avez rien demandé, ignorez ce message : rien ne vous sera envoyé.\n"
        );
        assert_eq!(mail.list_unsubscribe.as_deref(), Some("https://p.example/u/U"));
    }
}
