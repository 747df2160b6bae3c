//! The words of the pages and of the mail prefcenter sends, in English and French.
//!
//! The French is written as a French editor would: typographic apostrophes (’),
//! guillemets with no-break spaces (« … »), a no-break space before a colon and a
//! narrow one before ; ! ?, « e‑mail » with a non-breaking hyphen (U+2011) so that a
//! phone never breaks it, and wording that agrees with anyone (« Votre désinscription
//! est enregistrée » rather than « Vous êtes désinscrit »). A topic's name is set in a
//! sentence through [`Around`], which gives the words before and after it, so that
//! French can say « les e‑mails « Lettre » » where English says *Newsletter*; the unit
//! tests below hold every French string to these rules.

pub mod console;

use chrono::{Datelike, NaiveDateTime};

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// The contact's locale first, then the browser's languages, then English.
    pub fn choose(locale: Option<&str>, accepted: &[String]) -> Lang {
        locale
            .into_iter()
            .chain(accepted.iter().map(String::as_str))
            .find_map(|tag| match tag.split(['-', '_']).next().unwrap_or(tag).to_ascii_lowercase().as_str() {
                "fr" => Some(Lang::Fr),
                "en" => Some(Lang::En),
                _ => None,
            })
            .unwrap_or(Lang::En)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }

    /// A day as the language writes it: "3 March 2027", « 1er mars 2027 ».
    pub fn date(self, t: NaiveDateTime) -> String {
        const EN_MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        const FR_MONTHS: [&str; 12] = [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ];
        let month = t.month0() as usize;
        match self {
            Lang::En => format!("{} {} {}", t.day(), EN_MONTHS[month], t.year()),
            Lang::Fr if t.day() == 1 => format!("1er\u{a0}{}\u{a0}{}", FR_MONTHS[month], t.year()),
            Lang::Fr => format!("{}\u{a0}{}\u{a0}{}", t.day(), FR_MONTHS[month], t.year()),
        }
    }
}

/// The words around a name set in a sentence: `before` NAME `after`.
pub struct Around {
    pub before: &'static str,
    pub after: &'static str,
}

impl Around {
    /// The sentence as plain text, for a mail's text part.
    pub fn with(&self, name: &str) -> String {
        format!("{}{name}{}", self.before, self.after)
    }
}

/// The name of each kind of link, for the titles of the pages that refuse one.
pub struct LinkKinds {
    pub unsubscribe: &'static str,
    pub preferences: &'static str,
    pub confirm: &'static str,
    pub erase: &'static str,
}

pub struct Words {
    /// What the pages call the sender when no brand name is set.
    pub default_sender: &'static str,
    pub privacy_policy: &'static str,
    pub questions: &'static str,

    // The unsubscribe link's pages.
    pub unsubscribe_title: &'static str,
    pub unsubscribe_question: Around,
    pub unsubscribe_all_question: &'static str,
    pub unsubscribe_button: &'static str,
    pub transactional_note: &'static str,
    pub unsubscribed_title: &'static str,
    pub unsubscribed_from: Around,
    pub unsubscribed_all: &'static str,
    pub undo_button: &'static str,
    pub already_title: &'static str,
    pub already_from: Around,
    pub already_all: &'static str,
    pub resubscribe_button: &'static str,
    pub resubscribed_title: &'static str,
    pub resubscribed_to: Around,
    pub resubscribed_all: &'static str,
    /// A topic link, while the recipient is unsubscribed from all promotional mail.
    pub still_unsubscribed_all: &'static str,
    pub erased_title: &'static str,
    pub erased: &'static str,
    pub manage: &'static str,

    // "Why did you leave?"
    pub reason_legend: &'static str,
    pub reason_too_frequent: &'static str,
    pub reason_not_relevant: &'static str,
    pub reason_never_signed_up: &'static str,
    pub reason_other: &'static str,
    pub reason_comment: &'static str,
    pub reason_button: &'static str,
    pub reason_thanks_title: &'static str,
    pub reason_thanks: &'static str,
    pub reason_invalid: &'static str,

    // The preference page.
    pub preferences_title: &'static str,
    pub preferences_intro: &'static str,
    pub always_sent: &'static str,
    pub pending: &'static str,
    pub all_promotional: &'static str,
    pub all_promotional_note: &'static str,
    pub language: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub pause_title: &'static str,
    pub pause_intro: &'static str,
    pub pause_week: &'static str,
    pub pause_month: &'static str,
    pub pause_three_months: &'static str,
    pub paused_until: Around,
    pub resume_button: &'static str,
    pub your_data: &'static str,
    pub download: &'static str,
    pub erase_link: &'static str,

    // Erasure.
    pub erase_title: &'static str,
    pub erase_warning: &'static str,
    pub erase_mail_first: Around,
    pub erase_mail_button: &'static str,
    pub erase_cancel: &'static str,
    pub erase_sent_title: &'static str,
    pub erase_sent: Around,
    pub erase_no_address: &'static str,
    pub erase_nothing: &'static str,
    pub erase_now_button: &'static str,
    pub erased_done: &'static str,

    // Double opt-in.
    pub confirm_title: &'static str,
    pub confirm_question: &'static str,
    pub confirm_button: &'static str,
    pub confirmed: &'static str,
    pub nothing_pending: &'static str,

    // Links that cannot be used, and asking for a new one.
    pub link_kind: LinkKinds,
    pub invalid_title: Around,
    pub expired_title: Around,
    pub link_invalid: &'static str,
    pub link_expired: &'static str,
    pub link_gone_title: &'static str,
    pub link_gone: &'static str,
    pub expired_action: &'static str,
    pub trouble_title: &'static str,
    pub try_again: &'static str,
    pub new_link_title: &'static str,
    pub new_link_intro: &'static str,
    pub email_label: &'static str,
    pub new_link_button: &'static str,
    pub new_link_sent_title: &'static str,
    pub new_link_sent: Around,
    pub not_an_address: &'static str,
    pub too_many: &'static str,

    // Mail.
    pub mail_preferences_subject: &'static str,
    pub mail_preferences_intro: &'static str,
    pub mail_preferences_button: &'static str,
    pub mail_confirm_subject: &'static str,
    pub mail_confirm_intro: &'static str,
    pub mail_confirm_button: &'static str,
    pub mail_confirm_ignore: &'static str,
    pub mail_erase_subject: &'static str,
    pub mail_erase_intro: &'static str,
    pub mail_erase_button: &'static str,
    pub mail_link_days: Around,
    pub mail_link_minutes: Around,
    pub mail_ignore: &'static str,
    pub mail_or_copy: &'static str,
}

static EN: Words = Words {
    default_sender: "Email preferences",
    privacy_policy: "Privacy policy",
    questions: "Questions:",

    unsubscribe_title: "Unsubscribe",
    unsubscribe_question: Around { before: "Stop receiving ", after: "?" },
    unsubscribe_all_question: "Stop receiving all our promotional email?",
    unsubscribe_button: "Unsubscribe",
    transactional_note: "We will still send messages about your account, such as receipts and password resets.",
    unsubscribed_title: "Unsubscribed",
    unsubscribed_from: Around { before: "Your unsubscribe is recorded: you will no longer receive ", after: "." },
    unsubscribed_all: "Your unsubscribe is recorded: you will no longer receive any promotional email from us.",
    undo_button: "Undo",
    already_title: "Already unsubscribed",
    already_from: Around { before: "You no longer receive ", after: "." },
    already_all: "You no longer receive any promotional email from us.",
    resubscribe_button: "Resubscribe",
    resubscribed_title: "Resubscribed",
    resubscribed_to: Around { before: "Done: you will receive ", after: " again." },
    resubscribed_all: "Done: you will receive our promotional email again.",
    still_unsubscribed_all: "You are unsubscribed from all our promotional email, so you will not receive it. To choose what you receive, open your preferences.",
    erased_title: "Address erased",
    erased: "This address was erased at its owner’s request: we send it nothing at all, not even messages about an account.",
    manage: "Choose what you receive",

    reason_legend: "Would you tell us why? (optional)",
    reason_too_frequent: "You send too many emails",
    reason_not_relevant: "The content is not relevant to me",
    reason_never_signed_up: "I never asked to receive these emails",
    reason_other: "Another reason",
    reason_comment: "Anything to add? (optional, up to 500 characters)",
    reason_button: "Send my answer",
    reason_thanks_title: "Thank you",
    reason_thanks: "Thank you: your answer helps us write only to people who want to hear from us.",
    reason_invalid: "Please choose one of the answers, and keep the comment under 500 characters.",

    preferences_title: "Your email preferences",
    preferences_intro: "Choose the email you want to receive from us.",
    always_sent: "Always sent: needed for your account",
    pending: "Waiting for your confirmation (see the email we sent you). Tick it to subscribe now.",
    all_promotional: "Unsubscribe from all promotional email",
    all_promotional_note: "While this is ticked, we send you no promotional email at all, whatever is ticked above.",
    language: "Language",
    save: "Save my choices",
    saved: "Your choices are saved.",
    pause_title: "Take a break",
    pause_intro: "Pause all our promotional email for a while; it starts again by itself.",
    pause_week: "1 week",
    pause_month: "1 month",
    pause_three_months: "3 months",
    paused_until: Around { before: "Promotional email is paused until ", after: "." },
    resume_button: "Resume now",
    your_data: "Your data",
    download: "Download my data",
    erase_link: "Delete my data",

    erase_title: "Delete my data",
    erase_warning: "This deletes everything we hold about you: your choices and their history. We will then send this address nothing at all — not even receipts, password resets or security notices for an account you have with us. It cannot be undone.",
    erase_mail_first: Around { before: "To be sure it is you, we will email a confirmation link to ", after: ". Nothing is deleted until you follow it." },
    erase_mail_button: "Email me the confirmation link",
    erase_cancel: "No, go back",
    erase_sent_title: "Check your inbox",
    erase_sent: Around { before: "We have sent a confirmation link to ", after: ". Nothing is deleted until you follow it." },
    erase_no_address: "We hold no address to send a confirmation link to. To have your data deleted, write to us.",
    erase_nothing: "We hold nothing about you to delete.",
    erase_now_button: "Delete my data now",
    erased_done: "Your data is deleted. We will send this address nothing more.",

    confirm_title: "Confirm your subscription",
    confirm_question: "Do you want to receive:",
    confirm_button: "Yes, subscribe me",
    confirmed: "Thank you: your subscription is confirmed.",
    nothing_pending: "There is nothing left to confirm.",

    link_kind: LinkKinds {
        unsubscribe: "Unsubscribe link",
        preferences: "Preferences link",
        confirm: "Confirmation link",
        erase: "Deletion link",
    },
    invalid_title: Around { before: "", after: " not valid" },
    expired_title: Around { before: "", after: " expired" },
    link_invalid: "This link is not valid: it may have been cut short or changed on its way.",
    link_expired: "This link has expired.",
    link_gone_title: "Address no longer on our list",
    link_gone: "This link leads nowhere: the address it was made for is no longer on our list.",
    expired_action: "To do this, we need a fresh link.",
    trouble_title: "Something went wrong",
    try_again: "Something went wrong on our side. Please try again in a moment.",
    new_link_title: "Get a new link",
    new_link_intro: "Enter your email address: if it is on our list, we will send it a link to choose what you receive.",
    email_label: "Your email address",
    new_link_button: "Email me a new link",
    new_link_sent_title: "Check your inbox",
    new_link_sent: Around { before: "If ", after: " is on our list, we have just sent it a link." },
    not_an_address: "That is not an email address. Please check it and try again.",
    too_many: "Too many requests: please try again in a few minutes.",

    mail_preferences_subject: "Your email preferences",
    mail_preferences_intro: "Someone, probably you, asked for a link to choose which email you receive from us.",
    mail_preferences_button: "Choose what you receive",
    mail_confirm_subject: "Please confirm your subscription",
    mail_confirm_intro: "Please confirm that you want to receive:",
    mail_confirm_button: "Confirm my subscription",
    mail_confirm_ignore: "If you did not ask for this, ignore this message: nothing will be sent.",
    mail_erase_subject: "Confirm the deletion of your data",
    mail_erase_intro: "Someone, probably you, asked us to delete everything we hold about this address. Once deleted, we will send it nothing at all — not even receipts or password resets.",
    mail_erase_button: "Delete my data",
    mail_link_days: Around { before: "The link works for ", after: " days." },
    mail_link_minutes: Around { before: "The link works for ", after: " minutes." },
    mail_ignore: "If you did not ask for it, ignore this message.",
    mail_or_copy: "Or copy this link into your browser:",
};

static FR: Words = Words {
    default_sender: "Préférences d’e‑mail",
    privacy_policy: "Politique de confidentialité",
    questions: "Questions\u{a0}:",

    unsubscribe_title: "Désinscription",
    unsubscribe_question: Around { before: "Ne plus recevoir les e‑mails «\u{a0}", after: "\u{a0}»\u{202f}?" },
    unsubscribe_all_question: "Ne plus recevoir aucun de nos e‑mails promotionnels\u{202f}?",
    unsubscribe_button: "Me désinscrire",
    transactional_note: "Nous continuerons à vous envoyer les messages liés à votre compte, comme les reçus et les réinitialisations de mot de passe.",
    unsubscribed_title: "Désinscription enregistrée",
    unsubscribed_from: Around { before: "Votre désinscription est enregistrée\u{a0}: vous ne recevrez plus les e‑mails «\u{a0}", after: "\u{a0}»." },
    unsubscribed_all: "Votre désinscription est enregistrée\u{a0}: vous ne recevrez plus aucun de nos e‑mails promotionnels.",
    undo_button: "Annuler la désinscription",
    already_title: "Désinscription déjà enregistrée",
    already_from: Around { before: "Vous ne recevez plus les e‑mails «\u{a0}", after: "\u{a0}»." },
    already_all: "Vous ne recevez plus aucun de nos e‑mails promotionnels.",
    resubscribe_button: "Me réinscrire",
    resubscribed_title: "Réinscription enregistrée",
    resubscribed_to: Around { before: "C’est fait\u{a0}: vous recevrez de nouveau les e‑mails «\u{a0}", after: "\u{a0}»." },
    resubscribed_all: "C’est fait\u{a0}: vous recevrez de nouveau nos e‑mails promotionnels.",
    still_unsubscribed_all: "Votre désinscription de tous nos e‑mails promotionnels reste enregistrée\u{a0}: vous ne les recevrez pas. Pour choisir ce que vous recevez, ouvrez vos préférences.",
    erased_title: "Adresse effacée",
    erased: "Cette adresse a été effacée à la demande de son titulaire\u{a0}: nous ne lui envoyons plus rien, pas même les messages liés à un compte.",
    manage: "Choisir ce que je reçois",

    reason_legend: "Pouvez-vous nous dire pourquoi\u{202f}? (facultatif)",
    reason_too_frequent: "Vous envoyez trop d’e‑mails",
    reason_not_relevant: "Le contenu ne me concerne pas",
    reason_never_signed_up: "Je n’ai jamais demandé à recevoir ces e‑mails",
    reason_other: "Une autre raison",
    reason_comment: "Un commentaire\u{202f}? (facultatif, 500\u{a0}caractères au plus)",
    reason_button: "Envoyer ma réponse",
    reason_thanks_title: "Merci",
    reason_thanks: "Merci\u{a0}: votre réponse nous aide à n’écrire qu’aux personnes qui le souhaitent.",
    reason_invalid: "Choisissez l’une des réponses, et un commentaire de 500\u{a0}caractères au plus.",

    preferences_title: "Vos préférences d’e‑mail",
    preferences_intro: "Choisissez les e‑mails que vous souhaitez recevoir de notre part.",
    always_sent: "Envoi systématique\u{a0}: indispensable à votre compte",
    pending: "En attente de votre confirmation (voir l’e‑mail que nous vous avons envoyé). Cochez la case pour vous abonner dès maintenant.",
    all_promotional: "Me désinscrire de tous les e‑mails promotionnels",
    all_promotional_note: "Tant que cette case est cochée, nous ne vous envoyons aucun e‑mail promotionnel, quels que soient vos choix ci-dessus.",
    language: "Langue",
    save: "Enregistrer mes choix",
    saved: "Vos choix sont enregistrés.",
    pause_title: "Faire une pause",
    pause_intro: "Suspendez tous nos e‑mails promotionnels pour un temps\u{202f}; ils reprendront d’eux-mêmes.",
    pause_week: "1\u{a0}semaine",
    pause_month: "1\u{a0}mois",
    pause_three_months: "3\u{a0}mois",
    paused_until: Around { before: "Les e‑mails promotionnels sont suspendus jusqu’au ", after: "." },
    resume_button: "Reprendre maintenant",
    your_data: "Vos données",
    download: "Télécharger mes données",
    erase_link: "Supprimer mes données",

    erase_title: "Supprimer mes données",
    erase_warning: "Cette action supprime tout ce que nous conservons sur vous\u{a0}: vos choix et leur historique. Nous n’enverrons ensuite plus rien à cette adresse — pas même les reçus, les réinitialisations de mot de passe ou les alertes de sécurité d’un compte que vous avez chez nous. Elle est irréversible.",
    erase_mail_first: Around { before: "Pour nous assurer qu’il s’agit bien de vous, nous enverrons un lien de confirmation à ", after: ". Rien n’est supprimé tant que vous ne l’avez pas suivi." },
    erase_mail_button: "M’envoyer le lien de confirmation",
    erase_cancel: "Non, revenir à mes choix",
    erase_sent_title: "Consultez votre boîte de réception",
    erase_sent: Around { before: "Nous avons envoyé un lien de confirmation à ", after: ". Rien n’est supprimé tant que vous ne l’avez pas suivi." },
    erase_no_address: "Nous ne conservons aucune adresse à laquelle envoyer un lien de confirmation. Pour faire supprimer vos données, écrivez-nous.",
    erase_nothing: "Nous ne conservons rien sur vous.",
    erase_now_button: "Supprimer mes données maintenant",
    erased_done: "Vos données sont supprimées. Nous n’enverrons plus rien à cette adresse.",

    confirm_title: "Confirmez votre inscription",
    confirm_question: "Souhaitez-vous recevoir\u{a0}:",
    confirm_button: "Oui, je m’inscris",
    confirmed: "Merci\u{a0}: votre inscription est confirmée.",
    nothing_pending: "Il n’y a plus rien à confirmer.",

    link_kind: LinkKinds {
        unsubscribe: "Lien de désinscription",
        preferences: "Lien de préférences",
        confirm: "Lien de confirmation",
        erase: "Lien de suppression",
    },
    invalid_title: Around { before: "", after: " non valide" },
    expired_title: Around { before: "", after: " expiré" },
    link_invalid: "Ce lien n’est pas valide\u{a0}: il a pu être tronqué ou modifié en chemin.",
    link_expired: "Ce lien a expiré.",
    link_gone_title: "Adresse absente de notre liste",
    link_gone: "Ce lien ne mène plus nulle part\u{a0}: l’adresse pour laquelle il a été créé ne figure plus dans notre liste.",
    expired_action: "Pour cela, il nous faut un lien récent.",
    trouble_title: "Un problème est survenu",
    try_again: "Un problème est survenu de notre côté. Veuillez réessayer dans un instant.",
    new_link_title: "Recevoir un nouveau lien",
    new_link_intro: "Indiquez votre adresse e‑mail\u{a0}: si elle figure dans notre liste, nous lui enverrons un lien pour choisir ce que vous recevez.",
    email_label: "Votre adresse e‑mail",
    new_link_button: "M’envoyer un nouveau lien",
    new_link_sent_title: "Consultez votre boîte de réception",
    new_link_sent: Around { before: "Si l’adresse ", after: " figure dans notre liste, nous venons de lui envoyer un lien." },
    not_an_address: "Ce n’est pas une adresse e‑mail. Vérifiez-la et réessayez.",
    too_many: "Trop de demandes\u{a0}: veuillez réessayer dans quelques minutes.",

    mail_preferences_subject: "Vos préférences d’e‑mail",
    mail_preferences_intro: "Quelqu’un, sans doute vous, a demandé un lien pour choisir les e‑mails que vous recevez de notre part.",
    mail_preferences_button: "Choisir ce que je reçois",
    mail_confirm_subject: "Merci de confirmer votre inscription",
    mail_confirm_intro: "Merci de confirmer que vous souhaitez recevoir\u{a0}:",
    mail_confirm_button: "Confirmer mon inscription",
    mail_confirm_ignore: "Si vous n’avez rien demandé, ignorez ce message\u{a0}: rien ne vous sera envoyé.",
    mail_erase_subject: "Confirmez la suppression de vos données",
    mail_erase_intro: "Quelqu’un, sans doute vous, nous a demandé de supprimer tout ce que nous conservons sur cette adresse. Une fois la suppression faite, nous ne lui enverrons plus rien — pas même les reçus ou les réinitialisations de mot de passe.",
    mail_erase_button: "Supprimer mes données",
    mail_link_days: Around { before: "Le lien est valable ", after: "\u{a0}jours." },
    mail_link_minutes: Around { before: "Le lien est valable ", after: "\u{a0}minutes." },
    mail_ignore: "Si vous ne l’avez pas demandé, ignorez ce message.",
    mail_or_copy: "Ou copiez ce lien dans votre navigateur\u{a0}:",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contacts_locale_comes_first_then_the_browsers() {
        assert_eq!(Lang::choose(Some("fr-CA"), &["en".into()]), Lang::Fr);
        assert_eq!(Lang::choose(None, &["de".into(), "fr-FR".into()]), Lang::Fr);
        assert_eq!(Lang::choose(Some("de"), &[]), Lang::En);
    }

    #[test]
    fn dates_read_as_each_language_writes_them() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().naive_utc();
        assert_eq!(Lang::En.date(at("2027-03-03T10:00:00Z")), "3 March 2027");
        assert_eq!(Lang::Fr.date(at("2027-03-03T10:00:00Z")), "3\u{a0}mars\u{a0}2027");
        assert_eq!(Lang::Fr.date(at("2027-08-01T10:00:00Z")), "1er\u{a0}août\u{a0}2027");
    }

    /// Every French string, the ones around a name completed with one.
    fn french() -> Vec<String> {
        let w = Lang::Fr.words();
        let plain = [
            w.default_sender,
            w.privacy_policy,
            w.questions,
            w.unsubscribe_title,
            w.unsubscribe_all_question,
            w.unsubscribe_button,
            w.transactional_note,
            w.unsubscribed_title,
            w.unsubscribed_all,
            w.undo_button,
            w.already_title,
            w.already_all,
            w.resubscribe_button,
            w.resubscribed_title,
            w.resubscribed_all,
            w.still_unsubscribed_all,
            w.erased_title,
            w.erased,
            w.manage,
            w.reason_legend,
            w.reason_too_frequent,
            w.reason_not_relevant,
            w.reason_never_signed_up,
            w.reason_other,
            w.reason_comment,
            w.reason_button,
            w.reason_thanks_title,
            w.reason_thanks,
            w.reason_invalid,
            w.preferences_title,
            w.preferences_intro,
            w.always_sent,
            w.pending,
            w.all_promotional,
            w.all_promotional_note,
            w.language,
            w.save,
            w.saved,
            w.pause_title,
            w.pause_intro,
            w.pause_week,
            w.pause_month,
            w.pause_three_months,
            w.resume_button,
            w.your_data,
            w.download,
            w.erase_link,
            w.erase_title,
            w.erase_warning,
            w.erase_mail_button,
            w.erase_cancel,
            w.erase_sent_title,
            w.erase_no_address,
            w.erase_nothing,
            w.erase_now_button,
            w.erased_done,
            w.confirm_title,
            w.confirm_question,
            w.confirm_button,
            w.confirmed,
            w.nothing_pending,
            w.link_kind.unsubscribe,
            w.link_kind.preferences,
            w.link_kind.confirm,
            w.link_kind.erase,
            w.link_invalid,
            w.link_expired,
            w.link_gone_title,
            w.link_gone,
            w.expired_action,
            w.trouble_title,
            w.try_again,
            w.new_link_title,
            w.new_link_intro,
            w.email_label,
            w.new_link_button,
            w.new_link_sent_title,
            w.not_an_address,
            w.too_many,
            w.mail_preferences_subject,
            w.mail_preferences_intro,
            w.mail_preferences_button,
            w.mail_confirm_subject,
            w.mail_confirm_intro,
            w.mail_confirm_button,
            w.mail_confirm_ignore,
            w.mail_erase_subject,
            w.mail_erase_intro,
            w.mail_erase_button,
            w.mail_ignore,
            w.mail_or_copy,
        ];
        let around = [
            &w.unsubscribe_question,
            &w.unsubscribed_from,
            &w.already_from,
            &w.resubscribed_to,
            &w.paused_until,
            &w.erase_mail_first,
            &w.erase_sent,
            &w.invalid_title,
            &w.expired_title,
            &w.new_link_sent,
            &w.mail_link_days,
            &w.mail_link_minutes,
        ];
        plain.iter().map(|s| s.to_string()).chain(around.iter().map(|a| a.with("Lettre"))).collect()
    }

    #[test]
    fn french_reads_as_a_french_editor_writes_it() {
        for text in french() {
            assert!(!text.contains('\''), "a straight apostrophe: {text}");
            assert!(!text.contains("e-mail") && !text.contains("E-mail"), "a breakable e-mail: {text}");
            let chars: Vec<char> = text.chars().collect();
            for (i, c) in chars.iter().enumerate() {
                let before = i.checked_sub(1).map(|j| chars[j]);
                let after = chars.get(i + 1).copied();
                match c {
                    ':' => assert_eq!(before, Some('\u{a0}'), "a no-break space before ':' in {text}"),
                    ';' | '!' | '?' => {
                        assert_eq!(before, Some('\u{202f}'), "a narrow no-break space before {c:?} in {text}")
                    }
                    '«' => assert_eq!(after, Some('\u{a0}'), "a no-break space after « in {text}"),
                    '»' => assert_eq!(before, Some('\u{a0}'), "a no-break space before » in {text}"),
                    '"' => panic!("straight quotes in {text}"),
                    _ => {}
                }
            }
            for gendered in ["désinscrit ", "désinscrit.", "inscrit ", "abonné "] {
                assert!(!text.contains(gendered), "wording that agrees with one gender only: {text}");
            }
        }
    }

    #[test]
    fn english_uses_typographic_apostrophes_too() {
        let w = Lang::En.words();
        for text in [w.erased, w.unsubscribed_all, w.transactional_note, w.erase_warning] {
            assert!(!text.contains('\''), "{text}");
        }
    }
}
