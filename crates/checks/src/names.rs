//! Whether two `Name <address>` strings are the same person, the way people really write them.
//!
//! **Addresses** are compared whole and case-insensitively, local part included. RFC 5321 lets
//! a server treat `John@` and `john@` as two mailboxes, but no provider does and people write
//! their own address in either case; the exception kept on purpose is *sub-addressing and
//! provider-specific folding*: `john+lkml@` and `j.ohn@` are not folded into `john@` (that is
//! provider policy, not a property of addresses), though a `+tag` difference is recognised as a
//! known variant (see [`Match::SubAddress`]).
//!
//! **Names** are compared after this normalisation: Unicode NFKC (full-width and compatibility
//! forms), then canonical decomposition with the combining marks dropped (accents: `José Núñez`
//! = `Jose Nunez`), lower case (Cyrillic, Greek, … included; the Greek final sigma is folded),
//! the few Latin letters that have no decomposition folded by hand (`ł`→`l`, `ø`→`o`, `ß`→`ss`,
//! `æ`→`ae`, …), text in parentheses dropped (`John Doe (ACME)`), quotes dropped, and the name
//! split into words at blanks, commas, dots and hyphens. Two names are equal when they have the
//! same words in any order (`"Doe, John"` = `John Doe`, `Yamada Taro` = `Taro Yamada`), or the
//! same letters once the separators are gone (`山田 太郎` = `山田太郎`, `O'Brien` = `OBrien`).
//! Scripts are never transliterated: `Иван Петров` and `Ivan Petrov` are different names, and
//! such a pair matches only through the address.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// How two people compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Match {
    /// Nothing in common.
    None,
    /// Same name, different addresses, for no known reason.
    NameOnly,
    /// Same name, and the address differs in a known way: one is a mailing list's rewritten
    /// `From` (DMARC), or one of them has no address.
    NameRewritten,
    /// Same mailbox, `+tag` aside (`john+lkml@x` and `john@x`).
    SubAddress,
    /// Same address (case-insensitive).
    Address,
}

impl Match {
    /// The match counts as the same person for a sign-off.
    pub(crate) fn accepted(self) -> bool {
        self >= Match::NameRewritten
    }
}

/// An address for comparison: blanks and `<>` trimmed, lower case.
pub(crate) fn address_key(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase()
}

/// `local+tag@domain` → `local@domain`.
fn without_subaddress(key: &str) -> Option<String> {
    let (local, domain) = key.rsplit_once('@')?;
    let base = local.split_once('+').map_or(local, |(base, _)| base);
    Some(format!("{base}@{domain}"))
}

fn fold_letter(c: char, out: &mut String) {
    match c {
        'ł' => out.push('l'),
        'đ' | 'ð' => out.push('d'),
        'ø' => out.push('o'),
        'ß' => out.push_str("ss"),
        'æ' => out.push_str("ae"),
        'œ' => out.push_str("oe"),
        'þ' => out.push_str("th"),
        'ħ' => out.push('h'),
        'ŧ' => out.push('t'),
        'ı' => out.push('i'),
        'ς' => out.push('σ'),
        _ => out.push(c),
    }
}

/// Latin, Greek and Cyrillic letters, whose combining marks are accents.
fn accented_alphabet(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{024f}' | '\u{0370}'..='\u{052f}' | '\u{1e00}'..='\u{1fff}')
}

/// A name made comparable: its words, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameKey {
    words: Vec<String>,
}

impl NameKey {
    pub(crate) fn new(name: &str) -> NameKey {
        // Drop parenthesised comments first: `John Doe (ACME)`.
        let mut plain = String::with_capacity(name.len());
        let mut depth = 0usize;
        for c in name.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => plain.push(c),
                _ => {}
            }
        }
        let mut folded = String::with_capacity(plain.len());
        let mut base = ' ';
        for c in plain.nfkc().collect::<String>().nfd() {
            if is_combining_mark(c) {
                // Accents of alphabets go; the vowel signs of abugidas (Devanagari, Thai, …)
                // are letters of the name and stay.
                if accented_alphabet(base) {
                    continue;
                }
            } else {
                base = c;
            }
            for lower in c.to_lowercase() {
                fold_letter(lower, &mut folded);
            }
        }
        let words = folded
            .split(|c: char| {
                c.is_whitespace() || matches!(c, ',' | '.' | '-' | '"' | '\'' | '’' | '`')
            })
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        NameKey { words }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub(crate) fn same(&self, other: &NameKey) -> bool {
        if self.is_empty() || other.is_empty() {
            return false;
        }
        let mut a = self.words.clone();
        let mut b = other.words.clone();
        a.sort();
        b.sort();
        if a == b {
            return true;
        }
        let joined_a: String = self.words.concat();
        let joined_b: String = other.words.concat();
        joined_a == joined_b || a.concat() == b.concat()
    }
}

/// The same name, after normalisation.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    NameKey::new(a).same(&NameKey::new(b))
}

/// A person as written in `From:` or a trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Who<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) address: Option<&'a str>,
    /// The address is a mailing list's own (a DMARC-rewritten `From`).
    pub(crate) rewritten: bool,
}

/// How `a` and `b` compare (see the module documentation).
pub(crate) fn compare(a: &Who<'_>, b: &Who<'_>) -> Match {
    let addresses = (
        a.address.map(address_key).filter(|k| !k.is_empty()),
        b.address.map(address_key).filter(|k| !k.is_empty()),
    );
    if let (Some(x), Some(y)) = &addresses {
        if x == y {
            return Match::Address;
        }
        if without_subaddress(x).is_some() && without_subaddress(x) == without_subaddress(y) {
            return Match::SubAddress;
        }
    }
    let names = match (a.name, b.name) {
        (Some(x), Some(y)) => same_name(strip_via(x), strip_via(y)),
        _ => false,
    };
    if !names {
        return Match::None;
    }
    let known = a.rewritten
        || b.rewritten
        || addresses.0.is_none()
        || addresses.1.is_none()
        || a.name.is_some_and(has_via)
        || b.name.is_some_and(has_via);
    if known {
        Match::NameRewritten
    } else {
        Match::NameOnly
    }
}

/// `Jane Doe via linux-foo` is how lists rewrite a `From:` they cannot relay (DMARC).
fn has_via(name: &str) -> bool {
    name.contains(" via ")
}

fn strip_via(name: &str) -> &str {
    match name.rfind(" via ") {
        Some(i) => name[..i].trim().trim_matches('\''),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who<'a>(name: &'a str, address: &'a str) -> Who<'a> {
        Who {
            name: Some(name),
            address: Some(address),
            rewritten: false,
        }
    }

    #[test]
    fn names_in_any_script_order_and_accent() {
        assert!(same_name("José Núñez", "Jose Nunez"));
        assert!(same_name("JOSÉ NÚÑEZ", "josé núñez"));
        assert!(same_name("Doe, John", "John Doe"));
        assert!(same_name("\"Doe, John\"", "john doe"));
        assert!(same_name("Yamada Taro", "Taro Yamada"));
        assert!(same_name("山田 太郎", "山田太郎"));
        assert!(same_name("山田 太郎", "太郎 山田"));
        assert!(same_name("张三", "张三"));
        assert!(same_name("Иван Петров", "ИВАН ПЕТРОВ"));
        assert!(same_name("Петров Иван", "Иван Петров"));
        assert!(same_name("Γιώργος Παπαδόπουλος", "ΓΙΩΡΓΟΣ ΠΑΠΑΔΟΠΟΥΛΟΣ"));
        assert!(same_name("محمد علي", "علي محمد"));
        assert!(same_name("Łukasz Bartosik", "Lukasz Bartosik"));
        assert!(same_name("Søren Strauß", "Soren Strauss"));
        assert!(same_name("John Doe (ACME Corp)", "John Doe"));
        assert!(same_name("Jean-Luc Picard", "Jean Luc Picard"));
        assert!(same_name("Ｊｏｈｎ Ｄｏｅ", "John Doe")); // full-width forms
        // Different people, or different scripts: no transliteration.
        assert!(!same_name("山田 太郎", "Yamada Taro"));
        assert!(!same_name("Иван Петров", "Ivan Petrov"));
        assert!(!same_name("John Doe", "Jane Doe"));
        assert!(!same_name("J. Doe", "John Doe"));
        assert!(!same_name("", ""));
        // Vowel signs of an abugida are not accents.
        assert!(!same_name("किता", "कीता"));
    }

    #[test]
    fn addresses_and_known_variants() {
        let m = compare(
            &who("山田 太郎", "Taro.Yamada@Example.JP"),
            &who("Yamada Taro", "taro.yamada@example.jp"),
        );
        assert_eq!(m, Match::Address);
        assert_eq!(
            compare(
                &who("A", "john+lkml@example.org"),
                &who("B", "john@example.org")
            ),
            Match::SubAddress
        );
        let m = compare(
            &who("Jose Nunez", "jose@work.example"),
            &who("José Núñez", "jose@home.example"),
        );
        assert_eq!(m, Match::NameOnly);
        assert!(!m.accepted());
        let m = compare(
            &who("Jane Doe via linux-foo", "linux-foo@lists.example.org"),
            &who("Jane Doe", "jane@example.org"),
        );
        assert_eq!(m, Match::NameRewritten);
        assert!(m.accepted());
        assert_eq!(
            compare(&who("A B", "a@x.org"), &who("C D", "c@x.org")),
            Match::None
        );
        // `+tag` is not folded for anything else: different local parts stay different.
        assert_eq!(
            compare(&who("A", "j.ohn@x.org"), &who("B", "john@x.org")),
            Match::None
        );
    }
}
