//! Reading the text before a value backwards into [`Words`]: the words
//! of the value's own field, then its key, split at separators, case
//! changes and known compounds, stopping at what ends a field or after
//! [`MAX_BACK`] bytes (see [`super`] for what the words decide).

use super::{verdict, KeyCue, Part, Verdict, Word, Words, MAX_BACK, MAX_FIELD_WORDS, MAX_WORDS};
use crate::policy::pii::cues::{self, Class, Topic};
use crate::policy::pii::text::char_before;
use crate::policy::pii::Detector;

impl<'t> Words<'t> {
    pub(in crate::policy::pii) fn empty(t: &'t [u8]) -> Words<'t> {
        Words {
            t,
            words: [Word {
                start: 0,
                end: 0,
                part: Part::Field,
                seg: 0,
                product: false,
            }; MAX_WORDS],
            n: 0,
        }
    }

    /// The words before `t[s..]`.
    pub(in crate::policy::pii) fn before(t: &'t [u8], s: usize) -> Words<'t> {
        let mut w = Words::empty(t);
        w.read(s, Part::Field);
        w
    }

    /// The words of the key that ends at `t[..end]` (a key given whole).
    pub(in crate::policy::pii) fn read_key(&mut self, end: usize) {
        self.read(end, Part::Key);
    }

    fn push(&mut self, word: Word) -> bool {
        if self.n == MAX_WORDS {
            return false;
        }
        self.words[self.n] = word;
        self.n += 1;
        true
    }

    /// Reads backwards from `s`, starting in `part`.
    fn read(&mut self, s: usize, mut part: Part) {
        let t = self.t;
        let floor = s.saturating_sub(MAX_BACK);
        let mut j = s;
        let mut seg = 0u8;
        // The words read before the key: a key that turns out to begin
        // with a bracket is dropped back to them.
        let mut before_key = self.n;
        // How the key began: `=` (no spaces in it) or `:` (a label).
        let mut label = part == Part::Key;
        let mut field_words = 0;
        while j > floor {
            let b = t[j - 1];
            // A percent escape (`%20`, `%5B`) separates words, unless it
            // is a letter's (`r%C3%A9f`: a word, read decoded).
            if let Some(decoded) =
                escape_ending_at(t, j).filter(|_| escaped_letter_before(t, j).is_none())
            {
                match decoded {
                    b'=' | b':' if part == Part::Field => {
                        part = Part::Key;
                        label = decoded == b':';
                        before_key = self.n;
                    }
                    b'[' if part == Part::Key && opens_value(t, j - 3) => {
                        self.n = before_key;
                        return;
                    }
                    b'[' | b']' | b'.' if part == Part::Key => seg = seg.saturating_add(1),
                    b'&' | b'?' | b',' | b'{' | b'}' | b';' => return,
                    _ => {}
                }
                j -= 3;
                continue;
            }
            if b.is_ascii_alphanumeric() || b >= 0x80 {
                let Some(start) = self.word_start(j) else {
                    // A symbol: `§` is a word, anything else a separator.
                    let Some((c, at)) = char_before(t, j) else {
                        return;
                    };
                    if (c == '§' || c == '№')
                        && !self.push(Word {
                            start: at,
                            end: j,
                            part,
                            seg,
                            product: false,
                        })
                    {
                        return;
                    }
                    j = at;
                    continue;
                };
                // Numbers say nothing, and do not count (`tracking number
                // 9400 6593 4124 …`).
                if part == Part::Field && !t[start..j].iter().all(u8::is_ascii_digit) {
                    field_words += 1;
                    if field_words > MAX_FIELD_WORDS {
                        return;
                    }
                }
                // Not a URL's path segment or host (`/ip/`, `wa.me/`).
                let product = part == Part::Field
                    && self.n == 0
                    && j < s
                    && t[j] == b'/'
                    && j + 1 == s
                    && (start == 0 || !matches!(t[start - 1], b'/' | b'.' | b':' | b'@' | b'%'));
                if !self.push_parts(start, j, part, seg, product) {
                    return;
                }
                j = start;
                continue;
            }
            match b {
                b' ' | b'\t' | b'+' => {
                    // `key=value`: the key has no spaces (logfmt, forms).
                    if part == Part::Key && !label && self.has_key_word() {
                        return;
                    }
                }
                b'_' | b'-' | b'\'' | b'*' | b'~' | b'/' | b'\\' | b'"' | b'@' | b'`' => {
                    if part == Part::Key && b == b'"' && self.has_key_word() {
                        // The opening quote of a JSON key.
                        return;
                    }
                }
                b'.' => {
                    if part == Part::Key && !label {
                        seg = seg.saturating_add(1);
                    }
                }
                b'[' | b']' => {
                    if part == Part::Field {
                        return;
                    }
                    if b == b'[' && opens_value(t, j - 1) {
                        self.n = before_key;
                        return;
                    }
                    seg = seg.saturating_add(1);
                }
                // A value in parentheses: `the SSN on file (123456789)`.
                b'(' if j == s => {}
                b'#' => {
                    if !self.push(Word {
                        start: j - 1,
                        end: j,
                        part,
                        seg,
                        product: false,
                    }) {
                        return;
                    }
                }
                b'=' | b':' => {
                    // `https://` ends a URL's scheme, not a key.
                    if part == Part::Key || (b == b':' && t.get(j) == Some(&b'/')) {
                        return;
                    }
                    part = Part::Key;
                    label = b == b':';
                    before_key = self.n;
                }
                _ => return,
            }
            j -= 1;
        }
    }

    /// Whether a key word was read already.
    fn has_key_word(&self) -> bool {
        self.words[..self.n].iter().any(|w| w.part == Part::Key)
    }

    /// Where the word (ASCII letters and digits, non-ASCII letters) that
    /// ends at `j` starts; `None` if `t[..j]` ends in a non-ASCII symbol.
    fn word_start(&self, j: usize) -> Option<usize> {
        let t = self.t;
        let mut k = j;
        while k > 0 {
            let b = t[k - 1];
            // A percent-escaped letter is the word's (`r%C3%A9f`); another
            // escape's hex digits (`%28684`) are not.
            if escape_ending_at(t, k).is_some() {
                match escaped_letter_before(t, k) {
                    Some(at) => {
                        k = at;
                        continue;
                    }
                    None => break,
                }
            }
            if b.is_ascii_alphanumeric() {
                k -= 1;
            } else if b >= 0x80 {
                match char_before(t, k) {
                    Some((c, at)) if c.is_alphanumeric() => k = at,
                    _ => break,
                }
            } else {
                break;
            }
            if j - k > 40 {
                break;
            }
        }
        (k < j).then_some(k)
    }

    /// Pushes the parts of the word `t[start..end]` (split at case
    /// changes and between letters and digits), the last first.
    fn push_parts(&mut self, start: usize, end: usize, part: Part, seg: u8, product: bool) -> bool {
        let t = self.t;
        // A word the tables know whole stays whole (`WhatsApp`,
        // `firstName`), and so does one with escaped letters: its escapes'
        // hex digits are no case changes.
        let known_whole = || {
            let mut buf = [0u8; 32];
            for (o, b) in buf.iter_mut().zip(&t[start..end]) {
                *o = b.to_ascii_lowercase();
            }
            end - start <= 32 && cues::class(&buf[..end - start]).is_some()
        };
        if t[start..end].contains(&b'%') || known_whole() {
            return self.push(Word {
                start,
                end,
                part,
                seg,
                product,
            });
        }
        let mut e = end;
        let mut k = end;
        while k > start {
            let b = t[k - 1];
            let split = k < e
                && {
                    let next = t[k];
                    // `phoneNumber` (aN), `gtin13` (n1), `ISBN13`, and
                    // `XMLHttp` (LH before a lowercase letter).
                    (b.is_ascii_lowercase() && next.is_ascii_uppercase())
                    // Not after a single letter: `v6`, `x64` are words.
                    || (b.is_ascii_alphabetic() != next.is_ascii_alphabetic()
                        && b < 0x80
                        && next < 0x80
                        && !(b.is_ascii_alphabetic() && (k == start + 1 || !t[k - 2].is_ascii_alphabetic())))
                    || (b.is_ascii_uppercase()
                        && next.is_ascii_uppercase()
                        && t.get(k + 1).is_some_and(u8::is_ascii_lowercase)
                        && k + 1 < e)
                };
            if split {
                if !self.push(Word {
                    start: k,
                    end: e,
                    part,
                    seg,
                    product: product && e == end,
                }) {
                    return false;
                }
                e = k;
            }
            k -= 1;
        }
        self.push(Word {
            start,
            end: e,
            part,
            seg,
            product: product && e == end,
        })
    }

    /// The lowercased bytes of word `i` (ASCII folded, percent escapes
    /// decoded; at most 32 bytes).
    fn lower(&self, i: usize, buf: &mut [u8; 32]) -> usize {
        let w = self.words[i];
        let bytes = &self.t[w.start..w.end];
        if !bytes.contains(&b'%') {
            let n = bytes.len().min(32);
            for (o, b) in buf.iter_mut().zip(bytes) {
                *o = b.to_ascii_lowercase();
            }
            return n;
        }
        // Only escapes of letters are in a word ([`escaped_letter_before`]).
        let (mut n, mut k) = (0, 0);
        while k < bytes.len() && n < 32 {
            let b = if bytes[k] == b'%' && k + 2 < bytes.len() {
                k += 3;
                hex(bytes[k - 2]) * 16 + hex(bytes[k - 1])
            } else {
                k += 1;
                bytes[k - 1].to_ascii_lowercase()
            };
            buf[n] = b;
            n += 1;
        }
        n
    }

    fn class_of(&self, i: usize) -> Option<Class> {
        let mut buf = [0u8; 32];
        let n = self.lower(i, &mut buf);
        let w = &buf[..n];
        if w.iter().all(u8::is_ascii_digit) {
            return Some(Class::Filler);
        }
        cues::class(w)
            .or_else(|| {
                // Keys are written as compounds (`cardnumber` is a card's,
                // `phoneno` a phone's); prose is not.
                (self.words[i].part == Part::Key)
                    .then(|| compound(w))
                    .flatten()
                    .map(|(first, last)| match last {
                        Class::Filler | Class::Prep | Class::Number => first,
                        _ => last,
                    })
            })
            .or_else(|| {
                w.first()
                    .is_some_and(|&b| b >= 0x80)
                    .then(|| cues::glued(w).map(Class::Topic))
                    .flatten()
            })
    }

    fn pair_at(&self, i: usize) -> Option<Topic> {
        if i + 1 >= self.n || self.words[i + 1].part != self.words[i].part {
            return None;
        }
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        let na = self.lower(i + 1, &mut a);
        let nb = self.lower(i, &mut b);
        cues::pair(&a[..na], &b[..nb])
    }

    /// The field's words that say something to detector `d`: the
    /// nearest that supports or refutes it, past fillers and words of
    /// topics it is neutral to (`the SSN on file (…)`), up to the first
    /// unknown word.
    pub(super) fn field_cue_for(&self, d: Detector) -> Option<Topic> {
        // `number` with nothing the tables know before it is a phone's.
        let mut number = false;
        let mut i = 0;
        while i < self.n && self.words[i].part == Part::Field {
            let topic = if self.words[i].product {
                Some(Topic::Version)
            } else if let Some(topic) = self.pair_at(i) {
                Some(topic)
            } else {
                match self.class_of(i) {
                    Some(Class::Filler | Class::Prep) => None,
                    Some(Class::Number) => {
                        number = true;
                        // `my number`, `mon numéro`: a person's, whatever
                        // comes before (`ticket #6922 - mon numéro : …`).
                        if self.possessive_at(i + 1) {
                            break;
                        }
                        None
                    }
                    Some(Class::Topic(topic)) => Some(topic),
                    _ => break,
                }
            };
            if let Some(topic) = topic {
                if verdict(d, topic) != Verdict::Neutral {
                    return Some(topic);
                }
                // `account number`: the number is the account's.
                number = false;
            }
            i += 1;
        }
        (number && verdict(d, Topic::Phone) != Verdict::Neutral).then_some(Topic::Phone)
    }

    /// Whether key word `k` is GA4's `up` (`up.name`: a user property),
    /// the outermost segment of its key.
    fn is_user_properties(&self, k: usize) -> bool {
        let outermost = k + 1 == self.n || self.words[k + 1].part != Part::Key;
        let mut buf = [0u8; 32];
        let n = self.lower(k, &mut buf);
        outermost && &buf[..n] == b"up"
    }

    /// Whether word `i` is a possessive in the same part (field or key)
    /// as word `i - 1`.
    fn possessive_at(&self, i: usize) -> bool {
        if i >= self.n || self.words[i].part != self.words[i - 1].part {
            return false;
        }
        let mut buf = [0u8; 32];
        let n = self.lower(i, &mut buf);
        cues::possessive(&buf[..n])
    }

    /// What the key read says.
    pub(in crate::policy::pii) fn key_cue(&self) -> KeyCue {
        let first = self.words[..self.n]
            .iter()
            .position(|w| w.part == Part::Key);
        let Some(first) = first else {
            return KeyCue::None;
        };
        // `name_on_card`: the head is before the preposition.
        let mut head = first;
        let seg = self.words[first].seg;
        for i in first..self.n {
            if self.words[i].seg != seg {
                break;
            }
            if self.class_of(i) == Some(Class::Prep) {
                head = i + 1;
                break;
            }
        }
        let mut i = head;
        // A name part after the head word in the same key segment
        // (`nombre_completo`, `name_first`): a person's name.
        let mut part_after = false;
        while i < self.n {
            if let Some(topic) = self.pair_at(i) {
                return KeyCue::Topic(topic);
            }
            let class = self.class_of(i);
            // An `id` after words that say phone is the caller's number
            // (`caller_id`, `X-Calling-Line-ID`).
            if class == Some(Class::Topic(Topic::Id))
                && i + 1 < self.n
                && self.words[i + 1].part == Part::Key
                && self.words[i + 1].seg == self.words[i].seg
                && self.says_caller(i)
            {
                return KeyCue::Topic(Topic::Phone);
            }
            match class {
                Some(Class::NamePart) => {
                    part_after |= self.words[i].seg == seg;
                    i += 1;
                }
                // `Mon numéro : …`: a person's number, a phone.
                Some(Class::Number) if self.possessive_at(i + 1) => {
                    return KeyCue::Topic(Topic::Phone)
                }
                // `full`, `first` alone say nothing (`ssn_full`).
                Some(Class::Filler | Class::Prep | Class::Number) => i += 1,
                Some(Class::Topic(topic)) => return KeyCue::Topic(topic),
                Some(Class::NameHead) if part_after && self.words[i].seg == seg => {
                    return KeyCue::Topic(Topic::Name)
                }
                Some(Class::NameHead) => return self.name_key(i, head > first),
                _ => return KeyCue::None,
            }
        }
        KeyCue::None
    }

    /// Whether key word `i` is `id` after `caller`/`calling` or a pair
    /// that says phone (`calling line`).
    fn says_caller(&self, i: usize) -> bool {
        let mut buf = [0u8; 32];
        let n = self.lower(i, &mut buf);
        if &buf[..n] != b"id" {
            return false;
        }
        let n = self.lower(i + 1, &mut buf);
        matches!(&buf[..n], b"caller" | b"calling") || self.pair_at(i + 1) == Some(Topic::Phone)
    }

    /// A key whose head word (`i`) is `name`: what qualifies it.
    /// `of_something`: `name_on_card` (a person's, on a card).
    fn name_key(&self, i: usize, of_something: bool) -> KeyCue {
        if of_something {
            return KeyCue::Topic(Topic::Name);
        }
        let seg = self.words[i].seg;
        let mut buf = [0u8; 32];
        let n = self.lower(i, &mut buf);
        // The qualifier: the first part of a compound (`customername`), or
        // the word before `name` in its key segment (`first_name`,
        // `firstName`, `user_name`); `user` makes it a login.
        let whole = cues::class(&buf[..n]).is_some();
        let in_key =
            |k: usize| k < self.n && self.words[k].seg == seg && self.words[k].part == Part::Key;
        let (qualifier, user) = if let Some((first, _)) = compound(&buf[..n]).filter(|_| !whole) {
            (Some(first), buf[..n].starts_with(b"user"))
        } else {
            // Past fillers (`ship_to_name`, `billing_details_name`); a
            // possessive alone makes it a person's (`your-name`).
            let mut k = i + 1;
            let mut possessive = false;
            while in_key(k) && matches!(self.class_of(k), Some(Class::Filler | Class::Prep)) {
                let mut q = [0u8; 32];
                let m = self.lower(k, &mut q);
                possessive |= cues::possessive(&q[..m]);
                k += 1;
            }
            if in_key(k) {
                let mut q = [0u8; 32];
                let m = self.lower(k, &mut q);
                (self.class_of(k), &q[..m] == b"user")
            } else if possessive {
                (Some(Class::NamePart), false)
            } else {
                (None, false)
            }
        };
        match qualifier {
            Some(Class::NamePart | Class::Topic(Topic::Name)) => KeyCue::Topic(Topic::Name),
            // `contact_name`, `cardholder`'s, `customer_name`: a person's;
            // `user_name`: a login.
            Some(Class::Topic(Topic::Person | Topic::Card | Topic::Phone)) if user => {
                KeyCue::Topic(Topic::Handle)
            }
            Some(Class::Topic(Topic::Person | Topic::Card | Topic::Phone)) => {
                KeyCue::Topic(Topic::Name)
            }
            Some(Class::Topic(Topic::Handle)) => KeyCue::Topic(Topic::Handle),
            Some(Class::Topic(_)) => KeyCue::Topic(Topic::Thing),
            Some(Class::Filler | Class::Prep | Class::NameHead | Class::Number) | None => {
                // Bare in its segment: the enclosing segments say whose
                // (`customer[name]`, `products[0][name]`).
                let parent = (i + 1..self.n)
                    .filter(|&k| self.words[k].seg > seg)
                    .map(|k| match self.pair_at(k) {
                        Some(topic) => Some(Class::Topic(topic)),
                        None if self.is_user_properties(k) => Some(Class::Topic(Topic::Person)),
                        None => self.class_of(k),
                    })
                    .find(|c| !matches!(c, Some(Class::Filler | Class::Prep | Class::Number)));
                match parent {
                    Some(Some(Class::Topic(
                        Topic::Person | Topic::Card | Topic::Name | Topic::Phone,
                    ))) => KeyCue::Topic(Topic::Name),
                    Some(Some(Class::Topic(_))) => KeyCue::Topic(Topic::Thing),
                    _ => KeyCue::BareName,
                }
            }
        }
    }
}

/// A word made of two known words (`cardholder`, `phonenumber`,
/// `username`): the first part's class and the last's. Both parts have
/// two letters or more, and the first is no filler.
fn compound(w: &[u8]) -> Option<(Class, Class)> {
    if w.len() < 4 || w.len() > 32 {
        return None;
    }
    (2..=w.len() - 2).rev().find_map(|k| {
        let first = cues::class(&w[..k]).filter(|c| *c != Class::Filler)?;
        let last = cues::class(&w[k..]).or_else(|| compound(&w[k..]).map(|(_, l)| l))?;
        Some((first, last))
    })
}

/// Where the percent-escaped letter that ends at `t[..k]` starts
/// (`%C3%A9`, the two to four escapes of one UTF-8 letter), if one does.
fn escaped_letter_before(t: &[u8], k: usize) -> Option<usize> {
    // Most escapes are an ASCII byte's (`%20`, `%3D`): no letter's.
    let last = t.get(k.checked_sub(3)?..k)?;
    if last[0] != b'%' || hex(last[1]) < 8 {
        return None;
    }
    let mut bytes = [0u8; 4];
    for len in 2..=4 {
        let at = k.checked_sub(3 * len)?;
        // Each must be a byte of a multi-byte UTF-8 character.
        for (e, byte) in bytes[..len].iter_mut().enumerate() {
            *byte = escape_ending_at(t, at + 3 * e + 3).filter(|&b| b >= 0x80)?;
        }
        if let Ok(s) = std::str::from_utf8(&bytes[..len]) {
            return s.chars().all(char::is_alphanumeric).then_some(at);
        }
    }
    None
}

/// Whether the `[` at `t[at]` (or its escape starting there) opens a
/// value, not a key's segment: a key's brackets follow its name
/// (`customer[name]`), while a bracket right after `=`, `&`, `?`, `:` or
/// at the start is a value's, such as a redaction's `[name]` in
/// `imie=[name]=…`, which must not name what follows it.
fn opens_value(t: &[u8], at: usize) -> bool {
    if at == 0 {
        return true;
    }
    // Escaped itself (`%3D%5Bname%5D`).
    let before = escape_ending_at(t, at).unwrap_or(t[at - 1]);
    matches!(
        before,
        b'=' | b'&' | b'?' | b':' | b';' | b',' | b' ' | b'+' | b'\t' | b'\n'
    )
}

/// The byte of the percent escape (`%5B`) that ends at `t[..k]`, if one
/// does.
#[inline]
fn escape_ending_at(t: &[u8], k: usize) -> Option<u8> {
    let e = t.get(k.checked_sub(3)?..k)?;
    (e[0] == b'%' && e[1].is_ascii_hexdigit() && e[2].is_ascii_hexdigit())
        .then(|| hex(e[1]) * 16 + hex(e[2]))
}

fn hex(b: u8) -> u8 {
    (b as char).to_digit(16).map_or(0, |d| d as u8)
}

/// The key of the JSON object or bracket group `t[at]` (an `{`) is the
/// value of, if any: `traits` in `{"traits":{"name":…}}` or in
/// `traits={"name":…}`.
pub(in crate::policy::pii) fn object_key(t: &[u8], brace: usize) -> KeyCue {
    let words = Words::before(t, brace);
    words.key_cue()
}

/// The `{` that opens the JSON object around `t[at]`, reading back at
/// most [`MAX_BACK`] * 4 bytes over nested objects and arrays (strings
/// are not parsed: a brace inside one can mislead it, and then the name
/// is judged without its parent).
pub(in crate::policy::pii) fn enclosing_brace(t: &[u8], at: usize) -> Option<usize> {
    let floor = at.saturating_sub(MAX_BACK * 4);
    let mut depth = 0usize;
    let mut j = at;
    while j > floor {
        j -= 1;
        match t[j] {
            b'}' | b']' => depth += 1,
            b'[' if depth > 0 => depth -= 1,
            b'{' if depth > 0 => depth -= 1,
            b'{' => return Some(j),
            b'[' => return None,
            _ => {}
        }
    }
    None
}
