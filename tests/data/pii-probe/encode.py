"""Encoders and decoders for the probe, and the value-encoding classifier
(the decoder chains of tests/data/pii/README.md, FORMAT section)."""
import json
import urllib.parse

URI_SAFE = "-_.!~*'()"


def pct(s):
    """encodeURIComponent."""
    return urllib.parse.quote(s, safe=URI_SAFE)


def pct_browser(s):
    """What a browser leaves in a typed query value: spaces and non-ASCII
    escaped, the rest (`@`, `+`, `'`) as typed."""
    return urllib.parse.quote(s, safe=URI_SAFE + "@+:/,;$")


def form(s):
    """application/x-www-form-urlencoded (WHATWG)."""
    return urllib.parse.quote_plus(s, safe="-_.*")


def pct2(s):
    return pct(pct(s))


def json_php(s):
    """PHP json_encode defaults: non-ASCII as \\uXXXX, / as \\/."""
    out = json.dumps(s, ensure_ascii=True)[1:-1]
    return out.replace("/", "\\/")


def json_dotnet(s):
    """System.Text.Json defaults: non-ASCII and HTML-sensitive characters
    (+ ' & < > `) as \\uXXXX."""
    out = []
    for ch in s:
        if ch in "+'&<>`" or ord(ch) > 126:
            if ord(ch) > 0xFFFF:
                v = ord(ch) - 0x10000
                out.append("\\u%04X\\u%04X" % (0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)))
            else:
                out.append("\\u%04X" % ord(ch))
        elif ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)


def json_at(s):
    """A serializer that escapes @ too (seen in hand-rolled encoders)."""
    return json_php(s).replace("@", "\\u0040")


def json_plain(s):
    """JSON.stringify: only quotes, backslashes and controls escaped."""
    return json.dumps(s, ensure_ascii=False)[1:-1]


ENCODERS = {
    "plain": lambda s: s,
    "browser": pct_browser,
    "percent": pct,
    "form": form,
    "percent2": pct2,
    "json_php": json_php,
    "json_dotnet": json_dotnet,
    "json_at": json_at,
    "json_plain": json_plain,
}


def d_pct(s):
    return urllib.parse.unquote(s, errors="strict")


def d_form(s):
    return urllib.parse.unquote_plus(s, errors="strict")


def d_json(s):
    return json.loads('"' + s + '"')


CHAINS = [
    ("plain", lambda s: s),
    ("percent", d_pct),
    ("percent2", lambda s: d_pct(d_pct(s))),
    ("form", d_form),
    ("form2", lambda s: d_form(d_pct(s))),
    ("json", d_json),
    ("json2", lambda s: d_json(d_json(s))),
    ("json+percent", lambda s: d_pct(d_json(s))),
]


def classify(value, decoded):
    for name, f in CHAINS:
        try:
            if f(value) == decoded:
                return name
        except Exception:
            pass
    raise ValueError("no decoder chain for %r -> %r" % (value, decoded))
