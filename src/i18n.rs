//! The words of the pages and of the mail prefcenter sends, in English and French.

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
}

pub struct Words {
    pub unsubscribe_title: &'static str,
    pub unsubscribe_from: &'static str,
    pub unsubscribe_all: &'static str,
    pub unsubscribe_button: &'static str,
    pub unsubscribed_title: &'static str,
    pub unsubscribed_from: &'static str,
    pub unsubscribed_all: &'static str,
    pub transactional_note: &'static str,
    pub undo_button: &'static str,
    pub resubscribed: &'static str,
    pub manage: &'static str,
    pub preferences_title: &'static str,
    pub preferences_intro: &'static str,
    pub always_sent: &'static str,
    pub all_promotional: &'static str,
    pub language: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub link_invalid: &'static str,
    pub link_expired: &'static str,
    pub link_gone: &'static str,
    pub erased: &'static str,
    pub try_again: &'static str,
    /// A question mark as the language writes it (French puts a thin space before).
    pub question_mark: &'static str,
    pub confirm_title: &'static str,
    pub confirm_question: &'static str,
    pub confirm_button: &'static str,
    pub confirmed: &'static str,
    pub nothing_pending: &'static str,
    pub download: &'static str,
    pub erase_link: &'static str,
    pub erase_title: &'static str,
    pub erase_question: &'static str,
    pub erase_button: &'static str,
    pub erase_cancel: &'static str,
    pub erased_done: &'static str,
}

static EN: Words = Words {
    unsubscribe_title: "Unsubscribe",
    unsubscribe_from: "Stop receiving",
    unsubscribe_all: "Stop receiving all promotional email",
    unsubscribe_button: "Unsubscribe",
    unsubscribed_title: "You are unsubscribed",
    unsubscribed_from: "You will no longer receive",
    unsubscribed_all: "You will no longer receive promotional email from us.",
    transactional_note:
        "We will still send messages about your account, such as receipts and password resets.",
    undo_button: "Undo: keep receiving it",
    resubscribed: "Done: you will keep receiving it.",
    manage: "Choose what you receive",
    preferences_title: "Your email preferences",
    preferences_intro: "Choose the email you want to receive from us.",
    always_sent: "Always sent: needed for your account",
    all_promotional: "Unsubscribe from all promotional email",
    language: "Language",
    save: "Save my choices",
    saved: "Your choices are saved.",
    link_invalid: "This link is not valid. Please use the latest email you received from us.",
    link_expired: "This link has expired. Please use the latest email you received from us.",
    link_gone: "This link no longer leads anywhere: the address it was made for is no longer held.",
    erased: "This address was erased at its owner's request; no email will be sent to it.",
    try_again: "Something went wrong on our side. Please try again in a moment.",
    question_mark: "?",
    confirm_title: "Confirm your subscription",
    confirm_question: "Do you want to receive",
    confirm_button: "Yes, subscribe me",
    confirmed: "Thank you: your subscription is confirmed.",
    nothing_pending: "There is nothing left to confirm.",
    download: "Download my data",
    erase_link: "Delete my data",
    erase_title: "Delete my data",
    erase_question: "Delete everything we hold about you? Your choices and their history will be deleted, and we will never email this address again unless you sign up anew.",
    erase_button: "Yes, delete my data",
    erase_cancel: "No, go back",
    erased_done: "Your data is deleted. We will not email this address again.",
};

static FR: Words = Words {
    unsubscribe_title: "Désinscription",
    unsubscribe_from: "Ne plus recevoir",
    unsubscribe_all: "Ne plus recevoir aucun e-mail promotionnel",
    unsubscribe_button: "Me désinscrire",
    unsubscribed_title: "Vous êtes désinscrit",
    unsubscribed_from: "Vous ne recevrez plus",
    unsubscribed_all: "Vous ne recevrez plus d'e-mails promotionnels de notre part.",
    transactional_note: "Nous vous enverrons toujours les messages liés à votre compte, comme les reçus et les réinitialisations de mot de passe.",
    undo_button: "Annuler : continuer à le recevoir",
    resubscribed: "C'est fait : vous continuerez à le recevoir.",
    manage: "Choisir ce que je reçois",
    preferences_title: "Vos préférences d'e-mail",
    preferences_intro: "Choisissez les e-mails que vous souhaitez recevoir.",
    always_sent: "Toujours envoyé : nécessaire à votre compte",
    all_promotional: "Me désinscrire de tous les e-mails promotionnels",
    language: "Langue",
    save: "Enregistrer mes choix",
    saved: "Vos choix sont enregistrés.",
    link_invalid: "Ce lien n'est pas valide. Utilisez le dernier e-mail que vous avez reçu de notre part.",
    link_expired: "Ce lien a expiré. Utilisez le dernier e-mail que vous avez reçu de notre part.",
    link_gone: "Ce lien ne mène plus nulle part : l'adresse pour laquelle il a été créé n'est plus conservée.",
    erased: "Cette adresse a été effacée à la demande de son titulaire ; aucun e-mail ne lui sera envoyé.",
    try_again: "Un problème est survenu de notre côté. Veuillez réessayer dans un instant.",
    question_mark: "\u{202f}?",
    confirm_title: "Confirmez votre inscription",
    confirm_question: "Souhaitez-vous recevoir",
    confirm_button: "Oui, je m'inscris",
    confirmed: "Merci : votre inscription est confirmée.",
    nothing_pending: "Il n'y a plus rien à confirmer.",
    download: "Télécharger mes données",
    erase_link: "Supprimer mes données",
    erase_title: "Supprimer mes données",
    erase_question: "Supprimer tout ce que nous conservons sur vous\u{202f}? Vos choix et leur historique seront supprimés, et nous n'écrirons plus jamais à cette adresse, sauf nouvelle inscription de votre part.",
    erase_button: "Oui, supprimer mes données",
    erase_cancel: "Non, revenir",
    erased_done: "Vos données sont supprimées. Nous n'écrirons plus à cette adresse.",
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
}
