"""Value generators for the independent PII probe: phones from numbering-plan
facts (national prefixes of mobile and fixed ranges, lengths), Luhn cards in
IIN ranges, MOD 97-10 IBANs, SSA-valid SSNs, public IPs, emails, names.

Written without reading tests/data/pii/gen/*: every list here is our own.
Standard library only.
"""
import random

# ---------------------------------------------------------------- phones
# (region, calling code, trunk prefix, kind, national significant number
# prefix, digits after prefix, national grouping of the NSN)
# Groupings are how the number is commonly printed nationally.
PHONE_PLANS = [
    ("US", "1", "", "any", ["212", "415", "312", "617", "206", "303", "512", "646", "404", "305", "702", "718"], 7, (3, 3, 4)),
    ("CA", "1", "", "any", ["416", "604", "514", "403", "613"], 7, (3, 3, 4)),
    ("GB", "44", "0", "mobile", ["771", "772", "781", "795", "740", "758"], 7, (4, 6)),
    ("GB", "44", "0", "fixed", ["207", "208"], 7, (2, 4, 4)),
    ("GB", "44", "0", "fixed", ["1614", "1214"], 6, (3, 3, 4)),
    ("DE", "49", "0", "mobile", ["151", "152", "157", "159"], 8, (3, 8)),
    ("DE", "49", "0", "mobile", ["170", "171", "172", "176", "160"], 7, (3, 7)),
    ("DE", "49", "0", "fixed", ["302", "304", "306"], 7, (2, 8)),
    ("DE", "49", "0", "fixed", ["892", "895"], 6, (2, 7)),
    ("FR", "33", "0", "mobile", ["6", "7"], 8, (1, 2, 2, 2, 2)),
    ("FR", "33", "0", "fixed", ["14", "47", "56"], 7, (1, 2, 2, 2, 2)),
    ("ES", "34", "", "mobile", ["6"], 8, (3, 3, 3)),
    ("ES", "34", "", "fixed", ["91", "93"], 7, (3, 3, 3)),
    ("IT", "39", "", "mobile", ["33", "34", "32", "38"], 8, (3, 3, 4)),
    ("IT", "39", "", "fixed", ["02", "06"], 8, (2, 4, 4)),
    ("NL", "31", "0", "mobile", ["61", "62", "64"], 7, (1, 8)),
    ("NL", "31", "0", "fixed", ["20"], 7, (2, 3, 4)),
    ("BE", "32", "0", "mobile", ["47", "48", "49"], 7, (3, 2, 2, 2)),
    ("CH", "41", "0", "mobile", ["79", "78", "76"], 7, (2, 3, 2, 2)),
    ("CH", "41", "0", "fixed", ["44"], 7, (2, 3, 2, 2)),
    ("AT", "43", "0", "mobile", ["664", "676", "699"], 7, (3, 7)),
    ("PL", "48", "", "mobile", ["50", "60", "66", "69", "79", "88"], 7, (3, 3, 3)),
    ("PL", "48", "", "fixed", ["22"], 7, (2, 3, 2, 2)),
    ("PT", "351", "", "mobile", ["91", "93", "96"], 7, (3, 3, 3)),
    ("PT", "351", "", "fixed", ["21"], 7, (3, 3, 3)),
    ("SE", "46", "0", "mobile", ["70", "72", "73", "76"], 7, (2, 3, 2, 2)),
    ("SE", "46", "0", "fixed", ["8"], 8, (1, 3, 3, 2)),
    ("IE", "353", "0", "mobile", ["83", "85", "86", "87"], 7, (2, 3, 4)),
    ("NO", "47", "", "mobile", ["4", "9"], 7, (3, 2, 3)),
    ("DK", "45", "", "mobile", ["2", "3"], 7, (2, 2, 2, 2)),
    ("JP", "81", "0", "mobile", ["90", "80", "70"], 8, (2, 4, 4)),
    ("JP", "81", "0", "fixed", ["3"], 8, (1, 4, 4)),
    ("CN", "86", "", "mobile", ["138", "139", "135", "186", "159"], 8, (3, 4, 4)),
    ("IN", "91", "0", "mobile", ["98", "99", "97"], 8, (5, 5)),
    ("BR", "55", "0", "mobile", ["119", "219"], 8, (2, 5, 4)),
    ("MX", "52", "", "any", ["55", "33", "81"], 8, (2, 4, 4)),
    ("AU", "61", "0", "mobile", ["41", "40", "43"], 7, (3, 3, 3)),
    ("AU", "61", "0", "fixed", ["29", "38"], 7, (1, 4, 4)),
    ("KR", "82", "0", "mobile", ["10"], 8, (2, 4, 4)),
    ("RU", "7", "8", "mobile", ["91", "92", "98"], 8, (3, 3, 2, 2)),
    ("TR", "90", "0", "mobile", ["53", "54", "50"], 8, (3, 3, 2, 2)),
    ("SG", "65", "", "mobile", ["9", "8"], 7, (4, 4)),
    ("HK", "852", "", "mobile", ["9", "6"], 7, (4, 4)),
    ("ZA", "27", "0", "mobile", ["82", "83", "72"], 7, (2, 3, 4)),
]


def group(digits, sizes):
    out, i = [], 0
    for s in sizes:
        out.append(digits[i:i + s])
        i += s
    if i < len(digits):
        out[-1] += digits[i:]
    return [g for g in out if g]


class Phone:
    def __init__(self, r):
        plan = r.choice(PHONE_PLANS)
        self.region, self.cc, self.trunk, self.kind, prefixes, n, self.grouping = plan
        pre = r.choice(prefixes)
        while True:
            rest = "".join(r.choice("0123456789") for _ in range(n))
            # NANP: exchange code must start 2-9, no N11, no 555.
            if self.cc == "1":
                if rest[0] in "01" or rest[1:3] == "11" or rest[:3] == "555":
                    continue
            if self.region == "GB" and pre in ("207", "208") and rest[0] == "0":
                continue
            if self.region == "DE" and self.kind == "fixed" and rest[0] == "0":
                continue
            break
        self.nsn = pre + rest
        self.r = r

    def forms(self, loose=False):
        """The ways people write this number: name -> string."""
        nsn, cc, t = self.nsn, self.cc, self.trunk
        g = group(nsn, self.grouping)
        f = {}
        f["e164"] = "+" + cc + nsn
        f["intl"] = "+" + cc + " " + " ".join(g)
        f["intl_dashes"] = "+" + cc + "-" + "-".join(g)
        f["idd00"] = "00" + cc + " " + " ".join(g)
        f["tel"] = "tel:+" + cc + "-" + "-".join(g)
        if cc == "1":
            f["nanp_paren"] = "(%s) %s-%s" % (nsn[:3], nsn[3:6], nsn[6:])
            f["nanp_dashes"] = "%s-%s-%s" % (nsn[:3], nsn[3:6], nsn[6:])
            f["nanp_dots"] = "%s.%s.%s" % (nsn[:3], nsn[3:6], nsn[6:])
            f["nanp1"] = "1-%s-%s-%s" % (nsn[:3], nsn[3:6], nsn[6:])
            f["intl_paren"] = "+1 (%s) %s-%s" % (nsn[:3], nsn[3:6], nsn[6:])
        else:
            f["national"] = t + " ".join(g) if not t else t + g[0] + " " + " ".join(g[1:])
            if t:
                f["paren0"] = "+" + cc + " (" + t + ")" + g[0] + " " + " ".join(g[1:])
                f["paren_trunk"] = "(" + t + g[0] + ") " + " ".join(g[1:])
                f["national_slash"] = t + g[0] + "/" + "".join(g[1:])
            f["national_dots"] = t + ".".join(g) if t else ".".join(g)
            f["national_dashes"] = t + "-".join(g) if t else "-".join(g)
            f["national_dashes"] = (t + g[0] + "-" + "-".join(g[1:])) if t else "-".join(g)
            f["national_dots"] = (t + g[0] + "." + ".".join(g[1:])) if t else ".".join(g)
            # Dots and slashes only where people write them: dotted groups
            # in FR/BE/CH/IT/ES/PT/PL (three groups or more), the slash
            # after the area code in DE/AT/CH.
            # Under a phone key (loose), dots in any region: `0151.23456789`.
            if not loose and (self.region not in ("FR", "BE", "CH", "IT", "ES", "PT", "PL") or len(g) < 3):
                del f["national_dots"]
            if self.region not in ("DE", "AT", "CH"):
                f.pop("national_slash", None)
        return f

    def pick(self, r, allowed=None, loose=False):
        f = self.forms(loose)
        names = sorted(f)
        if allowed:
            names = [n for n in names if n in allowed] or names
        n = r.choice(names)
        return n, f[n]


def phone(r, allowed=None, loose=False):
    p = Phone(r)
    form, s = p.pick(r, allowed, loose)
    if form == "national_dots" and s.count(".") == 1:
        form = "dots_2group"
    return s, {"form": form, "region": p.region, "kind": p.kind}


def extension(r):
    """An extension written after a number (not part of the labeled value)."""
    return r.choice([" x%d" % r.randint(10, 999), " ext. %d" % r.randint(10, 99),
                     " ext %d" % r.randint(100, 9999), " #%d" % r.randint(100, 999)])


# ---------------------------------------------------------------- cards
def luhn_ok(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        x = int(c)
        if i % 2 == 1:
            x *= 2
            if x > 9:
                x -= 9
        s += x
    return s % 10 == 0


def luhn_complete(prefix, length, r):
    body = prefix + "".join(r.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c


CARD_NETS = [
    ("visa", lambda r: "4" + str(r.randint(10000, 99999)), 16),
    ("mastercard", lambda r: str(r.randint(51, 55)), 16),
    ("mastercard2", lambda r: str(r.randint(2221, 2720)), 16),
    ("amex", lambda r: r.choice(["34", "37"]), 15),
    ("discover", lambda r: r.choice(["6011", "65"]), 16),
    ("jcb", lambda r: str(r.randint(3528, 3589)), 16),
    ("diners", lambda r: "36", 14),
    ("unionpay", lambda r: "62" + str(r.randint(2126, 2925)), 16),
    ("unionpay19", lambda r: "62" + str(r.randint(2126, 2925)), 19),
    ("maestro", lambda r: r.choice(["6759", "5018", "6304"]), 16),
]


def card(r, seps=None):
    net, pf, n = r.choice(CARD_NETS)
    d = luhn_complete(pf(r), n, r)
    sep = r.choice(seps or [" ", "-", "", " ", ""])
    if n == 15:
        g = [d[:4], d[4:10], d[10:]]
    elif n == 14:
        g = [d[:4], d[4:10], d[10:]]
    else:
        g = [d[i:i + 4] for i in range(0, n, 4)]
    s = sep.join(g)
    return s, {"network": net, "form": {" ": "spaces", "-": "dashes", "": "none"}[sep]}, d


# ---------------------------------------------------------------- IBAN
def _num(r, n):
    return "".join(r.choice("0123456789") for _ in range(n))


def _alpha(r, n):
    return "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))


def _be(r):
    first = _num(r, 10)
    k = int(first) % 97 or 97
    return first + "%02d" % k


def _fr(r):
    bank, branch, acct = _num(r, 5), _num(r, 5), _num(r, 11)
    key = 97 - ((89 * int(bank) + 15 * int(branch) + 3 * int(acct)) % 97)
    return bank + branch + acct + "%02d" % key


def _es(r):
    bank, branch, acct = _num(r, 4), _num(r, 4), _num(r, 10)
    w = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

    def dc(s):
        v = 11 - sum(int(c) * x for c, x in zip(s, w)) % 11
        return {11: 0, 10: 1}.get(v, v)
    return bank + branch + "%d%d" % (dc("00" + bank + branch), dc(acct)) + acct


IBAN_BBAN = {
    "DE": lambda r: _num(r, 18),
    "GB": lambda r: r.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + _num(r, 14),
    "NL": lambda r: r.choice(["ABNA", "INGB", "RABO", "TRIO"]) + _num(r, 10),
    "AT": lambda r: _num(r, 16),
    "CH": lambda r: _num(r, 17),
    "PL": lambda r: _num(r, 24),
    "SE": lambda r: _num(r, 20),
    "IE": lambda r: r.choice(["AIBK", "BOFI"]) + _num(r, 14),
    "DK": lambda r: _num(r, 14),
    "FI": lambda r: _num(r, 14),
    "LU": lambda r: _num(r, 16),
    "CZ": lambda r: _num(r, 20),
    "BE": _be,
    "FR": _fr,
    "ES": _es,
    "AE": lambda r: _num(r, 19),
    "SA": lambda r: _num(r, 20),
    "HU": lambda r: _num(r, 24),
}


def iban_check(cc, bban):
    s = bban + cc + "00"
    n = int("".join(str(int(c, 36)) for c in s))
    return "%02d" % (98 - n % 97)


def iban_valid(s):
    s = s.replace(" ", "").replace("-", "").upper()
    t = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in t)) % 97 == 1


def iban(r, forms=None):
    cc = r.choice(sorted(IBAN_BBAN))
    bban = IBAN_BBAN[cc](r)
    e = cc + iban_check(cc, bban) + bban
    assert iban_valid(e)
    form = r.choice(forms or ["print", "electronic", "print", "electronic", "lower_print", "dashes"])
    if form == "print":
        s = " ".join(e[i:i + 4] for i in range(0, len(e), 4))
    elif form == "lower_print":
        s = " ".join(e[i:i + 4] for i in range(0, len(e), 4)).lower()
    elif form == "dashes":
        s = "-".join(e[i:i + 4] for i in range(0, len(e), 4))
    else:
        s = e
    return s, {"region": cc, "form": form}


# ---------------------------------------------------------------- SSN
def ssn(r, form="dashed"):
    while True:
        a = r.randint(1, 899)
        if a == 666:
            continue
        g, s = r.randint(1, 99), r.randint(1, 9999)
        if (a, g, s) in ((78, 5, 1120), (219, 9, 9999), (457, 55, 5462)):
            continue
        break
    sep = {"dashed": "-", "spaced": " ", "dotted": ".", "bare": ""}[form]
    return "%03d%s%02d%s%04d" % (a, sep, g, sep, s), {"form": form}


# ---------------------------------------------------------------- IP
def ipv4(r, doc=None):
    if doc is None:
        doc = r.random() < 0.2
    if doc:
        net = r.choice(["192.0.2", "198.51.100", "203.0.113"])
        return "%s.%d" % (net, r.randint(1, 254)), {"form": "v4_doc"}
    while True:
        a = r.randint(1, 223)
        if a in (10, 100, 127, 169, 172, 192, 198, 203, 0):
            continue
        return "%d.%d.%d.%d" % (a, r.randint(0, 255), r.randint(0, 255), r.randint(1, 254)), {"form": "v4"}


def ipv6(r):
    k = r.choice(["compressed", "full", "upper", "mapped", "nat64", "zone", "doc"])
    h = lambda: "%x" % r.randint(1, 0xFFFF)
    if k == "compressed":
        s = "2a02:%s:%s::%s:%s" % (h(), h(), h(), h())
    elif k == "full":
        s = ":".join("%04x" % r.randint(0, 0xFFFF) for _ in range(8))
        s = "2001:" + s[5:]
        s = s[:-4] + "%04x" % r.randint(1, 0xFFFF)
    elif k == "upper":
        s = ("2600:%s:%s:%s:%s:%s:%s:%s" % tuple(h() for _ in range(7))).upper()
    elif k == "mapped":
        s = "::ffff:" + ipv4(r, doc=False)[0]
    elif k == "nat64":
        s = "64:ff9b::" + ipv4(r, doc=False)[0]
    elif k == "zone":
        s = "fe80::%s:%sff:fe%s:%s%%%s" % (h(), "%02x" % r.randint(0, 255), "%02x" % r.randint(0, 255), h(),
                                           r.choice(["eth0", "en0", "wlan0"]))
    else:
        s = "2001:db8:%s::%s" % (h(), h())
    return s, {"form": "v6_" + k}


def ip(r):
    return ipv4(r) if r.random() < 0.6 else ipv6(r)


# ---------------------------------------------------------------- names
FIRST = {
    "en": ["Olivia", "Liam", "Harper", "Ethan", "Chloe", "Marcus", "Abigail", "Trevor", "Shannon", "Wesley"],
    "de": ["Jürgen", "Anneliese", "Klaus-Dieter", "Sönke", "Friederike", "Maximilian", "Gudrun", "Torsten"],
    "fr": ["Jean-Baptiste", "Océane", "Amélie", "François", "Hélène", "Gaëlle", "Thibault", "Solène"],
    "es": ["María José", "Iñigo", "Begoña", "Álvaro", "Nuria", "José Luis", "Lucía", "Rocío"],
    "it": ["Giuseppe", "Chiara", "Niccolò", "Federica", "Gianluca", "Ilaria"],
    "nl": ["Sanne", "Joost", "Femke", "Thijs", "Marieke", "Bram"],
    "pl": ["Małgorzata", "Wojciech", "Agnieszka", "Paweł", "Krzysztof", "Zofia"],
    "pt": ["João", "Conceição", "Gonçalo", "Inês", "Thiago", "Luana"],
    "sv": ["Åsa", "Björn", "Linnéa", "Oskar", "Maja", "Göran"],
    "ja": ["Haruto", "Yui", "Sakura", "Ren"],
    "jaj": ["陽翔", "さくら", "結衣", "蓮"],
    "zh": ["Xiaoming", "Li Na", "Wei", "Zihan"],
    "zhh": ["伟", "秀英", "子涵", "志强"],
    "ar": ["Layla", "Omar", "Fatima", "Youssef"],
    "in": ["Priya", "Arjun", "Ananya", "Rohan"],
}
LAST = {
    "en": ["Whitfield", "O'Connor", "McAllister", "Thornton", "Blackwood", "Ramsey", "Pennington", "Hollis"],
    "de": ["Schäfer", "Großmann", "Müller-Wendt", "Oberhuber", "Kowalczyk", "von Bülow", "Weißenborn"],
    "fr": ["Lefèvre", "de la Fontaine", "Rousseau", "Giraud", "Chevalier", "Moreau-Lambert"],
    "es": ["García Márquez", "Ibáñez", "de los Santos", "Muñoz", "Etxeberria", "Villalobos"],
    "it": ["Esposito", "De Luca", "Bianchi", "Ferraro", "D'Angelo"],
    "nl": ["de Vries", "van der Meer", "Bakker", "Jansen", "van 't Hof"],
    "pl": ["Wiśniewski", "Wójcik", "Szymańska", "Zieliński", "Lewandowska"],
    "pt": ["Gonçalves", "Araújo", "Ferreira", "dos Santos", "Magalhães"],
    "sv": ["Lindqvist", "Söderberg", "Åkesson", "Bergström"],
    "ja": ["Watanabe", "Nakamura", "Sato", "Takahashi"],
    "jaj": ["佐藤", "高橋", "伊藤", "渡辺"],
    "zh": ["Zhang", "Chen", "Ouyang", "Liu"],
    "zhh": ["王", "李", "欧阳", "张"],
    "ar": ["Al-Rashid", "Haddad", "Khalil", "El-Sayed"],
    "in": ["Sharma", "Iyer", "Reddy", "Banerjee"],
}


def first_name(r, culture=None):
    c = culture or r.choice(sorted(FIRST))
    return r.choice(FIRST[c]), c


def last_name(r, culture):
    return r.choice(LAST[culture])


def full_name(r):
    f, c = first_name(r)
    l = last_name(r, c)
    if c in ("jaj", "zhh"):
        return l + f, c
    return f + " " + l, c


# ---------------------------------------------------------------- email
DOMAINS = ["gmail.com", "googlemail.com", "outlook.com", "hotmail.co.uk", "yahoo.fr", "web.de", "gmx.net",
           "t-online.de", "orange.fr", "free.fr", "libero.it", "wp.pl", "o2.pl", "seznam.cz", "icloud.com",
           "proton.me", "yahoo.co.jp", "qq.com", "163.com", "naver.com", "uol.com.br", "telia.com",
           "ziggo.nl", "bluewin.ch", "example.com", "example.org", "mail.example.co.uk", "corp.example.net"]
ASCII_FIRST = ["olivia", "liam", "harper", "juergen", "oceane", "inigo", "giuseppe", "sanne", "malgorzata",
               "joao", "asa", "haruto", "xiaoming", "priya", "omar", "thibault", "begona", "wojciech"]
ASCII_LAST = ["whitfield", "oconnor", "schaefer", "lefevre", "ibanez", "esposito", "devries", "wisniewski",
              "goncalves", "lindqvist", "watanabe", "zhang", "sharma", "haddad", "grossmann"]


def email(r):
    f, l = r.choice(ASCII_FIRST), r.choice(ASCII_LAST)
    k = r.choice(["dot", "dot", "under", "plus", "upper", "digits", "initial", "apos", "sub", "hyphen"])
    if k == "dot":
        local = f + "." + l
    elif k == "under":
        local = f + "_" + l
    elif k == "plus":
        local = f + "." + l + "+" + r.choice(["newsletter", "shop", "amazon", "2024", "spam"])
    elif k == "upper":
        local = (f.capitalize() + "." + l.capitalize())
    elif k == "digits":
        local = f + l + str(r.randint(1, 1999))
    elif k == "initial":
        local = f[0] + l
    elif k == "apos":
        local = f + ".o'" + l
    elif k == "hyphen":
        local = f + "-" + l
    else:
        local = f
    dom = r.choice(DOMAINS)
    if k == "sub":
        dom = r.choice(["eu.", "mail.", "dept.hr."]) + "example-corp.com"
    s = local + "@" + dom
    if k == "upper" and r.random() < 0.5:
        s = s.upper()
    return s, {"form": k}
