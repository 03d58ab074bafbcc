"""PII values generated from public facts.

Each generator takes a `random.Random` and returns `(text, attrs)`: the value
as a person or a program would write it, unescaped, and a small dict that
says which form it is in (recorded in the label as `form`, `region`, ...).

Sources (all public; nothing here is read from privgate):
- Phone numbers: ITU-T E.164 numbering plans as encoded in Google's
  libphonenumber metadata, through its Python port `phonenumbers` (pinned
  version in generate.py). Numbers are random within the ranges that
  metadata says are valid mobile or fixed-line numbers of a region; their
  national, international, E.164 and RFC 3966 forms come from its formatter.
  The `00` international prefix is the ITU-T E.164 recommended prefix used
  by most regions; NANP (US/CA) writes `1-NPA-NXX-XXXX` nationally.
- IBAN: ISO 13616 and the SWIFT IBAN Registry (BBAN structure and length
  per country, `n` digits, `a` upper-case letters, `c` alphanumerics),
  ISO 7064 MOD 97-10 check digits. National check digits inside the BBAN
  where the national standard defines them: Belgium (mod 97 of the first
  10 digits, 0 -> 97), France/Monaco (RIB key), Spain (CCC control digits),
  Italy/San Marino (CIN), Norway (mod 11), Portugal (NIB, ISO 7064 97-10),
  Montenegro (mod 97). Bank codes for some countries are real public bank
  identifiers (e.g. German BLZ 37040044 Commerzbank, used in the registry's
  own example; UK NWBK/BARC/LOYD/HBUK/MIDL sort-code banks).
- Payment cards: ISO/IEC 7812 issuer identification number ranges as
  published by the networks (Visa 4; Mastercard 51-55 and 2221-2720; Amex
  34, 37; Discover 6011, 644-649, 65; JCB 3528-3589; Diners Club 36, 38,
  300-305; UnionPay 62; Maestro 5018, 5020, 5038, 5893, 6304, 6759,
  6761-6763; Mir 2200-2204; RuPay 508, 60, 6521-6522; Troy 9792), their
  lengths and print groupings (Amex 4-6-5, Diners 4-6-4), Luhn check digit
  (ISO/IEC 7812-1 Annex B).
- E-mail: RFC 5321/5322 addr-spec (atext incl. '+', '_', '-', "'"),
  RFC 6531 (SMTPUTF8: UTF-8 local parts and domains), IDNA 2008 A-labels
  (RFC 5890-5891: "xn--" + RFC 3492 Punycode of each NFC, lower-case label).
  Mailbox providers are real public webmail domains; company domains are
  Microsoft's published fictitious company names (Contoso, Fabrikam, ...).
- IP addresses: IANA IPv4/IPv6 special-purpose registries (RFC 6890) to stay
  in globally routable unicast space, RFC 5737 / RFC 3849 documentation
  ranges for a minority of values, RFC 4291 (text forms, IPv4-mapped
  ::ffff:a.b.c.d, EUI-64 interface ids), RFC 5952 (compressed lower-case
  form), RFC 4007 / RFC 6874 (zone ids, `%25` in URLs), RFC 3986 (`[v6]:port`).
- US SSN: SSA rules (area 001-899 except 666, group 01-99, serial
  0001-9999; since the 2011 "SSN randomization" every such area can be
  issued) minus the SSA-voided numbers 078-05-1120, 219-09-9999 and
  457-55-5462.
- Names: common given and family names per language as listed in
  Wikipedia's "List of most popular given names" and "Lists of most common
  surnames" (Europe, Asia, Africa, Americas), which compile national
  statistics offices (US SSA and Census Bureau, UK ONS, INE Spain, INSEE,
  Destatis/GfdS, ISTAT, CBS, GUS, Rosstat, Statistics Korea, ...). Native
  scripts as written in those lists. No name refers to a particular person.
"""

import ipaddress
import unicodedata

import phonenumbers
from phonenumbers import PhoneNumberFormat as PNF
from phonenumbers import PhoneNumberType as PNT

# ---------------------------------------------------------------- phones

# Regions whose numbers appear in the dev split; the holdout split adds the
# held-back regions (see README "Held out").
DEV_REGIONS = [
    "US", "CA", "GB", "DE", "FR", "ES", "PL", "IT", "NL", "BE", "CH", "AT",
    "SE", "NO", "DK", "IE", "PT", "IN", "BR", "MX", "JP", "CN", "AU", "RU",
    "TR", "ID", "NG", "AE", "SG", "HK",
]
HOLDOUT_REGIONS = ["KR", "ZA", "AR", "CO", "PH", "GR", "CZ", "NZ"]
ALL_REGIONS = DEV_REGIONS + HOLDOUT_REGIONS

# How often a region's numbers show up (relative), roughly by web traffic.
REGION_WEIGHT = {"US": 6, "GB": 4, "DE": 4, "FR": 3, "ES": 4, "PL": 3, "IN": 3, "BR": 3,
                 "IT": 2, "NL": 2, "MX": 2, "JP": 2, "CN": 2, "AU": 2, "CA": 2}

# Regions whose national (trunk) prefix is "0", written "+CC (0)..." by
# many people there (a form E.123 deprecates, yet common).
PAREN0_REGIONS = ["GB", "DE", "NL", "AT", "CH", "BE", "AU", "NZ", "IE", "ZA", "FR", "SE"]


def _digits(s):
    return "".join(c for c in s if c.isdigit())


def _valid_number(rng, region):
    """A random valid mobile (70%) or fixed-line number of `region`."""
    want = PNT.MOBILE if rng.random() < 0.7 else PNT.FIXED_LINE
    ex = phonenumbers.example_number_for_type(region, want)
    if ex is None:
        want = PNT.FIXED_LINE
        ex = phonenumbers.example_number_for_type(region, want)
    nsn = str(ex.national_number)
    ok_types = {want, PNT.FIXED_LINE_OR_MOBILE}
    for _ in range(200):
        keep = rng.randint(0 if region in ("US", "CA") else 1, len(nsn) - 4)
        cand = nsn[:keep] + "".join(str(rng.randrange(10)) for _ in range(len(nsn) - keep))
        if cand == nsn:
            continue
        num = phonenumbers.PhoneNumber(country_code=ex.country_code, national_number=int(cand))
        if ex.italian_leading_zero:
            num.italian_leading_zero = True
        if phonenumbers.is_valid_number_for_region(num, region) and phonenumbers.number_type(num) in ok_types:
            return num, ("mobile" if want == PNT.MOBILE else "fixed")
    raise RuntimeError("no valid number for " + region)


def phone(rng, region, form=None):
    """(text, attrs) for a valid phone number of `region` in one written form."""
    num, kind = _valid_number(rng, region)
    cc = str(num.country_code)
    intl = phonenumbers.format_number(num, PNF.INTERNATIONAL)
    nat = phonenumbers.format_number(num, PNF.NATIONAL)
    e164 = phonenumbers.format_number(num, PNF.E164)
    rfc = phonenumbers.format_number(num, PNF.RFC3966)
    nsn = phonenumbers.national_significant_number(num)
    forms = ["intl", "intl", "national", "national", "e164", "idd00", "national_digits",
             "national_dashes", "rfc3966", "intl_dashes"]
    if region in PAREN0_REGIONS and phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix == "0":
        forms += ["paren0", "paren0"]
    if region in ("US", "CA"):
        forms += ["nanp1", "nanp1", "nanp_dots", "nanp_dashes", "nanp_paren"]
    if region in ("ES", "PL"):
        forms += ["grouped333", "grouped333", "national_digits"]
    if region in ("FR", "BE", "CH"):
        forms += ["national_dots"]
    if region == "DE":
        forms += ["national_slash"]
    if form is None or (form not in forms and form not in ("intl_digits",)):
        form = rng.choice(forms)
    if form == "intl":
        text = intl
    elif form == "national":
        text = nat
    elif form == "e164":
        text = e164
    elif form == "idd00":
        text = "00" + intl[1:] if rng.random() < 0.6 else "00" + e164[1:]
    elif form == "national_digits":
        text = _digits(nat) if region not in ("US", "CA") else nsn
    elif form == "national_dashes":
        text = "-".join(p for p in nat.replace("(", " ").replace(")", " ").replace("-", " ").split())
    elif form == "national_dots":
        text = ".".join(nat.split())
    elif form == "national_slash":
        parts = nat.split(" ", 1)
        text = parts[0] + "/" + parts[1].replace(" ", "") if len(parts) == 2 else nat
    elif form == "rfc3966":
        text = rfc
    elif form == "intl_dashes":
        text = "+" + cc + "-" + "-".join(intl[len(cc) + 2:].replace("-", " ").split())
    elif form == "intl_digits":
        text = e164[1:]
    elif form == "paren0":
        text = "+" + cc + " (0)" + intl[len(cc) + 2:]
    elif form == "nanp1":
        text = "1-" + nsn[:3] + "-" + nsn[3:6] + "-" + nsn[6:]
    elif form == "nanp_dots":
        text = nsn[:3] + "." + nsn[3:6] + "." + nsn[6:]
    elif form == "nanp_dashes":
        text = nsn[:3] + "-" + nsn[3:6] + "-" + nsn[6:]
    elif form == "nanp_paren":
        text = rng.choice(["+1 ", "1 ", ""]) + "(" + nsn[:3] + ") " + nsn[3:6] + "-" + nsn[6:]
    elif form == "grouped333":
        text = " ".join([nsn[:3], nsn[3:6], nsn[6:]])
    else:
        raise ValueError(form)
    return text, {"form": form, "region": region, "kind": kind, "e164": e164}


# Validity under any region (the oracle used for negatives and look-alikes).
_phone_cache = {}


def phone_valid_anywhere(s, regions=None):
    """Regions (sorted) for which `s` is a valid number: written with '+' or
    '00' it is parsed as international, otherwise as a national number of
    each region in turn."""
    regions = regions or ALL_REGIONS
    key = (s, tuple(regions))
    if key in _phone_cache:
        return _phone_cache[key]
    st = s.strip()
    found = []
    d = _digits(st)
    if 6 <= len(d) <= 17:
        if st.startswith("+") or st.startswith("00"):
            try:
                n = phonenumbers.parse("+" + (d[2:] if st.startswith("00") else d), None)
                if phonenumbers.is_valid_number(n):
                    found.append("intl")
            except phonenumbers.NumberParseException:
                pass
        else:
            for r in regions:
                try:
                    n = phonenumbers.parse(d, r)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number_for_region(n, r) or (
                        phonenumbers.is_valid_number(n) and d.startswith(("00", "011"))):
                    found.append(r)
    _phone_cache[key] = found
    return found


# ---------------------------------------------------------------- IBAN

# SWIFT IBAN Registry: BBAN structure per country.
IBAN_BBAN = {
    "AD": "4n4n12c", "AE": "3n16n", "AL": "8n16c", "AT": "5n11n", "AZ": "4a20c",
    "BA": "3n3n8n2n", "BE": "3n7n2n", "BG": "4a4n2n8c", "BH": "4a14c",
    "BR": "8n5n10n1a1c", "CH": "5n12c", "CR": "4n14n", "CY": "3n5n16c",
    "CZ": "4n6n10n", "DE": "8n10n", "DK": "4n9n1n", "DO": "4c20n", "EE": "2n14n",
    "EG": "4n4n17n", "ES": "4n4n1n1n10n", "FI": "3n11n", "FO": "4n9n1n",
    "FR": "5n5n11c2n", "GB": "4a6n8n", "GE": "2a16n", "GI": "4a15c",
    "GL": "4n9n1n", "GR": "3n4n16c", "GT": "4c20c", "HR": "7n10n",
    "HU": "3n4n1n15n1n", "IE": "4a6n8n", "IL": "3n3n13n", "IS": "4n2n6n10n",
    "IT": "1a5n5n12c", "JO": "4a4n18c", "KW": "4a22c", "KZ": "3n13c",
    "LB": "4n20c", "LI": "5n12c", "LT": "5n11n", "LU": "3n13c", "LV": "4a13c",
    "MC": "5n5n11c2n", "MD": "2c18c", "ME": "3n13n2n", "MK": "3n10c2n",
    "MR": "5n5n11n2n", "MT": "4a5n18c", "MU": "4a2n2n12n3n3a", "NL": "4a10n",
    "NO": "4n6n1n", "PK": "4a16c", "PL": "8n16n", "PS": "4a21c", "PT": "4n4n11n2n",
    "QA": "4a21c", "RO": "4a16c", "RS": "3n13n2n", "SA": "2n18c", "SE": "3n16n1n",
    "SI": "5n8n2n", "SK": "4n6n10n", "SM": "1a5n5n12c", "TN": "2n3n13n2n",
    "TR": "5n1n16c", "UA": "6n19c", "VG": "4a16n", "XK": "4n10n2n",
}
# IBAN length per the registry (checked against the structure at import).
IBAN_LEN = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22,
    "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
    "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}

DEV_IBAN = ["DE", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "GB", "IE", "PT", "PL", "SE",
            "DK", "FI", "NO", "LU", "CZ", "SK", "SI", "HR", "BG", "CY", "MT", "EE", "LV",
            "LT", "IS", "LI", "MC", "SM", "AD", "PK", "KW", "BA", "ME", "RS", "MK", "AL",
            "AZ", "BH", "CR", "DO", "GT", "LB", "MR", "MU", "TN", "XK", "VG", "FO", "GL",
            "GI", "MD", "PS"]
HOLDOUT_IBAN = ["SA", "AE", "IL", "BR", "TR", "UA", "KZ", "GR", "RO", "HU", "QA", "JO", "EG", "GE"]
IBAN_WEIGHT = {"DE": 8, "FR": 6, "ES": 6, "IT": 5, "NL": 5, "BE": 3, "AT": 3, "GB": 5, "PL": 4,
               "CH": 3, "PT": 3, "IE": 2, "SE": 2, "BR": 3, "TR": 3, "SA": 2, "AE": 2, "GR": 2}

_BANKS = {
    # German BLZ (Bankleitzahl), public Bundesbank list
    "DE": ["37040044", "10070000", "50010517", "12030000", "20041133", "70150000",
           "10010010", "43060967", "60050101", "50070010", "76026000", "30050110"],
    # UK bank codes with matching sort-code prefixes
    "GB": [("NWBK", "60"), ("BARC", "20"), ("LOYD", "30"), ("HBUK", "40"), ("MIDL", "40"),
           ("MONZ", "04"), ("SRLG", "60"), ("NAIA", "07")],
    "IE": [("AIBK", "93"), ("BOFI", "90"), ("IPBS", "99")],
    "NL": ["ABNA", "INGB", "RABO", "SNSB", "TRIO", "KNAB", "BUNQ", "ASNB", "RBRB"],
    "ES": ["2100", "0049", "0182", "0081", "1465", "0128", "2085", "0075"],
    "IT": ["03069", "02008", "05034", "03111", "01030", "05387"],
    "FR": ["30004", "30003", "30002", "20041", "10278", "11315", "18206"],
    "BE": ["001", "063", "068", "096", "310", "363", "731", "735", "143", "210"],
    "PT": ["0035", "0033", "0007", "0010", "0036"],
    "AT": ["12000", "20111", "32000", "14000", "60000"],
    "CH": ["00762", "00230", "00700", "80808"],
    "PL": ["10201026", "10501012", "11402004", "12401037", "10901014"],
}


def _bban_part(rng, spec):
    out = []
    i = 0
    while i < len(spec):
        j = i
        while spec[j].isdigit():
            j += 1
        n, kind = int(spec[i:j]), spec[j]
        alph = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                "c": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}[kind]
        # alphanumeric account fields are mostly digits in practice
        if kind == "c":
            s = "".join(rng.choice(alph) if rng.random() < 0.15 else str(rng.randrange(10)) for _ in range(n))
        else:
            s = "".join(rng.choice(alph) for _ in range(n))
        out.append(s)
        i = j + 1
    return out


def _bban_len(spec):
    total, num = 0, ""
    for ch in spec:
        if ch.isdigit():
            num += ch
        else:
            total += int(num)
            num = ""
    return total


for _cc, _spec in IBAN_BBAN.items():
    assert _bban_len(_spec) + 4 == IBAN_LEN[_cc], _cc


def _mod97(s):
    num = "".join(str(int(c, 36)) for c in s)
    return int(num) % 97


def iban_valid(s):
    s = s.replace(" ", "").replace("-", "").upper()
    if len(s) < 5 or s[:2] not in IBAN_LEN or len(s) != IBAN_LEN[s[:2]]:
        return False
    if not s.isalnum():
        return False
    return _mod97(s[4:] + s[:4]) == 1


_RIB = {c: v for v, cs in enumerate(["", "AJ", "BKS", "CLT", "DMU", "ENV", "FOW", "GPX", "HQY", "IRZ"]) for c in cs}
_CIN_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]


def _national_checks(cc, parts):
    """Fix national check digits inside the BBAN (returns the BBAN string)."""
    if cc == "BE":
        first = parts[0] + parts[1]
        c = int(first) % 97 or 97
        return first + "%02d" % c
    if cc in ("FR", "MC"):
        bank, branch, acct = parts[0], parts[1], "".join(str(_RIB.get(c, c)) if c.isalpha() else c for c in parts[2])
        key = 97 - ((89 * int(bank) + 15 * int(branch) + 3 * int(acct)) % 97)
        return parts[0] + parts[1] + parts[2] + "%02d" % key
    if cc == "ES":
        w = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

        def d(s):
            v = 11 - sum(int(a) * b for a, b in zip(s, w)) % 11
            return {11: 0, 10: 1}.get(v, v)
        return parts[0] + parts[1] + str(d("00" + parts[0] + parts[1])) + str(d(parts[4])) + parts[4]
    if cc in ("IT", "SM"):
        body = parts[1] + parts[2] + parts[3]
        tot = 0
        for i, ch in enumerate(body):
            v = int(ch) if ch.isdigit() else ord(ch) - 65
            tot += _CIN_ODD[v] if i % 2 == 0 else v
        return chr(65 + tot % 26) + body
    if cc == "NO":
        w = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
        body = parts[0] + parts[1]
        c = 11 - sum(int(a) * b for a, b in zip(body, w)) % 11
        if c == 10:
            return None
        return body + str(0 if c == 11 else c)
    if cc == "PT":
        body = parts[0] + parts[1] + parts[2]
        return body + "%02d" % (98 - (int(body) * 100) % 97)
    if cc == "ME":
        body = parts[0] + parts[1]
        return body + "%02d" % (98 - (int(body) * 100) % 97)
    return "".join(parts)


def iban(rng, cc, form=None):
    spec = IBAN_BBAN[cc]
    while True:
        parts = _bban_part(rng, spec)
        banks = _BANKS.get(cc)
        if banks:
            b = rng.choice(banks)
            if cc in ("GB", "IE"):
                parts[0] = b[0]
                parts[1] = b[1] + parts[1][2:]
            elif cc in ("ES", "IT", "FR", "PT", "AT", "CH", "DE", "NL", "PL"):
                idx = 1 if cc == "IT" else 0
                if cc in ("DE", "PL"):
                    parts[0] = b
                else:
                    parts[idx] = b
            elif cc == "BE":
                parts[0] = b
        bban = _national_checks(cc, parts)
        if bban is not None:
            break
    check = 98 - _mod97(bban + cc + "00")
    electronic = cc + "%02d" % check + bban
    assert iban_valid(electronic), electronic
    grouped = " ".join(electronic[i:i + 4] for i in range(0, len(electronic), 4))
    forms = ["electronic", "electronic", "print", "print", "print", "lower", "lower_print", "dashes"]
    form = form or rng.choice(forms)
    text = {"electronic": electronic, "print": grouped, "lower": electronic.lower(),
            "lower_print": grouped.lower(), "dashes": grouped.replace(" ", "-")}[form]
    return text, {"form": form, "region": cc}


# ---------------------------------------------------------------- cards

CARD_NETWORKS = {
    # name: (prefix ranges (lo, hi) as strings of equal length, lengths, weight)
    "visa": ([("4", "4")], [16, 16, 16, 16, 16, 13, 19], 30),
    "mastercard": ([("51", "55"), ("2221", "2720")], [16], 25),
    "amex": ([("34", "34"), ("37", "37")], [15], 10),
    "discover": ([("6011", "6011"), ("644", "649"), ("65", "65")], [16, 16, 16, 19], 6),
    "jcb": ([("3528", "3589")], [16], 6),
    "diners": ([("36", "36"), ("38", "39"), ("300", "305")], [14], 4),
    "unionpay": ([("62", "62")], [16, 16, 17, 18, 19], 6),
    "maestro": ([("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893"),
                 ("6304", "6304"), ("6759", "6759"), ("6761", "6763")], [16, 18, 19], 5),
    "mir": ([("2200", "2204")], [16], 3),
    "rupay": ([("508", "508"), ("60", "60"), ("6521", "6522")], [16], 3),
    "troy": ([("9792", "9792")], [16], 2),
}
DEV_CARDS = ["visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay", "maestro"]
HOLDOUT_CARDS = ["mir", "rupay", "troy"]


def luhn_ok(d):
    tot = 0
    for i, ch in enumerate(reversed(d)):
        v = int(ch)
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        tot += v
    return tot % 10 == 0


def luhn_complete(body):
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c
    raise AssertionError


def card_group(d, network):
    n = len(d)
    if network == "amex" and n == 15:
        return [d[:4], d[4:10], d[10:]]
    if network == "diners" and n == 14:
        return [d[:4], d[4:10], d[10:]]
    return [d[i:i + 4] for i in range(0, n, 4)]


def card(rng, network, form=None):
    ranges, lengths, _ = CARD_NETWORKS[network]
    lo, hi = rng.choice(ranges)
    prefix = str(rng.randint(int(lo), int(hi))).zfill(len(lo))
    n = rng.choice(lengths)
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(n - len(prefix) - 1))
    d = luhn_complete(body)
    groups = card_group(d, network)
    if len(d) == 13:
        groups = [d[:4], d[4:7], d[7:10], d[10:]]
    forms = ["spaces", "spaces", "spaces", "dashes", "none", "none"]
    form = form or rng.choice(forms)
    text = {"spaces": " ".join(groups), "dashes": "-".join(groups), "none": d}[form]
    return text, {"form": form, "network": network, "digits": d}


# ---------------------------------------------------------------- SSN

SSA_VOID = {"078051120", "219099999", "457555462"}


def ssn_valid(d):
    d = "".join(c for c in d if c.isdigit())
    if len(d) != 9 or d in SSA_VOID:
        return False
    a, g, s = int(d[:3]), int(d[3:5]), int(d[5:])
    return 1 <= a <= 899 and a != 666 and g >= 1 and s >= 1


def ssn(rng, form=None):
    while True:
        d = "%03d%02d%04d" % (rng.randint(1, 899), rng.randint(1, 99), rng.randint(1, 9999))
        if ssn_valid(d):
            break
    form = form or rng.choice(["dashed", "dashed", "dotted", "spaced", "bare"])
    sep = {"dashed": "-", "dotted": ".", "spaced": " ", "bare": ""}[form]
    return d[:3] + sep + d[3:5] + sep + d[5:], {"form": form, "digits": d}


# ---------------------------------------------------------------- IP

def _public_v4(rng):
    while True:
        a = rng.randint(1, 223)
        ip = ipaddress.IPv4Address("%d.%d.%d.%d" % (a, rng.randrange(256), rng.randrange(256), rng.randint(1, 254)))
        if ip.is_global and not ip.is_multicast and not ip.is_reserved:
            return str(ip)


DOC_V4 = ["192.0.2.", "198.51.100.", "203.0.113."]
# Regional-registry IPv6 allocations (2000::/3 global unicast).
V6_PREFIXES = ["2001:4860", "2a00:1450", "2a03:2880", "2600:1f18", "2606:4700", "2a02:8108",
               "2a01:e0a", "2403:6200", "2804:14c", "2c0f:fb50", "2409:8a1e", "2405:201",
               "2a0d:5600", "2001:67c", "2620:fe", "2a02:2788"]


def _hex16(rng, nonzero=False):
    v = rng.randrange(1 if nonzero else 0, 0x10000)
    if rng.random() < 0.2 and not nonzero:
        v = 0
    return v


def ipv4(rng):
    if rng.random() < 0.2:
        return rng.choice(DOC_V4) + str(rng.randint(1, 254))
    return _public_v4(rng)


def ipv6(rng):
    """A global unicast address whose interface id is not zero."""
    if rng.random() < 0.15:
        groups = [0x2001, 0xdb8] + [_hex16(rng) for _ in range(6)]
    else:
        pre = [int(x, 16) for x in rng.choice(V6_PREFIXES).split(":")]
        groups = pre + [_hex16(rng) for _ in range(8 - len(pre))]
    if rng.random() < 0.3:  # EUI-64 from a MAC: xx:xx:xxff:fexx:xxxx
        groups[5] = (groups[5] & 0xff00) | 0xff
        groups[6] = 0xfe00 | (groups[6] & 0xff)
    if all(g == 0 for g in groups[4:]):
        groups[7] = rng.randint(1, 0xffff)
    addr = ipaddress.IPv6Address(":".join("%x" % g for g in groups))
    return addr


def ip(rng, form=None):
    forms = ["v4"] * 6 + ["v6_compressed"] * 3 + ["v6_full", "v6_upper", "v6_mapped", "v6_linklocal_zone"]
    form = form or rng.choice(forms)
    if form == "v4":
        text = ipv4(rng)
    elif form == "v6_compressed":
        text = ipv6(rng).compressed
    elif form == "v6_full":
        text = ipv6(rng).exploded
    elif form == "v6_upper":
        text = ipv6(rng).compressed.upper()
    elif form == "v6_mapped":
        text = "::ffff:" + ipv4(rng)
    elif form == "v6_linklocal_zone":
        mac = [rng.randrange(256) for _ in range(6)]
        mac[0] ^= 0x02
        g = ["fe80", "0", "0", "0", "%x" % (mac[0] << 8 | mac[1]), "%x" % (mac[2] << 8 | 0xff),
             "%x" % (0xfe00 | mac[3]), "%x" % (mac[4] << 8 | mac[5])]
        text = str(ipaddress.IPv6Address(":".join(g)))
        zone = rng.choice(["eth0", "en0", "wlan0", "3", "11", "ens33"])
        return text, {"form": form, "zone": zone}
    else:
        raise ValueError(form)
    return text, {"form": form}


def ip_pii_valid(s):
    """A host address worth redacting: parses and is not a network address
    (x.y.z.0 or an IPv6 with a zero interface id)."""
    try:
        a = ipaddress.ip_address(s.split("%")[0])
    except ValueError:
        return False
    if a.version == 4:
        return int(a) & 0xff not in (0, 255) and not a.is_loopback and not a.is_unspecified
    if a.ipv4_mapped:
        return ip_pii_valid(str(a.ipv4_mapped))
    return int(a) & ((1 << 64) - 1) != 0


# ---------------------------------------------------------------- names

# culture: (given names, family names, order "gf" given-first / "fg"
# family-first, joiner, latin transliterations for e-mail local parts)
NAMES = {
    "en": (["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
            "Elizabeth", "William", "Barbara", "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver",
            "Sophia", "Charlotte", "Harper", "Isla", "Jack", "Freya", "Harry", "Theo", "Grace",
            "Evelyn", "Mary Ann", "Billy Joe"],
           ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
            "Anderson", "Thomas", "Jackson", "White", "Harris", "Thompson", "Robinson", "Clark",
            "Lewis", "Walker", "Hall", "Young", "Evans", "Roberts", "Wright", "Hughes", "Smith-Jones",
            "Baker-Wilson"], "gf"),
    "ga": (["Siobhán", "Aoife", "Niamh", "Seán", "Oisín", "Cian", "Saoirse", "Pádraig", "Eoin", "Róisín"],
           ["O'Brien", "O'Connor", "O'Sullivan", "Murphy", "Kelly", "MacDonald", "McLeod", "Ó Súilleabháin",
            "Mac Giolla", "O'Neill", "Fitzgerald"], "gf"),
    "es": (["Antonio", "Manuel", "José", "Francisco", "David", "Javier", "María Carmen", "María José",
            "Lucía", "Carmen", "Ana María", "Laura", "Isabel", "Juan Carlos", "Guadalupe", "Ximena",
            "Santiago", "Alejandro", "Martina", "Sofía"],
           ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez",
            "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Ramírez",
            "Flores", "de la Cruz", "García Márquez", "Pérez-Reverte", "Núñez"], "gf"),
    "pt": (["João", "Maria", "Ana", "Francisco", "Antônio", "Gabriel", "Helena", "Miguel", "Arthur",
            "Alice", "Luíza", "Ana Paula", "Maria Eduarda", "Conceição"],
           ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
            "Gomes", "Ribeiro", "Carvalho", "dos Santos", "da Silva", "Gonçalves", "Araújo"], "gf"),
    "de": (["Maximilian", "Alexander", "Paul", "Elias", "Ben", "Leon", "Emilia", "Hannah", "Mia",
            "Lena", "Jürgen", "Hans-Peter", "Karl-Heinz", "Jörg", "Günther", "Ursula", "Anneliese",
            "Maximiliane", "Björn", "Käthe"],
           ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
            "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
            "Zimmermann", "Krüger", "Groß", "Müller-Lüdenscheidt", "von Weizsäcker"], "gf"),
    "fr": (["Jean", "Marie", "Michel", "Nathalie", "Pierre", "Jean-Pierre", "Anne-Marie", "Gabriel",
            "Léo", "Raphaël", "Louise", "Jade", "Chloé", "Hélène", "François", "Zoé", "Jean-Baptiste",
            "Marie-Claire", "Loïc", "Maëlle"],
           ["Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
            "Laurent", "Simon", "Lefèvre", "Leroy", "Roux", "Bertrand", "Morel", "Fournier", "Girard",
            "Le Gall", "de Saint-Exupéry", "Bonnaire-Lefèvre"], "gf"),
    "it": (["Giuseppe", "Maria", "Giovanni", "Anna", "Antonio", "Francesco", "Leonardo", "Sofia",
            "Aurora", "Alessandro", "Giulia", "Lorenzo", "Chiara", "Gian Luca", "Maria Grazia"],
           ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
            "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Costa", "D'Angelo", "Lo Bianco"], "gf"),
    "nl": (["Daan", "Sem", "Lucas", "Julia", "Tess", "Sanne", "Jan", "Pieter", "Anouk", "Bram", "Fleur",
            "Maarten", "Joris", "Femke"],
           ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
            "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Hendriks", "van Leeuwen",
            "van der Meer", "in 't Veld"], "gf"),
    "pl": (["Jan", "Anna", "Piotr", "Krzysztof", "Katarzyna", "Andrzej", "Małgorzata", "Tomasz",
            "Agnieszka", "Łukasz", "Zofia", "Jakub", "Wojciech", "Grzegorz", "Bożena"],
           ["Nowak", "Kowalski", "Kowalska", "Wiśniewski", "Wiśniewska", "Wójcik", "Kowalczyk",
            "Kamiński", "Lewandowski", "Zieliński", "Szymański", "Woźniak", "Dąbrowski",
            "Nowak-Jeziorańska"], "gf"),
    "ru": (["Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Мария", "Анна", "Елена", "Ольга",
            "Наталья", "Татьяна", "Aleksandr", "Sergey", "Natalia", "Dmitry", "Yekaterina"],
           ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
            "Новиков", "Фёдоров", "Иванова", "Смирнова", "Ivanov", "Smirnov", "Kuznetsova", "Popov"], "gf"),
    "el": (["Γιώργος", "Μαρία", "Δημήτρης", "Ελένη", "Νίκος", "Κωνσταντίνος", "Giorgos", "Eleni"],
           ["Παπαδόπουλος", "Παπαδοπούλου", "Βλάχος", "Αγγελόπουλος", "Νικολαΐδης", "Γεωργίου",
            "Papadopoulos", "Georgiou", "Nikolaidis"], "gf"),
    "zh": (["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "艳", "杰", "子轩", "梓涵", "浩然",
            "Wei", "Fang", "Xiuying", "Jing", "Hao Ran"],
           ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "欧阳", "司马",
            "Wang", "Li", "Zhang", "Liu", "Chen", "Huang"], "fg"),
    "ja": (["蓮", "陽翔", "湊", "陽葵", "凛", "芽依", "翔太", "花子", "太郎", "美咲", "さくら", "ゆい",
            "Haruto", "Yui", "Sakura", "Sōta"],
           ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
            "Satō", "Suzuki", "Takahashi", "Tanaka", "Watanabe"], "fg"),
    "ko": (["민준", "서연", "서윤", "지우", "도윤", "하준", "지호", "민서", "Min-jun", "Seo-yeon", "Ji-woo", "Do-yoon"],
           ["김", "이", "박", "최", "정", "강", "조", "윤", "Kim", "Lee", "Park", "Choi"], "fg"),
    "hi": (["राहुल", "प्रिया", "अमित", "सुनीता", "आरव", "अनन्या", "Aarav", "Vivaan", "Aditya", "Priya",
            "Ananya", "Diya", "Rahul", "Amit", "Sunita", "Sai Krishna"],
           ["शर्मा", "सिंह", "कुमार", "पटेल", "गुप्ता", "Sharma", "Singh", "Kumar", "Patel", "Gupta",
            "Verma", "Reddy", "Rao", "Iyer", "Nair", "Banerjee"], "gf"),
    "ar": (["محمد", "أحمد", "فاطمة", "علي", "عمر", "مريم", "يوسف", "نور", "Mohammed", "Muhammad",
            "Ahmed", "Fatima", "Omar", "Youssef", "Layla", "Nour"],
           ["حسين", "عبد الله", "الخطيب", "حداد", "Al-Sayed", "Hassan", "Hussein", "Abdullah",
            "El-Masri", "Al Farsi", "Haddad", "Khalil"], "gf"),
    "ng": (["Chinedu", "Ngozi", "Oluwaseun", "Adebayo", "Aisha", "Emeka", "Funmilayo", "Ibrahim",
            "Chiamaka", "Tunde", "Oluwadamilola"],
           ["Okafor", "Adeyemi", "Okonkwo", "Abubakar", "Eze", "Balogun", "Nwosu", "Ogunleye", "Bello",
            "Olawale"], "gf"),
    # cultures whose names appear only in the holdout split
    "vi": (["Văn An", "Thị Hoa", "Minh Anh", "Ngọc Lan", "Đức Anh", "Thu Trang", "Hùng", "Linh", "Bảo Ngọc"],
           ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"], "fg"),
    "tr": (["Mehmet", "Mustafa", "Ahmet", "Ayşe", "Fatma", "Emine", "Zeynep", "Elif", "Yusuf", "Eymen", "Çağla"],
           ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir"], "gf"),
    "he": (["נועה", "דוד", "יוסף", "תמר", "אריאל", "מאיה", "Noa", "Yosef", "Tamar", "Ariel"],
           ["כהן", "לוי", "מזרחי", "פרץ", "ביטון", "Cohen", "Levi", "Mizrahi", "Peretz", "Ben-David"], "gf"),
    "th": (["สมชาย", "สมศักดิ์", "สุนีย์", "มาลี", "Somchai", "Malee", "Siriporn"],
           ["ศรีสุข", "สุวรรณ", "วงศ์สวัสดิ์", "Srisuk", "Wongsawat", "Suwannarat"], "gf"),
    "sw": (["Juma", "Amani", "Neema", "Baraka", "Wanjiku", "Zawadi", "Kipchoge"],
           ["Mwangi", "Otieno", "Kamau", "Wanjiru", "Ochieng", "Kiprono", "Njoroge"], "gf"),
}
DEV_CULTURES = ["en", "ga", "es", "pt", "de", "fr", "it", "nl", "pl", "ru", "el", "zh", "ja", "ko", "hi", "ar", "ng"]
HOLDOUT_CULTURES = ["vi", "tr", "he", "th", "sw"]
CULTURE_WEIGHT = {"en": 8, "es": 4, "de": 4, "fr": 3, "pt": 3, "it": 2, "nl": 2, "pl": 2, "zh": 2, "hi": 2}


def split_names(rng_seed=1801):
    """Hold back a fixed quarter of each dev culture's names for the holdout
    split (deterministic, independent of the line seeds)."""
    import random
    r = random.Random(rng_seed)
    dev, hold = {}, {}
    for c, (giv, fam, order) in NAMES.items():
        if c in HOLDOUT_CULTURES:
            hold[c] = (giv, fam, order)
            continue
        g2, f2 = list(giv), list(fam)
        r.shuffle(g2)
        r.shuffle(f2)
        kg, kf = max(2, len(g2) // 4), max(2, len(f2) // 4)
        hold[c] = (g2[:kg], f2[:kf], order)
        dev[c] = (g2[kg:], f2[kf:], order)
    return dev, hold


def is_latin(s):
    return all(ord(c) < 0x250 or not c.isalpha() for c in s)


_FOLD = {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "æ": "ae", "œ": "oe", "ß": "ss",
         "ı": "i", "ð": "d", "þ": "th"}


def ascii_fold(s):
    s = "".join(_FOLD.get(c, c) for c in s)
    return "".join(c for c in unicodedata.normalize("NFKD", s) if ord(c) < 128)


def _japanese(s):
    # kana, or one of the Japanese family names of the list
    return any("\u3040" <= c <= "\u30ff" for c in s) or any(s.startswith(f) for f in NAMES["ja"][1])


def full_name(order, given, family, rng):
    if order == "fg":
        if not is_latin(given) and not is_latin(family):
            # Japanese writes family and given name with or without a
            # (full-width) space; Chinese and Korean write them together.
            sep = rng.choice(["", " ", "\u3000"]) if rng.random() < 0.5 and _japanese(family + given) else ""
            return family + sep + given
        return family + " " + given
    return given + " " + family


def person(rng, pool, culture=None, latin_only=False):
    """(given, family, full, culture) drawn from a name pool."""
    cultures = list(pool)
    weights = [CULTURE_WEIGHT.get(c, 1) for c in cultures]
    for _ in range(100):
        c = culture or rng.choices(cultures, weights)[0]
        giv, fam, order = pool[c]
        # keep scripts consistent within one person
        latin = rng.random() < 0.55 if not latin_only else True
        g = [x for x in giv if is_latin(x) == latin]
        f = [x for x in fam if is_latin(x) == latin]
        if g and f:
            gn, fn = rng.choice(g), rng.choice(f)
            return gn, fn, full_name(order, gn, fn, rng), c
        if latin_only and culture:
            culture = None
    raise RuntimeError("no person")


# ---------------------------------------------------------------- e-mail

PROVIDERS = ["gmail.com", "gmail.com", "gmail.com", "outlook.com", "hotmail.com", "yahoo.com",
             "icloud.com", "proton.me", "gmx.de", "web.de", "t-online.de", "orange.fr", "free.fr",
             "laposte.net", "libero.it", "virgilio.it", "wp.pl", "onet.pl", "o2.pl", "seznam.cz",
             "mail.ru", "yandex.ru", "qq.com", "163.com", "naver.com", "yahoo.co.jp",
             "uol.com.br", "bol.com.br", "rediffmail.com", "hotmail.co.uk", "btinternet.com",
             "telenet.be", "ziggo.nl", "bluewin.ch", "gmx.at", "comcast.net", "att.net",
             "shaw.ca", "bigpond.com", "hotmail.es", "yahoo.fr", "googlemail.com"]
COMPANY_DOMAINS = ["contoso.com", "fabrikam.com", "northwindtraders.com", "adventure-works.com",
                   "tailspintoys.com", "wingtiptoys.com", "litwareinc.com", "alpineskihouse.com",
                   "wideworldimporters.com", "cohowinery.com", "lucernepublishing.com",
                   "proseware.com", "margiestravel.com", "treyresearch.net", "example.com",
                   "example.org", "example.co.uk", "example.de", "fabrikam.co.jp"]
SUBDOMAINS = ["mail.contoso.com", "eng.fabrikam.co.uk", "students.lucernepublishing.edu",
              "corp.northwindtraders.com", "eu.mail.adventure-works.com", "research.treyresearch.net",
              "it.alpineskihouse.com", "dept.cs.example.ac.uk", "hq.wideworldimporters.com.au"]
# Internationalised domains (IDNA 2008 U-labels) per script.
IDN_DOMAINS = ["bücherwurm.de", "müller-bäckerei.de", "grüße.de", "straße-frei.de", "fútbol-club.es",
               "españa-viajes.es", "cafébleu.fr", "niño.com.mx", "ελληνικά-βιβλία.gr",
               "пример.рф", "почта.рф", "例子.中国", "邮件.中国", "例え.jp", "メール.jp",
               "παράδειγμα.ελ", "उदाहरण.भारत", "한국메일.한국", "ตัวอย่าง.ไทย", "مثال.مصر", "žluťoučký.cz",
               "łódź-sklep.pl", "åland-post.fi", "øresund.dk"]
HOLDOUT_IDN = ["ตัวอย่าง.ไทย", "مثال.مصر", "žluťoučký.cz", "øresund.dk", "åland-post.fi"]


def a_label(domain):
    """IDNA 2008 ToASCII for labels that are already NFC lower-case U-labels:
    'xn--' + RFC 3492 Punycode (stdlib codec) of every non-ASCII label."""
    out = []
    for lab in unicodedata.normalize("NFC", domain).split("."):
        if all(ord(c) < 128 for c in lab):
            out.append(lab)
        else:
            out.append("xn--" + lab.encode("punycode").decode("ascii"))
    return ".".join(out)


def local_from(rng, given, family):
    g = ascii_fold(given).lower().replace(" ", "").replace("'", "")
    f = ascii_fold(family).lower().replace(" ", "").replace("'", "")
    if not g or not f:
        return None
    y = str(rng.choice([rng.randint(70, 99), rng.randint(1970, 2006), rng.randint(1, 999)]))
    return rng.choice([
        g + "." + f, g + "." + f, g + f, g[0] + "." + f, g + "_" + f, g + f[0] + y, f + "." + g,
        g + "." + f + y, g + "-" + f, g[0] + f, g + y,
    ])


def email(rng, pool, form=None, idn_pool=None):
    idn_pool = idn_pool or IDN_DOMAINS
    forms = ["ascii"] * 6 + ["plus", "plus", "subdomain", "upper", "company", "company",
                             "idn_domain", "idn_domain_puny", "eai_local", "eai_full", "eai_full_puny",
                             "apostrophe"]
    form = form or rng.choice(forms)
    if form in ("eai_local", "eai_full", "eai_full_puny"):
        for _ in range(50):
            gn, fn, _, c = person(rng, pool)
            if not is_latin(gn) or not is_latin(fn) or any(ord(ch) > 127 for ch in gn + fn):
                break
        cjk = any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in gn + fn)
        sep = "" if cjk else rng.choice([".", "", "_"])
        first, second = (fn, gn) if pool[c][2] == "fg" else (gn, fn)
        local = (first + sep + second).replace(" ", "").replace("\u3000", "").lower()
        if form == "eai_local":
            dom = rng.choice(PROVIDERS[:8] + COMPANY_DOMAINS[:6])
            text = local + "@" + dom
        else:
            dom = rng.choice(idn_pool)
            text = local + "@" + (a_label(dom) if form == "eai_full_puny" else dom)
        return text, {"form": form}
    gn, fn, _, c = person(rng, pool, latin_only=True)
    local = local_from(rng, gn, fn)
    while local is None:
        gn, fn, _, c = person(rng, pool, latin_only=True)
        local = local_from(rng, gn, fn)
    if form == "apostrophe":
        fam = [f for f in ("o'brien", "o'connor", "d'angelo", "o'neill") ]
        local = ascii_fold(gn).lower().replace(" ", "") + "." + rng.choice(fam)
        text = local + "@" + rng.choice(PROVIDERS)
    elif form == "ascii":
        text = local + "@" + rng.choice(PROVIDERS)
    elif form == "plus":
        tag = rng.choice(["news", "shop", "amazon", "2024", "receipts", "promo", "travel", "spam", "work"])
        text = local + "+" + tag + "@" + rng.choice(PROVIDERS[:6] + COMPANY_DOMAINS[:4])
    elif form == "subdomain":
        text = local + "@" + rng.choice(SUBDOMAINS)
    elif form == "upper":
        loc = ".".join(p[:1].upper() + p[1:] for p in local.split("."))
        dom = rng.choice(COMPANY_DOMAINS + PROVIDERS[:5])
        text = loc + "@" + (dom.upper() if rng.random() < 0.5 else dom[:1].upper() + dom[1:])
    elif form == "company":
        text = local + "@" + rng.choice(COMPANY_DOMAINS)
    elif form in ("idn_domain", "idn_domain_puny"):
        dom = rng.choice([d for d in idn_pool if all(ord(c) < 0x250 for c in d.split(".")[0])] or idn_pool)
        text = local + "@" + (a_label(dom) if form == "idn_domain_puny" else dom)
    else:
        raise ValueError(form)
    return text, {"form": form}
