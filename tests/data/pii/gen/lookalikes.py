"""Look-alike tokens: values shaped like PII that are not PII, each with the
context that says what it is (a key, a word before it, or its own shape).

Each generator returns `(text, attrs)`; templates put the cue (key or word)
next to it. Cue tables are split dev/holdout so the holdout split also meets
cue words the dev split never shows.

Sources:
- GS1 General Specifications (GTIN-8/12/13/14 check digit: weights 3,1 from
  the right, mod 10; GS1 company prefixes, e.g. 400-440 Germany, 300-379
  France, 500-509 UK, 690-699 China, 450-459/490-499 Japan, 840-849 Spain).
- ISO 2108 (ISBN-10 mod 11, ISBN-13 = EAN-13 with prefix 978/979).
- UPU S10 (item id: 2 letters, 8 digits, check digit with weights
  8,6,4,2,3,5,9,7 mod 11, 2-letter country) for postal tracking numbers;
  UPS "1Z" 18-character tracking numbers (check digit mod 10 over the
  digits, letters mapped per UPS' published scheme).
- ISO 8601 / RFC 3339 dates, RFC 9110 HTTP-date, Apache/NCSA log time.
- RFC 9562 UUIDs (version 4), RFC 1321/3174/6234 digest lengths.
- OIDs from the X.509/PKIX and SNMP registries (RFC 5280, RFC 3279,
  RFC 3411, Microsoft's 1.3.6.1.4.1.311 arc, CT's 1.3.6.1.4.1.11129.2.4.2).
- User-agent strings in the formats Chrome (with User-Agent Reduction:
  "Chrome/<major>.0.0.0"), Edge, Opera, Firefox, Safari, Samsung Internet
  and the Facebook/Instagram in-app browsers send.
"""

import uuid as _uuid

import facts as F

DIG = "0123456789"


def _d(rng, n):
    return "".join(rng.choice(DIG) for _ in range(n))


def _d1(rng, n):
    return str(rng.randint(1, 9)) + _d(rng, n - 1)


def gs1_check(body):
    tot = 0
    for i, ch in enumerate(reversed(body)):
        tot += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - tot % 10) % 10)


# ------------------------------------------------------------ phone-shaped

PHONE_SHAPES = ["3-3-4", "4 3 3", "2 2 2 2 2", "3-7", "4-6", "3 3 3", "3.3.4", "2-2-2-2-2", "4 4",
                "3-2-4", "5 6", "(3) 3-4"]


def phone_shaped(rng):
    """Digits grouped like a phone number. Half of them are taken from a
    real national-format phone number, so they are valid numbers of some
    region, and only the cue next to them says otherwise."""
    if rng.random() < 0.5:
        region = rng.choice(F.DEV_REGIONS + F.HOLDOUT_REGIONS)
        text, _ = F.phone(rng, region, rng.choice(["national", "national_dashes", "national_digits"]))
        if "(" in text and rng.random() < 0.5:
            text = text.replace("(", "").replace(")", "")
        return text, {"shape": "phone_national"}
    shape = rng.choice(PHONE_SHAPES)
    out = []
    for ch in shape:
        out.append(_d(rng, int(ch)) if ch.isdigit() else ch)
    text = "".join(out)
    return text, {"shape": shape}


def order_number(rng):
    k = rng.randrange(7)
    if k == 0:  # Amazon-style 3-7-7
        return "%s-%s-%s" % (_d1(rng, 3), _d(rng, 7), _d(rng, 7)), {"shape": "3-7-7"}
    if k == 1:
        return _d1(rng, rng.choice([8, 9, 10])), {"shape": "digits"}
    if k == 2:  # SAP purchase orders 45xxxxxxxx
        return "45" + _d(rng, 8), {"shape": "po"}
    if k == 3:  # eBay 2-5-5
        return "%s-%s-%s" % (_d1(rng, 2), _d(rng, 5), _d(rng, 5)), {"shape": "2-5-5"}
    if k == 4:
        return "ORD-%d-%s" % (rng.randint(2019, 2025), _d(rng, 6)), {"shape": "prefixed"}
    if k == 5:  # Magento increment ids
        return "0000" + _d1(rng, 5), {"shape": "zero_padded"}
    return "%s %s %s" % (_d1(rng, 3), _d(rng, 3), _d(rng, 3)), {"shape": "3 3 3"}


def _ups(rng):
    shipper = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXY0123456789") for _ in range(6))
    svc = rng.choice(["01", "02", "03", "12", "13", "42"])
    pkg = _d(rng, 7)
    body = shipper + svc + pkg
    tot = 0
    for i, ch in enumerate(body):
        v = int(ch) if ch.isdigit() else (ord(ch) - 63) % 10
        tot += v * (2 if i % 2 == 1 else 1)
    return "1Z" + body + str((10 - tot % 10) % 10)


def _s10(rng):
    d = _d(rng, 8)
    w = [8, 6, 4, 2, 3, 5, 9, 7]
    c = 11 - sum(int(a) * b for a, b in zip(d, w)) % 11
    c = {10: 0, 11: 5}.get(c, c)
    return rng.choice(["RR", "LX", "CP", "EE", "RA", "LZ", "UA"]) + d + str(c) + rng.choice(["DE", "GB", "FR", "CN", "NL", "ES", "PL", "US"])


def tracking_number(rng):
    k = rng.randrange(6)
    if k == 0:
        return _ups(rng), {"carrier": "ups"}
    if k == 1:  # USPS IMpb 22 digits, grouped 4
        d = "9400" + _d(rng, 17)
        d += gs1_check(d)
        return (" ".join(d[i:i + 4] for i in range(0, 22, 4)) if rng.random() < 0.5 else d), {"carrier": "usps"}
    if k == 2:  # FedEx 12 digits
        d = _d1(rng, 12)
        return (" ".join([d[:4], d[4:8], d[8:]]) if rng.random() < 0.5 else d), {"carrier": "fedex"}
    if k == 3:  # DHL Express 10 digits
        return _d1(rng, 10), {"carrier": "dhl"}
    if k == 4:
        return _s10(rng), {"carrier": "upu_s10"}
    return "JJD" + _d(rng, 18), {"carrier": "dhl_paket"}


def numeric_id(rng):
    n = rng.choice([7, 8, 9, 10, 11, 12, 13, 16])
    return _d1(rng, n), {"digits": n}


# ------------------------------------------------------------ dotted quads

def version_quad(rng):
    k = rng.randrange(5)
    if k == 0:
        v = "%d.%d.%d.%d" % (rng.randint(1, 12), rng.randint(0, 30), rng.randint(0, 9), rng.randint(0, 250))
    elif k == 1:
        v = "10.0.%d.%d" % (rng.randint(0, 9), rng.randint(1, 99))
    elif k == 2:
        v = "%d.%d.%d.%d" % (rng.randint(1, 5), rng.randint(0, 20), rng.randint(0, 20), rng.randint(0, 20))
    elif k == 3:
        v = "%d.%d.%d.%d" % (rng.randint(100, 255), rng.randint(0, 9), rng.randint(0, 9), rng.randint(1, 200))
    else:
        v = "%d.%d.%d.%d" % (rng.randint(1, 30), rng.randint(0, 12), rng.randint(0, 255), rng.randint(1, 254))
    return v, {}


# OIDs that contain a valid dotted-quad IPv4 substring.
OIDS = [
    ("1.3.6.1.4.1.311.21.7", "szOID_CERTIFICATE_TEMPLATE"),
    ("1.3.6.1.4.1.311.20.2.3", "szOID_NT_PRINCIPAL_NAME"),
    ("1.3.6.1.5.5.7.3.1", "id-kp-serverAuth"),
    ("1.3.6.1.5.5.7.3.2", "id-kp-clientAuth"),
    ("1.3.6.1.5.5.7.1.1", "id-pe-authorityInfoAccess"),
    ("1.3.6.1.4.1.11129.2.4.2", "CT precertificate SCTs"),
    ("2.5.29.17", "subjectAltName"),
    ("2.5.29.19", "basicConstraints"),
    ("2.5.29.37", "extKeyUsage"),
    ("2.5.4.3", "commonName"),
    ("2.5.4.10", "organizationName"),
    ("1.3.6.1.2.1.1.5.0", "sysName"),
    ("1.3.6.1.2.1.1.3.0", "sysUpTime"),
    ("1.3.6.1.2.1.2.2.1.10", "ifInOctets"),
    ("1.3.6.1.4.1.2021.10.1.3.1", "UCD-SNMP laLoad.1"),
    ("2.23.140.1.2.1", "CA/B Forum domain-validated"),
    ("2.23.140.1.1", "CA/B Forum extended-validation"),
    ("1.3.6.1.4.1.44947.1.1.1", "ISRG Domain Validated"),
    ("0.4.0.1862.1.1", "etsi-qcs-QcCompliance"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
]
HOLDOUT_OIDS = OIDS[14:]
DEV_OIDS = OIDS[:14]


def oid(rng, pool):
    o, name = rng.choice(pool)
    return o, {"name": name}


def section_number(rng):
    parts = [rng.randint(1, 19), rng.randint(1, 12), rng.randint(1, 9), rng.randint(1, 9)]
    if rng.random() < 0.3:
        parts.append(rng.randint(1, 9))
    return ".".join(map(str, parts)), {}


# ------------------------------------------------------------ digit runs

def luhn_invalid(rng, grouped=None):
    prefix = rng.choice(["4", "51", "53", "55", "2223", "37", "6011", "35", "62", "9"])
    n = 15 if prefix == "37" else 16
    body = prefix + _d(rng, n - len(prefix) - 1)
    good = F.luhn_complete(body)
    bad = body + str((int(good[-1]) + rng.randint(1, 9)) % 10)
    assert not F.luhn_ok(bad)
    grouped = rng.random() < 0.5 if grouped is None else grouped
    text = " ".join(bad[i:i + 4] for i in range(0, n, 4)) if grouped else bad
    return text, {"digits": n}


GS1_PREFIXES = ["400", "401", "403", "405", "409", "419", "425", "440", "300", "329", "345", "376",
                "500", "501", "506", "690", "693", "695", "450", "456", "490", "840", "843", "800",
                "803", "870", "871", "590", "789", "760", "761", "880", "885", "893", "471", "489"]


def gtin(rng):
    k = rng.randrange(5)
    if k <= 1:
        b = rng.choice(GS1_PREFIXES) + _d(rng, 9)
        return b + gs1_check(b), {"kind": "ean13"}
    if k == 2:
        b = rng.choice("0134567") + _d(rng, 10)
        return b + gs1_check(b), {"kind": "upca"}
    if k == 3:
        b = rng.choice(GS1_PREFIXES)[:2] + _d(rng, 5)
        return b + gs1_check(b), {"kind": "ean8"}
    b = rng.choice("123456") + rng.choice(GS1_PREFIXES) + _d(rng, 9)
    return b + gs1_check(b), {"kind": "gtin14"}


def isbn(rng):
    if rng.random() < 0.5:  # ISBN-13
        g = rng.choice(["0", "1", "3", "2", "84", "88", "7"])
        pub = _d1(rng, rng.randint(2, 5))
        title = _d(rng, 12 - 3 - len(g) - len(pub))
        body = "978" + g + pub + title
        c = gs1_check(body)
        if rng.random() < 0.6:
            return "978-%s-%s-%s-%s" % (g, pub, title, c), {"kind": "isbn13"}
        return body + c, {"kind": "isbn13"}
    g = rng.choice(["0", "1", "3", "2", "7"])
    pub = _d1(rng, rng.randint(2, 5))
    title = _d(rng, 9 - len(g) - len(pub))
    body = g + pub + title
    c = (11 - sum((10 - i) * int(x) for i, x in enumerate(body)) % 11) % 11
    c = "X" if c == 10 else str(c)
    if rng.random() < 0.6:
        return "%s-%s-%s-%s" % (g, pub, title, c), {"kind": "isbn10"}
    return body + c, {"kind": "isbn10"}


# ------------------------------------------------------------ time

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _when(rng):
    import datetime
    base = datetime.datetime(2019, 1, 1) + datetime.timedelta(seconds=rng.randrange(7 * 365 * 86400))
    return base.replace(microsecond=rng.randrange(1000) * 1000)


def datetime_token(rng):
    t = _when(rng)
    k = rng.randrange(12)
    if k == 0:
        return t.strftime("%Y-%m-%d"), {"fmt": "iso_date"}
    if k == 1:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ"), {"fmt": "rfc3339"}
    if k == 2:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000), {"fmt": "rfc3339_ms"}
    if k == 3:
        off = rng.choice(["+01:00", "+02:00", "-05:00", "+05:30", "+09:00", "-03:00"])
        return t.strftime("%Y-%m-%dT%H:%M:%S") + off, {"fmt": "rfc3339_offset"}
    if k == 4:
        return t.strftime("%Y-%m-%d %H:%M:%S"), {"fmt": "sql"}
    if k == 5:
        return t.strftime("%d/%m/%Y"), {"fmt": "dmy"}
    if k == 6:
        return t.strftime("%m/%d/%Y %I:%M %p"), {"fmt": "us"}
    if k == 7:
        return t.strftime("%Y%m%d%H%M%S"), {"fmt": "compact"}
    if k == 8:
        return t.strftime("%Y%m%d"), {"fmt": "basic_date"}
    if k == 9:
        return "%s, %02d %s %d %s GMT" % (DAYS[t.weekday()], t.day, MONTHS[t.month - 1], t.year, t.strftime("%H:%M:%S")), {"fmt": "http_date"}
    if k == 10:
        return "%02d/%s/%d:%s +0000" % (t.day, MONTHS[t.month - 1], t.year, t.strftime("%H:%M:%S")), {"fmt": "clf"}
    return t.strftime("%d.%m.%Y %H:%M"), {"fmt": "dmy_dots"}


def clf_time(rng):
    t = _when(rng)
    return "%02d/%s/%d:%s +0000" % (t.day, MONTHS[t.month - 1], t.year, t.strftime("%H:%M:%S")), {"fmt": "clf"}


def http_date(rng):
    t = _when(rng)
    return "%s, %02d %s %d %s GMT" % (DAYS[t.weekday()], t.day, MONTHS[t.month - 1], t.year, t.strftime("%H:%M:%S")), {"fmt": "http_date"}


def iso_time(rng):
    t = _when(rng)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000), {"fmt": "rfc3339_ms"}


def epoch(rng):
    s = int(_when(rng).timestamp())
    if rng.random() < 0.5:
        return str(s * 1000 + rng.randrange(1000)), {"unit": "ms"}
    return str(s), {"unit": "s"}


def uuid4(rng):
    u = str(_uuid.UUID(int=rng.getrandbits(128), version=4))
    return (u.upper() if rng.random() < 0.1 else u), {}


def hex_hash(rng):
    n = rng.choice([7, 8, 12, 32, 40, 64])
    return "".join(rng.choice("0123456789abcdef") for _ in range(n)), {"hexlen": n}


# ------------------------------------------------------------ money, geo

def price(rng):
    v = rng.choice([rng.randint(1, 99), rng.randint(100, 9999), rng.randint(10000, 2500000)])
    c = rng.randint(0, 99)
    k = rng.randrange(11)
    if k == 0:
        return "$%s.%02d" % ("{:,}".format(v), c), {"style": "en"}
    if k == 1:
        return "%s,%02d €" % ("{:,}".format(v).replace(",", "."), c), {"style": "de"}
    if k == 2:
        return "EUR %s,%02d" % ("{:,}".format(v).replace(",", " "), c), {"style": "fr_space"}
    if k == 3:
        return "¥%s" % "{:,}".format(v * 10), {"style": "jp"}
    if k == 4:
        return "R$ %s,%02d" % ("{:,}".format(v).replace(",", "."), c), {"style": "br"}
    if k == 5:
        s = str(v)
        if len(s) > 3:
            head, tail = s[:-3], s[-3:]
            groups = []
            while len(head) > 2:
                groups.insert(0, head[-2:])
                head = head[:-2]
            if head:
                groups.insert(0, head)
            s = ",".join(groups + [tail])
        return "₹%s.%02d" % (s, c), {"style": "in_lakh"}
    if k == 6:
        return "CHF %s.%02d" % ("{:,}".format(v).replace(",", "'"), c), {"style": "ch"}
    if k == 7:
        return "£%s.%02d" % ("{:,}".format(v), c), {"style": "gb"}
    if k == 8:
        return "%s,%02d zł" % ("{:,}".format(v).replace(",", "\u00a0"), c), {"style": "pl_nbsp"}
    if k == 9:
        return "%d.%02d" % (v, c), {"style": "plain"}
    return "%s %s" % ("{:,}".format(v), rng.choice(["USD", "EUR", "GBP", "JPY", "MXN"])), {"style": "code"}


def coords(rng):
    lat = rng.uniform(-55, 70)
    lng = rng.uniform(-170, 175)
    p = rng.choice([4, 5, 6, 7])
    k = rng.randrange(3)
    if k == 0:
        return "%.*f,%.*f" % (p, lat, p, lng), {"style": "pair"}
    if k == 1:
        return "@%.7f,%.7f,%dz" % (lat, lng, rng.randint(10, 19)), {"style": "gmaps"}
    return "geo:%.*f,%.*f" % (p, lat, p, lng), {"style": "geo_uri"}


# ------------------------------------------------------------ '@' tokens

RETINA_BASES = ["logo", "icon-cart", "hero-banner", "avatar-placeholder", "apple-touch-icon", "sprite",
                "btn_checkout", "badge-new", "flag-de", "payment-icons", "header_bg", "spinner", "star-rating",
                "app-store-badge", "og-image", "favicon-32"]
RETINA_SCALES = ["2x", "2x", "3x", "1.5x", "4x"]


def retina(rng):
    return "%s@%s.%s" % (rng.choice(RETINA_BASES), rng.choice(RETINA_SCALES),
                         rng.choice(["png", "png", "jpg", "webp", "svg", "avif"])), {}


PACKAGES = [("@angular/core", "17.3.1"), ("@babel/preset-env", "7.24.0"), ("bootstrap", "5.3.2"),
            ("jquery", "3.7.1"), ("@fortawesome/fontawesome-free", "6.5.1"), ("react-dom", "18.2.0"),
            ("lodash", "4.17.21"), ("@sentry/browser", "7.99.0"), ("vue", "3.4.15"),
            ("@segment/analytics-next", "1.84.3"), ("swiper", "11.0.5"), ("chart.js", "4.4.1"),
            ("@popperjs/core", "2.11.8"), ("alpinejs", "3.13.3"), ("htmx.org", "1.9.10"),
            ("@hotwired/turbo", "8.0.2"), ("axios", "1.6.5"), ("dayjs", "1.11.10"),
            ("@mui/material", "5.15.4"), ("three", "0.160.0"), ("d3", "7.8.5"),
            ("@types/node", "20.11.5"), ("tailwindcss", "3.4.1"), ("gsap", "3.12.5"),
            ("video.js", "8.10.0"), ("@stripe/stripe-js", "2.4.0"), ("focus-trap", "7.5.4")]


def package_spec(rng, pool=PACKAGES):
    name, ver = rng.choice(pool)
    return name + "@" + ver, {"name": name}


MENTIONS = ["@acme_support", "@NorthwindHelp", "@contoso", "@fabrikam_es", "@TailspinToys", "@wingtip_care",
            "@AlpineSkiHouse", "@LitwareStatus", "@coho_winery", "@ProsewareDev"]
CSS_AT = ["@media (max-width: 767px)", "@media screen and (min-width:1024px)", "@font-face",
          '@import url("/css/print.css")', "@keyframes fadeIn", "@supports (display:grid)",
          "@media print", "@container sidebar (min-width: 400px)", "@layer base, components",
          "@media (prefers-color-scheme: dark)", "@charset \"UTF-8\"", "@page :first"]
FUNCS = ["handleClick", "onSubmit", "n.dispatch", "e.value", "Object.onload", "r", "s/<", "t.prototype.track",
         "HTMLFormElement.submit", "async*loadProducts", "@", "Module.render", "Array.forEach"]


def stack_frame(rng, host):
    f = rng.choice(FUNCS)
    h = "".join(rng.choice("0123456789abcdef") for _ in range(8))
    return "%s@https://%s/static/js/%s.%s.js:%d:%d" % (f, host, rng.choice(["main", "vendor", "app", "chunk-vendors", "runtime"]),
                                                     h, rng.randint(1, 9), rng.randint(10, 99999)), {}


# ------------------------------------------------------------ user agents

CHROME_MAJORS = list(range(109, 132))


def user_agent(rng):
    """(parts, kind): parts is a list of (text, label_or_None) where label is a
    look-alike class for the tokens a naive scanner misreads."""
    m = rng.choice(CHROME_MAJORS)
    k = rng.randrange(12)
    L = "ua_version"
    if k in (0, 1):
        return [("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ", None),
                ("Chrome/%d.0.0.0" % m, L), (" Safari/537.36", None)], "chrome_win"
    if k == 2:
        return [("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) ", None),
                ("Chrome/%d.0.0.0" % m, L), (" Safari/537.36", None)], "chrome_mac"
    if k == 3:
        return [("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) ", None),
                ("Chrome/%d.0.0.0" % m, L), (" Mobile Safari/537.36", None)], "chrome_android"
    if k == 4:
        return [("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ", None),
                ("Chrome/%d.0.0.0" % m, L), (" Safari/537.36 ", None), ("Edg/%d.0.0.0" % m, L)], "edge"
    if k == 5:
        return [("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ", None),
                ("Chrome/%d.0.0.0" % m, L), (" Safari/537.36 ", None), ("OPR/%d.0.0.0" % (m - 14), L)], "opera"
    if k == 6:
        v = rng.randint(115, 133)
        return [("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:%d.0) " % v, None), ("Gecko/20100101", "ua_token"),
                (" Firefox/%d.0" % v, None)], "firefox"
    if k == 7:
        ios = rng.choice(["17_2_1", "17_1_2", "16_6", "17_4", "18_1"])
        return [("Mozilla/5.0 (iPhone; CPU iPhone OS %s like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%s Mobile/15E148 Safari/604.1" % (ios, ios.split("_")[0] + "." + ios.split("_")[1]), None)], "safari_ios"
    if k == 8:
        return [("Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 ", None),
                ("Chrome/%d.0.0.0" % m, L), (" Mobile Safari/537.36", None)], "samsung"
    if k == 9:
        fbav = "%d.0.0.%d.%d" % (rng.randint(400, 480), rng.randint(10, 60), rng.randint(100, 250))
        fbbv = _d1(rng, 9)
        return [("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21B101 [FBAN/FBIOS;", None),
                ("FBAV/" + fbav, L), (";", None), ("FBBV/" + fbbv, "ua_token"),
                (";FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.1.2;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]", None)], "facebook_iab"
    if k == 10:
        iv = "%d.0.0.%d.%d" % (rng.randint(300, 330), rng.randint(10, 60), rng.randint(100, 250))
        return [("Mozilla/5.0 (Linux; Android 13; SM-S911B Build/", None), ("TP1A.220624.014", "ua_token"),
                ("; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 ", None),
                ("Chrome/%d.0.0.0" % m, L), (" Mobile Safari/537.36 ", None), ("Instagram " + iv, L),
                (" Android (33/13; 420dpi; 1080x2340; samsung; SM-S911B; dm1q; qcom; en_US; ", None),
                (_d1(rng, 9), "ua_token"), (")", None)], "instagram_iab"
    app = rng.choice(["ShopApp", "NorthwindMobile", "ContosoBank", "FabrikamTV"])
    av = "%d.%d.%d.%d" % (rng.randint(1, 9), rng.randint(0, 20), rng.randint(0, 9), rng.randint(1, 250))
    return [(app + "/" + av, L), (" (iPhone; iOS 17.2; Scale/3.00) CFNetwork/1485 Darwin/23.1.0", None)], "app"


# ------------------------------------------------------------ non-person names

PRODUCTS = ["Trail Runner 2", "Merino Wool Socks", "Ultralight Tent 2P", "Espresso Machine Pro",
            "Noise Cancelling Headphones", "Organic Cotton Tee", "Cast Iron Skillet 28cm", "Yoga Mat Eco",
            "Smart Thermostat", "Kids Rain Jacket", "Bamboo Cutting Board", "Wireless Mouse M185",
            "4K Monitor 27\"", "Leather Wallet", "Gift Card €50", "Running Belt", "Chef's Knife 20 cm",
            "Linen Duvet Cover", "USB-C Hub 7-in-1", "Hiking Boots GTX", "Zapatillas Urban", "Sac à dos 25L",
            "Kaffeemühle Classic", "Borraccia Termica", "水筒 500ml", "保温杯", "Чайник электрический"]
PAGES = ["Home", "Pricing", "Checkout", "Product Detail", "Order Confirmation", "Search Results",
         "Account Settings", "Cart", "Blog Post", "Help Center", "Sign Up", "Landing - Black Friday"]
EVENTS = ["Order Completed", "Product Viewed", "Checkout Started", "Signed Up", "Product Added",
          "Cart Viewed", "Promotion Clicked", "Video Playback Started", "Form Submitted", "Search Performed"]
CAMPAIGNS = ["black_friday_2024", "spring-sale", "newsletter_w48", "retargeting_q4", "brand-search",
             "summer_launch", "Back to School 2024", "cyber-monday"]
FILES = ["invoice-2024-11.pdf", "user-guide_v3.pdf", "price_list.xlsx", "catalogue-2025.pdf",
         "installer-x64.msi", "report Q3.docx", "brochure_es.pdf"]
APPS = ["Northwind Shop", "Contoso Mobile", "Fabrikam Portal", "web", "ios", "android-app"]
