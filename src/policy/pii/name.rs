//! Personal names, found by their key: a name has no shape of its own, so
//! only a key that says "a person's name" makes a value one. Such keys are
//! read in every form privgate meets them (`first_name=`, `lastName=`,
//! `customer[name]=`, `"fullName":"…"`, `\"surname\":\"…\"`, percent- and
//! form-encoded), and as the JSON member a whole string is the value of
//! ([`super::Scanner::redact_under`]). A bare `name` is a person's only
//! inside something that belongs to a person (`traits`, `customer`,
//! `billing`), or, in text, beside a person's email, phone or SSN key in
//! the same JSON object or query ([`has_person_sibling`]);
//! `product[name]` and `"page":{"name":…}` are not. In HTML, an input's
//! `value` has the key its tag's `name`, `id` or `autocomplete` gives it
//! ([`html_value_names`]).
//!
//! The value must look like a name: letters (any script, also
//! percent-encoded or `\u`-escaped), spaces, `'`, `-`, `.` and `,`; no
//! digits, no `@`; at most six words; not `true`, `null` and the like.

use super::context::{self, By, Field, KeyCue, Why, Words};
use super::cues::Topic;
use super::text::char_at;
use super::{Detector, Found};

/// Longest name value, in bytes as written.
const MAX_NAME: usize = 120;

/// At `=` (`t[i]`): the value after it, if its key names a person's name.
pub(super) fn after_equals(t: &[u8], i: usize, field: &Field<'_>) -> Option<(Found, Why)> {
    let arrow = is_arrow(t, i);
    if !ends_key(t, i) && !arrow {
        return None;
    }
    let why = if may_be_name_key(t, i) {
        key_says_name(t, i, field)
    } else {
        None
    };
    let why = why.or_else(|| html_value_names(t, i))?;
    let (start, end) = if arrow {
        let s = i + 2 + spaces(&t[i + 2..]);
        match t.get(s) {
            Some(b'\'') => single_quoted(t, s)?,
            _ => unquoted_or_quoted(t, s)?,
        }
    } else {
        unquoted_or_quoted(t, i + 1)?
    };
    // A URL in a stack frame ends in the frame's line and column
    // (`…?first_name=Jane:182:9`): they are not the value's.
    let end = if name_like(&t[start..end]) {
        end
    } else {
        let cut = end - line_and_column(&t[start..end]);
        if cut == end || cut == start || !name_like(&t[start..cut]) {
            return None;
        }
        cut
    };
    Some((Found::new(start, end, Detector::Name), why))
}

/// Whether the `=` at `t[i]` begins a Ruby or PHP hash arrow after a
/// quoted key (`"first_name"=>"…"`, `'surname' => '…'`).
fn is_arrow(t: &[u8], i: usize) -> bool {
    if t.get(i + 1) != Some(&b'>') {
        return false;
    }
    let k = i - t[..i].iter().rev().take_while(|&&b| b == b' ').count();
    k > 0 && matches!(t[k - 1], b'"' | b'\'')
}

/// The spaces (at most three) `v` starts with.
fn spaces(v: &[u8]) -> usize {
    v.iter().take(3).take_while(|&&b| b == b' ').count()
}

/// At `:` (`t[i]`) ending a label in text (`First name: Jane Doe`,
/// YAML's `last_name: Doe`): the name after it, if the label says a
/// person's name (or a login). The value is quoted, or its words up to
/// the first that is not capitalized (the first may be lower case), at
/// most four: `Name: Jane Doe please call` keeps `please call`.
fn after_label(t: &[u8], i: usize) -> Option<(Found, Why)> {
    if !is_label(t, i) || !may_be_name_key(t, i) {
        return None;
    }
    let topic = match Words::before(t, i + 1).key_cue() {
        KeyCue::Topic(topic @ (Topic::Name | Topic::Handle)) => topic,
        _ => return None,
    };
    let s = i + 1 + spaces(&t[i + 1..]);
    let (start, end) = match t.get(s) {
        Some(b'"') => quoted(t, s)?,
        Some(b'\'') => single_quoted(t, s)?,
        _ => (s, s + label_words(&t[s..])),
    };
    (end > start && name_like(&t[start..end])).then_some((
        Found::new(start, end, Detector::Name),
        Why {
            by: By::Key,
            topic: Some(topic),
        },
    ))
}

/// Whether the `:` at `t[i]` ends a label: a word before it, a space
/// after it.
fn is_label(t: &[u8], i: usize) -> bool {
    i > 0
        && t[i] == b':'
        && (t[i - 1].is_ascii_alphabetic() || t[i - 1] >= 0x80)
        && t.get(i + 1) == Some(&b' ')
}

/// The length of the name words `v` starts with (see [`after_label`]).
fn label_words(v: &[u8]) -> usize {
    let mut end = 0;
    let mut words = 0;
    let mut k = 0;
    while words < 4 {
        // One word: letters, marks, `'`, `’`, `-`, `.`.
        let from = k;
        while k < v.len() {
            match char_at(v, k) {
                Some((c, len)) if c.is_alphabetic() || mark(c) || "'’-.".contains(c) => k += len,
                _ => break,
            }
        }
        let first = char_at(v, from).map(|(c, _)| c);
        let capital = first.is_some_and(|c| c.is_alphabetic() && !c.is_lowercase());
        // A particle (`de la Cruz`, `van der Berg`) only before a
        // capitalized word.
        let particle = PARTICLES.contains(&&v[from..k]);
        if k == from || (words > 0 && !capital && !particle) {
            break;
        }
        words += 1;
        if capital || words == 1 {
            end = k;
        }
        if v.get(k) != Some(&b' ') {
            break;
        }
        k += 1;
    }
    end
}

/// Lower-case words inside a name.
const PARTICLES: [&[u8]; 16] = [
    b"de", b"la", b"del", b"della", b"di", b"da", b"do", b"dos", b"du", b"van", b"von", b"der",
    b"den", b"ter", b"bin", b"y",
];

/// The content of the string in single quotes at `s` (`'Muñoz'`, as
/// Ruby, PHP and YAML write them; [`quoted`] reads double quotes).
fn single_quoted(t: &[u8], s: usize) -> Option<(usize, usize)> {
    let len = t[s + 1..]
        .iter()
        .take(MAX_NAME + 1)
        .position(|&b| b == b'\'')?;
    Some((s + 1, s + 1 + len))
}

/// The length of a `:line` or `:line:column` suffix of `v` (a stack
/// frame's), or 0.
fn line_and_column(v: &[u8]) -> usize {
    let mut len = 0;
    for _ in 0..2 {
        let rest = &v[..v.len() - len];
        let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0
            || digits > 7
            || rest.len() < digits + 2
            || rest[rest.len() - digits - 1] != b':'
        {
            break;
        }
        len += digits + 1;
    }
    len
}

/// At `:` (`t[i]`) after a quoted JSON key (`"lastName":`, also escaped
/// as `\"lastName\":`): the string after it, if the key names a person's
/// name.
pub(super) fn after_colon(t: &[u8], i: usize, field: &Field<'_>) -> Option<(Found, Why)> {
    if !ends_key(t, i) {
        return after_label(t, i);
    }
    if !may_be_name_key(t, i) {
        return None;
    }
    let why = key_says_name(t, i, field)?;
    let mut s = i + 1;
    while t.get(s) == Some(&b' ') {
        s += 1;
    }
    let (start, end) = quoted(t, s)?;
    name_like(&t[start..end]).then_some((Found::new(start, end, Detector::Name), why))
}

/// Whether a key can end right before `t[i]`: before an `=`, a letter, a
/// digit, `]` or `"` (`name=`, `[name]=`, `"name"=`); before a `:`, the
/// closing quote of a JSON key.
fn ends_key(t: &[u8], i: usize) -> bool {
    i > 0
        && match t[i] {
            b'=' => {
                t[i - 1].is_ascii_alphanumeric()
                    || t[i - 1] >= 0x80
                    || matches!(t[i - 1], b']' | b'"')
            }
            _ => t[i - 1] == b'"',
        }
}

/// The key ending before `t[i]` (an `=` or `:`): past its closing quote
/// or bracket, back to what ends a field, reading at most `max_back`
/// bytes.
fn key_before(t: &[u8], i: usize, max_back: usize) -> &[u8] {
    let mut k = i;
    while k > 0 && matches!(t[k - 1], b'"' | b'\\' | b']' | b'\'' | b' ') {
        k -= 1;
    }
    let from = k.saturating_sub(max_back);
    let start = crate::json::bytes::rfind_field_start(t, from, k).map_or(from, |p| p + 1);
    &t[start..k]
}

/// A cheap test before reading the key ending before `t[i]` (its last
/// 48 bytes): it holds the stem of a name word
/// ([`super::name_stem_of_key`]).
fn may_be_name_key(t: &[u8], i: usize) -> bool {
    super::name_stem_of_key(key_before(t, i, 48))
}

/// Whether [`after_equals`] or [`after_colon`] may find a name at `t[i]`
/// (an `=` or `:`), in `t` or in a decoded view of it: a key can end
/// before it, and the key, back to what ends a field however far that
/// is, holds a name word's stem. Decoding never adds an ASCII letter or
/// removes a delimiter (an escape that stands for one has a digit, or is
/// `\"`, whose `"` `t` has too), so a key a view reads is inside the one
/// read here.
pub(super) fn may_follow_name_key(t: &[u8], i: usize) -> bool {
    (ends_key(t, i) || is_arrow(t, i) || is_label(t, i))
        && (super::name_stem_of_key(key_before(t, i, usize::MAX))
            || html_value_names(t, i).is_some())
}

/// Bytes of an HTML tag read each way from its `value=`.
const MAX_TAG: usize = 512;

/// At the `=` of an HTML element's `value` attribute (`t[i]`): whether
/// another attribute of the same tag says the value is a person's name:
/// its `name` or `id` is a name key (`<input name="family-name"
/// value="…">`, `id="first_name"`), or its `autocomplete` is one of the
/// autofill name tokens (`name`, `given-name`, `family-name`, ...).
fn html_value_names(t: &[u8], i: usize) -> Option<Why> {
    let before = &t[..i];
    let is_value = before.len() >= 6
        && before[i - 5..].eq_ignore_ascii_case(b"value")
        && before[i - 6].is_ascii_whitespace();
    if !is_value {
        return None;
    }
    let from = i.saturating_sub(MAX_TAG);
    let open = from + t[from..i].iter().rposition(|&b| b == b'<')?;
    if t[open..i].contains(&b'>') {
        return None;
    }
    let to = t.len().min(i + MAX_TAG);
    let close = t[i..to]
        .iter()
        .position(|&b| b == b'>')
        .map_or(to, |p| i + p);
    let tag = &t[open..close];
    let key = Why {
        by: By::Key,
        topic: Some(Topic::Name),
    };
    for (attr, autocomplete) in [
        (&b"name"[..], false),
        (b"id", false),
        (b"autocomplete", true),
    ] {
        let Some(value) = attribute(tag, attr) else {
            continue;
        };
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        match context::key_cue_of(value) {
            KeyCue::Topic(Topic::Name | Topic::Handle) => return Some(key),
            KeyCue::BareName if autocomplete => return Some(key),
            _ => {}
        }
    }
    None
}

/// The value of attribute `name` in an HTML tag (quoted with `"` or `'`,
/// also `\"` inside a JSON string, or bare).
fn attribute<'t>(tag: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    let mut k = 0;
    while let Some(p) = tag[k..]
        .windows(name.len() + 1)
        .position(|w| w[..name.len()].eq_ignore_ascii_case(name) && w[name.len()] == b'=')
    {
        let at = k + p;
        k = at + 1;
        if at == 0 || !tag[at - 1].is_ascii_whitespace() {
            continue;
        }
        let mut s = at + name.len() + 1;
        if tag.get(s) == Some(&b'\\') {
            s += 1;
        }
        let quote = match tag.get(s) {
            Some(&q @ (b'"' | b'\'')) => {
                s += 1;
                Some(q)
            }
            _ => None,
        };
        let end = tag[s..]
            .iter()
            .position(|&b| match quote {
                Some(q) => b == q || b == b'\\',
                None => b.is_ascii_whitespace() || b == b'>' || b == b'/',
            })
            .map_or(tag.len(), |e| s + e);
        return Some(&tag[s..end]);
    }
    None
}

/// Whether the key before `t[i]` (an `=` or `:`) says its value is a
/// person's name, and why.
fn key_says_name(t: &[u8], i: usize, field: &Field<'_>) -> Option<Why> {
    let words = Words::before(t, i + 1);
    match words.key_cue() {
        KeyCue::Topic(topic @ (Topic::Name | Topic::Handle)) => Some(Why {
            by: By::Key,
            topic: Some(topic),
        }),
        KeyCue::BareName => {
            // Whose name: the object around it, or the member the whole
            // string is (a JSON text's root object is that member's).
            let person = Why {
                by: By::Parent,
                topic: Some(Topic::Person),
            };
            // Or, whoever's object it is, its other members: a person's
            // email or phone beside it.
            let sibling = |brace| {
                has_person_sibling(t, brace).then_some(Why {
                    by: By::Sibling,
                    topic: Some(Topic::Person),
                })
            };
            match context::enclosing_brace(t, i) {
                Some(brace) => match context::object_key(t, brace) {
                    KeyCue::Topic(Topic::Person | Topic::Card | Topic::Name | Topic::Phone) => {
                        Some(person)
                    }
                    KeyCue::None if is_root(t, brace) => match field.cues().0 {
                        KeyCue::Topic(Topic::Person | Topic::Card | Topic::Name | Topic::Phone) => {
                            Some(Why {
                                by: By::Field,
                                topic: Some(Topic::Person),
                            })
                        }
                        KeyCue::None => sibling(brace),
                        _ => None,
                    },
                    KeyCue::None => sibling(brace),
                    _ => None,
                },
                // A parameter: the other parameters of its query or form.
                None if t[i] == b'=' => has_person_sibling_pair(t, i).then_some(Why {
                    by: By::Sibling,
                    topic: Some(Topic::Person),
                }),
                None => None,
            }
        }
        _ => None,
    }
}

/// Whether the query or form the parameter whose `=` is at `t[i]` is in
/// (back and on to what ends one: `?`, `#`, a space, a quote, a line
/// break, an angle bracket; at most [`MAX_SIBLINGS`] bytes each way) has
/// another parameter whose key says a person's email, phone or social
/// security number: `email=…&name=Jane+Doe&message=…` is a contact form.
fn has_person_sibling_pair(t: &[u8], i: usize) -> bool {
    let ends = |b: &u8| matches!(b, b'?' | b'#' | b' ' | b'"' | b'\n' | b'\r' | b'<' | b'>');
    let from = i.saturating_sub(MAX_SIBLINGS);
    let start = t[from..i]
        .iter()
        .rposition(ends)
        .map_or(from, |p| from + p + 1);
    let to = t.len().min(i + MAX_SIBLINGS);
    let end = t[i..to].iter().position(ends).map_or(to, |p| i + p);
    (start..end).any(|j| {
        j != i
            && t[j] == b'='
            && ends_key(t, j)
            && matches!(
                Words::before(t, j + 1).key_cue(),
                KeyCue::Topic(Topic::Email | Topic::Phone | Topic::Ssn)
            )
    })
}

/// Bytes of an object [`has_person_sibling`] reads at most.
const MAX_SIBLINGS: usize = 4096;

/// Whether the JSON object that opens at `brace` has a member of its own
/// (not of an object or array inside it) whose key says a person's email,
/// phone or social security number: `{"name":"Jane Doe","email":…}` is
/// about a person, so its bare `name` is hers. Reads at most
/// [`MAX_SIBLINGS`] bytes; strings are not parsed (as
/// [`context::enclosing_brace`]), so a brace or a `"key":` inside one
/// can mislead it.
fn has_person_sibling(t: &[u8], brace: usize) -> bool {
    let end = t.len().min(brace + MAX_SIBLINGS);
    let mut depth = 0usize;
    for j in brace + 1..end {
        match t[j] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return false,
            b'}' | b']' => depth -= 1,
            b':' if depth == 0 && t[j - 1] == b'"' => {
                if let KeyCue::Topic(Topic::Email | Topic::Phone | Topic::Ssn) =
                    Words::before(t, j + 1).key_cue()
                {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Whether the `{` at `brace` opens the text (only spaces before it).
fn is_root(t: &[u8], brace: usize) -> bool {
    t[..brace].iter().all(u8::is_ascii_whitespace)
}

/// The value from `s`: quoted (`"Jane Doe"`, `\"Jane\"`), or up to what
/// ends a parameter (`&`, `;`, `#`, a space, a quote, a bracket).
fn unquoted_or_quoted(t: &[u8], s: usize) -> Option<(usize, usize)> {
    if matches!(t.get(s), Some(b'"' | b'\\')) {
        return quoted(t, s);
    }
    let end = t[s..]
        .iter()
        .position(|b| {
            matches!(
                b,
                b'&' | b';'
                    | b'#'
                    | b' '
                    | b'\t'
                    | b'\n'
                    | b'\r'
                    | b'"'
                    | b'<'
                    | b'>'
                    | b'|'
                    | b'\\'
                    | b')'
                    | b']'
                    | b'}'
                    | b'['
                    | b'{'
                    | b'='
                    | b'?'
            )
        })
        .map_or(t.len(), |p| s + p);
    (end > s).then_some((s, end))
}

/// The content of the JSON string that starts at `s` (`"…"`, or `\"…\"`
/// inside an escaped JSON text).
fn quoted(t: &[u8], s: usize) -> Option<(usize, usize)> {
    let escaped = t.get(s) == Some(&b'\\') && t.get(s + 1) == Some(&b'"');
    if !escaped && t.get(s) != Some(&b'"') {
        return None;
    }
    let start = s + if escaped { 2 } else { 1 };
    let mut j = start;
    while j < t.len() && j - start <= MAX_NAME {
        match t[j] {
            b'\\' if escaped && t.get(j + 1) == Some(&b'"') => return Some((start, j)),
            b'\\' => j += 2,
            b'"' if !escaped => return Some((start, j)),
            _ => j += 1,
        }
    }
    None
}

/// Whether `v` (as written: it may be percent-encoded, `+` for spaces, or
/// hold JSON escapes) looks like a person's name.
pub(super) fn name_like(v: &[u8]) -> bool {
    if v.is_empty() || v.len() > MAX_NAME {
        return false;
    }
    let mut letters = 0;
    let mut words = 1;
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        match b {
            b'a'..=b'z' | b'A'..=b'Z' => {
                letters += 1;
                i += 1;
            }
            b' ' | b'+' => {
                words += 1;
                i += 1;
            }
            b'\'' | b'-' | b'.' | b',' => i += 1,
            b'%' => {
                let Some(x) = v
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                else {
                    return false;
                };
                match x {
                    0x80.. => letters += 1,
                    b' ' => words += 1,
                    b'\'' | b'-' | b'.' | b',' => {}
                    _ => return false,
                }
                i += 3;
            }
            b'\\' => {
                // `\u00fc`, or `\'`-style escapes of what a name may hold.
                match v.get(i + 1) {
                    Some(b'u') if v.len() >= i + 6 => {
                        letters += 1;
                        i += 6;
                    }
                    Some(b'\'' | b'/') => i += 2,
                    _ => return false,
                }
            }
            0x80.. => match char_at(v, i) {
                Some((c, len)) if c.is_alphabetic() || c == '’' || c == '\u{30fb}' || mark(c) => {
                    letters += usize::from(c.is_alphabetic());
                    i += len;
                }
                Some((c, len)) if c.is_whitespace() => {
                    words += 1;
                    i += len;
                }
                _ => return false,
            },
            _ => return false,
        }
    }
    letters > 0 && words <= 6 && !placeholder(v)
}

/// A combining mark, which many scripts write names with: Latin accents
/// as U+0301 and the like, the vowel signs and viramas of the Indic
/// scripts, Thai, Arabic and Hebrew vowel points, kana voicing marks.
fn mark(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0300..=0x036f
            | 0x0483..=0x0489
            | 0x0591..=0x05c7
            | 0x0610..=0x061a
            | 0x064b..=0x065f
            | 0x0670
            | 0x06d6..=0x06ed
            | 0x0900..=0x0dff
            | 0x0e31..=0x0e4e
            | 0x3099..=0x309c
            | 0xfe20..=0xfe2f
    )
}

/// Values that stand for no name.
fn placeholder(v: &[u8]) -> bool {
    const WORDS: [&[u8]; 10] = [
        b"true",
        b"false",
        b"null",
        b"nil",
        b"none",
        b"undefined",
        b"unknown",
        b"anonymous",
        b"na",
        b"redacted",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(v))
}
