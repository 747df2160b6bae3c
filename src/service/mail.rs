//! The mail prefcenter itself sends: preference links and sign-up confirmations, in
//! the recipient's language, as text and HTML.

use crate::html::escape;
use crate::i18n::Lang;
use crate::mailer::Mail;

fn html(lang: Lang, paragraphs: &[&str], link: &str, button: &str) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{}</p>", escape(p))).collect();
    format!(
        r#"<!doctype html><html lang="{}"><body style="font-family: system-ui, sans-serif; line-height: 1.5">{body}<p><a href="{}">{}</a></p></body></html>"#,
        lang.code(),
        escape(link),
        escape(button)
    )
}

/// The mail that carries a fresh preference link.
pub fn preference_link(lang: Lang, to: &str, url: &str, days: i64) -> Mail {
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
    Mail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: format!("{intro}\n\n{button}: {url}\n\n{validity}\n"),
        html: html(lang, &[intro, &validity], url, button),
        list_unsubscribe: None,
    }
}

/// The double opt-in confirmation. Its `List-Unsubscribe` link cancels the request.
pub fn confirmation(lang: Lang, to: &str, topics: &[String], url: &str, cancel_url: &str, days: i64) -> Mail {
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
    Mail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: format!("{intro}\n\n{button}: {url}\n\n{validity}\n"),
        html: html(lang, &[&intro, &validity], url, button),
        list_unsubscribe: Some(cancel_url.to_owned()),
    }
}
