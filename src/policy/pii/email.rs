//! Emails: around an `@` (or its encodings `%40`, `%2540`, `\u0040`), a
//! local part and a domain with a top-level domain, in ASCII or with
//! internationalized parts (RFC 6531: `jürgen@bücher.de`, `用户@例子.中国`)
//! and their punycode forms (`xn--bcher-kva.de`). File names are not
//! emails: `logo@2x.png` has a file extension for a TLD. In text written
//! without spaces (Chinese, Japanese, Korean, Thai), an ASCII email ends
//! where the script changes: `メールはjane@example.deまで` holds
//! `jane@example.de`.

use super::text::{char_at, char_before, unspaced_script};
use super::{Detector, Found};

/// File extensions that look like TLDs: `logo@2x.png` is an image.
const FILE_TLDS: [&[u8]; 24] = [
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"css", b"js", b"pdf", b"avif",
    b"bmp", b"tif", b"tiff", b"heic", b"mp4", b"webm", b"mov", b"woff", b"woff2", b"ttf", b"otf",
    b"json", b"map",
];

/// What an ASCII byte may be in an email: [`LOCAL`], [`DOMAIN`], both
/// (letters, digits, `.`, `-`) or neither; one load per byte.
static CLASS: [u8; 128] = {
    let mut c = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let ch = b as u8;
        if ch.is_ascii_alphanumeric() || ch == b'.' || ch == b'-' {
            c[b] = LOCAL | DOMAIN;
        } else if ch == b'_' || ch == b'+' || ch == b'\'' {
            c[b] = LOCAL;
        }
        b += 1;
    }
    c
};
const LOCAL: u8 = 1;
const DOMAIN: u8 = 2;

/// An ASCII byte a local part may hold.
fn is_local(b: u8) -> bool {
    b < 0x80 && CLASS[usize::from(b)] & LOCAL != 0
}

/// An ASCII byte a domain may hold.
fn is_domain(b: u8) -> bool {
    b < 0x80 && CLASS[usize::from(b)] & DOMAIN != 0
}

/// Whether `tld` is one of [`FILE_TLDS`], in any case.
fn is_file_tld(tld: &[u8]) -> bool {
    // Every file extension has two to five ASCII letters or digits.
    if !(2..=5).contains(&tld.len()) {
        return false;
    }
    let mut lower = [0u8; 5];
    for (l, b) in lower.iter_mut().zip(tld) {
        *l = b.to_ascii_lowercase();
    }
    FILE_TLDS.contains(&&lower[..tld.len()])
}

/// An email around the `@` at `i`, written as it is or encoded (`%40`,
/// twice encoded `%2540`, JSON-escaped `\u0040`).
pub(super) fn email_anchor(t: &[u8], i: usize) -> Option<Found> {
    let at_len = match t[i] {
        b'@' => 1,
        b'%' if t[i..].len() >= 3 && t[i + 1..i + 3].eq_ignore_ascii_case(b"40") => 3,
        b'%' if t[i..].len() >= 5 && t[i + 1..i + 5].eq_ignore_ascii_case(b"2540") => 5,
        b'\\' if t[i..].len() >= 6 && t[i + 1..i + 6].eq_ignore_ascii_case(b"u0040") => 6,
        _ => return None,
    };
    email_at(t, i, at_len)
}

/// An email whose `@` (or its encoding, `at_len` bytes) is at `at`.
fn email_at(t: &[u8], at: usize, at_len: usize) -> Option<Found> {
    // The local part: ASCII local bytes and non-ASCII letters, up to a
    // change between ASCII and a script written without spaces.
    let mut start = at;
    // Whether the character at `start` is of such a script.
    let mut unspaced = false;
    while start > 0 {
        let b = t[start - 1];
        if is_local(b) {
            if unspaced && b.is_ascii_alphanumeric() {
                break;
            }
            unspaced = false;
            start -= 1;
        } else if b >= 0x80 {
            match char_before(t, start) {
                Some((c, k)) if c.is_alphanumeric() => {
                    unspaced = unspaced_script(c);
                    if unspaced && t[start].is_ascii_alphanumeric() {
                        break;
                    }
                    start = k;
                }
                _ => break,
            }
        } else {
            break;
        }
    }
    // The two hex digits of a percent escape before it (`%20jane@`,
    // `%BD%40`) are not part of it: the decoded view reads the escape.
    if start >= 1
        && t[start - 1] == b'%'
        && at - start >= 2
        && t[start].is_ascii_hexdigit()
        && t[start + 1].is_ascii_hexdigit()
    {
        start += 2;
    }
    while start < at && t[start] == b'.' {
        start += 1;
    }
    if start == at || t[at - 1] == b'.' {
        return None;
    }
    let domain_start = at + at_len;
    let mut end = domain_start;
    // Whether the character before `end` is of such a script.
    let mut unspaced = false;
    // A domain has no empty label: it ends before `..` (`a@b.com...0123`).
    while end < t.len() {
        let b = t[end];
        if is_domain(b) {
            if (b == b'.' && t[end - 1] == b'.') || (unspaced && b.is_ascii_alphanumeric()) {
                break;
            }
            unspaced = false;
            end += 1;
        } else if b >= 0x80 {
            match char_at(t, end) {
                Some((c, len)) if c.is_alphanumeric() => {
                    unspaced = unspaced_script(c);
                    // (`t[end - 1]` is the `@`'s own when `end` is where
                    // the domain starts: `%40` ends in a digit.)
                    if unspaced && end > domain_start && t[end - 1].is_ascii_alphanumeric() {
                        break;
                    }
                    end += len;
                }
                _ => break,
            }
        } else {
            break;
        }
    }
    while end > domain_start && matches!(t[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &t[domain_start..end];
    let tld_at = domain.iter().rposition(|&b| b == b'.')?;
    let tld = &domain[tld_at + 1..];
    // No label is empty or starts or ends with `-`. The domain ends before
    // `..` and after its last `.` or `-`, so: its first byte, and the
    // bytes around each `.`.
    let labels_ok = !matches!(domain[0], b'.' | b'-')
        && !domain
            .windows(2)
            .any(|w| matches!(w, [b'.', b'-' | b'.'] | [b'-', b'.']));
    // An ASCII TLD of letters, a punycode one (`xn--fiqs8s`), or an
    // internationalized one (`中国`).
    let tld_ok = (tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
        || (tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--"))
        || (tld.first().is_some_and(|&b| b >= 0x80) && !tld.iter().any(u8::is_ascii_digit));
    let file = is_file_tld(tld);
    (labels_ok && tld_ok && !file).then_some(Found::new(start, end, Detector::Email))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first version of [`email_at`], byte tests spelled out: the fast
    /// one must answer as it does.
    fn reference(t: &[u8], at: usize, at_len: usize) -> Option<Found> {
        let is_local =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-' | b'\'');
        let is_domain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-');
        // The local part: ASCII local bytes and non-ASCII letters.
        let mut start = at;
        while start > 0 {
            let b = t[start - 1];
            if is_local(b) {
                start -= 1;
            } else if b >= 0x80 {
                match char_before(t, start) {
                    Some((c, k)) if c.is_alphanumeric() => start = k,
                    _ => break,
                }
            } else {
                break;
            }
        }
        // A change between an ASCII letter or digit and a script written
        // without spaces ends it (the last one before the `@`).
        let glue = |a: char, b: char| {
            (a.is_ascii_alphanumeric() && unspaced_script(b))
                || (unspaced_script(a) && b.is_ascii_alphanumeric())
        };
        let local = std::str::from_utf8(&t[start..at]).unwrap();
        let chars: Vec<(usize, char)> = local.char_indices().collect();
        for w in chars.windows(2) {
            if glue(w[0].1, w[1].1) {
                start = at - local.len() + w[1].0;
            }
        }
        // An escape's hex digits before the local part are the escape's.
        if start >= 1
            && t[start - 1] == b'%'
            && at - start >= 2
            && t[start..start + 2].iter().all(u8::is_ascii_hexdigit)
        {
            start += 2;
        }
        while start < at && t[start] == b'.' {
            start += 1;
        }
        if start == at || t[at - 1] == b'.' {
            return None;
        }
        let domain_start = at + at_len;
        let mut end = domain_start;
        // A domain has no empty label: it ends before `..` (`a@b.com...0123`).
        while end < t.len() {
            let b = t[end];
            if is_domain(b) {
                if b == b'.' && t[end - 1] == b'.' {
                    break;
                }
                end += 1;
            } else if b >= 0x80 {
                match char_at(t, end) {
                    Some((c, len)) if c.is_alphanumeric() => end += len,
                    _ => break,
                }
            } else {
                break;
            }
        }
        // The first such change ends the domain.
        let domain = std::str::from_utf8(&t[domain_start..end]).unwrap();
        let chars: Vec<(usize, char)> = domain.char_indices().collect();
        if let Some(w) = chars.windows(2).find(|w| glue(w[0].1, w[1].1)) {
            end = domain_start + w[1].0;
        }
        while end > domain_start && matches!(t[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &t[domain_start..end];
        let tld_at = domain.iter().rposition(|&b| b == b'.')?;
        let tld = &domain[tld_at + 1..];
        let labels_ok = domain
            .split(|&b| b == b'.')
            .all(|l| !l.is_empty() && l[0] != b'-' && l[l.len() - 1] != b'-');
        // An ASCII TLD of letters, a punycode one (`xn--fiqs8s`), or an
        // internationalized one (`中国`).
        let tld_ok = (tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
            || (tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--"))
            || (tld.first().is_some_and(|&b| b >= 0x80) && !tld.iter().any(u8::is_ascii_digit));
        let file = FILE_TLDS.iter().any(|f| f.eq_ignore_ascii_case(tld));
        (labels_ok && tld_ok && !file).then_some(Found::new(start, end, Detector::Email))
    }

    #[test]
    fn ascii_glued_to_unspaced_text_ends_at_the_change_of_script() {
        for (text, email) in [
            (
                "メールはjuergen.schaefer@libero.itまで",
                "juergen.schaefer@libero.it",
            ),
            ("邮箱hanna.koch@example.de谢谢", "hanna.koch@example.de"),
            ("이메일hanna.koch@example.de로", "hanna.koch@example.de"),
            ("用户@例子.中国", "用户@例子.中国"),
            ("jürgen@bücher.de", "jürgen@bücher.de"),
            ("连络.jane@例子.cn", "连络.jane@例子.cn"),
        ] {
            let t = text.as_bytes();
            let at = text.find('@').unwrap();
            for f in [email_at(t, at, 1), reference(t, at, 1)] {
                let f = f.unwrap();
                assert_eq!(&text[f.start..f.end], email, "{text}");
            }
        }
    }

    #[test]
    fn an_escape_before_the_at_is_not_a_local_part() {
        // CI's proptest found this: `%40` read back as `40` made a local part.
        assert_eq!(email_at("%40@ü.ü".as_bytes(), 3, 1), None);
        assert_eq!(reference("%40@ü.ü".as_bytes(), 3, 1), None);
        let found = email_at(b"%20jane@b.de", 7, 1).map(|f| (f.start, f.end));
        assert_eq!(found, Some((3, 12)));
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(
            parts in prop::collection::vec(prop::sample::select(vec![
                "a", "Z", "0", "9", ".", "-", "_", "+", "'", "@", "..", ".-", "-.", "ü", "中",
                "png", "PNG", "woff2", "xn--", "com", "de", " ", "%40", "\u{301}", "\u{ff}",
                "で", "한", "ก",
            ]), 0..14),
        ) {
            let t = parts.concat();
            let t = t.as_bytes();
            for i in 0..t.len() {
                if t[i] == b'@' {
                    prop_assert_eq!(email_at(t, i, 1), reference(t, i, 1));
                }
                if t[i..].starts_with(b"%40") {
                    prop_assert_eq!(email_at(t, i, 3), reference(t, i, 3));
                }
            }
        }
    }
}
