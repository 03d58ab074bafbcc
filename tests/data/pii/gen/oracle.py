"""An independent PII oracle: finds what a strict reviewer would call PII in
a string, without any context. The generator uses it to

- reject a line if anything it finds is not a labeled span (no unlabeled
  PII in any line, in particular none in a "PII-free" line), and
- record, for every look-alike, which PII types it is shaped like
  (`looks_like`), so a scorer can tell the hard look-alikes from the easy.

It is deliberately over-inclusive (it ignores every refuting context):
- phone: any run of digits with single separators (space - . / ( )) and an
  optional leading '+', of which some consecutive groups (7-15 digits) form
  a valid number (libphonenumber) of any of the generator's regions, or of
  any region when written with '+' or '00';
- card: a run of 13-19 digits (separators space, '-', '+') passing Luhn;
- iban: country code, check digits and BBAN of the registry length with a
  valid MOD 97-10 (case-insensitive, spaces or dashes);
- email: local@domain with at least one dot in the domain;
- ip: any dotted quad of numbers <= 255 (also inside longer dotted runs),
  any string Python's ipaddress accepts as IPv6;
- ssn: 3-2-4 digits with one separator kind that are a valid SSN; 9 bare
  digits that are a valid SSN with 'ssn' or 'social security' within 40
  characters before them.
Names are not searched (no context-free oracle exists); the templates keep
person names out of every position that is not a labeled name value.
"""

import ipaddress
import json
import re
import urllib.parse

import facts as F

# Digit runs are taken only where they do not continue an ASCII word (as in
# a hex id "0a7c6363999a"): a detector that matched inside words would be
# wrong on every hash and token.
RUN = re.compile(r"(?<![A-Za-z0-9])\+?\(?\d(?:[ \-./()]{1,2}\d|\d)*(?![A-Za-z0-9])")
GROUPS = re.compile(r"\d+")
EMAIL = re.compile(r"[\w.+'\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
DOTTED = re.compile(r"\d+(?:\.\d+)+")
V6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|\d+\.\d+\.\d+\.\d+)(?![\w:])")
IBANRE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){8,34}")
SSN3 = re.compile(r"(?<![A-Za-z0-9])(\d{3})([-. ])(\d{2})\2(\d{4})(?![A-Za-z0-9])")
SSNBARE = re.compile(r"(?<![A-Za-z0-9])\d{9}(?![A-Za-z0-9])")
SSNCUE = re.compile(r"ssn|social.security|sozialversicherung", re.I)
CARDRUN = re.compile(r"(?<![A-Za-z0-9])\d(?:[ \-+]?\d){12,22}(?![A-Za-z0-9])")


def _phone_hits(s, regions):
    hits = []
    for m in RUN.finditer(s):
        run = m.group(0)
        plus = run.startswith("+")
        groups = [(g.start(), g.end()) for g in GROUPS.finditer(run)]
        for i in range(len(groups)):
            nd = 0
            for j in range(i, len(groups)):
                nd += groups[j][1] - groups[j][0]
                if nd > 15:
                    break
                if nd < 7:
                    continue
                sub = run[groups[i][0]:groups[j][1]]
                if i == 0 and plus:
                    sub = "+" + sub
                if F.phone_valid_anywhere(sub, regions):
                    hits.append(("phone", sub))
    return hits


def _card_hits(s):
    hits = []
    for m in CARDRUN.finditer(s):
        run = m.group(0)
        groups = [g.group(0) for g in GROUPS.finditer(run)]
        for i in range(len(groups)):
            d = ""
            for j in range(i, len(groups)):
                d += groups[j]
                if 13 <= len(d) <= 19 and F.luhn_ok(d):
                    hits.append(("card", d))
    return hits


def _iban_hits(s):
    hits = []
    for m in IBANRE.finditer(s):
        c = m.group(0).replace(" ", "").replace("-", "").upper()
        cc = c[:2]
        if cc in F.IBAN_LEN and len(c) >= F.IBAN_LEN[cc] and F.iban_valid(c[:F.IBAN_LEN[cc]]):
            hits.append(("iban", m.group(0)))
    return hits


def _ip_hits(s):
    hits = []
    for m in DOTTED.finditer(s):
        comps = m.group(0).split(".")
        for i in range(len(comps) - 3):
            q = comps[i:i + 4]
            if all(c.isdigit() and int(c) <= 255 for c in q):
                hits.append(("ip", ".".join(q)))
    for m in V6.finditer(s):
        t = m.group(0)
        if t.count(":") < 2:
            continue
        try:
            ipaddress.IPv6Address(t)
            hits.append(("ip", t))
        except ValueError:
            pass
    return hits


def _ssn_hits(s):
    hits = []
    for m in SSN3.finditer(s):
        if F.ssn_valid(m.group(1) + m.group(3) + m.group(4)):
            hits.append(("ssn", m.group(0)))
    for m in SSNBARE.finditer(s):
        if F.ssn_valid(m.group(0)) and SSNCUE.search(s[max(0, m.start() - 40):m.start()]):
            hits.append(("ssn", m.group(0)))
    return hits


def scan(s, regions=None):
    regions = regions or F.ALL_REGIONS
    out = []
    out += [("email", m.group(0)) for m in EMAIL.finditer(s)]
    out += _ip_hits(s)
    out += _iban_hits(s)
    out += _card_hits(s)
    out += _ssn_hits(s)
    out += _phone_hits(s, regions)
    return out


_U = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\/")


def json_unescape_loose(s):
    def rep(m):
        if m.group(0) == "\\/":
            return "/"
        try:
            return json.loads('"' + m.group(0) + '"')
        except ValueError:
            return m.group(0)
    return _U.sub(rep, s)


def variants(s):
    """The string as it is and decoded each way privgate might decode it."""
    out = [s]
    for f in (lambda x: urllib.parse.unquote(x, errors="replace"),
              lambda x: urllib.parse.unquote(urllib.parse.unquote(x, errors="replace"), errors="replace"),
              lambda x: urllib.parse.unquote_plus(x, errors="replace"),
              json_unescape_loose,
              lambda x: urllib.parse.unquote(json_unescape_loose(x), errors="replace")):
        v = f(s)
        if v not in out:
            out.append(v)
    return out


def scan_all(s):
    found = []
    for v in variants(s):
        for h in scan(v):
            if h not in found:
                found.append(h)
    return found


def looks_like(decoded):
    return sorted({t for t, _ in scan(decoded)})
