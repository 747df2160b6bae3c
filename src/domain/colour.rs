//! The accent colour an operator brands the pages with, made readable in light and
//! dark mode: WCAG 2.x contrast (relative luminance of sRGB), and the colours derived
//! so that every text on or in the accent keeps at least 4.5:1 — whatever colour is
//! set. Pure; computed once at start-up.

use std::fmt;

/// WCAG 2.x AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;

/// An sRGB colour, `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
    pub const BLACK: Rgb = Rgb(0, 0, 0);

    /// Reads `#rrggbb` (either case).
    pub fn parse(text: &str) -> Result<Rgb, String> {
        let wrong = || format!("{text:?} is not a colour written #rrggbb");
        let hex = text.trim().strip_prefix('#').ok_or_else(wrong)?;
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(wrong());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| wrong());
        Ok(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    /// Relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.0) + 0.7152 * channel(self.1) + 0.0722 * channel(self.2)
    }

    /// `self` moved a `share` (0 to 1) of the way towards `other`.
    fn mix(self, other: Rgb, share: f64) -> Rgb {
        let m = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * share).round() as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// The contrast ratio of two colours, 1 to 21.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// `colour` moved towards `towards` (white or black) in small steps until it reaches
/// [`MIN_CONTRAST`] against every one of `grounds`: it keeps its hue as long as it can.
/// Moving far enough always gets there when `towards` is the opposite end of the
/// grounds' luminance.
fn until_readable(colour: Rgb, towards: Rgb, grounds: &[Rgb]) -> Rgb {
    (0..=100)
        .map(|step| colour.mix(towards, f64::from(step) / 100.0))
        .find(|c| grounds.iter().all(|g| contrast(*c, *g) >= MIN_CONTRAST))
        .unwrap_or(towards)
}

/// The first of `candidates` readable on `ground`; black or white (whichever reads
/// better) if none is.
fn text_on(ground: Rgb, candidates: &[Rgb]) -> Rgb {
    candidates.iter().copied().find(|c| contrast(*c, ground) >= MIN_CONTRAST).unwrap_or(
        if contrast(Rgb::BLACK, ground) >= contrast(Rgb::WHITE, ground) { Rgb::BLACK } else { Rgb::WHITE },
    )
}

/// The colours of one mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// Primary buttons' background.
    pub accent: Rgb,
    /// Text on `accent`.
    pub on_accent: Rgb,
    /// Links and secondary buttons' text, on the card and on the page.
    pub link: Rgb,
}

/// The accent in both modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub light: Palette,
    pub dark: Palette,
}

/// The pages' own backgrounds (static/style.css): the card, then the page around it.
pub const LIGHT_GROUNDS: [Rgb; 2] = [Rgb(0xff, 0xff, 0xff), Rgb(0xf3, 0xf5, 0xf8)];
pub const DARK_GROUNDS: [Rgb; 2] = [Rgb(0x1d, 0x21, 0x29), Rgb(0x12, 0x15, 0x1a)];
/// The text colours tried on an accent, after white: the pages' dark text.
const DARK_TEXT: Rgb = Rgb(0x0d, 0x1b, 0x33);

impl Theme {
    /// Light mode keeps the operator's colour for buttons (the brand as they chose it)
    /// with white or dark text, whichever reads, and darkens it for links until they
    /// read on the light backgrounds. Dark mode lightens it until it reads on the dark
    /// backgrounds, for buttons (with dark text) and links alike.
    pub fn from_accent(accent: Rgb) -> Theme {
        let dark_accent = until_readable(accent, Rgb::WHITE, &DARK_GROUNDS);
        Theme {
            light: Palette {
                accent,
                on_accent: text_on(accent, &[Rgb::WHITE, DARK_TEXT]),
                link: until_readable(accent, Rgb::BLACK, &LIGHT_GROUNDS),
            },
            dark: Palette {
                accent: dark_accent,
                on_accent: text_on(dark_accent, &[DARK_TEXT, Rgb::WHITE]),
                link: dark_accent,
            },
        }
    }

    /// The stylesheet's custom properties for this theme, light and dark.
    pub fn css(&self) -> String {
        let vars = |p: &Palette| {
            format!("--accent: {}; --on-accent: {}; --link: {};", p.accent, p.on_accent, p.link)
        };
        format!(
            ":root {{ {} }}\n@media (prefers-color-scheme: dark) {{ :root {{ {} }} }}\n",
            vars(&self.light),
            vars(&self.dark)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn contrast_is_wcags() {
        assert!((contrast(Rgb::WHITE, Rgb::BLACK) - 21.0).abs() < 1e-9);
        assert!((contrast(Rgb::WHITE, Rgb::WHITE) - 1.0).abs() < 1e-9);
        // What the issue measured: white on the old dark accent.
        let old = Rgb::parse("#7fb0ff").unwrap();
        assert!((contrast(Rgb::WHITE, old) - 2.19).abs() < 0.01, "{}", contrast(Rgb::WHITE, old));
        assert_eq!(Rgb::parse("#1F5fbf").unwrap().to_string(), "#1f5fbf");
        for bad in ["1f5fbf", "#1f5fb", "#1f5fbfa", "#gggggg", "", "#", "red"] {
            assert!(Rgb::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_accent_keeps_its_light_colour_and_white_text() {
        let theme = Theme::from_accent(Rgb::parse("#1f5fbf").unwrap());
        assert_eq!((theme.light.accent, theme.light.on_accent), (Rgb(0x1f, 0x5f, 0xbf), Rgb::WHITE));
        assert_eq!(theme.light.link, theme.light.accent, "already readable as a link");
        assert_eq!(theme.dark.on_accent, DARK_TEXT);
        assert!(theme.css().contains("--accent: #1f5fbf;"), "{}", theme.css());
    }

    #[test]
    fn a_pale_accent_gets_dark_text_and_darker_links() {
        let yellow = Rgb::parse("#ffd400").unwrap();
        let theme = Theme::from_accent(yellow);
        assert_eq!(theme.light.accent, yellow, "the brand's colour, as set, on buttons");
        assert_ne!(theme.light.on_accent, Rgb::WHITE);
        assert_ne!(theme.light.link, yellow);
        assert_eq!(theme.dark.accent, yellow, "already readable on dark");
    }

    fn holds(theme: &Theme) -> Result<(), TestCaseError> {
        for (mode, palette, grounds) in
            [("light", theme.light, LIGHT_GROUNDS), ("dark", theme.dark, DARK_GROUNDS)]
        {
            let on = contrast(palette.on_accent, palette.accent);
            prop_assert!(on >= MIN_CONTRAST, "{mode}: text on the accent {on:.2}");
            for ground in grounds {
                let link = contrast(palette.link, ground);
                prop_assert!(link >= MIN_CONTRAST, "{mode}: link {} on {ground} {link:.2}", palette.link);
            }
        }
        // Dark buttons stand out from the dark card as well as their text does.
        prop_assert!(contrast(theme.dark.accent, DARK_GROUNDS[0]) >= MIN_CONTRAST);
        Ok(())
    }

    #[test]
    fn the_rule_holds_at_the_extremes() {
        for colour in ["#000000", "#ffffff", "#777777", "#ff0000", "#00ff00", "#0000ff", "#767676", "#1d2129"]
        {
            holds(&Theme::from_accent(Rgb::parse(colour).unwrap())).unwrap();
        }
    }

    proptest! {
        #[test]
        fn the_rule_holds_for_any_colour(r in any::<u8>(), g in any::<u8>(), b in any::<u8>()) {
            holds(&Theme::from_accent(Rgb(r, g, b)))?;
        }
    }
}
