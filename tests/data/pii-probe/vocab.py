"""Keys, hosts, words and look-alikes of the probe (our own lists)."""
import random

import values as V

KEYS = {
    "email": ["email", "e", "mail", "emailAddress", "user_email", "customer[email]", "Email", "contact-email",
              "EMAIL", "billing_email", "login", "correo", "courriel", "e-mail", "user[email]", "subscriber_email"],
    "phone": ["phone", "tel", "telephone", "mobile", "phoneNumber", "phone_number", "customer[phone]",
              "billing_phone", "cell", "Telefon", "telefono", "handy", "msisdn", "whatsapp", "contact_phone",
              "mobileNumber", "shipping[phone]", "telefoon", "numer_telefonu", "fax"],
    "card": ["card_number", "cardNumber", "cc", "ccnum", "pan", "card[number]", "payment[cc_number]",
             "creditCard", "cc-number", "kartennummer"],
    "iban": ["iban", "IBAN", "bank_account", "debtor_iban", "sepa_iban", "payout[iban]", "account_iban",
             "bankAccount"],
    "ip": ["ip", "client_ip", "uip", "remote_addr", "ipAddress", "user_ip", "ip_address", "clientIp"],
    "ssn": ["ssn", "social_security_number", "applicant[ssn]", "SSN", "ss_number", "socialSecurityNumber",
            "borrower[ssn]"],
}
FIRST_KEYS = ["firstName", "first-name", "FirstName", "given_name", "customer[first_name]", "fname",
              "first_name", "vorname", "prenom", "nombre", "voornaam", "imie", "fornamn", "nome",
              "billing_first_name", "user[first_name]", "givenName"]
LAST_KEYS = ["lastName", "last-name", "family_name", "surname", "lname", "nachname", "apellidos",
             "achternaam", "nazwisko", "efternamn", "cognome", "sobrenome", "billing_last_name",
             "customer[last_name]", "LastName", "familyName"]
FULL_KEYS = ["fullname", "full_name", "fullName", "contact_name", "customer[name]", "cardholder_name",
             "account_holder", "recipient_name", "shipping[name]", "customerName", "holderName",
             "billing_name", "nombre_completo", "nom_complet"]

HOSTS = ["shop.example.com", "www.example.de", "boutique.example.fr", "tienda.example.es",
         "negozio.example.it", "winkel.example.nl", "sklep.example.pl", "loja.example.com.br",
         "butik.example.se", "app.example.io", "checkout.example.co.uk", "example.jp"]
PATHS = ["/checkout", "/account/profile", "/signup", "/newsletter/confirm", "/cart", "/contact",
         "/kasse", "/panier", "/carrito", "/mein-konto", "/order/complete", "/register"]
BENIGN_PARAMS = [("utm_source", "newsletter"), ("utm_medium", "email"), ("utm_campaign", "black_friday_2023"),
                 ("lang", "de"), ("step", "2"), ("ref", "footer"), ("sort", "price_asc"), ("page", "3"),
                 ("gclid", "Cj0KCQiA6vaqBhCbARIsACF9M6k"), ("fbclid", "IwAR2xY7b1ZrT"), ("currency", "EUR"),
                 ("variant", "blue-xl"), ("q", "winterjacke")]
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
]
PRODUCTS = ["Trail Runner GTX", "Espresso Maschine Barista", "Housse de couette lin", "Zapatillas Ultraboost",
            "Borraccia termica 750ml", "Fietsbel chroom", "Plecak miejski 25L", "Garrafa inox", "Vinterjacka dam"]


def uuid(r):
    h = "%032x" % r.getrandbits(128)
    return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16], r.choice("89ab"), h[17:20], h[20:32])


def hexs(r, n):
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def ts_iso(r):
    return "2023-%02d-%02dT%02d:%02d:%02d.%03dZ" % (r.randint(1, 12), r.randint(1, 28), r.randint(0, 23),
                                                  r.randint(0, 59), r.randint(0, 59), r.randint(0, 999))


def clf_time(r):
    return "%02d/%s/2023:%02d:%02d:%02d +0100" % (r.randint(1, 28), r.choice(["Jan", "Mar", "Jun", "Nov"]),
                                                 r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))


def ean13(r, prefix="400"):
    while True:
        d = prefix + "".join(r.choice("0123456789") for _ in range(12 - len(prefix)))
        c = (10 - sum(int(x) * (3 if i % 2 else 1) for i, x in enumerate(d)) % 10) % 10
        s = d + str(c)
        if not V.luhn_ok(s):
            return s


def isbn13(r):
    while True:
        d = "978" + r.choice(["3", "2", "84", "88", "0"]) + "".join(r.choice("0123456789") for _ in range(9))
        d = d[:12]
        c = (10 - sum(int(x) * (3 if i % 2 else 1) for i, x in enumerate(d)) % 10) % 10
        s = d + str(c)
        if not V.luhn_ok(s):
            return "%s-%s-%s-%s-%s" % (s[:3], s[3], s[4:6], s[6:12], s[12])


def ups(r):
    body = "".join(r.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6)) + "%02d%08d" % (
        r.randint(1, 99), r.randint(0, 99999999))
    return "1Z" + body


LOOK_CUES = {
    "part": ["SKU ", "Art.-Nr. ", "part no. ", "P/N ", "MPN: ", "réf. ", "Artikelnummer ", "item #", "Modell "],
    "version": ["version ", "v", "build ", "firmware ", "Version: ", "release "],
}


def lookalike(r):
    """(class, value, cue, looks_like, prefix-text) for a look-alike written
    after its refuting cue; prefix-text is the cue as it is written."""
    k = r.choice(["part_phone", "version", "version", "isbn", "gtin", "tracking", "coords", "build_date",
                  "order", "order_amazon", "epoch", "uuid", "hash", "price", "hexcolor", "oid", "winbuild",
                  "invoice", "date"])
    if k == "part_phone":
        p = V.Phone(r)
        f = p.forms()
        name = r.choice([n for n in ("nanp_dashes", "national", "national_dashes", "national_dots") if n in f])
        cue = r.choice(LOOK_CUES["part"])
        return "part_number", f[name], cue.strip(), ["phone"], cue
    if k == "version":
        v = "%d.%d.%d.%d" % (r.choice([10, 4, 2, 6, 12, 3]), r.randint(0, 20), r.randint(0, 9), r.randint(1, 250))
        cue = r.choice(LOOK_CUES["version"])
        return "version", v, cue.strip(), ["ip"], cue
    if k == "isbn":
        return "isbn", isbn13(r), "ISBN", [], "ISBN "
    if k == "gtin":
        cue = r.choice(["GTIN ", "EAN ", "barcode ", "EAN-13: "])
        return "gtin", ean13(r, r.choice(["400", "590", "871", "300", "540"])), cue.strip(), [], cue
    if k == "tracking":
        cue = r.choice(["tracking ", "Sendungsnummer ", "suivi ", "UPS tracking # "])
        return "tracking_number", ups(r), cue.strip(), [], cue
    if k == "coords":
        v = "%.6f,%.6f" % (r.uniform(35, 60), r.uniform(-9, 25))
        cue = r.choice(["lat/lng ", "coordinates ", "geo:", "GPS "])
        return "coords", v, cue.strip(), [], cue
    if k == "build_date":
        v = "2023%02d%02d.%d" % (r.randint(1, 12), r.randint(1, 28), r.randint(1, 9))
        return "build_number", v, "build", [], "build "
    if k == "order":
        v = str(r.randint(1000000000, 4999999999))
        cue = r.choice(["order #", "Order No. ", "Bestellnummer ", "commande n° ", "pedido "])
        return "order_number", v, cue.strip(), ["phone"], cue
    if k == "order_amazon":
        v = "%03d-%07d-%07d" % (r.randint(100, 999), r.randint(0, 9999999), r.randint(0, 9999999))
        return "order_number", v, "order", [], r.choice(["order ", "Order #", "Bestellung "])
    if k == "epoch":
        v = str(r.randint(1690000000000, 1702000000000))
        return "epoch", v, "ts", [], r.choice(["ts=", "timestamp ", "at "])
    if k == "uuid":
        return "uuid", uuid(r), "id", [], r.choice(["request ", "id ", "session "])
    if k == "hash":
        return "hex_hash", hexs(r, 40), "commit", [], r.choice(["commit ", "sha1 ", "etag "])
    if k == "price":
        v = r.choice(["1.299,99 €", "$1,249.00", "12 345,00 zł", "CHF 1'299.90", "£2,499.99", "R$ 1.234,56"])
        return "price", v, "price", [], r.choice(["Preis ", "total ", "price "])
    if k == "hexcolor":
        return "hex_color", "#" + hexs(r, 6), "color", [], "color "
    if k == "oid":
        v = r.choice(["1.3.6.1.4.1.311.21.7", "2.5.29.17", "1.2.840.113549.1.1.11", "1.3.6.1.5.5.7.3.1"])
        return "oid", v, "OID", ["ip"], "OID "
    if k == "winbuild":
        v = "10.0.%d.%d" % (r.choice([19045, 22621, 22631, 17763]), r.randint(100, 3999))
        return "version", v, "Windows", [], "Windows "
    if k == "invoice":
        v = "INV-2023-%06d" % r.randint(1, 999999)
        return "invoice_number", v, "invoice", [], "invoice "
    v = "%02d.%02d.2023" % (r.randint(1, 28), r.randint(1, 12))
    return "datetime", v, "date", [], r.choice(["am ", "le ", "date "])
