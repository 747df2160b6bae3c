//! The sender's brand on the recipients' pages and in the mail prefcenter sends: its
//! name, its logo (served by prefcenter itself at `/brand/logo`, never from a third
//! party), its accent colour made readable in both modes, and the footer's links.
//! Read and checked once at start-up: a logo that is not a PNG or SVG, or too large,
//! stops the start rather than break every page.

use anyhow::{bail, Context as _};

use crate::config::BrandSettings;
use crate::domain::colour::Theme;

/// The largest logo file: a logo is a few kilobytes; this bounds what each page view
/// may make a browser fetch.
pub const MAX_LOGO_BYTES: usize = 512 * 1024;

/// A logo file and its content type.
pub struct Logo {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

pub struct Brand {
    pub name: Option<String>,
    pub logo: Option<Logo>,
    pub theme: Theme,
    pub privacy_url: Option<String>,
    pub contact_email: Option<String>,
    pub postal_address: Option<String>,
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// What a logo file is, by its first bytes (an SVG by its markup, which may follow an
/// XML declaration or a comment); `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(PNG_SIGNATURE) {
        return Some("image/png");
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_lowercase();
    let text = head.trim_start_matches('\u{feff}').trim_start();
    (text.starts_with('<') && text.contains("<svg")).then_some("image/svg+xml")
}

impl Brand {
    pub fn load(settings: &BrandSettings) -> anyhow::Result<Brand> {
        let logo = match &settings.logo {
            None => None,
            Some(path) => {
                let shown = path.display();
                let size = std::fs::metadata(path)
                    .with_context(|| format!("PREFCENTER_BRAND_LOGO: cannot read {shown}"))?
                    .len();
                if size > MAX_LOGO_BYTES as u64 {
                    bail!("PREFCENTER_BRAND_LOGO: {shown} is {size} bytes; a logo may have {MAX_LOGO_BYTES}");
                }
                let bytes = std::fs::read(path)
                    .with_context(|| format!("PREFCENTER_BRAND_LOGO: cannot read {shown}"))?;
                let Some(content_type) = sniff(&bytes) else {
                    bail!("PREFCENTER_BRAND_LOGO: {shown} is neither a PNG nor an SVG file");
                };
                Some(Logo { bytes, content_type })
            }
        };
        Ok(Brand {
            name: settings.name.clone(),
            logo,
            theme: Theme::from_accent(settings.color),
            privacy_url: settings.privacy_url.clone(),
            contact_email: settings.contact_email.clone(),
            postal_address: settings.postal_address.clone(),
        })
    }

    /// The favicon: an envelope in the accent's colours.
    pub fn favicon(&self) -> String {
        let p = &self.theme.light;
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">\
             <rect width=\"32\" height=\"32\" rx=\"7\" fill=\"{}\"/>\
             <g fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\">\
             <rect x=\"7\" y=\"10\" width=\"18\" height=\"12\" rx=\"1\"/><path d=\"M7.5 10.5 16 17l8.5-6.5\"/></g></svg>",
            p.accent, p.on_accent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_told_apart_by_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), Some("image/svg+xml"));
        assert_eq!(sniff(b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- x -->\n<SVG/>"), Some("image/svg+xml"));
        assert_eq!(sniff(b"<html><body>not a logo</body></html>"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn a_logo_must_be_a_small_png_or_svg() {
        let dir = tempfile::tempdir().unwrap();
        let settings = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            BrandSettings {
                name: None,
                logo: Some(path),
                color: crate::domain::colour::Rgb(0x1f, 0x5f, 0xbf),
                privacy_url: None,
                contact_email: None,
                postal_address: None,
            }
        };
        let svg = Brand::load(&settings("logo.svg", b"<svg/>")).unwrap();
        assert_eq!(svg.logo.unwrap().content_type, "image/svg+xml");
        let error = |s: &BrandSettings| format!("{:#}", Brand::load(s).err().unwrap());
        assert!(error(&settings("logo.png", b"<html/>")).contains("neither a PNG nor an SVG"));
        let large = [PNG_SIGNATURE, &vec![0; MAX_LOGO_BYTES]].concat();
        assert!(error(&settings("big.png", &large)).contains("a logo may have"));
        let missing =
            BrandSettings { logo: Some(dir.path().join("none.png")), ..settings("x.svg", b"<svg/>") };
        assert!(error(&missing).contains("cannot read"));
    }
}
