//! The sizes a `GIT binary patch` declares: `literal N` is the new file's size; `delta N` is
//! the size of a delta whose result can be far larger (a copy instruction of a few bytes copies
//! up to 16 MiB), so the result size is read from the delta's own header: base85-decode the
//! data, inflate the first bytes, read the two varints (source size, result size).

use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_zlib_with_limit};

/// git's base85 alphabet (`base85.c`).
const ALPHABET: &[u8; 85] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";

fn digit(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// Decodes the data lines of one binary hunk (each: a length letter, then base85).
/// `None` when a line is malformed (git would refuse the patch too).
pub(crate) fn decode_base85_lines<'a>(
    lines: impl IntoIterator<Item = &'a [u8]>,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for line in lines {
        let (&len_char, data) = line.split_first()?;
        let len = match len_char {
            b'A'..=b'Z' => (len_char - b'A') as usize + 1,
            b'a'..=b'z' => (len_char - b'a') as usize + 27,
            _ => return None,
        };
        if data.len() != len.div_ceil(4) * 5 {
            return None;
        }
        let mut bytes = Vec::with_capacity(data.len() / 5 * 4);
        for group in data.chunks(5) {
            let mut acc: u64 = 0;
            for &c in group {
                acc = acc * 85 + u64::from(digit(c)?);
            }
            if acc > u64::from(u32::MAX) {
                return None;
            }
            bytes.extend_from_slice(&(acc as u32).to_be_bytes());
        }
        bytes.truncate(len);
        out.extend_from_slice(&bytes);
    }
    Some(out)
}

/// The result size a binary delta declares, from its zlib-compressed data.
pub(crate) fn delta_result_size(compressed: &[u8]) -> Option<u64> {
    let head = match decompress_to_vec_zlib_with_limit(compressed, 32) {
        Ok(all) => all,
        // More than we asked for: what we have is the header.
        Err(e) if e.status == TINFLStatus::HasMoreOutput => e.output,
        Err(_) => return None,
    };
    let mut rest = head.as_slice();
    let _source = varint(&mut rest)?;
    varint(&mut rest)
}

/// git's delta header varint: 7 bits a byte, least significant first, high bit = more.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        if shift >= 64 {
            return None;
        }
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn encode_line(bytes: &[u8]) -> Vec<u8> {
        let mut line = vec![if bytes.len() <= 26 {
            b'A' + bytes.len() as u8 - 1
        } else {
            b'a' + bytes.len() as u8 - 27
        }];
        for chunk in bytes.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            let mut acc = u32::from_be_bytes(word);
            let mut digits = [0u8; 5];
            for d in digits.iter_mut().rev() {
                *d = ALPHABET[(acc % 85) as usize];
                acc /= 85;
            }
            line.extend_from_slice(&digits);
        }
        line
    }

    #[test]
    fn base85_round_trips() {
        let data: Vec<u8> = (0..=255u8).collect();
        let lines: Vec<Vec<u8>> = data.chunks(52).map(encode_line).collect();
        let decoded = decode_base85_lines(lines.iter().map(|l| l.as_slice())).unwrap();
        assert_eq!(decoded, data);
        assert!(decode_base85_lines([&b"B0"[..]]).is_none());
        assert!(decode_base85_lines([&b"\x010000"[..]]).is_none());
    }

    #[test]
    fn delta_headers_give_the_result_size() {
        // Source size 5, result size 300 (0xac 0x02), then a copy instruction.
        let delta = [0x05, 0xac, 0x02, 0x90, 0x05];
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&delta, 6);
        assert_eq!(delta_result_size(&compressed), Some(300));
        assert_eq!(delta_result_size(b"not zlib"), None);
    }
}
