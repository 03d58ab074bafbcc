"""Encoders and decoders for the escaped forms analytics strings arrive in.

Every encoder here maps one character at a time (or leaves a character
alone), so encoding the parts of a line separately and concatenating them is
the same as encoding the whole line: the generator relies on that to keep
each labeled value's span exact after encoding.

Facts used:
- WHATWG URL Standard, "percent-encode sets": what a browser escapes when it
  serializes a URL it was given raw (the query set for queries, the path set
  for paths, the fragment set for fragments). This is what `location.href`
  and `document.referrer` look like.
- ECMAScript `encodeURIComponent`: escapes everything except
  A-Z a-z 0-9 - _ . ! ~ * ' ( ).
- WHATWG URL Standard, application/x-www-form-urlencoded serializer (what an
  HTML form and `URLSearchParams` send): keeps A-Z a-z 0-9 * - . _, space
  becomes '+', everything else %XX of its UTF-8 bytes.
- RFC 8259 (JSON) string escapes; styles seen in real serializers: Python's
  json.dumps default (ensure_ascii: non-ASCII -> \\uXXXX), PHP json_encode
  default (also '/' -> '\\/'), .NET System.Text.Json default encoder
  (non-ASCII, '+', '<', '>', '&', "'" -> \\uXXXX with upper-case hex), and an
  "HTML-safe" style that also escapes '@' (\\u0040), as in the issue's example.
"""

import json
import urllib.parse

_UNRESERVED_URIC = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
_FORM_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._")

# WHATWG percent-encode sets (ASCII members; all non-ASCII is always encoded).
_C0 = {chr(c) for c in range(0x20)} | {"\x7f"}
_FRAGMENT_SET = _C0 | set(' "<>`')
_QUERY_SET = _C0 | set(' "#<>')
_SPECIAL_QUERY_SET = _QUERY_SET | {"'"}
_PATH_SET = _QUERY_SET | set("?`{}^")
# userinfo/segment extras are not needed: values never sit in userinfo.


def _pct_bytes(ch):
    return "".join("%%%02X" % b for b in ch.encode("utf-8"))


def _encode_with(s, keep_fn):
    return "".join(ch if keep_fn(ch) else _pct_bytes(ch) for ch in s)


def uri_component(s):
    """JavaScript encodeURIComponent."""
    return _encode_with(s, lambda ch: ch in _UNRESERVED_URIC)


def form(s):
    """application/x-www-form-urlencoded byte serializer (space -> '+')."""
    out = []
    for ch in s:
        if ch == " ":
            out.append("+")
        elif ch in _FORM_SAFE:
            out.append(ch)
        else:
            out.append(_pct_bytes(ch))
    return "".join(out)


def whatwg(s, where):
    """What a browser's URL serializer leaves of a raw string typed into the
    query, path or fragment of a special (http/https) URL."""
    sset = {"query": _SPECIAL_QUERY_SET, "path": _PATH_SET, "fragment": _FRAGMENT_SET}[where]
    return _encode_with(s, lambda ch: ord(ch) < 0x80 and ch not in sset)


JSON_STYLES = ("python", "php", "dotnet", "htmlsafe")


def json_string(s, style=None):
    """The inside of a JSON string literal (no surrounding quotes).

    style None: minimal escaping (RFC 8259 requires only '"', '\\' and
    controls), as JavaScript's JSON.stringify and serde_json write it."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"' if style not in ("dotnet",) else "\\u0022")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        elif style is None:
            out.append(ch)
        elif o >= 0x80:
            hexfmt = "\\u%04X" if style == "dotnet" else "\\u%04x"
            if o > 0xFFFF:
                v = o - 0x10000
                out.append(hexfmt % (0xD800 + (v >> 10)) + hexfmt % (0xDC00 + (v & 0x3FF)))
            else:
                out.append(hexfmt % o)
        elif ch == "/" and style == "php":
            out.append("\\/")
        elif style == "dotnet" and ch in "+<>&'":
            out.append("\\u%04X" % o)
        elif style == "htmlsafe" and ch in "@<>&'/":
            out.append("\\u%04x" % o if ch != "/" else "\\/")
        else:
            out.append(ch)
    return "".join(out)


# ---- decoders (used by the self-check and documented in the README) ----

def dec_percent(s):
    return urllib.parse.unquote(s, encoding="utf-8", errors="strict")


def dec_form(s):
    return urllib.parse.unquote_plus(s, encoding="utf-8", errors="strict")


def dec_json(s):
    return json.loads('"' + s + '"')


DECODERS = {
    "plain": lambda s: s,
    "json": dec_json,
    "percent": dec_percent,
    "form": dec_form,
    "percent2": lambda s: dec_percent(dec_percent(s)),
    "form2": lambda s: dec_form(dec_percent(s)),
    "json2": lambda s: dec_json(dec_json(s)),
    "json+percent": lambda s: dec_percent(dec_json(s)),
}
# The order a value's encoding is recognised in: the first decoder chain that
# turns the text as it appears into the plain value names the encoding.
DECODE_ORDER = ("plain", "json", "percent", "form", "percent2", "form2", "json2", "json+percent")


def classify(text, plain):
    for name in DECODE_ORDER:
        try:
            if DECODERS[name](text) == plain:
                return name
        except (ValueError, UnicodeDecodeError):
            continue
    return None
