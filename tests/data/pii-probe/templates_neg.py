"""Templates of PII-free lines: clean traffic and look-alikes next to the
context that refutes them (a key, a cue word, or the token's own syntax)."""
import json

import values as V
import vocab as W
from line import Line

CLEAN_TEXT = ["Lieferung am %s zwischen 10 und 12 Uhr", "Commande expédiée le %s", "Pedido enviado el %s",
              "Ordine spedito il %s", "Bezorgd op %s", "Zamówienie wysłane %s", "Enviado em %s",
              "Levererad %s", "ご注文ありがとうございます（%s）", "订单已于%s发货", "Your package arrived on %s",
              "Rabatt 20 %% bis %s", "Offre valable jusqu'au %s"]


def date(r):
    day, month = r.randint(1, 28), r.randint(1, 12)
    return r.choice(["%02d.%02d.2023" % (day, month), "%02d/%02d/2023" % (day, month), "2023-%02d-%02d" % (month, day)])


def t_clean_url(r):
    L = Line("url", "url.clean", "browser")
    ps = r.sample(W.BENIGN_PARAMS, r.randint(1, 4))
    ps.append(r.choice([("order_id", "ORD-%d" % r.randint(10000, 99999)), ("session", W.uuid(r)),
                        ("cart", W.hexs(r, 24)), ("size", "42"), ("qty", str(r.randint(1, 9)))]))
    return L.finish("https://%s%s?%s" % (r.choice(W.HOSTS), r.choice(W.PATHS), "&".join("%s=%s" % p for p in ps)))


def t_look_url(r):
    L = Line("url", "url.lookalike", r.choice(["browser", "browser", "percent", "form"]))
    cls, v, cue, ll, pre = W.lookalike(r)
    key = {"part_number": "sku", "version": "app_version", "isbn": "isbn", "gtin": "gtin13", "tracking_number": "tracking",
           "coords": "ll", "build_number": "build", "order_number": "order_id", "epoch": "ts", "uuid": "request_id",
           "hex_hash": "etag", "price": "price", "hex_color": "color", "oid": "oid", "invoice_number": "invoice",
           "datetime": "date"}[cls]
    if cls == "version" and cue == "Windows":
        key = "os_version"
    val = L.look_(cls, v, key, ll)
    ps = r.sample(W.BENIGN_PARAMS, r.randint(0, 3)) + [(key, val)]
    r.shuffle(ps)
    return L.finish("https://%s%s?%s" % (r.choice(W.HOSTS), r.choice(["/p/", "/track", "/order/status", "/download"]),
                                          "&".join("%s=%s" % p for p in ps)))


def t_look_text(r):
    L = Line("text", "text.lookalike", "plain")
    cls, v, cue, ll, pre = W.lookalike(r)
    val = L.look_(cls, v, cue, ll)
    frame = r.choice(["%s%s ist wieder lieferbar", "%s%s", "Please check %s%s", "%s%s — merci", "Ref: %s%s",
                      "Bitte %s%s angeben", "See %s%s for details"])
    return L.finish(frame % (pre, val))


def t_look_search(r):
    L = Line("referrer", "referrer.search_lookalike", "form")
    cls, v, cue, ll, pre = W.lookalike(r)
    val = L.look_(cls, v, cue, ll)
    q = L.enc(pre) + val + L.enc(r.choice(["", " download", " status", " manual pdf"]))
    return L.finish(r.choice(["https://www.google.com/search?q=%s&hl=en", "https://www.bing.com/search?q=%s",
                              "https://duckduckgo.com/?q=%s&t=h_"]) % q)


def t_look_json(r):
    L = Line("json", "json.product", r.choice(["json_plain", "json_plain", "json_php"]))
    sku = V.Phone(r).forms()
    sku_v = sku.get("nanp_dashes") or sku["national_dashes"]
    gt = W.ean13(r)
    ver = "%d.%d.%d.%d" % (r.randint(1, 12), r.randint(0, 9), r.randint(0, 9), r.randint(1, 200))
    doc = {"event": "Product Viewed", "messageId": W.uuid(r), "timestamp": W.ts_iso(r),
           "properties": {"product_id": str(r.randint(10 ** 5, 10 ** 7)), "sku": "\x01", "name": r.choice(W.PRODUCTS),
                          "price": round(r.uniform(5, 500), 2), "gtin": "\x02", "currency": "EUR"},
           "context": {"app": {"name": "ShopApp", "version": "\x03", "build": str(r.randint(1000, 9999))},
                       "os": {"name": "iOS", "version": "17.1.1"}, "page": {"path": "/p/" + str(r.randint(100, 999))}}}
    s = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    s = s.replace('"\\u0001"', '"%s"' % L.look_("part_number", sku_v, "sku", ["phone"]))
    s = s.replace('"\\u0002"', '"%s"' % L.look_("gtin", gt, "gtin", []))
    s = s.replace('"\\u0003"', '"%s"' % L.look_("version", ver, "app.version", ["ip"]))
    pn = doc["properties"]["name"]
    if L.encoding_fn != "plain":
        s = s.replace(json.dumps(pn, ensure_ascii=False), '"' + L.enc(pn) + '"')
    L.look_("non_person_name", pn, "product name", [], enc=L.encoding_fn)
    return L.finish(s)


def t_look_page(r):
    L = Line("json", "json.page_name", "json_plain")
    nm = r.choice(["Checkout", "Produktdetails", "Mon compte", "Warenkorb", "Home"])
    doc = {"type": "page", "name": nm, "properties": {"path": "/", "title": nm + " | Shop", "url": "https://" + r.choice(W.HOSTS) + "/"},
           "anonymousId": W.uuid(r), "timestamp": W.ts_iso(r)}
    s = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    L.look_("non_person_name", '"name":"%s"' % nm, "page.name", [])
    return L.finish(s)


def t_clean_text(r):
    L = Line("text", "text.clean", "plain")
    t = r.choice(CLEAN_TEXT) % date(r)
    if r.random() < 0.3:
        t += r.choice([" (Preis: 49,99 €)", " — total $129.00", ", 2 articles", " 📦"])
    return L.finish(t)


def t_clean_log(r):
    L = Line("log", "log.clean", "plain")
    k = r.choice(["health", "logfmt", "syslog"])
    if k == "health":
        ip = r.choice(["127.0.0.1", "::1"])
        L.look_("ip_special", ip, "loopback", ["ip"])
        return L.finish('%s - - [%s] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.27"' % (ip, W.clf_time(r)))
    if k == "logfmt":
        return L.finish("time=%s level=info msg=\"order paid\" order_id=ORD-%d amount=%.2f currency=EUR duration_ms=%d request_id=%s" % (
            W.ts_iso(r), r.randint(10000, 99999), r.uniform(5, 500), r.randint(3, 900), W.uuid(r)))
    return L.finish("<134>1 %s web-%02d nginx %d - - upstream timed out (110: Connection timed out) while reading response header" % (
        W.ts_iso(r), r.randint(1, 20), r.randint(1000, 40000)))


def t_look_log(r):
    L = Line("log", "log.lookalike", "plain")
    cls, v, cue, ll, pre = W.lookalike(r)
    val = L.look_(cls, v, cue, ll)
    return L.finish("time=%s level=warn msg=\"%s%s rejected\" service=catalog" % (W.ts_iso(r), pre.replace('"', ""), val))


def t_header_clean(r):
    L = Line("header", "header.clean", "plain")
    return L.finish(r.choice(["Accept-Language: de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
                              "If-None-Match: W/\"%s\"" % W.hexs(r, 16), "X-Request-ID: %s" % W.uuid(r),
                              "Cache-Control: max-age=%d, public" % r.randint(60, 86400),
                              "Content-Length: %d" % r.randint(10, 99999),
                              "Date: Sat, %02d Nov 2023 %02d:%02d:%02d GMT" % (r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))]))


def t_useragent(r):
    L = Line("useragent", "useragent.app", "plain")
    ver = "%d.%d.%d.%d" % (r.randint(100, 450), 0, 0, r.randint(10, 99))
    v = L.look_("ua_version", "FBAV/" + ver, "user-agent", ["ip"])
    bv = L.look_("ua_token", "FBBV/%d" % r.randint(10 ** 8, 6 * 10 ** 8), "user-agent", ["phone"])
    return L.finish("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21B80 [FBAN/FBIOS;%s;%s;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1;FBSS/3;FBCR/;FBID/phone;FBLC/de_DE;FBOP/5]" % (
        v, bv))


def t_title(r):
    L = Line("title", "title.order", "plain")
    cls, v, cue, ll, pre = W.lookalike(r)
    if cls not in ("order_number", "invoice_number", "tracking_number", "isbn", "part_number"):
        return L.finish(r.choice(["Warenkorb (3) – Shop", "Votre panier | Boutique", "Mi cuenta - Tienda", "ログイン | ショップ"]))
    val = L.look_(cls, v, cue, ll)
    return L.finish("%s%s – %s" % (pre, val, r.choice(["Danke für Ihre Bestellung", "Order status", "Suivi"])))


TEMPLATES = [(t_clean_url, 10), (t_look_url, 14), (t_look_text, 12), (t_look_search, 6), (t_look_json, 6),
             (t_look_page, 2), (t_clean_text, 8), (t_clean_log, 5), (t_look_log, 5), (t_header_clean, 4),
             (t_useragent, 2), (t_title, 4)]


def t_ga4_clean(r):
    L = Line("url", "url.ga4_clean", "percent2")
    p = L.look_("numeric_id", str(r.randint(10 ** 8, 10 ** 9)), "_p", ["phone"])
    cid = L.look_("client_id", "%d.%d" % (r.randint(10 ** 8, 2 * 10 ** 9), r.randint(1690000000, 1702000000)), "cid", ["phone"])
    return L.finish(
        "https://region1.google-analytics.com/g/collect?v=2&tid=G-%s&gtm=45je3b10v9&_p=%s&cid=%s&ul=fr-fr&sr=390x844"
        "&_s=%d&sid=%d&sct=%d&seg=1&dl=https%%3A%%2F%%2F%s%%2Fp%%2F%d%%3Fvariant%%3D%d&dt=%s&en=view_item&epn.value=%.2f&ep.currency=EUR&_et=%d" % (
            W.hexs(r, 10).upper(), p, cid,
            r.randint(1, 9), r.randint(1690000000, 1702000000), r.randint(1, 40), r.choice(W.HOSTS), r.randint(1000, 99999),
            r.randint(100, 99999), L.enc(r.choice(W.PRODUCTS), "percent"), r.uniform(5, 500), r.randint(10, 90000)))


def t_pixel_clean(r):
    L = Line("url", "url.pixel_clean", "percent")
    h = L.look_("hex_hash", W.hexs(r, 64), "ud[em]", [])
    return L.finish("https://www.facebook.com/tr/?id=%d&ev=Purchase&dl=https%%3A%%2F%%2F%s%%2Fthank-you&cd[value]=%.2f&cd[currency]=EUR&ud[em]=%s&ts=%d" % (
        r.randint(10 ** 14, 10 ** 15), r.choice(W.HOSTS), r.uniform(5, 500), h, r.randint(1690000000000, 1702000000000)))


def t_look_hard(r):
    """Shapes of other PII types behind a refuting cue: an SSN-shaped part
    number, a Luhn-invalid 16-digit order reference, a dotted-quad version
    after a product token, a section number."""
    L = Line("text", "text.lookalike_hard", "plain")
    k = r.choice(["ssn_part", "luhn_bad", "section", "fw"])
    if k == "ssn_part":
        v, _ = V.ssn(r)
        val = L.look_("part_number", v, "part no.", ["ssn"])
        return L.finish(r.choice(["Ersatzteil Art.-Nr. %s passt nicht", "replacement part no. %s", "P/N %s (rev B)"]) % val)
    if k == "luhn_bad":
        while True:
            d = "4" + "".join(r.choice("0123456789") for _ in range(15))
            if not V.luhn_ok(d):
                break
        v = " ".join(d[i:i + 4] for i in range(0, 16, 4))
        val = L.look_("luhn_invalid", v, "order reference", ["card"])
        return L.finish("Order reference %s — please quote it in your reply" % val)
    if k == "section":
        v = "%d.%d.%d.%d" % (r.randint(1, 9), r.randint(1, 9), r.randint(1, 9), r.randint(1, 9))
        val = L.look_("section_number", v, "section", ["ip"])
        return L.finish(r.choice(["see section %s of the spec", "gemäß Abschnitt %s", "cf. § %s"]) % val)
    v = "%d.%d.%d.%d" % (r.randint(1, 9), r.randint(0, 30), r.randint(0, 9), r.randint(1, 254))
    val = L.look_("version", v, "firmware", ["ip"])
    return L.finish(r.choice(["Router firmware %s released", "Firmware-Update auf %s verfügbar", "mise à jour du firmware %s"]) % val)


TEMPLATES += [(t_ga4_clean, 5), (t_pixel_clean, 3), (t_look_hard, 6)]
