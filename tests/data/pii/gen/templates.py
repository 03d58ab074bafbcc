"""Line templates, per context. Each template builds one line on a `Line`.

A template is registered with
- its id (`context.name`),
- its kind: `pii` (the line carries at least one PII value; it may carry
  look-alikes too), `neg` (no PII, no look-alike), `look` (no PII, at least
  one look-alike),
- the PII types it can carry (for `pii`),
- the encodings (modes) it can be written in, with weights,
- whether it is held out (used only by the holdout split).
"""

import random

import encode as E
import facts as F
import lookalikes as LK
import vocab as V
from line import K, Line, P, Sub

REGISTRY = []

PTYPES = ["email", "phone", "card", "iban", "ip", "ssn", "name"]


def T(tid, kind, types=None, modes=None, holdout=False, weight=1.0):
    def deco(fn):
        REGISTRY.append({"id": tid, "context": tid.split(".")[0], "kind": kind, "types": types or [],
                         "modes": modes or {"plain": 1.0}, "holdout": holdout, "weight": weight, "fn": fn})
        return fn
    return deco


# Double percent-encoding comes from a URL nested in another URL's query
# (templates that nest: ga4_collect, meta_pixel, redirect_param).
URL_MODES = {"plain": 0.68, "percent": 0.21, "form": 0.11}
TEXT_MODES = {"plain": 0.9, "percent": 0.05, "form": 0.05}
JSON_MODES = {"plain": 0.5, "json": 0.5}


class G:
    """Per-split generation context: the random source and the pools."""

    def __init__(self, split, seed):
        self.split = split
        self.rng = random.Random(seed)
        dev_names, hold_names = F.split_names()
        self.names_dev, self.names_hold = dev_names, hold_names
        self.novel = False  # set when a held-back element is drawn
        self.person = None

    # a draw from dev lists, or in the holdout split half of the time from
    # the held-back list
    def pick(self, dev, hold):
        if self.split == "holdout" and hold and self.rng.random() < 0.5:
            self.novel = True
            return self.rng.choice(hold)
        return self.rng.choice(dev)

    def pickd(self, dev, hold, key):
        d = dev.get(key, [])
        h = hold.get(key, []) if self.split == "holdout" else []
        if h and (not d or self.rng.random() < 0.5):
            self.novel = True
            return self.rng.choice(h)
        return self.rng.choice(d)

    @property
    def names(self):
        if self.split == "holdout" and self.rng.random() < 0.6:
            self.novel = True
            return self.names_hold
        return self.names_dev

    def host(self):
        return self.pick(V.HOSTS, V.HOSTS_HOLDOUT)

    def brand(self):
        return self.rng.choice(V.BRANDS)

    def region(self):
        if self.split == "holdout" and self.rng.random() < 0.5:
            self.novel = True
            return self.rng.choice(F.HOLDOUT_REGIONS)
        regs = F.DEV_REGIONS
        return self.rng.choices(regs, [F.REGION_WEIGHT.get(r, 1) for r in regs])[0]

    # -- PII values -----------------------------------------------------------
    def value(self, ptype, form=None, part="full", region=None):
        r = self.rng
        if ptype == "email":
            idn = F.IDN_DOMAINS if self.split == "holdout" else [d for d in F.IDN_DOMAINS if d not in F.HOLDOUT_IDN]
            return F.email(r, self.names, form, idn)
        if ptype == "phone":
            return F.phone(r, region or self.region(), form)
        if ptype == "card":
            nets = F.DEV_CARDS + (F.HOLDOUT_CARDS if self.split == "holdout" else [])
            w = [F.CARD_NETWORKS[n][2] * (4 if n in F.HOLDOUT_CARDS else 1) for n in nets]
            net = r.choices(nets, w)[0]
            self.novel = self.novel or net in F.HOLDOUT_CARDS
            return F.card(r, net, form)
        if ptype == "iban":
            if self.split == "holdout" and r.random() < 0.5:
                cc = r.choice(F.HOLDOUT_IBAN)
                self.novel = True
            else:
                cc = r.choices(F.DEV_IBAN, [F.IBAN_WEIGHT.get(c, 1) for c in F.DEV_IBAN])[0]
            return F.iban(r, cc, form)
        if ptype == "ip":
            return F.ip(r, form)
        if ptype == "ssn":
            return F.ssn(r, form)
        if ptype == "name":
            return self.name_value(part)
        raise ValueError(ptype)

    def new_line(self, holdout_template):
        self.novel = bool(holdout_template)
        self.person = None  # all name parts of one line belong to one person

    def name_value(self, part):
        r = self.rng
        if self.person is None:
            self.person = F.person(r, self.names) + (r.random(), r.random())
        gn, fn, full, c, case1, case2 = self.person
        v = {"first": gn, "last": fn, "full": full}[part]
        form = part
        if F.is_latin(v) and case1 < 0.12:
            if len(v) >= 4 and case2 < 0.5:
                v, form = v.lower(), part + "_lower"
            else:
                v, form = v.upper(), part + "_upper"
        attrs = {"form": form, "culture": c}
        if " " in v or "\u3000" in v:
            attrs["multiword"] = True
        if "-" in v:
            attrs["hyphenated"] = True
        if not F.is_latin(v):
            attrs["script"] = "non_latin"
        return v, attrs

    def pii(self, ptype, form=None, part="full", region=None):
        v, a = self.value(ptype, form, part, region)
        return P(ptype, v, a)

    def key(self, ptype):
        """(path, part): a key path for a PII type (part only for names)."""
        if ptype == "name":
            return self.pick(V.NAME_KEYS, V.NAME_KEYS_HOLDOUT)
        return self.pickd(V.PII_KEYS, V.PII_KEYS_HOLDOUT, ptype), "full"

    def keyed(self, ptype, form=None):
        """(path, P) with the key recorded in the label's attrs."""
        path, part = self.key(ptype)
        if ptype == "ssn" and form is None:
            form = self.rng.choice(["dashed", "dotted", "spaced", "bare", "bare"])
        p = self.pii(ptype, form, part)
        p.attrs["key"] = qkey(path)
        return path, p

    # -- look-alikes ----------------------------------------------------------
    def lk(self, cls, **kw):
        """A K marker for a look-alike class (value only; the cue is placed
        by the template and recorded via `cue`)."""
        r = self.rng
        if cls in ("part_number", "model_number", "serial_number"):
            v, a = LK.phone_shaped(r)
        elif cls == "order_number":
            v, a = LK.order_number(r)
        elif cls == "tracking_number":
            v, a = LK.tracking_number(r)
        elif cls == "numeric_id":
            v, a = LK.numeric_id(r)
        elif cls == "version":
            v, a = LK.version_quad(r)
        elif cls == "oid":
            v, a = LK.oid(r, LK.DEV_OIDS if self.split == "dev" else LK.OIDS)
            self.novel = self.novel or (v, a["name"]) in LK.HOLDOUT_OIDS
        elif cls == "section_number":
            v, a = LK.section_number(r)
        elif cls == "luhn_invalid":
            v, a = LK.luhn_invalid(r)
        elif cls == "gtin":
            v, a = LK.gtin(r)
        elif cls == "isbn":
            v, a = LK.isbn(r)
        elif cls == "datetime":
            v, a = LK.datetime_token(r)
        elif cls == "epoch":
            v, a = LK.epoch(r)
        elif cls == "uuid":
            v, a = LK.uuid4(r)
        elif cls == "hex_hash":
            v, a = LK.hex_hash(r)
        elif cls == "price":
            v, a = LK.price(r)
        elif cls == "coords":
            v, a = LK.coords(r)
        elif cls == "retina_asset":
            v, a = LK.retina(r)
        elif cls == "package_spec":
            v, a = LK.package_spec(r)
        elif cls == "mention":
            v, a = r.choice(LK.MENTIONS), {}
        elif cls == "css_at_rule":
            v, a = r.choice(LK.CSS_AT), {}
        elif cls == "stack_frame":
            v, a = LK.stack_frame(r, self.host())
        elif cls == "non_person_name":
            v, a = r.choice(LK.PRODUCTS + LK.PAGES + LK.EVENTS + LK.CAMPAIGNS + LK.FILES), {}
        elif cls == "ip_network":
            if r.random() < 0.6:
                v = ".".join(F.ipv4(r).split(".")[:3]) + ".0"
            else:
                a6 = F.ipv6(r)
                v = str(type(a6)(int(a6) >> 80 << 80))
            a = {}
        elif cls == "ip_special":
            v, a = r.choice(["127.0.0.1", "0.0.0.0", "255.255.255.0", "255.255.255.255", "::1", "255.255.0.0"]), {}
        elif cls == "client_id":
            v, a = "%d.%d" % (r.randint(100000000, 2147483647), int(LK.epoch(r)[0][:10])), {}
        else:
            raise ValueError(cls)
        return K(cls, v, a, kw.get("cue", ""), kw.get("number", False))

    def lkw(self, cls):
        """(cue word, K) for a look-alike class written in text."""
        w = self.pickd(V.LOOK_WORDS, V.LOOK_WORDS_HOLDOUT, cls)
        return w, self.lk(cls, cue=w.strip())

    def lkk(self, cls):
        """(key, K) for a look-alike class under a key."""
        k = self.pickd(V.LOOK_KEYS, V.LOOK_KEYS_HOLDOUT, cls)
        mk = self.lk(cls, cue=k)
        if cls == "gtin":  # the key names the barcode kind it holds
            k = self.rng.choice(GTIN_KEYS[mk.attrs["kind"]])
            mk.cue = k
        if cls == "non_person_name":  # and the name fits what the key names
            mk.plain = self.rng.choice(non_person_pool(k))
        return k, mk

    def ua(self, line, slot="raw_plain", need_label=False):
        parts, kind = LK.user_agent(self.rng)
        while need_label and not any(cls for _, cls in parts):
            parts, kind = LK.user_agent(self.rng)
        for text, cls in parts:
            if cls:
                line.look(cls, text, {"ua": kind}, slot, cue="user-agent")
            else:
                line.val(text, slot)

    def mode(self, modes):
        ks = list(modes)
        return self.rng.choices(ks, [modes[k] for k in ks])[0]

    def utm(self):
        r = self.rng
        items = [("utm_source", r.choice(V.UTM_SOURCES)), ("utm_medium", r.choice(V.UTM_MEDIUMS)),
                 ("utm_campaign", r.choice(V.UTM_CAMPAIGNS))]
        return items[:r.randint(1, 3)]

    def token(self, n=22, alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"):
        return "".join(self.rng.choice(alphabet) for _ in range(n))


GTIN_KEYS = {"ean13": ["ean", "gtin13", "barcode", "gtin", "ean13"], "upca": ["upc", "gtin12", "barcode", "gtin"],
             "ean8": ["ean8", "gtin8", "barcode"], "gtin14": ["gtin14", "gtin", "case_gtin"]}


def non_person_pool(key):
    k = key.lower()
    for word, pool in (("product", LK.PRODUCTS), ("item", LK.PRODUCTS), ("page", LK.PAGES), ("event", LK.EVENTS),
                       ("campaign", LK.CAMPAIGNS), ("file", LK.FILES), ("app", LK.APPS), ("category", V.CATEGORIES),
                       ("brand", V.BRANDS), ("plan", ["Pro", "Basic", "Family", "Business Annual"]),
                       ("store", ["Berlin Mitte", "Madrid Gran Vía", "Lyon Part-Dieu", "Online"]),
                       ("layout", ["two-column", "checkout-v2", "minimal"]), ("template", ["order-confirmation", "welcome-v3"]),
                       ("os", ["iOS", "Android", "Windows", "macOS"]), ("browser", ["Chrome", "Safari", "Firefox", "Edge"])):
        if word in k:
            return pool
    return LK.PRODUCTS


def qkey(path, style="bracket"):
    if len(path) == 1:
        return path[0]
    if style == "dot":
        return ".".join(path)
    return path[0] + "".join("[" + p + "]" for p in path[1:])


def nest_dict(path, value):
    d = value
    for seg in reversed(path[1:]):
        d = {seg: d}
    return {path[0]: d}


def merge(dst, src):
    for k, v in src.items():
        if k in dst and isinstance(dst[k], dict) and isinstance(v, dict):
            merge(dst[k], v)
        else:
            dst[k] = v
    return dst


def query(L, items, slot="q", sep="&"):
    """key=value pairs; values are str, P or K; keys written raw (they are
    ASCII key names; brackets are kept as browsers and PHP write them)."""
    for i, (k, v) in enumerate(items):
        if i:
            L.lit(sep)
        L.lit(k + "=")
        L.put(v, slot)


def extra_params(g, n=None):
    r = g.rng
    pool = [("ref", r.choice(["nav", "footer", "email", "banner"])), ("lang", r.choice(["en", "de", "es", "fr"])),
            ("step", str(r.randint(1, 4))), ("src", r.choice(["ios", "web", "android"])),
            ("gclid", "Cj0KCQiA" + g.token(30)), ("fbclid", "IwAR" + g.token(40)),
            ("sort", r.choice(["price_asc", "newest", "popular"])), ("page", str(r.randint(1, 9)))]
    r.shuffle(pool)
    return pool[:(r.randint(0, 2) if n is None else n)]


def pii_items(g, ptype, extra_types=()):
    items = []
    path, p = g.keyed(ptype)
    items.append((qkey(path, g.rng.choice(["bracket"] * 5 + ["dot"])), p))
    for t in extra_types:
        path, p = g.keyed(t)
        items.append((qkey(path), p))
    return items


# URL-path forms for PII values that appear in paths.
def path_pii(g, ptype):
    r = g.rng
    if ptype == "email":
        pre = r.choice(["/account/", "/users/", "/u/", "/customers/", "/subscribers/", "/profile/"])
        suf = r.choice(["", "/orders", "/edit", "/settings", "/"])
        return pre, g.pii("email"), suf
    if ptype == "ip":
        pre = r.choice(["/ip/", "/lookup/ip/", "/whois/", "/geo/", "/admin/bans/", "/api/v1/ip/"])
        return pre, g.pii("ip", r.choice(["v4", "v4", "v6_compressed", "v6_full"])), r.choice(["", "/", "/details"])
    if ptype == "phone":
        pre = r.choice(["/call/", "/contact/tel/", "/lookup/", "/sms/", "/caller/", "/verify/"])
        form = r.choice(["e164", "e164", "national_digits", "intl_digits", "intl"])
        return pre, g.pii("phone", form), r.choice(["", "/", "/history"])
    if ptype == "name":
        # names in paths are not under a key: not generated
        raise ValueError
    if ptype == "iban":
        return "/payouts/iban/", g.pii("iban", r.choice(["electronic", "lower"])), ""
    if ptype == "card":
        return "/cards/", g.pii("card", "none"), "/verify"
    if ptype == "ssn":
        p = g.pii("ssn", "dashed")
        return "/ssn/", p, "/verify"


def gmaps(g):
    """Google Maps '@lat,lng,zoom' (an '@' followed by digits and dots)."""
    c = g.lk("coords", cue="maps")
    while not c.plain.startswith("@"):
        c = g.lk("coords", cue="maps")
    return c


# =========================================================== url (page URLs)

@T("url.query", "pii", PTYPES, URL_MODES, weight=3)
def url_query(g, L, ptype):
    items = extra_params(g) + pii_items(g, ptype) + [(k, v) for k, v in g.utm()][:g.rng.randint(0, 2)]
    g.rng.shuffle(items)
    L.lit("https://" + g.host() + g.pick(V.PAGE_PATHS, V.PAGE_PATHS_HOLDOUT) + "?")
    query(L, items)


@T("url.checkout_multi", "pii", ["email", "phone", "name"], URL_MODES, weight=1.5)
def url_checkout_multi(g, L, ptype):
    items = []
    r = g.rng
    for path, part in [(("first_name",), "first"), (("last_name",), "last")] if r.random() < 0.5 else [(("fullName",), "full")]:
        p = g.pii("name", part=part)
        p.attrs["key"] = qkey(path)
        items.append((qkey(path), p))
    items += pii_items(g, "email") + ([("order", g.lk("order_number", cue="order"))] if r.random() < 0.5 else [])
    if ptype == "phone" or r.random() < 0.4:
        items += pii_items(g, "phone")
    L.lit("https://" + g.host() + "/checkout/thank-you?")
    query(L, items)


@T("url.path", "pii", ["email", "ip", "phone", "iban"], {"plain": 0.6, "percent": 0.4}, weight=2)
def url_path(g, L, ptype):
    pre, p, suf = path_pii(g, ptype)
    L.lit("https://" + g.host() + pre)
    L.put(p, "path")
    L.lit(suf)
    if g.rng.random() < 0.4:
        L.lit("?")
        query(L, extra_params(g, 1) or [("tab", "orders")])


@T("url.fragment", "pii", ["email", "phone", "name", "ssn"], {"plain": 0.6, "percent": 0.3, "form": 0.1})
def url_fragment(g, L, ptype):
    L.lit("https://" + g.host() + g.rng.choice(["/", "/app", "/account"]) + "#")
    L.lit(g.rng.choice(["/signup?", "/profile?", "", "/verify?"]))
    query(L, pii_items(g, ptype) + [("step", str(g.rng.randint(1, 3)))])


@T("url.ga4_collect", "pii", ["email", "phone", "name", "ip"], {"plain": 0.5, "percent": 0.5}, weight=1.5)
def url_ga4(g, L, ptype):
    """GA4 /g/collect hit: the page location (dl) is the page URL passed
    through encodeURIComponent once more."""
    r = g.rng
    L.lit("https://region1.google-analytics.com/g/collect?v=2&tid=G-" + g.token(10, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
          + "&gtm=45je4c10v9" + str(r.randint(100000000, 999999999))[:1] + "&_p=")
    L.look("numeric_id", str(r.randint(1000000000000, 9999999999999)), {}, "raw_plain", cue="_p")
    L.lit("&cid=")
    L.put(g.lk("client_id", cue="cid"), "raw_plain")
    L.lit("&ul=" + r.choice(["en-us", "de-de", "es-es", "fr-fr", "pl-pl"]) + "&sr=" + r.choice(["1920x1080", "390x844", "1536x864"]) + "&dl=")
    m = L.mark()
    L.lit("https://" + g.host() + g.pick(V.PAGE_PATHS, V.PAGE_PATHS_HOLDOUT) + "?")
    query(L, pii_items(g, ptype) + extra_params(g, 1))
    L.wrap_from(m, E.uri_component)
    L.lit("&dt=" + E.uri_component(r.choice(V.TITLE_NEG).format(brand=g.brand())) + "&en=page_view")


@T("url.meta_pixel", "pii", ["email", "phone", "name"], {"plain": 0.4, "percent": 0.6}, weight=1.5)
def url_meta_pixel(g, L, ptype):
    """Meta pixel hit: the page URL (dl) and referrer (rl) are query values,
    so whatever the page URL carried is encoded once more."""
    r = g.rng
    L.lit("https://www.facebook.com/tr/?id=")
    L.look("numeric_id", str(r.randint(10 ** 14, 10 ** 15 - 1)), {"digits": 15}, "raw_plain", cue="pixel id")
    L.lit("&ev=PageView&dl=")
    m = L.mark()
    L.lit("https://" + g.host() + g.pick(V.PAGE_PATHS, V.PAGE_PATHS_HOLDOUT) + "?")
    query(L, pii_items(g, ptype) + extra_params(g, 1))
    L.wrap_from(m, E.uri_component)
    L.lit("&rl=" + E.uri_component("https://" + g.host() + "/") + "&if=false&ts=")
    L.put(g.lk("epoch", cue="ts"), "raw_plain")
    L.lit("&v=2.9.%d&r=stable" % r.randint(100, 180))


@T("url.redirect_param", "pii", ["email", "phone", "name"], {"plain": 0.5, "percent": 0.5}, holdout=True, weight=1.5)
def url_redirect(g, L, ptype):
    L.lit("https://" + g.host() + g.rng.choice(["/login?return_to=", "/sso/start?redirect_uri=", "/out?url="]))
    m = L.mark()
    L.lit("https://" + g.host() + g.pick(V.PAGE_PATHS, V.PAGE_PATHS_HOLDOUT) + "?")
    query(L, pii_items(g, ptype))
    L.wrap_from(m, E.uri_component)


@T("url.host_ip", "pii", ["ip"], {"plain": 1.0})
def url_host_ip(g, L, ptype):
    r = g.rng
    p = g.pii("ip", r.choice(["v4", "v4", "v6_compressed", "v6_linklocal_zone"]))
    if ":" in p.plain:
        L.lit("http://[")
        if p.attrs.get("zone"):
            L.put(p, "raw_plain")
            L.lit("%25" + p.attrs["zone"])
        else:
            L.put(p, "raw_plain")
        L.lit("]")
    else:
        L.lit("http://")
        L.put(p, "raw_plain")
    L.lit(r.choice(["", ":8080", ":8443", ":3000"]) + r.choice(["/admin/login", "/", "/status", "/cgi-bin/luci"]))


@T("url.site_search", "pii", ["email", "phone", "card", "iban", "ssn"], {"form": 0.6, "percent": 0.3, "plain": 0.1})
def url_site_search(g, L, ptype):
    L.lit("https://" + g.host() + "/search?q=")
    search_phrase(g, L, ptype, "q")
    L.lit("&page=1")


@T("url.utm_email", "pii", ["email"], URL_MODES, holdout=True)
def url_utm_email(g, L, ptype):
    L.lit("https://" + g.host() + "/?utm_source=newsletter&utm_medium=email&")
    L.lit(g.rng.choice(["utm_content=", "utm_term=", "mc_email=", "subscriber="]))
    p = g.pii("email")
    L.put(p, "q")


@T("url.neg_page", "neg", modes=URL_MODES, weight=2)
def url_neg(g, L, _):
    r = g.rng
    L.lit("https://" + g.host() + r.choice(V.NEUTRAL_PATHS + ["/products/" + s for s in V.SLUGS]))
    items = extra_params(g) + g.utm()
    if r.random() < 0.3:
        items.append(("q", neg_search(g)))
    if items:
        r.shuffle(items)
        L.lit("?")
        query(L, items)


@T("url.neg_filters", "neg", modes={"plain": 0.5, "form": 0.5}, holdout=True)
def url_neg_filters(g, L, _):
    r = g.rng
    L.lit("https://" + g.host() + r.choice(["/c/shoes", "/c/jackets", "/search"]) + "?")
    items = [("color", r.choice(["red", "navy", "black"])), ("size", str(r.randint(36, 46))),
             ("price_max", str(r.choice([50, 100, 200]))), ("in_stock", "1")]
    query(L, items[:r.randint(2, 4)])


LOOK_URL = ["version", "gtin", "isbn", "order_number", "tracking_number", "part_number", "model_number",
            "serial_number", "epoch", "datetime", "uuid", "coords", "price", "luhn_invalid", "numeric_id", "hex_hash"]


@T("url.look_param", "look", modes=URL_MODES, weight=3)
def url_look_param(g, L, _):
    r = g.rng
    cls = r.choice(LOOK_URL)
    k, mk = g.lkk(cls)
    items = extra_params(g) + [(k, mk)]
    if r.random() < 0.3:
        k2, mk2 = g.lkk(r.choice(LOOK_URL))
        if k2 != k:
            items.append((k2, mk2))
    r.shuffle(items)
    L.lit("https://" + g.host() + r.choice(V.NEUTRAL_PATHS) + "?")
    query(L, items)


@T("url.look_path", "look", modes={"plain": 0.8, "percent": 0.2}, weight=2)
def url_look_path(g, L, _):
    r = g.rng
    k = r.randrange(9)
    h = "https://" + g.host()
    if k == 0:
        v = g.lk("version", cue="download")
        L.lit(h + "/downloads/" + r.choice(["setup-", "agent_", "client-", "driver-"]))
        L.put(v, "path")
        L.lit(r.choice([".exe", "_amd64.deb", ".msi", ".dmg", ".zip"]))
    elif k == 1:
        L.lit(h + "/products/" + r.choice(V.SLUGS) + "/")
        L.put(g.lk("gtin", cue="products"), "path")
    elif k == 2:
        L.lit("https://www.amazon.com/dp/")
        p = g.lk("isbn", cue="dp")
        p.plain = p.plain.replace("-", "")
        L.put(p, "path")
    elif k == 3:
        L.lit(h + "/track/")
        L.put(g.lk("tracking_number", cue="track"), "path")
    elif k == 4:
        L.lit("https://www.google.com/maps/place/" + r.choice(["Eiffel+Tower", "Central+Park", "Alexanderplatz", "Shibuya+Crossing"]) + "/")
        L.put(gmaps(g), "raw_plain")
    elif k == 5:
        L.lit(h + r.choice(["/static/img/", "/assets/", "/media/icons/"]))
        L.put(g.lk("retina_asset", cue="file"), "path")
    elif k == 6:
        L.lit(r.choice(["https://cdn.jsdelivr.net/npm/", "https://unpkg.com/"]))
        L.put(g.lk("package_spec", cue="cdn"), "raw_plain")
        L.lit(r.choice(["/dist/js/bootstrap.bundle.min.js", "/umd/index.production.min.js", "/dist/index.min.js", "/css/all.min.css"]))
    elif k == 7:
        L.lit(h + "/docs/terms#section-")
        L.put(g.lk("section_number", cue="section"), "frag")
    else:
        L.lit(h + "/orders/")
        L.put(g.lk("order_number", cue="orders"), "path")
        L.lit("/invoice.pdf")


# =========================================================== referrer

SEARCH_ENGINES = [("https://www.bing.com/search?q=", "&form=QBLH"), ("https://duckduckgo.com/?q=", "&ia=web"),
                  ("https://yandex.ru/search/?text=", "&lr=213"), ("https://www.baidu.com/s?wd=", "&rsv_spt=1"),
                  ("https://search.yahoo.com/search?p=", "&fr=yfp-t"), ("https://www.ecosia.org/search?q=", "")]
SEARCH_ENGINES_HOLDOUT = [("https://search.brave.com/search?q=", "&source=web"), ("https://www.qwant.com/?q=", "&t=web"),
                          ("https://search.naver.com/search.naver?query=", "")]


def search_phrase(g, L, ptype, slot):
    r = g.rng
    if ptype == "ssn":
        pre = r.choice(["ssn ", "social security number ", "SSN "])
        form = r.choice(["dashed", "bare", "spaced"])
    else:
        pre = r.choice({"email": ["", "", "order ", "track order ", "account "],
                        "phone": ["", "who called me ", "", "reverse lookup "],
                        "card": ["refund card ", "", "charge on "],
                        "iban": ["iban ", "", "refund to "],
                        "ip": ["", "whois ", "blocked "],
                        "name": [""]}[ptype])
        form = None
    post = r.choice(["", "", " status", " help"])
    L.val(pre, slot)
    p = g.pii(ptype, form)
    if ptype == "ssn":
        p.attrs["cue"] = pre.strip()
    L.put(p, slot)
    L.val(post, slot)


@T("referrer.search_engine", "pii", ["email", "phone", "card", "iban", "ip", "ssn"], {"form": 0.7, "percent": 0.3}, weight=1.5)
def ref_search(g, L, ptype):
    pre, suf = g.pick(SEARCH_ENGINES, SEARCH_ENGINES_HOLDOUT)
    L.lit(pre)
    search_phrase(g, L, ptype, "q")
    L.lit(suf)


@T("referrer.reset_link", "pii", ["email", "phone"], URL_MODES)
def ref_reset(g, L, ptype):
    L.lit("https://accounts." + g.host().split(".", 1)[1] + g.rng.choice(["/password/reset?", "/verify?", "/magic-link?"]))
    items = pii_items(g, ptype) + [("token", g.lk("hex_hash", cue="token"))]
    query(L, items)


@T("referrer.oauth_login_hint", "pii", ["email"], {"plain": 0.3, "percent": 0.7})
def ref_oauth(g, L, ptype):
    L.lit(g.rng.choice(["https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=",
                        "https://accounts.google.com/o/oauth2/v2/auth?client_id="]))
    L.put(g.lk("uuid", cue="client_id"), "q")
    L.lit("&response_type=code&scope=openid%20email&login_hint=")
    L.put(g.pii("email"), "q")


@T("referrer.crm_path", "pii", ["email", "phone"], {"plain": 0.6, "percent": 0.4}, holdout=True)
def ref_crm(g, L, ptype):
    L.lit("https://crm." + g.host().split(".", 1)[1] + g.rng.choice(["/contacts/", "/people/", "/leads/by-contact/"]))
    L.put(g.pii(ptype, "e164" if ptype == "phone" else None), "path")
    L.lit(g.rng.choice(["/edit", "", "/timeline"]))


@T("referrer.ip_host", "pii", ["ip"], {"plain": 1.0}, holdout=True)
def ref_ip_host(g, L, ptype):
    """A referrer from an admin console reached by address."""
    r = g.rng
    p = g.pii("ip", r.choice(["v4", "v4", "v6_compressed", "v6_full"]))
    L.lit(r.choice(["http://", "https://"]))
    if ":" in p.plain:
        L.lit("[").put(p, "raw_plain").lit("]")
    else:
        L.put(p, "raw_plain")
    L.lit(r.choice([":8080", ":9443", ":8000", ""]) + r.choice(["/admin/users?page=2", "/dashboard", "/phpmyadmin/", "/jenkins/job/deploy/"]))


@T("referrer.webmail", "pii", ["email"], {"plain": 0.5, "percent": 0.5})
def ref_webmail(g, L, ptype):
    L.lit(g.rng.choice(["https://mail.yahoo.com/d/compose?to=", "https://outlook.live.com/mail/0/deeplink/compose?to=",
                        "https://mail.google.com/mail/?view=cm&fs=1&to="]))
    L.put(g.pii("email"), "q")
    L.lit("&su=" + E.uri_component(g.rng.choice(["Order question", "Returns", "Hello"])))


@T("referrer.neg", "neg", modes={"plain": 0.7, "form": 0.3}, weight=1.5)
def ref_neg(g, L, _):
    r = g.rng
    k = r.randrange(5)
    if k == 0:
        L.lit(r.choice(["https://www.google.com/", "https://www.bing.com/", "android-app://com.google.android.gm/",
                        "https://www.facebook.com/", "https://news.google.com/"]))
    elif k == 1:
        L.lit("https://t.co/" + g.token(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    elif k == 2:
        pre, suf = g.pick(SEARCH_ENGINES, SEARCH_ENGINES_HOLDOUT)
        L.lit(pre)
        L.val(neg_search(g), "q")
        L.lit(suf)
    elif k == 3:
        L.lit("https://l.facebook.com/l.php?u=" + E.uri_component("https://" + g.host() + r.choice(V.NEUTRAL_PATHS)) + "&h=AT" + g.token(24))
    else:
        L.lit("https://" + g.host() + r.choice(V.NEUTRAL_PATHS))


@T("referrer.look", "look", modes={"plain": 0.6, "form": 0.4})
def ref_look(g, L, _):
    r = g.rng
    pre, suf = g.pick(SEARCH_ENGINES, SEARCH_ENGINES_HOLDOUT)
    L.lit(pre)
    cls = r.choice(["part_number", "model_number", "version", "isbn", "gtin", "tracking_number", "order_number"])
    w, mk = g.lkw(cls)
    L.val(w + (" " if not w.endswith(" ") else ""), "q")
    L.put(mk, "q")
    L.val(r.choice(["", " manual", " download", " price"]), "q")
    L.lit(suf)


# =========================================================== link clicks

@T("link.mailto", "pii", ["email"], {"plain": 0.7, "percent": 0.3}, weight=1.5)
def link_mailto(g, L, ptype):
    L.lit("mailto:")
    L.put(g.pii("email"), "path")
    if g.rng.random() < 0.5:
        L.lit("?subject=")
        L.val(g.rng.choice(["Order question", "Consulta pedido", "Bestellung", "Hello"]), "q")


@T("link.tel", "pii", ["phone"], {"plain": 1.0}, weight=1.5)
def link_tel(g, L, ptype):
    r = g.rng
    scheme = r.choice(["tel:", "tel:", "sms:", "callto:"])
    form = r.choice(["e164", "e164", "national_digits", "intl_dashes", "idd00"])
    p = g.pii("phone", form)
    if form == "intl_dashes" and scheme == "tel:":
        L.lit("tel:")
    else:
        L.lit(scheme)
    L.put(p, "raw_plain")
    if scheme == "sms:" and r.random() < 0.5:
        L.lit("?body=" + E.uri_component(r.choice(["Hi!", "STOP", "Order 2 please"])))


@T("link.whatsapp", "pii", ["phone"], {"plain": 1.0})
def link_whatsapp(g, L, ptype):
    r = g.rng
    p = g.pii("phone", "intl_digits")
    if r.random() < 0.5:
        L.lit("https://wa.me/")
        L.put(p, "raw_plain")
        L.lit("?text=" + E.uri_component(r.choice(["Hola, quiero información", "Hi, is this available?", "Olá!"])))
    else:
        L.lit("https://api.whatsapp.com/send?phone=")
        L.put(p, "raw_plain")


@T("link.text", "pii", ["email", "phone"], {"plain": 1.0}, holdout=True)
def link_text(g, L, ptype):
    r = g.rng
    L.lit(r.choice({"email": ["Email ", "Write to ", "✉ "], "phone": ["Call ", "☎ ", "Tel. ", "Hotline "]}[ptype]))
    L.put(g.pii(ptype), "raw")


@T("link.neg", "neg", modes={"plain": 1.0})
def link_neg(g, L, _):
    r = g.rng
    L.lit(r.choice(["https://" + g.host() + r.choice(V.NEUTRAL_PATHS), "https://" + g.host() + "/products/" + r.choice(V.SLUGS),
                    "#" + r.choice(["top", "reviews", "size-guide", "specs"]), "javascript:void(0)",
                    "https://" + g.host() + r.choice(V.NEUTRAL_PATHS) + "?" + "&".join(k + "=" + v for k, v in g.utm()),
                    "/downloads/" + r.choice(LK.FILES).replace(" ", "%20"),
                    "https://www.instagram.com/" + r.choice(["northwind", "contoso_official", "fabrikam"]) + "/"]))


@T("link.look", "look", modes={"plain": 0.8, "percent": 0.2})
def link_look(g, L, _):
    r = g.rng
    k = r.randrange(4)
    if k == 0:
        L.lit(r.choice(["https://cdn.jsdelivr.net/npm/", "https://unpkg.com/"]))
        L.put(g.lk("package_spec", cue="cdn"), "raw_plain")
        L.lit("/")
    elif k == 1:
        L.lit("https://" + g.host() + "/assets/")
        L.put(g.lk("retina_asset", cue="file"), "path")
    elif k == 2:
        L.lit("https://" + g.host() + "/downloads/agent_")
        L.put(g.lk("version", cue="download"), "path")
        L.lit("_amd64.deb")
    else:
        L.lit("https://www.google.com/maps/")
        L.put(gmaps(g), "raw_plain")


# =========================================================== form bodies

def form_body(L, items):
    query(L, items, slot="fbody")


@T("form.checkout", "pii", ["name", "email", "phone"], {"form": 1.0}, weight=1.5)
def form_checkout(g, L, ptype):
    r = g.rng
    pre = r.choice(["checkout[shipping_address]", "checkout[billing_address]", "shipping", "billing"])
    items = []
    for part in ("first", "last"):
        p = g.pii("name", part=part)
        k = pre + "[" + part + "_name]"
        p.attrs["key"] = k
        items.append((k, p))
    path, p = g.keyed("email")
    items.insert(0, ("checkout[email]" if pre.startswith("checkout") else qkey(path), p))
    items.append((pre + "[city]", r.choice(["Madrid", "Berlin", "Lyon", "Kraków", "Leeds", "Porto"])))
    items.append((pre + "[country]", r.choice(["ES", "DE", "FR", "PL", "GB", "PT"])))
    if ptype == "phone" or r.random() < 0.5:
        p = g.pii("phone")
        p.attrs["key"] = pre + "[phone]"
        items.append((pre + "[phone]", p))
    items.append(("step", "contact_information"))
    form_body(L, items)


@T("form.payment", "pii", ["card", "name"], {"form": 1.0}, weight=1.5)
def form_payment(g, L, ptype):
    r = g.rng
    path, p = g.keyed("card")
    p.plain, p.attrs = g.value("card", r.choice(["spaces", "spaces", "none", "dashes"]))
    p.attrs["key"] = qkey(path)
    items = [(qkey(path), p), ("exp_month", str(r.randint(1, 12))), ("exp_year", str(r.randint(2025, 2031)))]
    if ptype == "name" or r.random() < 0.5:
        n = g.pii("name", part="full")
        k = r.choice(["card[name]", "cardholder", "name_on_card", "billing_details[name]"])
        n.attrs["key"] = k
        items.append((k, n))
    items.append(("amount", g.lk("price", cue="amount")))
    form_body(L, items)


@T("form.sepa", "pii", ["iban", "name"], {"form": 1.0}, weight=1.5)
def form_sepa(g, L, ptype):
    path, p = g.keyed("iban")
    items = [(qkey(path), p)]
    if ptype == "name" or g.rng.random() < 0.6:
        n = g.pii("name", part="full")
        n.attrs["key"] = "account_holder"
        items.append(("account_holder", n))
    items += [("mandate", "accepted"), ("country", g.rng.choice(["DE", "NL", "FR", "ES", "AT"]))]
    g.rng.shuffle(items)
    form_body(L, items)


@T("form.signup", "pii", ["email", "name", "phone"], {"form": 1.0}, weight=1.5)
def form_signup(g, L, ptype):
    r = g.rng
    items = pii_items(g, ptype)
    if ptype != "email" and r.random() < 0.6:
        items += pii_items(g, "email")
    if r.random() < 0.5:
        items += pii_items(g, "name")
    items += [("newsletter", r.choice(["1", "on", "true"])), ("source", r.choice(["footer", "popup", "checkout"]))]
    r.shuffle(items)
    form_body(L, items)


@T("form.contact_message", "pii", ["email", "phone", "card", "iban", "ip", "ssn"], {"form": 1.0}, weight=1.5)
def form_contact(g, L, ptype):
    r = g.rng
    msg = L.__class__(L.context, "plain", L.template)
    text_frame(g, msg, ptype, "raw")
    L.lit("your-subject=" + E.form(r.choice(["Order question", "Refund", "Account", "Other"])) + "&your-message=")
    L.nest(msg, E.form)
    L.lit("&_wpcf7=" + str(r.randint(10, 9999)))


@T("form.ssn", "pii", ["ssn"], {"form": 1.0}, weight=1.5)
def form_ssn(g, L, ptype):
    r = g.rng
    path, p = g.keyed("ssn")
    items = [(qkey(path), p), ("state", r.choice(["CA", "TX", "NY", "FL", "WA"])),
             ("loan_amount", str(r.choice([5000, 12000, 25000]))), ("employment", r.choice(["full_time", "self_employed"]))]
    r.shuffle(items)
    form_body(L, items)


@T("form.rails_user", "pii", ["name", "email", "phone"], {"form": 1.0}, holdout=True, weight=1.5)
def form_rails(g, L, ptype):
    r = g.rng
    items = [("authenticity_token", g.token(43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/"))]
    for part, key in (("first", "user[first_name]"), ("last", "user[last_name]")):
        p = g.pii("name", part=part)
        p.attrs["key"] = key
        items.append((key, p))
    p = g.pii(ptype if ptype != "name" else "email")
    items.append(("user[" + ("phone" if p.ptype == "phone" else "email") + "]", p))
    items.append(("commit", "Save"))
    form_body(L, items)


@T("form.mailchimp", "pii", ["email", "name"], {"form": 1.0}, holdout=True)
def form_mailchimp(g, L, ptype):
    items = []
    e = g.pii("email")
    e.attrs["key"] = "EMAIL"
    items.append(("EMAIL", e))
    for part, key in (("first", "FNAME"), ("last", "LNAME")):
        p = g.pii("name", part=part)
        p.attrs["key"] = key
        items.append((key, p))
    items.append(("b_" + g.token(25, "0123456789abcdef") + "_" + g.token(10, "0123456789abcdef"), ""))
    form_body(L, items)


@T("form.neg", "neg", modes={"form": 1.0}, weight=2)
def form_neg(g, L, _):
    r = g.rng
    k = r.randrange(4)
    if k == 0:
        items = [("quantity", str(r.randint(1, 5))), ("size", r.choice(["S", "M", "L", "42", "10.5"])),
                 ("color", r.choice(["navy", "black", "rojo"])), ("add", "1")]
    elif k == 1:
        items = [("q", neg_search(g)), ("sort", r.choice(["relevance", "price_asc"]))]
    elif k == 2:
        items = [("consent", r.choice(["analytics,ads", "necessary", "analytics"])), ("region", r.choice(["EU", "US"]))]
    else:
        items = [("rating", str(r.randint(1, 5))), ("review", neg_sentence(g)), ("recommend", r.choice(["yes", "no"]))]
    form_body(L, items)


LOOK_FORM = ["part_number", "serial_number", "model_number", "gtin", "order_number", "tracking_number",
             "version", "price", "luhn_invalid", "datetime", "numeric_id", "non_person_name"]


@T("form.look", "look", modes={"form": 1.0}, weight=2)
def form_look(g, L, _):
    r = g.rng
    items = []
    for cls in r.sample(LOOK_FORM, r.randint(1, 2)):
        k, mk = g.lkk(cls)
        items.append((k, mk))
    items.append(("qty", str(r.randint(1, 9))))
    r.shuffle(items)
    form_body(L, items)


# =========================================================== search terms

@T("search.pii", "pii", ["email", "phone", "card", "iban", "ip", "ssn"], {"plain": 0.85, "form": 0.1, "percent": 0.05}, weight=2)
def search_pii(g, L, ptype):
    search_phrase(g, L, ptype, "raw")


@T("search.neg", "neg", modes={"plain": 0.9, "form": 0.1}, weight=2)
def search_neg(g, L, _):
    L.val(neg_search(g), "raw")


@T("search.look", "look", modes={"plain": 0.9, "form": 0.1}, weight=2)
def search_look(g, L, _):
    r = g.rng
    cls = r.choice(["part_number", "model_number", "serial_number", "gtin", "isbn", "version", "order_number",
                    "tracking_number", "package_spec"])
    if cls == "package_spec":
        L.put(g.lk(cls, cue="npm"), "raw")
        L.val(r.choice(["", " changelog", " breaking changes"]), "raw")
        return
    w, mk = g.lkw(cls)
    L.val(w + ("" if w.endswith(" ") else " "), "raw")
    L.put(mk, "raw")
    L.val(r.choice(["", " replacement", " manual", " in stock"]), "raw")


# =========================================================== page titles

TITLE_PII = {"email": ["Inbox (3) - {v} - Webmail", "Account – {v} | {brand}", "Orders for {v} | {brand}",
                       "Reset password for {v}", "{v} – Profile"],
             "phone": ["Call {v} | {brand} Plumbing", "Who called me from {v}? – CallerID", "Verify {v} | {brand}"],
             "ip": ["Whois {v} – IP lookup", "Blocked: {v} | Firewall"],
             "iban": ["Payout account {v} – Settings"],
             "ssn": ["SSN {v} – Verification"]}
TITLE_PII_HOLDOUT = {"email": ["Welcome back, {v}!", "Unsubscribe {v} | {brand}"],
                     "phone": ["SMS to {v} sent – {brand}"], "ip": ["Geolocation of {v}"]}


@T("title.pii", "pii", ["email", "phone", "ip", "iban", "ssn"], {"plain": 1.0}, weight=2)
def title_pii(g, L, ptype):
    frame = g.pickd(TITLE_PII, TITLE_PII_HOLDOUT, ptype)
    pre, post = frame.split("{v}")
    L.lit(pre.format(brand=g.brand()))
    p = g.pii(ptype, "dashed" if ptype == "ssn" else None)
    L.put(p, "raw")
    L.lit(post.format(brand=g.brand()))


@T("title.neg", "neg", modes={"plain": 1.0}, weight=2)
def title_neg(g, L, _):
    L.lit(neg_title(g))


def neg_title(g):
    r = g.rng
    if r.random() < 0.3:
        return g.pick(V.TITLE_NEG, V.TITLE_NEG_HOLDOUT).format(brand=g.brand())
    return fill(g, r.choice(V.TITLE_FRAMES).replace("{Product}", r.choice(LK.PRODUCTS)).replace(
        "{Category}", r.choice(V.CATEGORIES)).replace("{brand}", g.brand()).replace("{term}", r.choice(V.SEARCH_NOUNS)))


@T("title.look", "look", modes={"plain": 1.0}, weight=2)
def title_look(g, L, _):
    r = g.rng
    b = g.brand()
    k = r.randrange(6)
    if k == 0:
        L.lit("Release notes ")
        L.put(g.lk("version", cue="Release notes"), "raw")
        L.lit(" – " + b + " Docs")
    elif k == 1:
        L.lit("Section ")
        L.put(g.lk("section_number", cue="Section"), "raw")
        L.lit(" — Terms of Service")
    elif k == 2:
        img = g.lk("retina_asset", cue="image")
        L.put(img, "raw")
        L.lit(" (%s Image, %d × %d pixels)" % (img.plain.rsplit(".", 1)[1].upper(), r.choice([400, 800, 1200]), r.choice([120, 240, 630])))
    elif k == 3:
        L.lit("Track parcel ")
        L.put(g.lk("tracking_number", cue="Track parcel"), "raw")
        L.lit(" | " + b)
    elif k == 4:
        L.lit("Order ")
        L.put(g.lk("order_number", cue="Order"), "raw")
        L.lit(" confirmed – " + b)
    else:
        L.lit(r.choice(LK.PRODUCTS) + " – EAN ")
        L.put(g.lk("gtin", cue="EAN"), "raw")


# =========================================================== JSON documents

def sep(g):
    return g.rng.choice([(",", ":"), (",", ":"), (", ", ": ")])


def traits_obj(g, ptype, camel):
    r = g.rng
    t = {}
    if ptype == "name" or r.random() < 0.6:
        if r.random() < 0.5:
            for part, k in (("first", "firstName" if camel else "first_name"), ("last", "lastName" if camel else "last_name")):
                p = g.pii("name", part=part)
                p.attrs["key"] = "traits." + k
                t[k] = p
        else:
            p = g.pii("name", part="full")
            p.attrs["key"] = "traits.name"
            t["name"] = p
    if ptype == "email" or r.random() < 0.6:
        p = g.pii("email")
        p.attrs["key"] = "traits.email"
        t["email"] = p
    if ptype == "phone" or r.random() < 0.3:
        p = g.pii("phone")
        p.attrs["key"] = "traits.phone"
        t["phone"] = p
    if ptype not in ("name", "email", "phone"):
        path, p = g.keyed(ptype)
        merge(t, nest_dict(path, p))
    t["plan"] = r.choice(["free", "pro", "enterprise"])
    return t


@T("json.identify", "pii", ["name", "email", "phone", "ssn", "iban"], JSON_MODES, weight=3)
def json_identify(g, L, ptype):
    r = g.rng
    doc = {"type": "identify", "userId": g.lk("uuid", cue="userId") if r.random() < 0.5 else "user-" + str(r.randint(100, 99999)),
           "traits": traits_obj(g, ptype, r.random() < 0.6),
           "messageId": g.lk("uuid", cue="messageId"), "timestamp": g.lk("datetime", cue="timestamp")}
    doc["timestamp"].plain = LK.iso_time(r)[0]
    L.json(doc, sep(g))


@T("json.track_note", "pii", ["email", "phone", "card", "iban", "ip", "ssn"], JSON_MODES, weight=2.5)
def json_track_note(g, L, ptype):
    r = g.rng
    msg = Line(L.context, "plain", L.template)
    text_frame(g, msg, ptype, "raw_plain")
    props = {r.choice(["message", "note", "comment", "feedback", "delivery_instructions"]): Sub(msg),
             "form_id": r.choice(["contact", "support", "checkout-notes"])}
    doc = {"event": r.choice(["Form Submitted", "Support Ticket Created", "Order Note Added"]), "properties": props}
    L.json(doc, sep(g))


@T("json.payment", "pii", ["card", "iban", "name"], JSON_MODES, weight=1.5)
def json_payment(g, L, ptype):
    r = g.rng
    pay = {}
    path, p = g.keyed("card" if ptype == "card" or (ptype == "name" and r.random() < 0.5) else "iban")
    if path[0] == "payment":  # already inside "payment"
        path = path[1:]
    merge(pay, nest_dict(path, p))
    if ptype == "name" or r.random() < 0.4:
        n = g.pii("name", part="full")
        k = r.choice(["cardholder", "account_holder", "holder_name"])
        n.attrs["key"] = k
        pay[k] = n
    doc = {"event": r.choice(["Payment Info Entered", "Checkout Step Completed"]),
           "properties": {"payment": pay, "revenue": g.lk("price", cue="revenue", number=True), "currency": r.choice(["EUR", "USD", "GBP"])}}
    rev = doc["properties"]["revenue"]
    rev.plain = "%d.%02d" % (r.randint(5, 900), r.randint(0, 99))
    L.json(doc, sep(g))


@T("json.context_ip", "pii", ["ip"], {"plain": 0.8, "json": 0.2}, weight=2)
def json_context_ip(g, L, ptype):
    r = g.rng
    ua = Line(L.context, "plain", L.template)
    g.ua(ua, "raw_plain")
    ipv = g.pii("ip", r.choice(["v4", "v4", "v6_compressed", "v6_mapped", "v6_full"]))
    ipv.attrs["key"] = "context.ip"
    lib = g.lk("non_person_name", cue="library.name")
    lib.plain = r.choice(["analytics.js", "analytics-next", "rudder-analytics", "analytics-ios"])
    doc = {"context": {"ip": ipv, "userAgent": Sub(ua), "locale": r.choice(["en-US", "de-DE", "es-ES", "pl-PL"]),
                       "library": {"name": lib, "version": "next-1." + str(r.randint(40, 84)) + ".0"}},
           "type": "page"}
    L.json(doc, sep(g))


@T("json.amplitude", "pii", ["email", "phone", "name", "ip"], JSON_MODES, weight=1.5)
def json_amplitude(g, L, ptype):
    r = g.rng
    up = {}
    path, p = g.keyed(ptype)
    merge(up, nest_dict(path, p))
    ev = {"event_type": r.choice(["sign_up", "profile_updated", "checkout"]), "user_properties": up,
          "time": g.lk("epoch", cue="time", number=True), "insert_id": g.lk("uuid", cue="insert_id"),
          "ip": "$remote"}
    ev["time"].plain = str(int(LK.epoch(r)[0][:10]) * 1000 + r.randint(0, 999))
    L.json({"api_key": g.token(32, "0123456789abcdef"), "events": [ev]}, sep(g))


@T("json.number_value", "pii", ["ssn", "phone", "card"], {"plain": 1.0})
def json_number(g, L, ptype):
    """The value is a JSON number (only digits survive that)."""
    r = g.rng
    path, p = g.keyed(ptype)
    if ptype == "ssn":
        v, a = g.value("ssn", "bare")
        if v.startswith("0") or r.random() < 0.15:
            # a number cannot keep the leading zero of areas 010-099
            d = "0" + "%02d" % r.randint(10, 99) + "%02d" % r.randint(1, 99) + "%04d" % r.randint(1, 9999)
            v, a = d[1:], {"form": "number_lost_zero", "digits": d}
    elif ptype == "phone":
        v, a = g.value("phone", "intl_digits" if r.random() < 0.5 else "national_digits", region=r.choice(["US", "CA", "ES", "PL", "IN", "BR", "MX", "CN"]))
        if v.startswith("0"):
            v, a = g.value("phone", "intl_digits")
    else:
        v, a = g.value("card", "none")
    a["key"] = qkey(path, "dot")
    a["json_number"] = True
    L.json(nest_dict(path, P(ptype, v, a, number=True)), sep(g))


@T("json.posthog_set", "pii", ["email", "name", "phone", "ip"], JSON_MODES, holdout=True, weight=2)
def json_posthog(g, L, ptype):
    r = g.rng
    s = {}
    path, p = g.keyed(ptype)
    merge(s, nest_dict(path, p))
    props = {"distinct_id": g.lk("uuid", cue="distinct_id"), "$set": s, "$lib": "web", "$lib_version": "1.449.2"}
    if ptype == "ip":
        props = {"distinct_id": g.lk("uuid", cue="distinct_id"), "$ip": p}
        p.attrs["key"] = "$ip"
    L.json({"event": "$identify", "properties": props, "timestamp": g.lk("datetime", cue="timestamp")}, sep(g))


@T("json.snowplow_ue", "pii", ["email", "phone", "name"], {"plain": 0.7, "json": 0.3}, holdout=True, weight=1.5)
def json_snowplow(g, L, ptype):
    """Snowplow tp2: the self-describing event is a JSON string (ue_pr)
    inside the JSON body, so its values are escaped twice."""
    r = g.rng
    inner = Line(L.context, "plain", L.template)
    data = {}
    path, p = g.keyed(ptype)
    merge(data, nest_dict(path, p))
    inner.json({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
                "data": {"schema": "iglu:com." + g.brand().lower().replace(" ", "") + "/lead/jsonschema/1-0-0", "data": data}})
    L.json({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
            "data": [{"e": "ue", "aid": "web", "ue_pr": Sub(inner), "eid": g.lk("uuid", cue="eid"),
                      "dtm": g.lk("epoch", cue="dtm")}]})


@T("json.neg", "neg", modes=JSON_MODES, weight=2)
def json_neg(g, L, _):
    r = g.rng
    k = r.randrange(4)
    if k == 3:
        doc = {"event": "Feedback Submitted", "properties": {"text": neg_sentence(g), "score": r.randint(0, 10)}}
    elif k == 0:
        doc = {"event": "Product List Filtered", "properties": {"filters": [{"type": "size", "value": str(r.randint(36, 46))}],
               "sorts": [{"type": "price", "value": "desc"}], "list_id": r.choice(["shoes", "jackets", "sale"])}}
    elif k == 1:
        doc = {"event": "Video Playback Started", "properties": {"position": r.randint(0, 300), "total_length": r.randint(300, 900),
               "quality": r.choice(["hd1080", "auto"]), "livestream": False}}
    else:
        doc = {"event": "Search Performed", "properties": {"query": neg_search(g),
               "results": r.randint(0, 250), "locale": r.choice(["en-GB", "de-DE", "fr-FR", "ja-JP"])}}
    L.json(doc, sep(g))


@T("json.look_product", "look", modes=JSON_MODES, weight=3)
def json_look_product(g, L, _):
    r = g.rng
    pk = r.choice(["name", "product_name", "item_name"])
    name = g.lk("non_person_name", cue="product." + pk)
    name.plain = r.choice(LK.PRODUCTS)
    prod = {"product_id": g.lk("numeric_id", cue="product_id"), pk: name, "sku": "SKU-" + g.token(6, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"),
            "price": g.lk("price", cue="price", number=True), "quantity": r.randint(1, 4)}
    prod["price"].plain = "%d.%02d" % (r.randint(3, 400), r.randint(0, 99))
    if r.random() < 0.5:
        gt = g.lk("gtin")
        key = {"ean13": "gtin13", "upca": "gtin12", "ean8": "gtin8", "gtin14": "gtin14"}[gt.attrs["kind"]]
        gt.cue = key
        prod[key] = gt
    doc = {"event": "Product Viewed", "properties": prod, "sentAt": g.lk("datetime", cue="sentAt")}
    doc["sentAt"].plain = LK.iso_time(r)[0]
    L.json(doc, sep(g))


@T("json.look_page", "look", modes=JSON_MODES, weight=1.5)
def json_look_page(g, L, _):
    """Segment page call: its top-level `name` is the page's name."""
    r = g.rng
    nm = g.lk("non_person_name", cue="page.name")
    nm.plain = r.choice(LK.PAGES)
    doc = {"type": "page", "name": nm, "properties": {"path": r.choice(V.NEUTRAL_PATHS), "title": g.pick(V.TITLE_NEG, V.TITLE_NEG_HOLDOUT).format(brand=g.brand())},
           "messageId": g.lk("uuid", cue="messageId"), "timestamp": g.lk("datetime", cue="timestamp")}
    doc["timestamp"].plain = LK.iso_time(r)[0]
    L.json(doc, sep(g))


@T("json.look_app", "look", modes=JSON_MODES, weight=1.5)
def json_look_app(g, L, _):
    r = g.rng
    app = {"name": g.lk("non_person_name", cue="app.name"), "version": g.lk("version", cue="app.version"),
           "build": g.lk("numeric_id", cue="app.build")}
    app["build"].plain = str(r.randint(100, 99999999))
    app["name"].plain = r.choice(LK.APPS)
    ios = r.random() < 0.5
    osname = g.lk("non_person_name", cue="os.name")
    osname.plain = "iOS" if ios else "Android"
    doc = {"context": {"app": app, "device": {"model": r.choice(["iPhone15,2", "iPhone14,5"] if ios else ["SM-S918B", "Pixel 8"]),
                                              "type": "ios" if ios else "android"},
                       "os": {"name": osname, "version": r.choice(["17.2", "16.6"] if ios else ["14", "13"])}},
           "event": "Application Opened"}
    if r.random() < 0.3:  # an address already truncated upstream (truncate_ip leaves x.y.z.0)
        doc["context"]["ip"] = g.lk("ip_network", cue="context.ip")
    L.json(doc, sep(g))


@T("json.look_misc", "look", modes=JSON_MODES, weight=2, holdout=True)
def json_look_misc(g, L, _):
    r = g.rng
    doc = {"event": r.choice(["Order Shipped", "Download Completed", "Certificate Checked"]), "properties": {}}
    for cls in r.sample(["tracking_number", "order_number", "version", "oid", "hex_hash", "isbn", "coords", "serial_number"], 3):
        k, mk = g.lkk(cls) if cls in V.LOOK_KEYS else (cls, g.lk(cls, cue=cls))
        doc["properties"][k] = mk
    L.json(doc, sep(g))


# =========================================================== free text

def text_frame(g, L, ptype, slot):
    """One free-text sentence with one PII value."""
    r = g.rng
    frame = g.pickd(V.TEXT_PII, V.TEXT_PII_HOLDOUT, ptype)
    form = None
    cue = "text"
    if ptype == "ssn":
        form = r.choice(["dashed", "dotted", "spaced", "bare"])
        if r.random() < 0.2:
            # a dashed 3-2-4 SSN needs no word next to it; other forms do
            form, cue = "dashed", "none"
            frame = r.choice(["{v}", "Record {v} updated, please confirm.", "Is {v} correct?", "{v} (copy for my records)"])
    pre, post = frame.split("{v}")
    p = g.pii(ptype, form)
    while ptype == "phone" and p.attrs["form"] == "rfc3966":  # tel: URIs are for links and keys
        p = g.pii(ptype, form)
    if ptype == "ssn":
        p.attrs["cue"] = cue
    L.val(pre, slot)
    L.put(p, slot)
    L.val(post, slot)


@T("text.pii", "pii", ["email", "phone", "card", "iban", "ip", "ssn"], TEXT_MODES, weight=4)
def text_pii(g, L, ptype):
    text_frame(g, L, ptype, "raw")


@T("text.pii_two", "pii", ["email", "phone", "iban", "card"], TEXT_MODES, weight=1.5)
def text_pii_two(g, L, ptype):
    r = g.rng
    other = r.choice([t for t in ("email", "phone") if t != ptype] or ["phone"])
    L.val(r.choice(["Hi, ", "Hello, ", "", "Hola, ", "Hallo, "]), "raw")
    text_frame(g, L, ptype, "raw")
    L.val(" ", "raw")
    text_frame(g, L, other, "raw")


@T("text.neg", "neg", modes=TEXT_MODES, weight=3)
def text_neg(g, L, _):
    L.val(neg_sentence(g), "raw")


def fill(g, s):
    r = g.rng
    for k, vals in V.NEG_FILL.items():
        while "{" + k + "}" in s:
            s = s.replace("{" + k + "}", r.choice(vals), 1)
    return s.replace("{n}", str(r.randint(2, 9)))


def neg_sentence(g):
    """A PII-free message: a fixed sentence, or one built from a language's
    opener, one or two sentences and a closer."""
    r = g.rng
    if r.random() < 0.2:
        return g.pick(V.TEXT_NEG, V.TEXT_NEG_HOLDOUT)
    lang = r.choices(list(V.NEG_TEXT), [6, 2, 2, 2, 1, 1, 1, 1, 1, 1])[0]
    op, bodies, cl = V.NEG_TEXT[lang]
    body = r.choice(bodies)
    if r.random() < 0.4:
        other = r.choice(bodies)
        if other != body:
            body += ("" if lang in ("ja", "zh") else " ") + other
    return fill(g, r.choice(op) + body + r.choice(cl))


def neg_search(g):
    r = g.rng
    if r.random() < 0.3:
        return g.pick(V.SEARCH_NEG, V.SEARCH_NEG_HOLDOUT)
    parts = [r.choice(V.SEARCH_NOUNS), fill(g, r.choice(V.SEARCH_MODS))]
    if r.random() < 0.5:
        parts.reverse()
    return " ".join(p for p in parts if p)


LOOK_TEXT = {
    "part_number": ["The {w} {v} is out of stock, any alternative?", "Need a replacement, {w} {v}.",
                    "{w} {v} does not fit the 2019 model."],
    "model_number": ["My {w} {v} stopped working after the update.", "Is the {w} {v} compatible with USB-C?"],
    "serial_number": ["{w} {v} – warranty claim attached.", "Device {w} {v} shows error E4."],
    "order_number": ["Where is {w} {v}? It says processing.", "Please cancel {w} {v}."],
    "tracking_number": ["The {w} {v} shows no movement since Monday.", "{w}: {v}"],
    "numeric_id": ["Re: {w} {v} – still waiting for an answer", "See {w} {v} for details."],
    "version": ["Updated to {w}{v} and the app crashes on start.", "The {w}{v} fixed the login bug.",
                "Is {w}{v} the latest?"],
    "section_number": ["See {w}{v} of the terms.", "As per {w}{v}, returns are free."],
    "oid": ["Certificate is missing {w}{v}.", "The {w}{v} extension is not recognised."],
    "gtin": ["{w}{v} does not scan at the till.", "Same {w}{v} but different price?"],
    "isbn": ["Is {w}{v} still in print?", "Looking for {w}{v}, hardcover please."],
    "luhn_invalid": ["Bank statement shows {w}{v}, what is it?", "Payment {w}{v} failed."],
}


@T("text.look_cue", "look", modes=TEXT_MODES, weight=5)
def text_look_cue(g, L, _):
    r = g.rng
    cls = r.choice(list(LOOK_TEXT))
    w, mk = g.lkw(cls)
    frame = r.choice(LOOK_TEXT[cls])
    a, rest = frame.split("{w}")
    b, c = rest.split("{v}")
    if cls == "version" and w == "v":
        b = ""
    L.val(a + w + b, "raw")
    L.put(mk, "raw")
    L.val(c, "raw")


@T("text.look_shape", "look", modes={"plain": 1.0}, weight=3)
def text_look_shape(g, L, _):
    """Look-alikes whose own shape says what they are."""
    r = g.rng
    k = r.randrange(9)
    if k == 0:
        L.lit("Thanks ")
        L.put(g.lk("mention", cue="@"), "raw")
        L.lit(r.choice([" for the quick help!", ", order arrived today.", " your site is down again"]))
    elif k == 1:
        L.lit("The ")
        L.put(g.lk("retina_asset", cue="file"), "raw")
        L.lit(" image looks blurry on my iPad.")
    elif k == 2:
        L.lit("Upgraded to ")
        L.put(g.lk("package_spec", cue="npm"), "raw")
        L.lit(" and the carousel broke.")
    elif k == 3:
        L.lit(r.choice(["Delivered on ", "Invoice dated ", "Booked for ", "Since "]))
        L.put(g.lk("datetime", cue="date"), "raw")
        L.lit(r.choice(["", ", please check.", " but nobody came."]))
    elif k == 4:
        L.lit(r.choice(["Paid ", "Charged ", "Total was "]))
        L.put(g.lk("price", cue="paid"), "raw")
        L.lit(r.choice([" but the discount was missing.", " instead of the sale price.", "."]))
    elif k == 5:
        L.lit(r.choice(["Meeting point: ", "Pickup at ", "Store location "]))
        c = g.lk("coords", cue="location")
        L.put(c, "raw")
    elif k == 6:
        L.lit("Broken CSS after the update near ")
        L.put(g.lk("css_at_rule", cue="css"), "raw")
    elif k == 7:
        L.lit("Request id ")
        L.put(g.lk("uuid", cue="id"), "raw")
        L.lit(" failed with 502.")
    else:
        L.lit("Checksum ")
        L.put(g.lk("hex_hash", cue="checksum"), "raw")
        L.lit(" does not match.")


@T("text.look_at", "look", modes={"plain": 0.85, "percent": 0.15}, weight=2)
def text_look_at(g, L, _):
    """'@' in things that are not e-mail addresses."""
    r = g.rng
    k = r.randrange(5)
    if k == 0:
        L.val(r.choice(["Big thanks to ", "Shout-out to ", "cc ", "Following "]), "raw")
        L.put(g.lk("mention", cue="@"), "raw")
        L.val(r.choice(["", " for the fast reply", " and the team", " 👏"]), "raw")
    elif k == 1:
        L.val(r.choice(["Your stylesheet breaks in ", "Layout shifts inside ", "Dark mode ignores "]), "raw")
        L.put(g.lk("css_at_rule", cue="css"), "raw")
        L.val(r.choice(["", " on iPad", " in Firefox"]), "raw")
    elif k == 2:
        pre, post = r.choice([("srcset=\"/img/hero.png 1x, /img/", " 2x\""), ("background-image: url(/img/", ")"),
                              ("<img src=\"/assets/", "\">")])
        L.val(pre, "raw")
        L.put(g.lk("retina_asset", cue="file"), "raw")
        L.val(post, "raw")
    elif k == 3:
        L.val(r.choice(["npm i ", "yarn add ", "pnpm add ", "Please pin "]), "raw")
        L.put(g.lk("package_spec", cue="npm"), "raw")
    else:
        L.put(g.lk("stack_frame", cue="stack"), "raw")


# =========================================================== headers

@T("header.forwarded_for", "pii", ["ip"], {"plain": 1.0}, weight=3)
def header_xff(g, L, ptype):
    r = g.rng
    name = g.pick(["X-Forwarded-For", "X-Forwarded-For", "X-Real-IP", "CF-Connecting-IP", "True-Client-IP"],
                  ["X-Client-IP", "X-Cluster-Client-IP", "Fastly-Client-IP"])
    L.lit(name + ": ")
    n = r.randint(1, 3) if name == "X-Forwarded-For" else 1
    port = r.random() < 0.15  # e.g. Azure App Service appends the client port
    for i in range(n):
        if i:
            L.lit(", ")
        p = g.pii("ip", r.choice(["v4", "v4", "v4", "v6_compressed"]))
        if port and ":" in p.plain:
            L.lit("[").put(p, "raw_plain").lit("]:%d" % r.randint(1024, 65535))
        else:
            L.put(p, "raw_plain")
            if port:
                L.lit(":%d" % r.randint(1024, 65535))


@T("header.forwarded_rfc7239", "pii", ["ip"], {"plain": 1.0})
def header_forwarded(g, L, ptype):
    r = g.rng
    p = g.pii("ip", r.choice(["v4", "v6_compressed"]))
    L.lit("Forwarded: for=")
    if ":" in p.plain:
        L.lit('"[')
        L.put(p, "raw_plain")
        L.lit(']:%d"' % r.randint(1024, 65535))
    else:
        L.put(p, "raw_plain")
    L.lit(";proto=https;by=")
    L.put(g.pii("ip", "v4"), "raw_plain")


@T("header.from", "pii", ["email"], {"plain": 1.0})
def header_from(g, L, ptype):
    L.lit(g.rng.choice(["From: ", "X-User-Email: ", "Reply-To: "]))
    L.put(g.pii("email"), "raw")


@T("header.cookie_traits", "pii", ["email", "name", "phone"], {"percent": 1.0}, weight=1.0)
def header_cookie(g, L, ptype):
    """Segment keeps user traits as URL-encoded JSON in the ajs_user_traits
    cookie."""
    r = g.rng
    inner = Line(L.context, "plain", L.template)
    inner.json(traits_obj(g, ptype, r.random() < 0.5))
    L.lit("Cookie: _ga=GA1.1.")
    L.put(g.lk("client_id", cue="_ga"), "raw_plain")
    L.lit("; ajs_anonymous_id=%22")
    L.put(g.lk("uuid", cue="ajs_anonymous_id"), "raw_plain")
    L.lit("%22; ajs_user_traits=")
    L.nest(inner, E.uri_component)


@T("header.msisdn", "pii", ["phone"], {"plain": 1.0}, holdout=True)
def header_msisdn(g, L, ptype):
    L.lit(g.rng.choice(["X-MSISDN: ", "X-UP-CALLING-LINE-ID: ", "X-Nokia-MSISDN: "]))
    L.put(g.pii("phone", "intl_digits"), "raw_plain")


@T("header.referer", "pii", ["email", "phone", "name"], {"plain": 0.5, "percent": 0.5})
def header_referer(g, L, ptype):
    L.lit("Referer: https://" + g.host() + g.pick(V.PAGE_PATHS, V.PAGE_PATHS_HOLDOUT) + "?")
    query(L, pii_items(g, ptype))


HEADER_NEG = ["Accept-Language: de-DE,de;q=0.9,en;q=0.8", "Accept-Language: es-ES,es;q=0.9",
              "Cache-Control: max-age=0", 'sec-ch-ua: "Chromium";v="120", "Not?A_Brand";v="8"',
              "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
              "Content-Type: application/json; charset=utf-8", "Sec-Fetch-Mode: navigate", "DNT: 1",
              "Accept-Encoding: gzip, deflate, br, zstd", "Connection: keep-alive", "Upgrade-Insecure-Requests: 1",
              "Sec-GPC: 1", "Priority: u=0, i", "Origin: https://{host}", "Host: {host}"]


@T("header.neg", "neg", modes={"plain": 1.0}, weight=2)
def header_neg(g, L, _):
    r = g.rng
    if r.random() < 0.2:
        L.lit(r.choice(HEADER_NEG).format(host=g.host()))
        return
    f = r.choice(V.HEADER_NEG_FRAMES)
    langs = ["en-US", "en-GB", "de-DE", "de", "es-ES", "es", "fr-FR", "fr", "pl-PL", "ja", "pt-BR", "it-IT", "nl-NL", "en"]
    L.lit(f.format(lang=r.choice(langs), lang2=r.choice(langs), q=r.randint(1, 9), n=r.randint(0, 99), m=r.choice(TP_MAJORS),
                   len=r.randint(2, 9999), host=g.host(), site=r.choice(["same-origin", "cross-site", "none"]),
                   dest=r.choice(["document", "empty", "image", "script"]), enc=r.choice(["gzip, deflate, br", "gzip", "br, zstd", "identity"]),
                   ctype=r.choice(["application/json", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "text/html; charset=utf-8"]),
                   platform=r.choice(["Windows", "macOS", "Android", "Linux"]), bit=r.randint(0, 1),
                   accept=r.choice(["*/*", "application/json, text/plain, */*", "image/avif,image/webp,*/*"])))


TP_MAJORS = list(range(109, 132))


@T("header.look", "look", modes={"plain": 1.0}, weight=3)
def header_look(g, L, _):
    r = g.rng
    k = r.randrange(8)
    if k == 7:
        L.lit(r.choice(["X-Forwarded-For: ", "X-Real-IP: "]))
        L.put(g.lk("ip_network", cue="truncated"), "raw_plain")
        return
    if k <= 1:
        L.lit("User-Agent: ")
        g.ua(L, need_label=True)
    elif k == 2:
        L.lit("Date: ")
        d = g.lk("datetime", cue="Date")
        d.plain, d.attrs = LK.http_date(r)
        L.put(d, "raw_plain")
    elif k == 3:
        L.lit('If-None-Match: W/"')
        L.put(g.lk("hex_hash", cue="etag"), "raw_plain")
        L.lit('"')
    elif k == 4:
        L.lit(r.choice(["X-Request-ID: ", "X-Amzn-Trace-Id: Root=1-", "traceparent: 00-"]))
        L.put(g.lk("uuid", cue="request-id"), "raw_plain")
    elif k == 5:
        L.lit("Link: </static/img/")
        L.put(g.lk("retina_asset", cue="preload"), "raw_plain")
        L.lit(">; rel=preload; as=image")
    else:
        L.lit(r.choice(["X-App-Version: ", "X-Client-Version: ", "X-Build: "]))
        L.put(g.lk("version", cue="version header"), "raw_plain")


# =========================================================== logs

def clf(g, L, client, path_builder):
    r = g.rng
    L.put(client, "raw_plain")
    L.lit(" - - [")
    t = g.lk("datetime", cue="log time")
    t.plain = LK.clf_time(r)[0]
    L.put(t, "raw_plain")
    L.lit('] "' + r.choice(["GET", "GET", "POST"]) + " ")
    path_builder()
    L.lit(' HTTP/1.1" ')
    # status and response size: two numbers that together look like a phone
    # number of some region more often than not
    L.look("http_status_size", "%d %d" % (r.choice([200, 200, 304, 302, 404]), r.randint(200, 90000)), {}, "raw_plain", cue="access log")
    L.lit(' "')
    L.lit("https://" + g.host() + "/" if r.random() < 0.7 else "-")
    L.lit('" "')
    g.ua(L)
    L.lit('"')


@T("log.access_combined", "pii", ["ip", "email", "phone"], {"plain": 0.5, "percent": 0.5}, weight=3)
def log_access(g, L, ptype):
    r = g.rng
    client = g.pii("ip", r.choice(["v4", "v4", "v4", "v6_compressed"]))

    def pb():
        L.lit(g.pick(V.PAGE_PATHS, V.PAGE_PATHS_HOLDOUT) + "?")
        if ptype == "ip":
            query(L, extra_params(g, 1) or [("tab", "1")])
        else:
            query(L, pii_items(g, ptype))
    clf(g, L, client, pb)


@T("log.logfmt", "pii", PTYPES, {"plain": 0.8, "percent": 0.2}, weight=3)
def log_logfmt(g, L, ptype):
    r = g.rng
    L.lit("time=")
    t = g.lk("datetime", cue="time")
    t.plain = LK.iso_time(r)[0]
    L.put(t, "raw_plain")
    L.lit(" level=" + r.choice(["info", "warn", "error"]) + ' msg="' + r.choice(["user signup", "password reset requested",
          "profile updated", "payment failed", "login failed"]) + '" ')
    path, p = g.keyed(ptype)
    k = "_".join(path)
    v = p.plain
    quoted = any(c in v for c in " \u3000") or r.random() < 0.3
    L.lit(k + "=" + ('"' if quoted else ""))
    L.put(p, "raw")
    L.lit(('"' if quoted else "") + " request_id=")
    L.put(g.lk("uuid", cue="request_id"), "raw_plain")


@T("log.json_line", "pii", ["email", "ip", "phone", "name"], {"plain": 0.7, "json": 0.3}, holdout=True, weight=2)
def log_json(g, L, ptype):
    r = g.rng
    doc = {"level": r.choice(["warn", "info"]), "ts": g.lk("epoch", cue="ts", number=True),
           "msg": r.choice(["login failed", "otp sent", "account locked"])}
    path, p = g.keyed(ptype)
    merge(doc, nest_dict(path, p))
    L.json(doc)


@T("log.syslog", "pii", ["ip", "email"], {"plain": 1.0}, holdout=True)
def log_syslog(g, L, ptype):
    r = g.rng
    L.lit("<%d>1 " % r.choice([34, 38, 86, 134]))
    t = g.lk("datetime", cue="syslog time")
    t.plain = LK.iso_time(r)[0]
    L.put(t, "raw_plain")
    L.lit(" web-%02d sshd %d - - " % (r.randint(1, 20), r.randint(100, 65000)))
    if ptype == "ip":
        L.lit("Failed password for invalid user admin from ")
        L.put(g.pii("ip", "v4"), "raw_plain")
        L.lit(" port %d ssh2" % r.randint(1024, 65535))
    else:
        L.lit("postfix/smtp: to=<")
        L.put(g.pii("email"), "raw_plain")
        L.lit(">, relay=none, delay=0.4, status=deferred")


@T("log.error", "pii", ["phone", "email", "card", "iban"], {"plain": 1.0}, weight=1.5)
def log_error(g, L, ptype):
    r = g.rng
    L.lit(r.choice({"phone": ['Error: could not send SMS to "', "Twilio 21211: invalid 'To' number ", "ValidationError: phone "],
                    "email": ["SMTP 550 5.1.1 <", "Bounce: ", "ValidationError: email "],
                    "card": ["Stripe card_declined for ", "Tokenization failed: number "],
                    "iban": ["SEPA mandate rejected for ", "IBAN check failed: "]}[ptype]))
    L.put(g.pii(ptype), "raw")
    L.lit(r.choice({"phone": ['": rate limited', " (retry 2/5)", ""], "email": [">: user unknown", ": mailbox full", ""],
                    "card": [" (insufficient_funds)", ": do_not_honor", ""], "iban": [": invalid BIC", " (AC01)", ""]}[ptype]
                   ))


@T("log.neg", "neg", modes={"plain": 1.0}, weight=2)
def log_neg(g, L, _):
    r = g.rng
    L.lit(r.choice(['level=info msg="cache warmed" keys=%d duration_ms=%d' % (r.randint(100, 9000), r.randint(3, 900)),
                    'level=warn msg="slow query" table=orders rows=%d' % r.randint(1, 999),
                    "GC pause %dms, heap %dMB" % (r.randint(1, 90), r.randint(100, 4000)),
                    'level=info msg="consent updated" categories=analytics,functional',
                    "worker %d: processed batch of %d events" % (r.randint(1, 16), r.randint(10, 500))]))


@T("log.look", "look", modes={"plain": 1.0}, weight=3)
def log_look(g, L, _):
    r = g.rng
    k = r.randrange(7)
    if k == 5:
        L.lit(r.choice(["x509: unhandled critical extension ", "certificate policy ", "snmpget: no such object ",
                        "TLS: missing EKU ", "CSR rejected, unknown attribute OID "]))
        L.put(g.lk("oid", cue="oid"), "raw_plain")
        return
    if k == 6:
        L.lit(r.choice(["compliance check failed: ", "audit: control ", "lint: see "]) + r.choice(["section ", "clause ", "§"]))
        L.put(g.lk("section_number", cue="section"), "raw_plain")
        L.lit(r.choice([" not satisfied", " (warning)", ""]))
        return
    if k <= 1:
        client = g.lk(r.choice(["ip_network", "ip_special"]), cue="client")
        if client.cls == "ip_special":
            client.plain = r.choice(["127.0.0.1", "::1"])

        def pb():
            L.lit(r.choice(V.NEUTRAL_PATHS))
        clf(g, L, client, pb)
    elif k == 2:
        L.lit("TypeError: Cannot read properties of undefined (reading 'track')\n    at ")
        L.put(g.lk("stack_frame", cue="stack"), "raw_plain")
    elif k == 3:
        t = g.lk("datetime", cue="time")
        t.plain = LK.iso_time(r)[0]
        L.put(t, "raw_plain")
        L.lit(" [warn] GET /static/img/")
        L.put(g.lk("retina_asset", cue="file"), "raw_plain")
        L.lit(" 404 (referenced from /css/main.css)")
    else:
        L.lit(r.choice(["deploy ", "rollout ", "release "]) + "app=" + r.choice(["web", "api", "worker"]) + " version=")
        L.put(g.lk("version", cue="version"), "raw_plain")
        L.lit(" commit=")
        L.put(g.lk("hex_hash", cue="commit"), "raw_plain")
        L.lit(" netmask=")
        L.put(g.lk("ip_special", cue="netmask"), "raw_plain")


# =========================================================== user agents

@T("useragent.look", "look", modes={"plain": 1.0}, weight=2)
def ua_look(g, L, _):
    g.ua(L, need_label=True)


@T("useragent.bot_contact", "pii", ["email"], {"plain": 1.0}, holdout=True)
def ua_bot(g, L, ptype):
    L.lit("Mozilla/5.0 (compatible; " + g.rng.choice(["PriceWatcher", "SEOCrawler", "FeedFetcher"]) + "/%d.%d; +mailto:" % (g.rng.randint(1, 4), g.rng.randint(0, 9)))
    L.put(g.pii("email", "ascii"), "raw_plain")
    L.lit(")")
