//! What an upload really is, from its first bytes: never from its name or
//! the type the client declared (a `.png` that is HTML is a plain file).
//!
//! Owns: sniffing. May not touch: anything but the bytes given.

/// The four kinds of attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A picture.
    Image,
    /// A video.
    Video,
    /// A sound.
    Audio,
    /// Anything else.
    File,
}

impl Kind {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::File => "file",
        }
    }
}

/// How many leading bytes [`sniff`] wants.
pub const SNIFF_BYTES: usize = 8192;

/// Image types browsers render safely and Confab can thumbnail.
const IMAGES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The kind and MIME type of content starting with `head`.
pub fn sniff(head: &[u8]) -> (Kind, String) {
    let Some(t) = infer::get(head) else {
        return (Kind::File, "application/octet-stream".into());
    };
    let mime = t.mime_type();
    // Markup and scripts are never labelled as what they are: a browser
    // told `text/html` might run them.
    if t.matcher_type() == infer::MatcherType::Text
        || ["html", "xml", "script", "svg"].iter().any(|w| mime.contains(w))
    {
        return (Kind::File, "application/octet-stream".into());
    }
    let kind = match t.matcher_type() {
        infer::MatcherType::Image if IMAGES.contains(&mime) => Kind::Image,
        infer::MatcherType::Video => Kind::Video,
        infer::MatcherType::Audio => Kind::Audio,
        _ => Kind::File,
    };
    (kind, mime.to_string())
}

/// Whether a browser may show this inline (anything else is a download).
pub fn inline(kind: &str, mime: &str) -> bool {
    match kind {
        "image" => IMAGES.contains(&mime),
        "video" | "audio" => true,
        _ => mime == "application/pdf",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_decide() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
        assert_eq!(sniff(&png), (Kind::Image, "image/png".into()));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F']).0, Kind::Image);
        assert_eq!(
            sniff(b"<html><script>alert(1)</script></html>"),
            (Kind::File, "application/octet-stream".into())
        );
        assert_eq!(sniff(b"%PDF-1.7\n").1, "application/pdf");
        assert!(!inline("file", "application/octet-stream"));
        assert!(inline("image", "image/png"));
    }
}
