//! Byte-level decoders with the exact leniency of Python's `email` package, because Patchwork's
//! diff hashes and names are computed after Python decoded the mail: base64 as
//! `email._encoded_words.decode_b` and `binascii.a2b_base64` do it, quoted-printable as
//! `binascii.a2b_qp`, and text in a charset as Python's codec registry does it (including which
//! labels it knows, and the strictness of `us-ascii` and `windows-1252`).

use std::borrow::Cow;

use encoding_rs::Encoding;

/// The base64 alphabet value of a byte, or 255.
fn b64_value(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => 255,
    }
}

/// Why lenient base64 decoding gave up (binascii.Error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base64Error {
    /// One valid character too many: no input encodes to that.
    ExcessCharacter,
    /// The last quantum is incomplete and unpadded.
    IncorrectPadding,
}

/// `binascii.a2b_base64(data)` in its default, non-strict mode: characters outside the alphabet
/// are skipped, a complete pad sequence ends the data, an incomplete last quantum is an error.
pub(crate) fn a2b_base64(data: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left: u32 = 0;
    let mut pads = 0u8;
    for &ch in data {
        if ch == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let v = b64_value(ch);
        if v == 255 {
            continue;
        }
        pads = 0;
        let v = u32::from(v);
        match quad_pos {
            0 => {
                left = v;
                quad_pos = 1;
            }
            1 => {
                out.push(((left << 2) | (v >> 4)) as u8);
                left = v & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push(((left << 4) | (v >> 2)) as u8);
                left = v & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push(((left << 6) | v) as u8);
                left = 0;
                quad_pos = 0;
            }
        }
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err(Base64Error::ExcessCharacter),
        _ => Err(Base64Error::IncorrectPadding),
    }
}

/// Canonical base64 that `a2b_base64(strict_mode=True)` accepts: only alphabet characters, a
/// length that is a multiple of four, and at most two pad characters closing the last quantum.
fn is_strict_base64(data: &[u8]) -> bool {
    if !data.len().is_multiple_of(4) {
        return false;
    }
    let body = data.strip_suffix(b"==").or_else(|| data.strip_suffix(b"="));
    let body = body.unwrap_or(data);
    body.iter().all(|&b| b64_value(b) != 255)
}

/// `email._encoded_words.decode_b`, used by `Message.get_payload(decode=True)` for base64
/// bodies (after their lines are joined): canonical base64 with its padding fixed first, then
/// ever more lenient attempts, and the raw text when nothing decodes.
pub(crate) fn decode_b(encoded: &[u8]) -> Cow<'_, [u8]> {
    let pad_err = encoded.len() % 4;
    if pad_err != 0 {
        let mut padded = encoded.to_vec();
        padded.extend(std::iter::repeat_n(b'=', 4 - pad_err));
        if is_strict_base64(&padded)
            && let Ok(v) = a2b_base64(&padded)
        {
            return Cow::Owned(v);
        }
    } else if is_strict_base64(encoded)
        && let Ok(v) = a2b_base64(encoded)
    {
        return Cow::Owned(v);
    }
    if let Ok(v) = a2b_base64(encoded) {
        return Cow::Owned(v);
    }
    let mut padded = encoded.to_vec();
    padded.extend_from_slice(b"==");
    match a2b_base64(&padded) {
        Ok(v) => Cow::Owned(v),
        Err(_) => Cow::Borrowed(encoded),
    }
}

/// `binascii.a2b_qp(data, header)`: `=XX` escapes (either case), soft line breaks, a stray `=`
/// kept as it is; with `header`, `_` is a space.
pub(crate) fn a2b_qp(data: &[u8], header: bool) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        if c == b'=' {
            i += 1;
            if i >= data.len() {
                break;
            }
            match data[i] {
                b'\n' | b'\r' => {
                    while i < data.len() && data[i] != b'\n' {
                        i += 1;
                    }
                    if i < data.len() {
                        i += 1;
                    }
                }
                b'=' => {
                    out.push(b'=');
                    i += 1;
                }
                h => match (hex(h), data.get(i + 1).copied().and_then(hex)) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 2;
                    }
                    _ => out.push(b'='),
                },
            }
        } else if header && c == b'_' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// A text codec as Python's codec registry resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Utf8,
    Ascii,
    /// True ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// Python's cp1252, where 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined.
    Cp1252,
    Other(&'static Encoding),
}

/// Python's `encodings.normalize_encoding` plus lower-casing: runs of punctuation become one
/// `_`, leading and trailing punctuation is dropped, `.` is kept.
fn normalize_label(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut punct = false;
    for c in label.chars() {
        if c.is_alphanumeric() || c == '.' {
            if punct && !out.is_empty() {
                out.push('_');
            }
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            }
            punct = false;
        } else {
            punct = true;
        }
    }
    out
}

/// `codecs.lookup(label)`: the codec Python would use, or `None` (a `LookupError`) for labels
/// Python does not know (`none`, `unknown-8bit`, `x-unknown`, …).
pub(crate) fn lookup(label: &str) -> Option<Codec> {
    let norm = normalize_label(label);
    let codec = match norm.as_str() {
        "utf_8" | "utf8" | "u8" | "utf" | "utf8_ucs2" | "utf8_ucs4" | "cp65001" => Codec::Utf8,
        "ascii" | "us_ascii" | "646" | "ansi_x3.4_1968" | "ansi_x3_4_1968" | "ansi_x3.4_1986"
        | "cp367" | "csascii" | "ibm367" | "iso646_us" | "iso_646.irv_1991" | "iso_ir_6" | "us" => {
            Codec::Ascii
        }
        "latin_1" | "latin1" | "latin" | "l1" | "iso_8859_1" | "iso8859_1" | "iso_8859_1_1987"
        | "8859" | "cp819" | "ibm819" | "iso_ir_100" | "csisolatin1" => Codec::Latin1,
        "cp1252" | "windows_1252" | "1252" => Codec::Cp1252,
        "" => return None,
        _ => {
            let enc = Encoding::for_label(label.trim().as_bytes())
                .or_else(|| Encoding::for_label(norm.replace('_', "-").as_bytes()))?;
            if enc == encoding_rs::REPLACEMENT || enc == encoding_rs::X_USER_DEFINED {
                return None;
            }
            if enc == encoding_rs::UTF_8 {
                Codec::Utf8
            } else {
                Codec::Other(enc)
            }
        }
    };
    Some(codec)
}

/// `bytes.decode(codec)` with `errors='strict'`.
pub(crate) fn decode_strict(codec: Codec, bytes: &[u8]) -> Option<Cow<'_, str>> {
    match codec {
        Codec::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Codec::Ascii => bytes
            .is_ascii()
            .then(|| Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default())),
        Codec::Latin1 => Some(latin1(bytes)),
        Codec::Cp1252 => {
            if bytes
                .iter()
                .any(|b| matches!(b, 0x81 | 0x8d | 0x8f | 0x90 | 0x9d))
            {
                return None;
            }
            encoding_rs::WINDOWS_1252.decode_without_bom_handling_and_without_replacement(bytes)
        }
        Codec::Other(enc) => enc.decode_without_bom_handling_and_without_replacement(bytes),
    }
}

fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.is_ascii() {
        return Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default());
    }
    Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())
}

/// Best-effort text for bytes of unknown encoding: UTF-8 when valid, windows-1252 otherwise.
/// Used where gauntlet deliberately reads more than Patchwork (raw 8-bit headers).
pub(crate) fn decode_lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_leniency_matches_binascii() {
        assert_eq!(a2b_base64(b"aGVsbG8=").unwrap(), b"hello");
        // Junk is skipped, a pad sequence ends the data.
        assert_eq!(a2b_base64(b"aGV*sb G8=ignored").unwrap(), b"hello");
        // A lone '=' before the third character is ignored.
        assert_eq!(a2b_base64(b"a=GVsbG8=").unwrap(), b"hello");
        assert_eq!(a2b_base64(b"aGVsbG8"), Err(Base64Error::IncorrectPadding));
        assert_eq!(a2b_base64(b"aGVsb"), Err(Base64Error::ExcessCharacter));
    }

    #[test]
    fn decode_b_fixes_padding_then_falls_back() {
        assert_eq!(&*decode_b(b"aGVsbG8"), b"hello");
        assert_eq!(&*decode_b(b"aGVs*bG8"), b"hello");
        // Nothing decodes: the text is returned as it is.
        assert_eq!(&*decode_b(b"a"), b"a");
    }

    #[test]
    fn quoted_printable_matches_a2b_qp() {
        assert_eq!(a2b_qp(b"caf=C3=A9 =\nx", false), "café x".as_bytes());
        assert_eq!(a2b_qp(b"a=\r\nb", false), b"ab");
        assert_eq!(a2b_qp(b"1=2 ==3 =zz end=", false), b"1=2 =3 =zz end");
        assert_eq!(a2b_qp(b"a_b", true), b"a b");
        assert_eq!(a2b_qp(b"a_b", false), b"a_b");
    }

    #[test]
    fn codec_lookup_is_pythons() {
        assert_eq!(lookup("UTF-8"), Some(Codec::Utf8));
        assert_eq!(lookup("us-ascii"), Some(Codec::Ascii));
        assert_eq!(lookup("ISO-8859-1"), Some(Codec::Latin1));
        assert_eq!(lookup("windows-1252"), Some(Codec::Cp1252));
        assert_eq!(lookup("none"), None);
        assert_eq!(lookup("unknown-8bit"), None);
        assert_eq!(lookup("x-unknown"), None);
        assert_eq!(lookup("koi8-r"), Some(Codec::Other(encoding_rs::KOI8_R)));
        assert!(decode_strict(Codec::Ascii, "é".as_bytes()).is_none());
        assert!(decode_strict(Codec::Cp1252, b"\x81").is_none());
        assert_eq!(decode_strict(Codec::Latin1, b"\xe9").unwrap(), "é");
        assert_eq!(decode_strict(Codec::Cp1252, b"\x80").unwrap(), "€");
    }
}
