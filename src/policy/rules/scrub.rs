//! `scrub_url`: a URL without userinfo and fragment, with only its
//! allowlisted query parameters, and PII in what is left redacted; and
//! the query filter it uses (a fuzz target of its own). It owns reading
//! a URL's parts; it never decides what PII is (that is `pii`'s).

use super::{changed, fresh, split_once_byte, Glob};
use crate::policy::pii::{may_hold_pii, might_name_a_person, Found, Scanner, Under};
use percent_encoding::percent_decode_str;
use std::borrow::Cow;

/// Removes userinfo and fragment, keeps only allowlisted query parameters
/// (PII in their values redacted), and redacts PII in the decoded path.
/// Absolute URLs, paths (`/a/b?x=1`) and query strings (`?x=1`, as
/// Segment's `context.page.search`) are understood; other text is scanned
/// for PII as text.
///
/// What it makes of `s`, if it changes it, a `redact_pii` with the same
/// scanner under the same key leaves as it is, so the walker does not run
/// one after it ([`Action::output_is_clean_for`]): the whole result is
/// scanned under `under` once more, or, in the common case (no PII before
/// the query), each kept parameter is, as the whole string's scan reads
/// it (that scan's context stops at `?` and `&`, and none of its matches
/// reaches across one).
pub fn scrub_url(
    s: &str,
    keep: &[Glob],
    scanner: &Scanner,
    under: Under<'_>,
    redacted: &mut dyn FnMut(Found),
) -> Option<String> {
    fresh(|out| scrub_url_into(s, keep, scanner, under, redacted, out))
}

/// [`scrub_url`] into `out` (empty on entry, left empty if unchanged).
pub(super) fn scrub_url_into(
    s: &str,
    keep: &[Glob],
    scanner: &Scanner,
    under: Under<'_>,
    redacted: &mut dyn FnMut(Found),
    out: &mut String,
) -> bool {
    let scrub = Scrub {
        keep,
        scanner,
        under,
    };
    // A URL parser strips C0 controls and spaces at either end (WHATWG
    // URL): what is left is what it reads.
    if has_c0_end(s) {
        scrub.rescrub(s.trim_matches(|c: char| c <= ' '), redacted, out);
        return true;
    }
    match scrub.parts(s, redacted, out) {
        Scrubbed::Unchanged => return false,
        Scrubbed::Settled => {}
        Scrubbed::Changed => scrub.settle(out, redacted),
    }
    // A part now at an end (before a fragment, or a parameter that went)
    // may end in them: the rest, scrubbed again.
    if has_c0_end(out) {
        let written = std::mem::take(out);
        scrub.rescrub(written.trim_matches(|c: char| c <= ' '), redacted, out);
    }
    changed(out, s)
}

/// Whether `s` starts or ends with a C0 control or a space.
fn has_c0_end(s: &str) -> bool {
    let c0 = |b: &u8| *b <= b' ';
    s.as_bytes().first().is_some_and(c0) || s.as_bytes().last().is_some_and(c0)
}

impl Scrub<'_> {
    /// Scrubs `read`, which is `s` as a URL parser reads it (and so not `s`):
    /// into `out`, settled even when the scrub leaves it as it is.
    fn rescrub(self, read: &str, redacted: &mut dyn FnMut(Found), out: &mut String) {
        if !scrub_url_into(read, self.keep, self.scanner, self.under, redacted, out) {
            out.push_str(read);
            self.settle(out, redacted);
        }
    }

    /// Appends `?` and the kept pairs of `query` ([`filter_query`], read
    /// apart under `whole` if given), or nothing if none is kept; whether
    /// every pair could be read apart.
    fn push_query(
        self,
        out: &mut String,
        query: &str,
        whole: Option<Under<'_>>,
        redacted: &mut dyn FnMut(Found),
    ) -> bool {
        let at = out.len();
        out.push('?');
        let apart = filter_query(out, query, self.keep, self.scanner, whole, redacted);
        if out.len() == at + 1 {
            out.pop();
        }
        apart
    }

    /// Makes `out` what `redact_pii` with `scanner` leaves as it is under
    /// `under`, keeping it a scrubbed URL: if that scan changes it, its query
    /// is filtered again, pair by pair ([`filter_query`] with `under`).
    fn settle(self, out: &mut String, redacted: &mut dyn FnMut(Found)) {
        let Scrub { scanner, under, .. } = self;
        let mut again = String::new();
        for _ in 0..SETTLE_ROUNDS {
            again.clear();
            if !scanner.redact_under(out, under, &mut *redacted, &mut again) {
                return;
            }
            out.clear();
            strip_userinfo(&mut again);
            match split_once_byte(&again, b'?') {
                // The query once more, pair by pair: a name that held PII is
                // no kept name now, and a value must be what a scan of it
                // decoded leaves too. What that changes (a pair gone, a value)
                // is scanned whole again.
                Some((base, query)) => {
                    out.push_str(base);
                    // Apart or not: the loop scans the whole again.
                    self.push_query(out, query, Some(under), redacted);
                }
                None => out.push_str(&again),
            }
        }
        // Still changing: what the whole scan leaves, which it leaves as is.
        for _ in 0..SETTLE_ROUNDS {
            again.clear();
            if !scanner.redact_under(out, under, &mut *redacted, &mut again) {
                return;
            }
            std::mem::swap(out, &mut again);
            if !strip_userinfo(out) {
                return;
            }
        }
    }
}

/// Removes the userinfo a redaction made: a match across the end of the
/// authority (`https://h2+07946/0958…`, a phone) takes the `/` that ended
/// it, and an `@` of the path then ends userinfo. Whether it did.
fn strip_userinfo(out: &mut String) -> bool {
    if !out.contains('@') {
        return false;
    }
    match url::Url::parse(out) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            *out = url.into();
            true
        }
        _ => false,
    }
}

/// Whether `s` may hold a `{` in a view the scan reads (as written,
/// percent-decoded once or twice, JSON-unescaped once or twice): a bare
/// `name`'s parent object is found by reading back to one, across `?`
/// and `&`, so a pair after one is not scanned apart. (A pair left as it
/// is has no name stem, so no `name` key, and needs no such care; nor
/// does the base, which comes first.)
fn may_open_object(s: &str) -> bool {
    let b = s.as_bytes();
    let escaped_brace = |i: usize| {
        let after = &b[i + 1..];
        let at = |k: usize, c: u8| after.get(k).is_some_and(|&x| x | 0x20 == c);
        (at(0, b'7') && at(1, b'b')) || (at(0, b'2') && at(1, b'5') && at(2, b'7') && at(3, b'b'))
    };
    memchr::memchr2(b'{', b'\\', b).is_some() || memchr::memchr_iter(b'%', b).any(escaped_brace)
}

/// What a scrub reads a URL with: the parameters kept, the scanner, and
/// the key of the string.
#[derive(Clone, Copy)]
struct Scrub<'a> {
    keep: &'a [Glob],
    scanner: &'a Scanner,
    under: Under<'a>,
}

/// What [`Scrub::parts`] did.
enum Scrubbed {
    /// Nothing: `out` is empty.
    Unchanged,
    /// Changed `s`, and left nothing a scan of the whole would redact.
    Settled,
    /// Changed `s`; the whole is still to be scanned.
    Changed,
}

impl Scrub<'_> {
    /// Scrubs `s` into `out`, part by part.
    fn parts(self, s: &str, redacted: &mut dyn FnMut(Found), out: &mut String) -> Scrubbed {
        let Scrub {
            keep,
            scanner,
            under,
        } = self;
        let done = |changed: bool, settled: bool| match (changed, settled) {
            (false, _) => Scrubbed::Unchanged,
            (true, true) => Scrubbed::Settled,
            (true, false) => Scrubbed::Changed,
        };
        // URL parsers drop ASCII tabs and line breaks anywhere (WHATWG URL), so
        // `jane@exa<LF>mple.com` is an email to a backend: drop them first.
        if crate::json::bytes::has_tab_or_newline(s.as_bytes()) {
            let clean: String = s
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect();
            self.rescrub(&clean, redacted, out);
            return Scrubbed::Settled;
        }
        // Nothing that could change: no query, fragment or userinfo, no PII.
        if !crate::json::bytes::has_query_fragment_or_at(s.as_bytes())
            && !scanner.might_contain(s.as_bytes())
        {
            return Scrubbed::Unchanged;
        }
        let relative = s.starts_with('/') && !s.starts_with("//") || s.starts_with('?');
        // The common case needs no URL parser: the fragment goes, the query is
        // filtered, and what comes before it (no userinfo, no PII) stays as is.
        let head = split_once_byte(s, b'#').map_or(s, |(head, _)| head);
        let (base, query) = split_once_byte(head, b'?').map_or((head, None), |(b, q)| (b, Some(q)));
        let url_like = relative || has_plain_authority(base);
        // The base is read as the whole string's scan reads it (it comes
        // first, and no match reaches past its `?`).
        if url_like
            && (!scanner.might_contain(base.as_bytes())
                || scanner.find_under(base, under).is_empty())
        {
            out.reserve(head.len());
            let start = out.len();
            out.push_str(base);
            let apart = query.is_none_or(|q| self.push_query(out, q, Some(under), redacted));
            // One escape anywhere makes the whole scan read all of it
            // decoded (a `+` as a space: `imie=n.vc+…`), and decoded twice
            // (`%2B` as a space), while the base and each pair were read
            // decoded only as far as their own escapes go: with a `%`, the
            // whole is settled.
            let read_alike = !out[start..].contains('%');
            return done(changed(out, s), apart && read_alike);
        }
        // Otherwise the URL parser: userinfo, and PII in (encoded) path segments.
        // Relative forms are resolved against a placeholder base, removed below.
        const BASE: &str = "http://base.invalid";
        static BASE_URL: std::sync::LazyLock<url::Url> =
            std::sync::LazyLock::new(|| url::Url::parse(BASE).expect("a valid URL"));
        let parsed = if relative {
            BASE_URL.join(s)
        } else {
            url::Url::parse(s)
        };
        let mut url = match parsed {
            // A path such as `/\\host` is scheme-relative to a URL parser: it
            // names another host, so it is not resolved against ours.
            Ok(url)
                if !url.cannot_be_a_base()
                    && (!relative || url.host_str() == BASE_URL.host_str()) =>
            {
                url
            }
            // Not a URL to the parser: scrubbed as text, fragment dropped and
            // query filtered all the same.
            _ => {
                if !scanner.redact_into(base, &mut *redacted, out) {
                    out.push_str(base);
                }
                if let Some(query) = query {
                    self.push_query(out, query, None, redacted);
                }
                return done(changed(out, s), false);
            }
        };
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        // The path: segments that may hold PII are decoded, redacted and
        // re-encoded; the others stay exactly as they were.
        if scanner.might_contain(url.path().as_bytes()) {
            // Each segment is read with the one before it as its key:
            // `/phone/612345678` is a phone number, `/v/1.2.3.4` a version.
            let segments: Option<Vec<Cow<'_, str>>> = url.path_segments().map(|segments| {
                let mut previous: Option<String> = None;
                segments
                    .map(|segment| {
                        let decoded = percent_decode_str(segment).decode_utf8_lossy();
                        let under = Under {
                            key: previous.as_deref(),
                            parent: None,
                        };
                        let mut new = String::new();
                        let out = if scanner.redact_under(&decoded, under, &mut *redacted, &mut new)
                        {
                            new
                        } else {
                            decoded.clone().into_owned()
                        };
                        previous = Some(decoded.into_owned());
                        Cow::Owned(out)
                    })
                    .collect()
            });
            if let Some(segments) = segments {
                if let Ok(mut path) = url.path_segments_mut() {
                    path.clear().extend(segments.iter().map(|s| &**s));
                }
            }
        }
        if let Some(query) = url.query() {
            let mut kept = String::with_capacity(query.len());
            filter_query(&mut kept, query, keep, scanner, None, redacted);
            url.set_query((!kept.is_empty()).then_some(&*kept));
        }
        let url: String = url.into();
        out.push_str(match (relative, s.starts_with('?')) {
            (false, _) => &url,
            (true, false) => &url[BASE.len()..],
            // A query string stays one, even when nothing is left of it.
            (true, true) => url.find('?').map_or("", |q| &url[q..]),
        });
        done(changed(out, s), false)
    }
}

/// `scheme://host...` with no userinfo (`@`) in the authority.
fn has_plain_authority(base: &str) -> bool {
    // The scheme ends at the first `:` (it cannot hold one).
    let Some((scheme, rest)) = split_once_byte(base, b':') else {
        return false;
    };
    let Some(rest) = rest.strip_prefix("//") else {
        return false;
    };
    let scheme_ok = scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let authority = split_once_byte(rest, b'/').map_or(rest, |(a, _)| a);
    scheme_ok && !authority.is_empty() && !authority.contains('@')
}

/// Appends to `out` the allowlisted parameters of `query`, `&`-separated,
/// in their original encoding unless a value held PII (then redacted and
/// re-encoded; a parameter's name is context, as a JSON member's key
/// is). One pass, from one of `&=%+` to the next; a name or value is
/// decoded only if it has a `%` or a `+`.
///
/// `whole`: the key of the string the query is part of. Each kept pair is
/// then also scanned as the whole string's scan reads it (under that key,
/// the pair's name as its key; that scan's context stops at `&`, and no
/// match reaches across one), so that the string needs no scan of its
/// own. A pair written as is, whose name holds no byte a detector stops
/// at and whose value is clean, is left as it is without one. `false` if
/// a pair could not be read apart (a `{` before it, [`may_open_object`]):
/// the whole string is then still to be scanned.
pub(crate) fn filter_query(
    out: &mut String,
    query: &str,
    keep: &[Glob],
    scanner: &Scanner,
    whole: Option<Under<'_>>,
    redacted: &mut dyn FnMut(Found),
) -> bool {
    let mut apart = true;
    let start = out.len();
    let bytes = query.as_bytes();
    let mut pair = 0;
    // The first `=` in the pair, and whether name and value need decoding.
    let mut eq: Option<usize> = None;
    let mut encoded = [false; 2];
    let mut i = 0;
    loop {
        i = crate::json::bytes::find_form_special(bytes, i);
        match bytes.get(i) {
            Some(b'=') if eq.is_none() => eq = Some(i),
            Some(b'%' | b'+') => encoded[usize::from(eq.is_some())] = true,
            Some(b'&') | None => {
                if i > pair {
                    let (name, value) = match eq {
                        Some(eq) => (&query[pair..eq], &query[eq + 1..i]),
                        None => (&query[pair..i], ""),
                    };
                    let decode = |text, encoded| {
                        if encoded {
                            Cow::Owned(form_decode(text))
                        } else {
                            Cow::Borrowed(text)
                        }
                    };
                    let name_decoded = decode(name, encoded[0]);
                    if keep.iter().any(|pattern| pattern.matches(&name_decoded)) {
                        if out.len() > start {
                            out.push('&');
                        }
                        let at = out.len();
                        // The parameter's name is its value's key.
                        let under = Under::key(&name_decoded);
                        let mut clean = String::new();
                        let value = decode(value, encoded[1]);
                        // The walker's shortcut for a clean string (no byte
                        // a detector needs, a key that names no person).
                        let clean_already =
                            !may_hold_pii(value.as_bytes()) && !might_name_a_person(&name_decoded);
                        if !clean_already
                            && scanner.redact_under(&value, under, &mut *redacted, &mut clean)
                        {
                            out.push_str(name);
                            out.push('=');
                            out.extend(form_urlencoded::byte_serialize(clean.as_bytes()));
                        } else {
                            out.push_str(&query[pair..i]);
                        }
                        let as_is = clean_already
                            && encoded == [false; 2]
                            && name.len() <= 64
                            && !crate::json::bytes::has_pii_anchor(name.as_bytes());
                        if let Some(whole) = whole.filter(|_| !as_is) {
                            if may_open_object(out) {
                                apart = false;
                            } else if !settle_pair(out, at, keep, scanner, whole, redacted) {
                                out.truncate(at.saturating_sub(usize::from(at > start)));
                            }
                        }
                    }
                }
                if i == bytes.len() {
                    return apart;
                }
                pair = i + 1;
                eq = None;
                encoded = [false; 2];
            }
            Some(_) => {}
        }
        i += 1;
    }
}

/// Rounds of [`settle_pair`] at most.
const SETTLE_ROUNDS: usize = 3;

/// Makes the kept pair at `out[at..]`, whose value is already what a scan
/// of it decoded (under the pair's name) leaves, also what the whole
/// string's scan (under `whole`) leaves, both at once; `false` if it is
/// to go: its name held PII (no kept name now), or it kept changing.
fn settle_pair(
    out: &mut String,
    at: usize,
    keep: &[Glob],
    scanner: &Scanner,
    whole: Under<'_>,
    redacted: &mut dyn FnMut(Found),
) -> bool {
    let mut text = String::new();
    for _ in 0..SETTLE_ROUNDS {
        // As the whole string's scan reads it.
        text.clear();
        if !scanner.redact_part(&out[at..], whole, &mut *redacted, &mut text) {
            return true;
        }
        if !kept_name(&text, keep) {
            return false;
        }
        out.truncate(at);
        out.push_str(&text);
        // Its value decoded, under its name.
        let pair = &out[at..];
        let (name, value) = split_once_byte(pair, b'=').unwrap_or((pair, ""));
        text.clear();
        if !scanner.redact_under(
            &form_decode(value),
            Under::key(&form_decode(name)),
            &mut *redacted,
            &mut text,
        ) {
            return true;
        }
        out.truncate(at + name.len());
        out.push('=');
        out.extend(form_urlencoded::byte_serialize(text.as_bytes()));
    }
    false
}

/// Whether `pair` (one, as written) is not empty and `keep` matches its
/// name.
fn kept_name(pair: &str, keep: &[Glob]) -> bool {
    let name = split_once_byte(pair, b'=').map_or(pair, |(name, _)| name);
    let name = if name.contains(['%', '+']) {
        Cow::Owned(form_decode(name))
    } else {
        Cow::Borrowed(name)
    };
    !pair.is_empty() && keep.iter().any(|pattern| pattern.matches(&name))
}

/// A form-encoded query component decoded (`+` is a space).
pub(super) fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}
