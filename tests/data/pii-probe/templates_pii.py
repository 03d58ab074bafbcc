"""Templates of lines that hold PII: tracker payloads, forms, logs, URLs,
free text in many languages. Each takes a random.Random and returns a
finished record (line.Line.finish)."""
import json

import values as V
import vocab as W
from line import Line, MARK

TYPES = ["email", "phone", "card", "iban", "ip", "ssn", "name"]
WEIGHTS = [22, 24, 10, 10, 12, 6, 16]


def value(r, typ, phone_forms=None):
    if typ == "email":
        return V.email(r)
    if typ == "phone":
        return V.phone(r, phone_forms)
    if typ == "card":
        s, a, _ = V.card(r)
        return s, a
    if typ == "iban":
        return V.iban(r)
    if typ == "ip":
        return V.ip(r)
    if typ == "ssn":
        return V.ssn(r, "dashed")
    raise ValueError(typ)


def name_kv(r):
    """(key, name, attrs) for a name under a name-like key."""
    k = r.choice(["first", "first", "last", "full"])
    if k == "first":
        n, c = V.first_name(r)
        return r.choice(W.FIRST_KEYS), n, {"culture": c}
    if k == "last":
        c = r.choice(sorted(V.LAST))
        return r.choice(W.LAST_KEYS), V.last_name(r, c), {"culture": c}
    n, c = V.full_name(r)
    return r.choice(W.FULL_KEYS), n, {"culture": c}


def kv(r, typ):
    """(key, raw value, attrs) for a PII type under one of its keys."""
    if typ == "name":
        return name_kv(r)
    if typ == "ssn":
        raw, a = V.ssn(r, r.choice(["dashed", "bare", "spaced"]))
        return r.choice(W.KEYS["ssn"]), raw, a
    raw, a = V.phone(r, loose=True) if typ == "phone" else value(r, typ)
    return r.choice(W.KEYS[typ]), raw, a


def pick_type(r):
    return r.choices(TYPES, WEIGHTS)[0]


def query(r, L, pairs):
    """Query string from (key, rendered value) pairs plus benign ones."""
    ps = list(pairs) + r.sample(W.BENIGN_PARAMS, r.randint(0, 3))
    r.shuffle(ps)
    return "&".join("%s=%s" % (k, v) for k, v in ps)


def enc_key(L, k):
    if L.encoding in ("percent", "form", "percent2"):
        return k.replace("[", "%5B").replace("]", "%5D")
    return k


def t_url_query(r):
    L = Line("url", "url.query", r.choice(["browser", "browser", "percent", "form"]))
    pairs = []
    for typ in list(dict.fromkeys(pick_type(r) for _ in range(r.choice([1, 1, 2])))):
        k, raw, a = kv(r, typ)
        v = L.pii_(typ, raw, key=k, **a)
        if typ == "phone" and r.random() < 0.2 and not raw.startswith("tel:"):
            v += L.enc(V.extension(r), "percent")
        pairs.append((enc_key(L, k), v))
    url = "https://%s%s?%s" % (r.choice(W.HOSTS), r.choice(W.PATHS), query(r, L, pairs))
    return L.finish(url)


def t_ga4(r):
    """GA4 /g/collect hit: the page URL in dl (escaped twice when it has a
    query), the referrer in dr, event and user params in ep./up."""
    L = Line("url", "url.ga4_collect", "percent2")
    typ = pick_type(r)
    k, raw, a = kv(r, typ)
    where = r.choice(["dl", "dr", "ep", "up"])
    if where in ("dl", "dr"):
        inner = "https://%s%s?%s=%s" % (r.choice(W.HOSTS), r.choice(W.PATHS), k, L.pii_(typ, raw, "percent2", key=k, **a))
        page = "https%3A%2F%2F" + inner[8:].replace("/", "%2F").replace("?", "%3F").replace("=", "%3D").replace("[", "%5B").replace("]", "%5D")
        if "%3D" not in page:
            raise ValueError("key")
        dl = page
        dr = "https%3A%2F%2Fwww.google.com%2F"
        if where == "dr":
            dl, dr = "https%3A%2F%2F" + r.choice(W.HOSTS) + "%2F", page
        params = "dl=%s&dr=%s" % (dl, dr)
    else:
        key = ("ep." if where == "ep" else "up.") + r.choice(["customer_" + typ, "user_" + typ, typ])
        params = "dl=https%%3A%%2F%%2F%s%%2Fcheckout&%s=%s" % (r.choice(W.HOSTS), key, L.pii_(typ, raw, "percent", key=key, **a))
    url = ("https://region1.google-analytics.com/g/collect?v=2&tid=G-%s&gtm=45je3b10v9&_p=%d&cid=%d.%d&ul=de-de"
           "&sr=1920x1080&_s=%d&sid=%d&sct=4&seg=1&%s&dt=Checkout&en=%s" % (
               W.hexs(r, 10).upper(), r.randint(10 ** 8, 10 ** 9), r.randint(10 ** 8, 2 * 10 ** 9),
               r.randint(1690000000, 1702000000), r.randint(1, 9), r.randint(1690000000, 1702000000), params,
               r.choice(["page_view", "purchase", "generate_lead", "sign_up"])))
    return L.finish(url)


def t_meta_pixel(r):
    L = Line("url", "url.meta_pixel", "percent")
    typ = r.choice(["email", "phone", "name", "email"])
    k, raw, a = kv(r, typ)
    inner = "https%%3A%%2F%%2F%s%%2Fthank-you%%3F%s%%3D%s" % (r.choice(W.HOSTS), enc_key(Line("u", "u", "percent"), k).replace("%", "%25"),
                                                               L.pii_(typ, raw, "percent2", key=k, **a))
    url = "https://www.facebook.com/tr/?id=%d&ev=%s&dl=%s&rl=&if=false&ts=%d&sw=1440&sh=900&v=2.9.138&r=stable" % (
        r.randint(10 ** 14, 10 ** 15), r.choice(["PageView", "Lead", "Purchase"]), inner,
        r.randint(1690000000000, 1702000000000))
    return L.finish(url)


def t_search(r):
    L = Line("referrer", "referrer.search", r.choice(["form", "percent", "form"]))
    typ = r.choice(["email", "phone", "phone", "iban", "card", "ip", "ssn"])
    raw, a = value(r, typ)
    words = r.choice(["%s", "who called me %s", "%s reverse lookup", "wer ruft an %s", "qui m'appelle %s",
                      "%s login", "iban %s prüfen", "mi número %s", "password reset %s", "whois %s", "%s spam"])
    before, after = words.split("%s")
    q = L.enc(before) + L.pii_(typ, raw, **a) + L.enc(after)
    eng = r.choice(["https://www.google.com/search?q=%s&hl=de&source=hp", "https://www.bing.com/search?q=%s&form=QBLH",
                    "https://duckduckgo.com/?q=%s&ia=web", "https://www.google.fr/search?client=firefox-b-d&q=%s",
                    "https://search.yahoo.com/search?p=%s&fr=yfp-t"])
    return L.finish(eng % q)


def t_mailto_tel(r):
    L = Line("link", "link.mailto_tel", r.choice(["plain", "plain", "percent"]))
    if r.random() < 0.5:
        raw, a = V.email(r)
        subj = L.enc("Order " + str(r.randint(10000, 99999)), "percent")
        s = "mailto:%s?subject=%s" % (L.pii_("email", raw, "plain", **a), subj)
        if r.random() < 0.3:
            raw2, a2 = V.email(r)
            s += "&cc=" + L.pii_("email", raw2, "percent", **a2)
    else:
        p = V.Phone(r)
        f = p.forms()
        s = "tel:" + L.pii_("phone", r.choice([f["e164"], f["intl_dashes"][0:]]), "plain", region=p.region)
        if r.random() < 0.3:
            s += ";ext=%d" % r.randint(10, 999)
    return L.finish(r.choice(['<a href="%s">Kontakt</a>', "%s", '<a class="btn" href="%s" data-track="click">Call us</a>']) % s)


def t_html_attr(r):
    L = Line("text", "text.html_attr", "plain")
    typ = r.choice(["email", "phone", "name", "name", "iban"])
    k, raw, a = kv(r, typ)
    if typ == "name":
        k = r.choice(["first_name", "lastName", "fullname", "given-name", "family-name"])
        if k in ("lastName", "family-name"):
            raw = V.last_name(r, a["culture"])
        ac = {"first_name": "given-name", "given-name": "given-name", "lastName": "family-name",
              "family-name": "family-name", "fullname": "name"}[k]
        html = '<input type="text" name="%s" id="%s" value="%s" autocomplete="%s">' % (
            k, k, L.pii_("name", raw, "plain", key=k, **a), ac)
    else:
        html = r.choice(['<input type="%s" name="%s" value="%s" required>', '<span data-%s="" data-%s="%s"></span>']) % (
            "email" if typ == "email" else "text", k.replace("[", "_").replace("]", ""), L.pii_(typ, raw, "plain", key=k, **a))
    return L.finish(html)


def t_form_body(r):
    L = Line("form", "form.body", "form")
    style = r.choice(["rails", "django", "php", "woo"])
    pairs = []
    if style == "rails":
        pairs.append(("utf8", "%E2%9C%93"))
        pairs.append(("authenticity_token", W.hexs(r, 32)))
        wrap = lambda k: "user%5B" + k + "%5D"
    elif style == "django":
        pairs.append(("csrfmiddlewaretoken", W.hexs(r, 40)))
        wrap = lambda k: k
    elif style == "php":
        wrap = lambda k: "customer%5B" + k + "%5D"
    else:
        wrap = lambda k: "billing_" + k
    plain_keys = {"email": ["email"], "phone": ["phone", "telephone", "mobile"], "card": ["cc_number"],
                  "iban": ["iban"], "ip": ["ip"], "ssn": ["ssn"]}
    for typ in list(dict.fromkeys(pick_type(r) for _ in range(r.randint(1, 3)))):
        if typ == "name":
            k = r.choice(["first_name", "last_name", "name", "full_name"]) if style != "woo" else r.choice(["first_name", "last_name"])
            n, c = V.first_name(r) if "first" in k else V.full_name(r)
            if k == "last_name":
                n = V.last_name(r, c)
            key = wrap(k)
            if style == "django" and k == "name":
                key = "name"
                c = c + ":contact_form"
            pairs.append((key, L.pii_("name", n, key=key, culture=c)))
        else:
            if typ == "ssn":
                raw, a = V.ssn(r, r.choice(["dashed", "bare"]))
            else:
                raw, a = value(r, typ)
            key = wrap(r.choice(plain_keys[typ]))
            pairs.append((key, L.pii_(typ, raw, key=key, **a)))
    pairs.append(("commit", r.choice(["Sign+up", "Weiter", "Commander", "Enviar"])))
    if style == "django":
        pairs.append(("message", L.enc(r.choice(["Bitte um Rückruf", "Hello, I need help with my order", "Merci"]))))
    return L.finish("&".join("%s=%s" % kv_ for kv_ in pairs))


def _json_doc(r, L, doc):
    """Serialize doc, then put the marked values in, escaped for the line."""
    s = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    for i, (rendered, as_number) in enumerate(L.slots):
        m = json.dumps(MARK % i, ensure_ascii=False)
        s = s.replace(m, rendered if as_number else '"' + rendered + '"')
    return s


def slot(L, typ, raw, key, number=False, **a):
    v = L.pii_(typ, raw, "plain" if number else None, key=key, **a)
    L.slots.append((v, number))
    return MARK % (len(L.slots) - 1)


def t_segment(r):
    L = Line("json", "json.segment", r.choice(["json_plain", "json_plain", "json_php", "json_dotnet", "json_at"]))
    L.slots = []
    kind = r.choice(["identify", "track", "page"])
    ctx = {"library": {"name": "analytics.js", "version": "next-1.61.0"}, "locale": "de-DE",
           "userAgent": r.choice(W.UAS)}
    if r.random() < 0.4:
        ip, a = V.ip(r)
        ctx["ip"] = slot(L, "ip", ip, "context.ip", **a)
    doc = {"anonymousId": W.uuid(r), "messageId": "ajs-next-" + W.hexs(r, 32), "type": kind}
    if kind == "identify":
        traits = {}
        for typ in list(dict.fromkeys(pick_type(r) for _ in range(r.randint(1, 3)))):
            if typ == "name":
                k = r.choice(["firstName", "lastName", "name", "first_name", "last_name"])
                n, c = V.full_name(r) if k == "name" else V.first_name(r)
                if "last" in k.lower():
                    n = V.last_name(r, c)
                traits[k] = slot(L, "name", n, "traits." + k, culture=c)
            elif typ == "ssn":
                continue
            else:
                k = {"email": "email", "phone": "phone", "card": "cardNumber", "iban": "iban", "ip": "lastIp"}[typ]
                raw, a = value(r, typ)
                traits[k] = slot(L, typ, raw, "traits." + k, **a)
        if not traits:
            raw, a = V.email(r)
            traits["email"] = slot(L, "email", raw, "traits.email", **a)
        traits["plan"] = r.choice(["pro", "free"])
        traits["createdAt"] = W.ts_iso(r)
        doc["userId"] = "usr_" + W.hexs(r, 12)
        doc["traits"] = traits
    elif kind == "track":
        props = {"order_id": "ORD-%d" % r.randint(10000, 99999), "revenue": round(r.uniform(5, 500), 2),
                 "currency": "EUR"}
        typ = r.choice(["email", "phone", "name"])
        if typ == "name":
            k = r.choice(["customer_name", "billing_first_name", "recipientName"])
            n, c = V.full_name(r)
            props[k] = slot(L, "name", n, k, culture=c)
        else:
            raw, a = value(r, typ)
            k = r.choice(W.KEYS[typ][:6])
            props[k] = slot(L, typ, raw, k, **a)
        doc["event"] = r.choice(["Order Completed", "Checkout Started", "Signed Up", "Form Submitted"])
        doc["properties"] = props
    else:
        doc["name"] = r.choice(["Checkout", "Account", "Thank You"])
        raw, a = V.email(r)
        url = "https://%s/thank-you?email=%s&utm_source=newsletter" % (r.choice(W.HOSTS), raw)
        v = L.pii_("email", raw, key="properties.url", **a)
        L.slots.append((L.enc(url), False))
        doc["properties"] = {"path": "/thank-you", "url": MARK % (len(L.slots) - 1), "title": "Danke"}
    doc["context"] = ctx
    doc["timestamp"] = W.ts_iso(r)
    return L.finish(_json_doc(r, L, doc))


def t_stripe(r):
    L = Line("json", "json.stripe_like", r.choice(["json_plain", "json_plain", "json_php"]))
    L.slots = []
    n, c = V.full_name(r)
    e, ea = V.email(r)
    doc = {"id": "cus_" + W.hexs(r, 14), "object": "customer", "created": r.randint(1690000000, 1702000000),
           "email": slot(L, "email", e, "email", **ea), "livemode": False}
    k = r.choice(["name", "billing_details"])
    if k == "name":
        doc["name"] = slot(L, "name", n, "customer.name", culture=c)
    else:
        bd = {"name": slot(L, "name", n, "billing_details.name", culture=c)}
        if r.random() < 0.5:
            p, pa = V.phone(r)
            bd["phone"] = slot(L, "phone", p, "billing_details.phone", **pa)
        bd["address"] = {"city": r.choice(["Berlin", "Lyon", "Madrid"]), "postal_code": str(r.randint(10000, 99999)),
                         "country": r.choice(["DE", "FR", "ES"])}
        doc["billing_details"] = bd
    if r.random() < 0.4:
        cs, ca, digits = V.card(r)
        as_num = r.random() < 0.3
        doc["card"] = {"number": slot(L, "card", digits if as_num else cs, "card.number", number=as_num, **ca),
                       "exp_month": r.randint(1, 12), "exp_year": r.randint(2024, 2030), "brand": ca["network"]}
    if r.random() < 0.3:
        ib, ia = V.iban(r)
        doc["sepa_debit"] = {"iban": slot(L, "iban", ib, "sepa_debit.iban", **ia), "bank_code": str(r.randint(10000000, 99999999))}
    if doc.get("sepa_debit"):
        doc["sepa_debit"]["bank_code"] = "37040044"
    return L.finish(_json_doc(r, L, doc))


def t_access_log(r):
    L = Line("log", "log.access", "browser")
    ipv, ia = V.ipv4(r) if r.random() < 0.75 else V.ipv6(r)
    typ = r.choice(["email", "phone", "name", "card", "iban", "ssn", None, None])
    q = ""
    if typ:
        k, raw, a = kv(r, typ)
        q = "?%s=%s" % (k.replace("[", "%5B").replace("]", "%5D"), L.pii_(typ, raw, r.choice(["browser", "percent", "form"]), key=k, **a))
    ip_s = L.pii_("ip", ipv, "plain", **ia)
    line = '%s - - [%s] "GET %s%s HTTP/1.1" %d %d "%s" "%s"' % (
        ip_s, W.clf_time(r), r.choice(W.PATHS), q, r.choice([200, 302, 404]), r.randint(300, 90000),
        r.choice(["-", "https://www.google.com/", "https://" + r.choice(W.HOSTS) + "/cart"]), r.choice(W.UAS))
    return L.finish(line)


def t_header(r):
    L = Line("header", "header.line", "plain")
    k = r.choice(["xff", "xri", "from", "cookie"])
    if k == "xff":
        a1, x1 = V.ip(r)
        a2, x2 = V.ipv4(r)
        return L.finish("X-Forwarded-For: %s, %s" % (L.pii_("ip", a1, **x1), L.pii_("ip", a2, **x2)))
    if k == "xri":
        a1, x1 = V.ip(r)
        return L.finish("%s: %s" % (r.choice(["X-Real-IP", "CF-Connecting-IP", "True-Client-IP"]), L.pii_("ip", a1, **x1)))
    if k == "from":
        e, ea = V.email(r)
        return L.finish("From: %s" % L.pii_("email", e, **ea))
    L2 = Line("header", "header.cookie", "percent")
    e, ea = V.email(r)
    n, c = V.first_name(r)
    inner = '{"email":"%s","firstName":"%s"}' % (e, n)
    enc = L2.enc(inner)
    L2.pii_("email", e, "percent", key="email", **ea)
    L2.pii_("name", n, "percent", key="firstName", culture=c)
    return L2.finish("Cookie: _ga=GA1.2.%d.%d; ajs_user_traits=%s; ajs_anonymous_id=%s" % (
        r.randint(10 ** 8, 2 * 10 ** 9), r.randint(1690000000, 1702000000), enc, W.uuid(r)))


def t_stack(r):
    L = Line("log", "log.js_error", "browser")
    typ = r.choice(["email", "phone", "name"])
    k, raw, a = kv(r, typ)
    host = r.choice(W.HOSTS)
    url = "https://%s%s?%s=%s" % (host, r.choice(W.PATHS), k, L.pii_(typ, raw, key=k, **a))
    msg = r.choice(["TypeError: Cannot read properties of undefined (reading 'id')",
                    "ReferenceError: dataLayer is not defined", "Error: Request failed with status code 422"])
    frames = ["    at submitForm (https://%s/static/js/main.%s.js:2:%d)" % (host, W.hexs(r, 8), r.randint(100, 99999)),
              "    at %s:%d:%d" % (url, r.randint(1, 400), r.randint(1, 80))]
    if r.random() < 0.5:
        frames = ["submitForm@https://%s/static/js/main.%s.js:2:%d" % (host, W.hexs(r, 8), r.randint(100, 99999)),
                  "@%s:%d:%d" % (url, r.randint(1, 400), r.randint(1, 80))]
    return L.finish(msg + "\n" + "\n".join(frames))


TEXT = {
    "phone": ["Bitte rufen Sie mich unter %s zurück.", "Mon numéro : %s, merci de rappeler.", "Llámame al %s por favor",
              "Il mio numero è %s", "Bel me op %s", "Mój numer telefonu to %s", "Meu telefone é %s",
              "Ring mig på %s", "電話番号は%sです", "我的手机号是%s", "Call me at %s after 5pm", "WhatsApp: %s",
              "Fax %s", "Tel. %s / Mo-Fr 9-17 Uhr"],
    "email": ["Meine E-Mail: %s", "Écrivez-moi à %s", "Mi correo es %s", "Scrivimi a %s", "Mail me: %s",
              "Mój e-mail: %s", "メールは%sまで", "请发邮件到%s", "Contact: %s (Sales)", "reply to <%s>"],
    "iban": ["Bitte überweisen Sie auf IBAN %s", "Virement sur le compte %s", "Mi IBAN es %s", "IBAN: %s (Sparkasse)",
             "Rekeningnummer %s t.n.v. de klant", "Numer konta: %s", "refund to %s please"],
    "card": ["My card %s was charged twice", "Karte %s abgelehnt", "carte %s expirée", "tarjeta %s rechazada",
             "Card ending in... actually it's %s"],
    "ip": ["Login from %s blocked", "Connexion depuis %s", "Zugriff von %s verweigert", "client %s timed out",
           "Blocked IP %s after 5 attempts"],
    "ssn": ["SSN %s on file", "My social security number is %s", "applicant SSN: %s", "SSN#%s"],
}


def t_text(r):
    L = Line("text", "text.free", "plain")
    typ = r.choice(sorted(TEXT))
    frame = r.choice(TEXT[typ])
    if typ == "ssn":
        raw, a = V.ssn(r, r.choice(["dashed", "spaced", "bare", "dashed"]))
    elif typ == "phone":
        raw, a = V.phone(r)
    else:
        raw, a = value(r, typ)
    v = L.pii_(typ, raw, **a)
    if typ == "phone" and r.random() < 0.25 and not raw.startswith("tel:"):
        v += V.extension(r)
    before, after = frame.split("%s")
    text = before + v + after
    if r.random() < 0.3:
        text = r.choice(["Hi, ", "Hallo! ", "Bonjour, ", "Re: ticket #%d - " % r.randint(1000, 9999)]) + text
    wrap = r.random()
    if wrap < 0.12:
        # the message as a contact form posts it
        L2 = Line("form", "form.message", "form")
        v2 = L2.pii_(typ, raw, key="message", **a)
        at = text.index(v)
        body = L2.enc(text[:at]) + v2 + L2.enc(text[at + len(v):])
        return L2.finish("name=&email=&message=%s&consent=1&submit=Send" % body if typ != "email" else
                         "subject=Support&message=%s&submit=Send" % body)
    if wrap < 0.22:
        # the message inside a JSON event, escaped by a .NET or PHP serializer
        L2 = Line("json", "json.message", r.choice(["json_dotnet", "json_php"]))
        v2 = L2.pii_(typ, raw, key="message", **a)
        body = L2.enc(text[:text.index(v)]) + v2 + L2.enc(text[text.index(v) + len(v):])
        return L2.finish('{"event":"chat_message","message":"%s","ts":%d}' % (body, r.randint(1690000000000, 1702000000000)))
    return L.finish(text)


def t_csv(r):
    L = Line("log", "log.csv_row", "plain")
    e, ea = V.email(r)
    p, pa = V.phone(r)
    cols = [str(r.randint(1000, 99999)), "2023-%02d-%02d" % (r.randint(1, 12), r.randint(1, 28)),
            L.pii_("email", e, **ea), '"' + L.pii_("phone", p, **pa) + '"', r.choice(["DE", "FR", "US", "NL"]),
            "%.2f" % r.uniform(1, 900)]
    if r.random() < 0.4:
        ib, ia = V.iban(r)
        cols.append(L.pii_("iban", ib, **ia))
    return L.finish(r.choice([",", ";", "\t"]).join(cols))


def t_logfmt(r):
    L = Line("log", "log.logfmt", "plain")
    typ = pick_type(r)
    k, raw, a = kv(r, typ)
    v = L.pii_(typ, raw, key=k, **a)
    if " " in raw:
        v = '"' + v + '"'
    ip, ia = V.ipv4(r)
    return L.finish('time=%s level=info msg="form submitted" %s=%s remote=%s request_id=%s' % (
        W.ts_iso(r), k, v, L.pii_("ip", ip, **ia), W.uuid(r)))


def t_json_nested_string(r):
    """A JSON payload stringified into a property (json inside json)."""
    L = Line("json", "json.stringified", "json_plain")
    typ = r.choice(["email", "phone", "name"])
    k, raw, a = kv(r, typ)
    inner = json.dumps({k: raw, "step": 2}, ensure_ascii=False)
    outer = json.dumps({"event": "form_error", "payload": inner}, ensure_ascii=False)
    esc = json.dumps(raw, ensure_ascii=False)[1:-1]
    esc2 = json.dumps(esc, ensure_ascii=False)[1:-1]
    L.pii.append(dict(type=typ, value=esc2, raw=raw, key=k, **a))
    return L.finish(outer)


TEMPLATES = [(t_url_query, 16), (t_ga4, 7), (t_meta_pixel, 4), (t_search, 7), (t_mailto_tel, 5), (t_html_attr, 5),
             (t_form_body, 12), (t_segment, 12), (t_stripe, 6), (t_access_log, 7), (t_header, 5), (t_stack, 3),
             (t_text, 16), (t_csv, 3), (t_logfmt, 4), (t_json_nested_string, 2)]


def t_json_person(r):
    """A person object as CRMs and .NET/Java back ends write it: PascalCase
    or nested `name` under a person container; phones as JSON numbers."""
    L = Line("json", "json.person", r.choice(["json_plain", "json_dotnet", "json_plain"]))
    L.slots = []
    container = r.choice(["Customer", "contact", "user", "author", "passenger", "billing", "shipping_address", "buyer"])
    n, c = V.full_name(r)
    nk = r.choice(["Name", "name"]) if container != "passenger" else r.choice(["firstName", "lastName"])
    if nk in ("firstName", "lastName"):
        n, c = V.first_name(r)
    person = {nk: slot(L, "name", n, container + "." + nk, culture=c)}
    e, ea = V.email(r)
    person["Email" if nk == "Name" else "email"] = slot(L, "email", e, container + ".email", **ea)
    if r.random() < 0.5:
        p = V.Phone(r)
        as_num = r.random() < 0.5
        pv = p.cc + p.nsn if as_num else p.forms()["intl"]
        person["Phone" if nk == "Name" else "phone"] = slot(L, "phone", pv, container + ".phone", number=as_num,
                                                            form="json_number_cc" if as_num else "intl", region=p.region)
    doc = {"id": r.randint(10 ** 5, 10 ** 6), container: person, "createdAt": W.ts_iso(r), "status": "active"}
    return L.finish(_json_doc(r, L, doc))


def t_mime_header(r):
    L = Line("header", "header.mime", "plain")
    e, ea = V.email(r)
    dn = r.choice(["=?UTF-8?Q?J=C3=BCrgen_Sch=C3=A4fer?=", '"Support Team"', "=?utf-8?B?5L2Q6Jek?=", "Kundenservice"])
    return L.finish("%s: %s <%s>" % (r.choice(["To", "Reply-To", "Cc"]), dn, L.pii_("email", e, **ea)))


def t_ip_port(r):
    L = Line("log", "log.ip_port", "plain")
    if r.random() < 0.5:
        a, x = V.ipv4(r)
        v = L.pii_("ip", a, **x)
        return L.finish("upstream connect error: client %s:%d, server: api.example.com, request: \"POST /v1/events HTTP/2.0\"" % (
            v, r.randint(1024, 65535)))
    a, x = V.ipv6(r)
    if "%" in a or "." in a:
        a, x = "2001:db8:%x::%x" % (r.randint(1, 65535), r.randint(1, 65535)), {"form": "v6_doc"}
    v = L.pii_("ip", a, **x)
    return L.finish("GET http://[%s]:%d/metrics 200 %dms" % (v, r.choice([8080, 8443, 9100]), r.randint(1, 900)))


TEMPLATES += [(t_json_person, 6), (t_mime_header, 2), (t_ip_port, 3)]
