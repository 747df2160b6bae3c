//! The mail prefcenter itself sends — preference links, sign-up confirmations and
//! erasure confirmations — in the recipient's language and the sender's brand, as text
//! and HTML (from `templates/mail/`): the brand's name first, the link as a button and
//! then written out (some clients show no buttons, some people copy links), and a
//! footer with the sender's postal address, privacy policy and contact.

use askama::Template;

use crate::brand::Brand;
use crate::error::Error;
use crate::i18n::{Lang, Words};
use crate::mailer::Mail;
use crate::service::Context;

/// The footer every mail carries.
struct Footer<'a> {
    sender: &'a str,
    postal: Vec<&'a str>,
    privacy_url: Option<&'a str>,
    privacy_policy: &'static str,
    contact: Option<&'a str>,
    questions: &'static str,
}

impl<'a> Footer<'a> {
    fn new(brand: &'a Brand, words: &'static Words) -> Self {
        Footer {
            sender: brand.name.as_deref().unwrap_or(words.default_sender),
            postal: brand
                .postal_address
                .as_deref()
                .map(|a| a.lines().map(str::trim).collect())
                .unwrap_or_default(),
            privacy_url: brand.privacy_url.as_deref(),
            privacy_policy: words.privacy_policy,
            contact: brand.contact_email.as_deref(),
            questions: words.questions,
        }
    }
}

/// A mail's HTML part. Colours are inline: mail clients drop stylesheets.
#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlPart<'a> {
    lang: &'static str,
    subject: &'a str,
    intro: &'a [String],
    items: &'a [String],
    url: &'a str,
    button: &'a str,
    or_copy: &'static str,
    notes: &'a [String],
    accent: String,
    on_accent: String,
    link: String,
    footer: &'a Footer<'a>,
}

/// A mail's text part: the same words, the link written out.
#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextPart<'a> {
    intro: &'a [String],
    items: &'a [String],
    url: &'a str,
    button: &'a str,
    colon: &'static str,
    notes: &'a [String],
    footer: &'a Footer<'a>,
}

/// What one mail says.
struct Content<'a> {
    subject: &'a str,
    intro: Vec<String>,
    /// A list after the introduction (the topics to confirm).
    items: &'a [String],
    url: &'a str,
    button: &'a str,
    notes: Vec<String>,
}

fn message(brand: &Brand, lang: Lang, to: &str, content: Content) -> Result<Mail, Error> {
    let words = lang.words();
    let footer = Footer::new(brand, words);
    let palette = brand.theme.light;
    let html = HtmlPart {
        lang: lang.code(),
        subject: content.subject,
        intro: &content.intro,
        items: content.items,
        url: content.url,
        button: content.button,
        or_copy: words.mail_or_copy,
        notes: &content.notes,
        accent: palette.accent.to_string(),
        on_accent: palette.on_accent.to_string(),
        link: palette.link.to_string(),
        footer: &footer,
    };
    let text = TextPart {
        intro: &content.intro,
        items: content.items,
        url: content.url,
        button: content.button,
        colon: if lang == Lang::Fr { "\u{a0}:" } else { ":" },
        notes: &content.notes,
        footer: &footer,
    };
    let render = |e: askama::Error| Error::internal("rendering a mail", e);
    Ok(Mail {
        to: to.to_owned(),
        subject: content.subject.to_owned(),
        text: text.render().map_err(render)?,
        html: html.render().map_err(render)?,
        list_unsubscribe: None,
    })
}

/// The mail that carries a fresh preference link.
pub fn preference_link(brand: &Brand, lang: Lang, to: &str, url: &str, days: i64) -> Result<Mail, Error> {
    let w = lang.words();
    let content = Content {
        subject: w.mail_preferences_subject,
        intro: vec![w.mail_preferences_intro.into()],
        items: &[],
        url,
        button: w.mail_preferences_button,
        notes: vec![w.mail_link_days.with(&days.to_string()), w.mail_ignore.into()],
    };
    message(brand, lang, to, content)
}

/// The double opt-in confirmation, naming the topics in the recipient's language. Its
/// `List-Unsubscribe` link cancels the request.
pub fn confirmation(
    brand: &Brand,
    lang: Lang,
    to: &str,
    topics: &[String],
    url: &str,
    cancel_url: &str,
    days: i64,
) -> Result<Mail, Error> {
    let w = lang.words();
    let content = Content {
        subject: w.mail_confirm_subject,
        intro: vec![w.mail_confirm_intro.into()],
        items: topics,
        url,
        button: w.mail_confirm_button,
        notes: vec![w.mail_link_days.with(&days.to_string()), w.mail_confirm_ignore.into()],
    };
    let mail = message(brand, lang, to, content)?;
    Ok(Mail { list_unsubscribe: Some(cancel_url.to_owned()), ..mail })
}

/// The link that confirms an erasure asked for on the pages.
pub fn erase_confirmation(
    cx: &Context,
    lang: Lang,
    to: &str,
    url: &str,
    minutes: i64,
) -> Result<Mail, Error> {
    let w = lang.words();
    let content = Content {
        subject: w.mail_erase_subject,
        intro: vec![w.mail_erase_intro.into()],
        items: &[],
        url,
        button: w.mail_erase_button,
        notes: vec![w.mail_link_minutes.with(&minutes.to_string()), w.mail_ignore.into()],
    };
    message(&cx.brand, lang, to, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrandSettings;

    fn brand(name: Option<&str>) -> Brand {
        Brand::load(&BrandSettings {
            name: name.map(str::to_owned),
            logo: None,
            color: crate::domain::colour::Rgb(0xff, 0xd4, 0x00),
            privacy_url: Some("https://acme.example/privacy?a=1&b=2".into()),
            contact_email: Some("help@acme.example".into()),
            postal_address: Some("1 Main St\nSpringfield".into()),
        })
        .unwrap()
    }

    #[test]
    fn topic_names_are_escaped_in_the_html_part_only() {
        let names = ["<script>x</script> & \"b\"".to_owned()];
        let mail = confirmation(
            &brand(Some("Acme & Co")),
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
        assert!(mail.html.contains("Acme &#38; Co"), "the brand, escaped: {}", mail.html);
        // The button first, then the link written out, both escaped once.
        let button = mail.html.find(">Confirmer mon inscription</a>").expect("a button");
        let written = mail.html.find(">https://p.example/c/T?a=1&#38;b=2</a>").expect("the link written out");
        assert!(button < written, "{}", mail.html);
        assert!(mail.html.contains("n’avez rien demandé") && !mail.html.contains("&#38;#"), "{}", mail.html);
        assert!(mail.html.starts_with("<!doctype html>\n<html lang=\"fr\">"), "{}", mail.html);
        for head in ["<meta name=\"viewport\"", "<title>Merci de confirmer votre inscription</title>"] {
            assert!(mail.html.contains(head), "{head}: {}", mail.html);
        }
        // A pale accent gets dark text on the button.
        assert!(mail.html.contains("background:#ffd400;color:#0d1b33"), "{}", mail.html);
        assert_eq!(
            mail.text,
            "Acme & Co\n\n\
             Merci de confirmer que vous souhaitez recevoir\u{a0}:\n\n\
             - <script>x</script> & \"b\"\n\n\
             Confirmer mon inscription\u{a0}:\nhttps://p.example/c/T?a=1&b=2\n\n\
             Le lien est valable 7\u{a0}jours.\n\n\
             Si vous n’avez rien demandé, ignorez ce message\u{a0}: rien ne vous sera envoyé.\n\n\
             --\nAcme & Co\n1 Main St\nSpringfield\n\
             Politique de confidentialité\u{a0}: https://acme.example/privacy?a=1&b=2\n\
             Questions\u{a0}: help@acme.example\n"
        );
        assert_eq!(mail.list_unsubscribe.as_deref(), Some("https://p.example/u/U"));
    }

    #[test]
    fn without_a_brand_the_mail_names_the_service() {
        let mail =
            preference_link(&brand(None), Lang::En, "a@example.com", "https://p.example/p/T", 30).unwrap();
        assert!(mail.text.starts_with("Email preferences\n\n"), "{}", mail.text);
        assert!(mail.text.contains("The link works for 30 days."), "{}", mail.text);
        assert!(mail.html.contains("<p style=\"margin:0\">1 Main St</p>"), "{}", mail.html);
    }
}
