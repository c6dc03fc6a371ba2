//! Re-coding to UTF-8 the way git does it with glibc's iconv, on top of `encoding_rs`.
//!
//! git converts with `iconv(UTF-8 ← charset)` and treats any failure (an unknown charset name,
//! a byte sequence that is invalid in the charset) as an error. So the names accepted here are
//! exactly glibc's (as `iconv -l` lists them, after glibc's own normalisation), and the
//! decoders are as strict as iconv where `encoding_rs` (WHATWG) is lax: `ISO-8859-1`/`latin1`
//! is real ISO-8859-1 (not windows-1252), `US-ASCII` rejects 8-bit bytes, `ISO-8859-9` and
//! `ISO-8859-11` are the ISO tables, and the windows code pages reject the bytes they leave
//! undefined.

use encoding_rs::Encoding;

/// git's `same_encoding("UTF-8", name)`: `utf8` and `utf-8` in any case need no conversion.
pub(crate) fn is_utf8_name(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"utf-8") || name.eq_ignore_ascii_case(b"utf8")
}

/// A decoder to UTF-8.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Codec {
    Latin1,
    Ascii,
    Iso8859_9,
    Iso8859_11,
    Utf16Bom,
    Utf32 {
        big_endian: Option<bool>,
    },
    /// TIS-620: ISO-8859-11 without the C1 controls and the no-break space.
    Tis620,
    /// GOST 19768-74 KOI-8: the Cyrillic letters of KOI8-R only.
    Koi8,
    /// A multi-byte charset decoded by `encoding_rs` under glibc's stricter byte structure.
    Cjk(Cjk),
    Utf7,
    Rs {
        encoding: &'static Encoding,
        /// A windows code page: bytes that it leaves undefined (which WHATWG decodes as C1
        /// controls) are errors for iconv.
        strict_c1: bool,
        /// Characters where glibc's table differs from WHATWG's: what glibc gives instead
        /// (`None`: the byte is undefined for glibc).
        fixups: &'static [(char, Option<char>)],
    },
}

/// glibc's multi-byte decoders are stricter than WHATWG's supersets (GBK for GB2312, UHC for
/// EUC-KR, HKSCS for Big5, windows-31j for Shift_JIS), and the EUC ones pass C1 controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cjk {
    EucJp,
    EucKr,
    EucCn,
    Gbk,
    Big5,
    Sjis,
    Cp932,
}

const fn rs(encoding: &'static Encoding) -> Codec {
    Codec::Rs {
        encoding,
        strict_c1: false,
        fixups: &[],
    }
}

const fn windows(encoding: &'static Encoding) -> Codec {
    Codec::Rs {
        encoding,
        strict_c1: true,
        fixups: &[],
    }
}

use encoding_rs as e;

/// glibc's names for the charsets that are not ISO-8859 parts (those are in `iso8859_part`).
static NAMES: &[(&[&str], Codec)] = &[
    (
        &[
            "ANSI_X3.4-1968",
            "ANSI_X3.4-1986",
            "ASCII",
            "CP367",
            "CSASCII",
            "IBM367",
            "ISO-IR-6",
            "ISO646-US",
            "ISO_646.IRV:1991",
            "US",
            "US-ASCII",
            "OSF00010020",
        ],
        Codec::Ascii,
    ),
    (
        &[
            "UTF8",
            "UTF-8",
            "ISO-10646/UTF8/",
            "ISO-10646/UTF-8/",
            "ISO-IR-193",
            "OSF05010001",
        ],
        rs(&e::UTF_8_INIT),
    ),
    (&["UTF-7", "UTF7"], Codec::Utf7),
    (&["UTF-16", "UTF16"], Codec::Utf16Bom),
    (&["UTF-16LE", "UTF16LE"], rs(&e::UTF_16LE_INIT)),
    (&["UTF-16BE", "UTF16BE"], rs(&e::UTF_16BE_INIT)),
    (&["UTF-32", "UTF32"], Codec::Utf32 { big_endian: None }),
    (
        &["UTF-32BE", "UTF32BE"],
        Codec::Utf32 {
            big_endian: Some(true),
        },
    ),
    (
        &["UTF-32LE", "UTF32LE"],
        Codec::Utf32 {
            big_endian: Some(false),
        },
    ),
    (
        &["CP1250", "WINDOWS-1250", "MS-EE"],
        windows(&e::WINDOWS_1250_INIT),
    ),
    (
        &["CP1251", "WINDOWS-1251", "MS-CYRL"],
        windows(&e::WINDOWS_1251_INIT),
    ),
    (
        &["CP1252", "WINDOWS-1252", "MS-ANSI"],
        windows(&e::WINDOWS_1252_INIT),
    ),
    (
        &["CP1253", "WINDOWS-1253", "MS-GREEK"],
        windows(&e::WINDOWS_1253_INIT),
    ),
    (
        &["CP1254", "WINDOWS-1254", "MS-TURK"],
        windows(&e::WINDOWS_1254_INIT),
    ),
    (
        &["CP1255", "WINDOWS-1255", "MS-HEBR"],
        Codec::Rs {
            encoding: &e::WINDOWS_1255_INIT,
            strict_c1: true,
            fixups: &[('\u{05BA}', None)],
        },
    ),
    (
        &["CP1256", "WINDOWS-1256", "MS-ARAB"],
        windows(&e::WINDOWS_1256_INIT),
    ),
    (
        &["CP9448", "IBM9448", "IBM-9448", "CSIBM9448"],
        windows(&e::WINDOWS_1256_INIT),
    ),
    (
        &["CP1257", "WINDOWS-1257", "WINBALTRIM"],
        windows(&e::WINDOWS_1257_INIT),
    ),
    (&["CP1258", "WINDOWS-1258"], windows(&e::WINDOWS_1258_INIT)),
    (
        &["CP874", "WINDOWS-874", "874", "IBM874"],
        windows(&e::WINDOWS_874_INIT),
    ),
    (
        &[
            "TIS-620",
            "TIS620",
            "TIS620-0",
            "TIS620.2529-1",
            "TIS620.2533-0",
            "ISO-IR-166",
        ],
        Codec::Tis620,
    ),
    (&["KOI8-R", "KOI8R", "CSKOI8R"], rs(&e::KOI8_R_INIT)),
    (&["KOI8", "KOI-8"], Codec::Koi8),
    (
        &["KOI8-U", "KOI8U"],
        Codec::Rs {
            encoding: &e::KOI8_U_INIT,
            strict_c1: false,
            fixups: &[
                ('\u{045E}', Some('\u{255D}')),
                ('\u{040E}', Some('\u{256C}')),
            ],
        },
    ),
    (&["CP866", "866", "IBM866", "CSIBM866"], rs(&e::IBM866_INIT)),
    (
        &["MACINTOSH", "MAC", "CSMACINTOSH"],
        Codec::Rs {
            encoding: &e::MACINTOSH_INIT,
            strict_c1: false,
            fixups: &[
                ('\u{2206}', Some('\u{0394}')),
                ('\u{F8FF}', Some('\u{E01E}')),
            ],
        },
    ),
    (
        &["SHIFT_JIS", "SHIFT-JIS", "SJIS", "MS_KANJI", "CSSHIFTJIS"],
        Codec::Cjk(Cjk::Sjis),
    ),
    (
        &["CP932", "WINDOWS-31J", "MS932", "CSWINDOWS31J"],
        Codec::Cjk(Cjk::Cp932),
    ),
    (
        &[
            "EUC-JP",
            "EUCJP",
            "UJIS",
            "CSEUCPKDFMTJAPANESE",
            "OSF00030010",
        ],
        Codec::Cjk(Cjk::EucJp),
    ),
    (
        &["ISO-2022-JP", "ISO2022JP", "CSISO2022JP"],
        rs(&e::ISO_2022_JP_INIT),
    ),
    (
        &["GB2312", "EUC-CN", "EUCCN", "CSGB2312", "CN-GB"],
        Codec::Cjk(Cjk::EucCn),
    ),
    (
        &["GBK", "CP936", "MS936", "WINDOWS-936"],
        Codec::Cjk(Cjk::Gbk),
    ),
    (&["GB18030"], rs(&e::GB18030_INIT)),
    (
        &["BIG5", "BIG-5", "BIG-FIVE", "BIGFIVE", "CN-BIG5"],
        Codec::Cjk(Cjk::Big5),
    ),
    (&["CP950", "BIG5-HKSCS", "BIG5HKSCS"], rs(&e::BIG5_INIT)),
    (
        &["EUC-KR", "EUCKR", "CSEUCKR", "OSF0004000A"],
        Codec::Cjk(Cjk::EucKr),
    ),
    (&["UHC", "CP949", "MSCP949"], rs(&e::EUC_KR_INIT)),
];

/// glibc's name normalisation (`iconv_open`): upper case, only alphanumerics and `_-.,:/`
/// kept, `//suffixes` dropped.
fn normalize(name: &[u8]) -> String {
    let mut n = String::with_capacity(name.len().min(64));
    for &c in name {
        if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b',' | b':' | b'/') {
            n.push(char::from(c.to_ascii_uppercase()));
        }
        if n.len() > 64 {
            break;
        }
    }
    if let Some(i) = n.find("//") {
        n.truncate(i);
    }
    n
}

/// The ISO-8859 part named by one of glibc's names for it (exactly those, nothing looser).
fn iso8859_part(n: &str) -> Option<u8> {
    let number = |s: &str| {
        (!s.starts_with('0'))
            .then(|| s.parse::<u8>().ok())
            .flatten()
            .filter(|p| (1..=16).contains(p) && *p != 12)
    };
    if let Some(rest) = n
        .strip_prefix("ISO-8859-")
        .or_else(|| n.strip_prefix("ISO8859-"))
    {
        return number(rest);
    }
    if let Some(rest) = n.strip_prefix("ISO_8859-") {
        let (part, year) = rest.split_once(':').unwrap_or((rest, ""));
        let part = number(part).filter(|p| !matches!(p, 11 | 13))?;
        let years: &[&str] = match part {
            1 | 2 | 6 => &["1987"],
            3..=5 | 8 => &["1988"],
            7 => &["1987", "2003"],
            9 => &["1989"],
            10 => &["1992"],
            14 | 15 => &["1998"],
            _ => &["2001"],
        };
        return (year.is_empty() || years.contains(&year)).then_some(part);
    }
    if let Some(rest) = n.strip_prefix("ISO8859") {
        return number(rest);
    }
    if let Some(rest) = n.strip_prefix("8859_") {
        return number(rest).filter(|&p| p <= 9);
    }
    match n {
        "LATIN1" | "L1" | "IBM819" | "CP819" | "CSISOLATIN1" | "ISO-IR-100" | "OSF00010001" => {
            Some(1)
        }
        "LATIN2" | "L2" | "CSISOLATIN2" | "ISO-IR-101" | "OSF00010002" | "CP912" | "IBM912" => {
            Some(2)
        }
        "LATIN3" | "L3" | "CSISOLATIN3" | "ISO-IR-109" | "OSF00010003" => Some(3),
        "LATIN4" | "L4" | "CSISOLATIN4" | "ISO-IR-110" | "OSF00010004" => Some(4),
        "CYRILLIC" | "CSISOLATINCYRILLIC" | "ISO-IR-144" | "OSF00010005" | "CP915" | "IBM915" => {
            Some(5)
        }
        "ARABIC" | "ASMO-708" | "ECMA-114" | "CSISOLATINARABIC" | "ISO-IR-127" | "OSF00010006"
        | "CP1089" | "IBM1089" => Some(6),
        "GREEK" | "GREEK8" | "ECMA-118" | "ELOT_928" | "CSISOLATINGREEK" | "ISO-IR-126"
        | "OSF00010007" | "CP813" | "IBM813" => Some(7),
        "HEBREW" | "CSISOLATINHEBREW" | "ISO-IR-138" | "OSF00010008" | "CP916" | "IBM916" => {
            Some(8)
        }
        "LATIN5" | "L5" | "CSISOLATIN5" | "ISO-IR-148" | "OSF00010009" | "ECMA-128" | "TS-5881"
        | "CP920" | "IBM920" => Some(9),
        "LATIN6" | "L6" | "CSISOLATIN6" | "ISO-IR-157" | "OSF0001000A" => Some(10),
        "LATIN7" | "L7" | "ISO-IR-179" | "BALTIC" | "CP921" | "IBM921" | "IBM-921" | "CSIBM921" => {
            Some(13)
        }
        "LATIN8" | "L8" | "ISO-IR-199" | "ISO-CELTIC" => Some(14),
        "LATIN-9" | "LATIN9" | "ISO-IR-203" => Some(15),
        "LATIN10" | "L10" | "ISO-IR-226" => Some(16),
        "THAI8" | "HP-THAI8" | "HPTHAI8" => Some(11),
        _ => None,
    }
}

fn iso8859(part: u8) -> Option<Codec> {
    Some(match part {
        1 => Codec::Latin1,
        2 => rs(e::ISO_8859_2),
        3 => rs(e::ISO_8859_3),
        4 => rs(e::ISO_8859_4),
        5 => rs(e::ISO_8859_5),
        6 => rs(e::ISO_8859_6),
        7 => rs(e::ISO_8859_7),
        8 => rs(e::ISO_8859_8),
        9 => Codec::Iso8859_9,
        10 => rs(e::ISO_8859_10),
        11 => Codec::Iso8859_11,
        13 => rs(e::ISO_8859_13),
        14 => rs(e::ISO_8859_14),
        15 => rs(e::ISO_8859_15),
        16 => rs(e::ISO_8859_16),
        _ => return None,
    })
}

/// The decoder for a charset name as iconv would find it, `None` when iconv would not (or
/// when the charset is one `encoding_rs` cannot decode).
pub(crate) fn lookup(name: &[u8]) -> Option<Codec> {
    // git's own fallback (`fallback_encoding`) for a name iconv does not know.
    if name.eq_ignore_ascii_case(b"latin-1") {
        return Some(Codec::Latin1);
    }
    let n = normalize(name);
    if let Some(part) = iso8859_part(&n) {
        return iso8859(part);
    }
    NAMES
        .iter()
        .find(|(names, _)| names.contains(&n.as_str()))
        .map(|&(_, codec)| codec)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn decode_single_byte(input: &[u8], map: impl Fn(u8) -> Option<char>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 2);
    for &b in input {
        if b < 0x80 {
            out.push(b);
        } else {
            push_char(&mut out, map(b)?);
        }
    }
    Some(out)
}

fn decode_utf32(input: &[u8], big_endian: Option<bool>) -> Option<Vec<u8>> {
    if !input.len().is_multiple_of(4) {
        return None;
    }
    // Without a byte order mark glibc reads little endian.
    let mut be = big_endian.unwrap_or(false);
    let mut out = Vec::with_capacity(input.len());
    for (i, w) in input.chunks_exact(4).enumerate() {
        let bytes = [w[0], w[1], w[2], w[3]];
        if i == 0 && big_endian.is_none() {
            if u32::from_be_bytes(bytes) == 0xFEFF {
                continue;
            }
            if u32::from_le_bytes(bytes) == 0xFEFF {
                be = false;
                continue;
            }
        }
        let value = if be {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        };
        push_char(&mut out, char::from_u32(value)?);
    }
    Some(out)
}

fn is_private_use(c: char) -> bool {
    ('\u{E000}'..='\u{F8FF}').contains(&c)
}

/// glibc's byte structure for the multi-byte charsets: true when `input` is well formed for it
/// (the characters are then checked after decoding). EUC C1 bytes are handled by the caller.
fn cjk_structure_ok(cjk: Cjk, input: &[u8]) -> bool {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b < 0x80 {
            i += 1;
            continue;
        }
        let t = input.get(i + 1).copied().unwrap_or(0);
        let len = match cjk {
            Cjk::EucKr if matches!(b, 0xA1..=0xFD) && b != 0xC9 && matches!(t, 0xA1..=0xFE) => 2,
            Cjk::EucCn if matches!(b, 0xA1..=0xF7) && matches!(t, 0xA1..=0xFE) => 2,
            Cjk::Gbk if matches!(b, 0x81..=0xFE) && matches!(t, 0x40..=0x7E | 0x80..=0xFE) => 2,
            Cjk::Big5 if matches!(b, 0xA1..=0xF9) && matches!(t, 0x40..=0x7E | 0xA1..=0xFE) => 2,
            Cjk::Sjis | Cjk::Cp932 if matches!(b, 0xA1..=0xDF) => 1,
            // Shift_JIS proper: JIS X 0208 rows only (no NEC row 13, no IBM extensions).
            Cjk::Sjis
                if matches!(b, 0x81..=0x86 | 0x88..=0x9F | 0xE0..=0xEA)
                    && matches!(t, 0x40..=0x7E | 0x80..=0xFC) =>
            {
                2
            }
            Cjk::Cp932
                if matches!(b, 0x81..=0x9F | 0xE0..=0xFC)
                    && matches!(t, 0x40..=0x7E | 0x80..=0xFC) =>
            {
                2
            }
            Cjk::EucJp if b == 0x8E && matches!(t, 0xA1..=0xDF) => 2,
            Cjk::EucJp
                if b == 0x8F
                    && matches!(t, 0xA1..=0xFE)
                    && matches!(input.get(i + 2), Some(0xA1..=0xFE)) =>
            {
                3
            }
            // JIS X 0208 rows only (no NEC row 13, no IBM extensions).
            Cjk::EucJp if matches!(b, 0xA1..=0xA8 | 0xB0..=0xF4) && matches!(t, 0xA1..=0xFE) => 2,
            _ => return false,
        };
        i += len;
    }
    true
}

fn decode_cjk(cjk: Cjk, input: &[u8]) -> Option<Vec<u8>> {
    let encoding = match cjk {
        Cjk::EucJp => e::EUC_JP,
        Cjk::EucKr => e::EUC_KR,
        Cjk::EucCn | Cjk::Gbk => e::GBK,
        Cjk::Big5 => e::BIG5,
        Cjk::Sjis | Cjk::Cp932 => e::SHIFT_JIS,
    };
    // glibc's EUC-JP and EUC-KR pass C1 controls through (EUC-JP keeps 0x8E and 0x8F, its
    // single shifts); they split the input into runs decoded separately.
    let is_c1 = |b: u8| match cjk {
        Cjk::EucJp => matches!(b, 0x80..=0x8D | 0x90..=0x9F),
        Cjk::EucKr => matches!(b, 0x80..=0x9F),
        _ => false,
    };
    let decode_run = |run: &[u8], out: &mut Vec<u8>| -> Option<()> {
        if !cjk_structure_ok(cjk, run) {
            return None;
        }
        let s = encoding.decode_without_bom_handling_and_without_replacement(run)?;
        let bad = |c: char| match cjk {
            Cjk::EucCn | Cjk::Gbk | Cjk::Big5 => is_private_use(c) || c > '\u{FFFF}',
            _ => false,
        };
        if s.chars().any(bad) {
            return None;
        }
        if cjk == Cjk::Sjis {
            // glibc's SJIS has the JIS X 0201 Roman half: yen sign and overline.
            for c in s.chars() {
                match c {
                    '\\' => push_char(out, '\u{A5}'),
                    '~' => push_char(out, '\u{203E}'),
                    _ => push_char(out, c),
                }
            }
        } else {
            out.extend_from_slice(s.as_bytes());
        }
        Some(())
    };
    let mut out = Vec::with_capacity(input.len() * 3 / 2);
    let mut start = 0;
    for (i, &b) in input.iter().enumerate() {
        if is_c1(b) {
            decode_run(&input[start..i], &mut out)?;
            push_char(&mut out, char::from(b));
            start = i + 1;
        }
    }
    decode_run(&input[start..], &mut out)?;
    Some(out)
}

/// UTF-7 (RFC 2152) as glibc decodes it: direct characters, `+-`, and `+…` base64 runs of
/// UTF-16 ended by `-` (absorbed) or any other character; leftover bits must be zero.
fn decode_utf7(input: &[u8]) -> Option<Vec<u8>> {
    let direct = |c: u8| {
        matches!(c, b'\t' | b'\n' | b'\r')
            || ((b' '..=b'}').contains(&c) && c != b'+' && c != b'\\')
    };
    let b64 = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if direct(c) {
            out.push(c);
            i += 1;
            continue;
        }
        if c != b'+' {
            return None;
        }
        i += 1;
        if input.get(i) == Some(&b'-') {
            out.push(b'+');
            i += 1;
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0u32;
        let mut high: Option<u32> = None;
        while let Some(v) = input.get(i).copied().and_then(b64) {
            bits = (bits << 6) | u32::from(v);
            nbits += 6;
            i += 1;
            if nbits >= 16 {
                nbits -= 16;
                let unit = (bits >> nbits) & 0xFFFF;
                bits &= (1 << nbits) - 1;
                match (high.take(), unit) {
                    (None, 0xD800..=0xDBFF) => high = Some(unit),
                    (None, 0xDC00..=0xDFFF) => return None,
                    (None, u) => push_char(&mut out, char::from_u32(u)?),
                    (Some(h), 0xDC00..=0xDFFF) => push_char(
                        &mut out,
                        char::from_u32(0x10000 + ((h - 0xD800) << 10) + (unit - 0xDC00))?,
                    ),
                    (Some(_), _) => return None,
                }
            }
        }
        if high.is_some() || nbits >= 6 || bits != 0 {
            return None;
        }
        if input.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    Some(out)
}

/// `input` re-coded to UTF-8, or `None` where iconv fails (invalid or incomplete sequence).
pub(crate) fn decode(codec: Codec, input: &[u8]) -> Option<Vec<u8>> {
    match codec {
        Codec::Latin1 => decode_single_byte(input, |b| Some(char::from(b))),
        Codec::Ascii => input.is_ascii().then(|| input.to_vec()),
        Codec::Iso8859_9 => decode_single_byte(input, |b| {
            Some(match b {
                0xD0 => '\u{011E}',
                0xDD => '\u{0130}',
                0xDE => '\u{015E}',
                0xF0 => '\u{011F}',
                0xFD => '\u{0131}',
                0xFE => '\u{015F}',
                _ => char::from(b),
            })
        }),
        Codec::Iso8859_11 => decode_single_byte(input, |b| match b {
            0x80..=0xA0 => Some(char::from(b)),
            0xA1..=0xDA | 0xDF..=0xFB => char::from_u32(0x0E01 + u32::from(b - 0xA1)),
            _ => None,
        }),
        Codec::Utf16Bom => {
            let (encoding, body) = match input {
                [0xFF, 0xFE, rest @ ..] => (e::UTF_16LE, rest),
                [0xFE, 0xFF, rest @ ..] => (e::UTF_16BE, rest),
                // Without a byte order mark glibc reads little endian.
                _ => (e::UTF_16LE, input),
            };
            encoding
                .decode_without_bom_handling_and_without_replacement(body)
                .map(|s| s.into_owned().into_bytes())
        }
        Codec::Cjk(cjk) => decode_cjk(cjk, input),
        Codec::Utf7 => decode_utf7(input),
        Codec::Koi8 => decode_single_byte(input, |b| {
            // KOI-8 has no hard sign capital (0xFF).
            if !(0xC0..=0xFE).contains(&b) {
                return None;
            }
            let byte = [b];
            let s = e::KOI8_R.decode_without_bom_handling_and_without_replacement(&byte)?;
            s.chars().next()
        }),
        Codec::Tis620 => decode_single_byte(input, |b| match b {
            0xA1..=0xDA | 0xDF..=0xFB => char::from_u32(0x0E01 + u32::from(b - 0xA1)),
            _ => None,
        }),
        Codec::Utf32 { big_endian } => decode_utf32(input, big_endian),
        Codec::Rs {
            encoding,
            strict_c1,
            fixups,
        } => {
            let s = encoding.decode_without_bom_handling_and_without_replacement(input)?;
            if strict_c1 && s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
                return None;
            }
            if fixups.iter().any(|&(c, _)| s.contains(c)) {
                let mut out = String::with_capacity(s.len());
                for c in s.chars() {
                    match fixups.iter().find(|&&(from, _)| from == c) {
                        Some(&(_, to)) => out.push(to?),
                        None => out.push(c),
                    }
                }
                return Some(out.into_bytes());
            }
            Some(s.into_owned().into_bytes())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn conv(input: &[u8], cs: &str) -> Option<String> {
        let codec = lookup(cs.as_bytes())?;
        decode(codec, input).map(|v| String::from_utf8(v).unwrap_or_default())
    }

    #[test]
    fn latin1_is_real_iso_8859_1() {
        assert_eq!(conv(b"\x80\xe9", "iso-8859-1").as_deref(), Some("\u{80}é"));
        assert_eq!(conv(b"\xe9", "ISO8859-1").as_deref(), Some("é"));
        assert_eq!(conv(b"\xe9", "latin-1").as_deref(), Some("é"));
        assert_eq!(conv(b"\xe9", "l1").as_deref(), Some("é"));
        // glibc drops characters it does not allow in names.
        assert_eq!(conv(b"\xe9", "iso 8859-1").as_deref(), Some("é"));
        // ... but knows no "ISO-88591" nor "latin_1" (verified with git 2.47).
        assert_eq!(conv(b"\xe9", "iso-8859 1"), None);
        assert_eq!(conv(b"\xe9", "latin_1"), None);
    }

    #[test]
    fn strict_where_iconv_is_strict() {
        assert_eq!(conv(b"a\xe9", "us-ascii"), None);
        assert_eq!(conv(b"a\x81", "windows-1252"), None);
        assert_eq!(conv(b"a\x80", "cp1252").as_deref(), Some("a€"));
        assert_eq!(conv(b"a", "x-unknown"), None);
        assert_eq!(conv(b"a", "iso-2022-kr"), None);
        assert_eq!(conv(b"\xd0\xfd", "iso-8859-9").as_deref(), Some("Ğı"));
    }

    #[test]
    fn multibyte() {
        assert_eq!(
            conv(b"\x1b$B5HF#1QL@\x1b(B", "ISO-2022-JP").as_deref(),
            Some("吉藤英明")
        );
        assert_eq!(conv(b"\xc4\xe3", "gb2312").as_deref(), Some("你"));
        assert_eq!(conv(b"\xff\xfea\x00", "utf-16").as_deref(), Some("a"));
        // Without a byte order mark, glibc reads UTF-16 as little endian.
        assert_eq!(conv(b"a\x00", "utf-16").as_deref(), Some("a"));
        assert_eq!(conv(b"\xe9", "iso-10646/utf8/"), None);
    }

    /// Every name of the table must be one of glibc's, and every decoder must agree with iconv:
    /// checked against the `iconv` tool when it is installed.
    #[test]
    fn agrees_with_iconv() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let Ok(list) = Command::new("iconv").arg("-l").output() else {
            println!("SKIPPED: no iconv tool");
            return;
        };
        let known: Vec<String> = String::from_utf8_lossy(&list.stdout)
            .split([',', '\n', ' '])
            .map(|s| s.trim().trim_end_matches("//").to_string())
            .filter(|s| !s.is_empty())
            .collect();
        // (output, success) of `iconv [-c] -f from -t to`.
        let iconv = |args: &[&str], input: &[u8]| -> (Vec<u8>, bool) {
            let run = || {
                let mut child = Command::new("iconv")
                    .args(args)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok()?;
                child.stdin.take()?.write_all(input).ok()?;
                let out = child.wait_with_output().ok()?;
                Some((out.stdout, out.status.success()))
            };
            run().unwrap_or_default()
        };
        let decode_iconv = |name: &str, input: &[u8]| {
            let (out, ok) = iconv(&["-f", name, "-t", "UTF-8"], input);
            ok.then_some(out)
        };
        let mut problems = Vec::new();

        // Names: ours must all be glibc's.
        let mut groups: Vec<Vec<String>> = NAMES
            .iter()
            .map(|(n, _)| n.iter().map(|s| s.to_string()).collect())
            .collect();
        for part in (1..=16).filter(|&p| p != 12) {
            groups.push(
                known
                    .iter()
                    .filter(|n| iso8859_part(n) == Some(part))
                    .cloned()
                    .collect(),
            );
        }
        for name in groups.iter().flatten() {
            if !known.contains(name) {
                problems.push(format!("{name} is not a glibc name"));
            }
        }
        for name in [
            "ISO-88591",
            "ISO_8859-11",
            "ISO_8859-1:1988",
            "LATIN11",
            "8859_10",
            "UTF_8",
            "ISO-8859-12",
            "ISO-8859-01",
        ] {
            assert!(!known.contains(&name.to_string()), "{name}");
            if lookup(name.as_bytes()).is_some() {
                problems.push(format!("{name} accepted"));
            }
        }

        // Decoders, one name per group.
        let samples = [
            "plain ASCII, caf\u{e9}",
            "\u{5409}\u{85e4}\u{82f1}\u{660e} \u{3072}\u{3089}\u{304c}\u{306a} \u{30ab}\u{30bf}\u{30ab}\u{30ca}",
            "\u{4f60}\u{597d}\u{ff0c}\u{4e16}\u{754c} \u{7e41}\u{9ad4}\u{4e2d}\u{6587}",
            "\u{d55c}\u{ad6d}\u{c5b4} \u{c548}\u{b155}",
            "\u{444}\u{43e}\u{43e} \u{3b1}\u{3b2} \u{20ac} \u{1f600}",
        ];
        // Random bytes only agree where the tables do: not for glibc's Big5/CP950 private-use
        // mappings, GBK/GB18030 extension areas, EUC-CN's GBK-only rows, or the controls that
        // glibc's ISO-2022-JP lets through.
        let lax = ["BIG5", "CP950", "GB2312", "GBK", "GB18030", "ISO-2022-JP"];
        let mut seed = 0x1234_5678_9abc_def0_u64;
        for group in &groups {
            let Some(name) = group.first() else { continue };
            let codec = lookup(name.as_bytes()).unwrap();
            let single_byte = match codec {
                Codec::Rs { encoding, .. } => encoding.is_single_byte(),
                Codec::Utf16Bom | Codec::Utf32 { .. } | Codec::Cjk(_) => false,
                _ => true,
            };
            if single_byte {
                // One byte per line; with -c a byte iconv rejects leaves an empty line.
                let input: Vec<u8> = (0x80..=0xffu8).flat_map(|b| [b, b'\n']).collect();
                let (out, _) = iconv(&["-c", "-f", name, "-t", "UTF-8"], &input);
                let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
                for b in 0x80..=0xffu8 {
                    let theirs = lines
                        .get(usize::from(b - 0x80))
                        .filter(|l| !l.is_empty())
                        .map(|l| l.to_vec());
                    let ours = decode(codec, &[b]);
                    if theirs != ours {
                        problems.push(format!(
                            "{name} byte {b:#x}: iconv {theirs:?}, ours {ours:?}"
                        ));
                    }
                }
                continue;
            }
            let mut inputs: Vec<Vec<u8>> = samples
                .iter()
                .filter_map(|text| {
                    let (out, ok) = iconv(&["-f", "UTF-8", "-t", name], text.as_bytes());
                    ok.then_some(out)
                })
                .collect();
            let valid = inputs.len();
            let random = if lax.contains(&name.as_str()) { 0 } else { 150 };
            let utf7 = matches!(codec, Codec::Utf7);
            let alphabet = b"+-+-AZaz09/+\\~!\nA/Qw\x80";
            for _ in 0..random * if utf7 { 4 } else { 1 } {
                inputs.push(
                    (0..if utf7 { 9 } else { 6 })
                        .map(|_| {
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            let r = (seed >> 24) as u8;
                            if utf7 {
                                alphabet[usize::from(r) % alphabet.len()]
                            } else {
                                r
                            }
                        })
                        .collect(),
                );
            }
            for (k, input) in inputs.into_iter().enumerate() {
                let (theirs, ours) = (decode_iconv(name, &input), decode(codec, &input));
                if theirs != ours {
                    let what = if k < valid {
                        "valid text"
                    } else {
                        "random bytes"
                    };
                    problems.push(format!(
                        "{name} {what} {}: iconv {:?}, ours {:?}",
                        input.escape_ascii(),
                        theirs.map(|t| String::from_utf8_lossy(&t).into_owned()),
                        ours.map(|t| String::from_utf8_lossy(&t).into_owned())
                    ));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
