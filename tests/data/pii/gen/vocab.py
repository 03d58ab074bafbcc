"""Words, hosts, keys and sentence frames the templates are filled with.

Lists that come in pairs (`X` and `X_HOLDOUT`) are disjoint: the dev split
only ever draws from the first; the holdout split draws half of the time from
the second, so it meets keys, cue words, sentence frames and sites the dev
split never shows.
"""

# Microsoft's published fictitious companies, plus "example" in a few languages.
HOSTS = ["shop.northwindtraders.com", "www.contoso.com", "store.fabrikam.com", "www.adventure-works.com",
         "www.tailspintoys.com", "www.wingtiptoys.com", "app.litwareinc.com", "www.alpineskihouse.com",
         "www.wideworldimporters.com", "www.cohowinery.com", "www.lucernepublishing.com",
         "www.proseware.com", "www.margiestravel.com", "www.beispiel-shop.de", "boutique.exemple.fr",
         "tienda.ejemplo.es", "negozio.esempio.it", "winkel.voorbeeld.nl", "sklep.przyklad.pl",
         "loja.exemplo.com.br", "shop.example.co.jp", "shop.example.com.au", "www.example.in",
         "m.contoso.com", "checkout.fabrikam.com"]
HOSTS_HOLDOUT = ["www.relecloud.com", "www.fourthcoffee.com", "www.humongousinsurance.com",
                 "www.woodgrovebank.com", "www.blueyonderairlines.com", "www.consolidatedmessenger.com",
                 "www.graphicdesigninstitute.com", "www.southridgevideo.com", "shop.vanarsdel.com",
                 "tienda.ejemplo.com.mx", "butik.exempel.se"]
BRANDS = ["Northwind", "Contoso", "Fabrikam", "Adventure Works", "Tailspin Toys", "Wingtip", "Litware",
          "Alpine Ski House", "Wide World Importers", "Coho Winery", "Proseware"]

PAGE_PATHS = ["/", "/account/settings", "/checkout/confirmation", "/products/trail-runner-2",
              "/c/womens/shoes", "/blog/2024/winter-hiking-tips", "/cart", "/help/contact", "/signup",
              "/newsletter/confirm", "/account/profile", "/order/thank-you", "/de/konto/daten",
              "/es/cuenta/perfil", "/fr/compte/commandes", "/register/step-2", "/support/ticket/new"]
PAGE_PATHS_HOLDOUT = ["/members/edit", "/booking/passengers", "/claims/new", "/loyalty/join",
                      "/app/onboarding/contact"]

NEUTRAL_PATHS = ["/", "/c/mens/jackets", "/products/merino-wool-socks", "/blog/how-to-choose-a-tent",
                 "/sale", "/collections/new-arrivals", "/help/shipping", "/about-us", "/stores",
                 "/de/damen/schuhe", "/fr/hommes/vestes", "/es/ofertas", "/it/donna/borse",
                 "/pl/promocje", "/ja/sale", "/careers", "/search", "/wishlist", "/compare"]
SLUGS = ["trail-runner-2", "merino-wool-socks", "ultralight-tent-2p", "espresso-machine-pro",
         "organic-cotton-tee", "cast-iron-skillet", "smart-thermostat", "kids-rain-jacket",
         "linen-duvet-cover", "hiking-boots-gtx", "zapatillas-urban", "sac-a-dos-25l"]

UTM_SOURCES = ["newsletter", "google", "facebook", "instagram", "bing", "tiktok", "partner_blog", "crm"]
UTM_MEDIUMS = ["email", "cpc", "social", "referral", "display", "affiliate"]
UTM_CAMPAIGNS = ["black_friday_2024", "spring-sale", "newsletter_w48", "retargeting_q4", "brand-search",
                 "summer_launch", "back-to-school", "cyber-monday"]

SEARCH_NEG = ["red running shoes", "waterproof jacket women", "iphone 15 case", "gift ideas for dad",
              "merino socks size 42", "tent 2 person lightweight", "espresso machine descaling",
              "zapatillas running hombre", "regenjacke damen", "chaussures randonnée", "borraccia termica",
              "buty do biegania", "キャンプ 椅子", "保温杯 500ml", "return policy", "shipping to canada",
              "gluten free pasta", "usb c hub 4k", "black friday deals", "size guide", "how to clean suede",
              "cadeau anniversaire", "opening hours sunday", "student discount", "store near me"]
SEARCH_NEG_HOLDOUT = ["noise cancelling headphones under 200", "sneakers sale", "winterjas heren",
                      "kawa ziarnista 1kg", "cách chọn lều cắm trại", "kamp sandalyesi"]

TITLE_NEG = ["Men's Trail Running Shoes | {brand}", "Checkout – Step 2 of 3 | {brand}", "Page not found",
             "Your cart (2 items) – {brand}", "Winter Sale: up to 50% off | {brand}", "Help Center – Shipping",
             "Damen Regenjacken online kaufen | {brand}", "Ofertas de primavera – {brand}",
             "Connexion – Mon compte", "Order confirmation – {brand}", "Blog: 10 tips for winter hiking",
             "ログイン | {brand}", "Sign in to your account", "Compare products (3)"]
TITLE_NEG_HOLDOUT = ["Loyalty programme – join today | {brand}", "Boarding pass – {brand}", "FAQ: returns & refunds"]

TEXT_NEG = ["Delivery took 3 days and the packaging was fine.", "Where is my order? It has said processing since Monday.",
            "The size guide says 42 fits 27 cm feet, is that right?", "Great quality, will buy again!",
            "Can I change the colour after ordering?", "The app crashes when I open the cart on Android.",
            "Do you ship to Canada and how long does it take?", "El pedido llegó incompleto, falta una pieza.",
            "Die Lieferung kam zwei Tage zu spät.", "Le colis est arrivé en bon état, merci.",
            "La taglia è più piccola del previsto.", "Bestelling is nog niet verzonden.",
            "Przesyłka dotarła szybko, polecam.", "商品は予定より早く届きました。", "质量很好，物流也很快。",
            "Please cancel the gift wrapping, thanks.", "Coupon code SPRING10 is not working at checkout.",
            "Is the 2 person tent suitable for winter?", "Five stars, the jacket is really warm.",
            "I'd like to return the shoes, they are half a size too small."]
TEXT_NEG_HOLDOUT = ["Kargo çok hızlı geldi, teşekkürler.", "Sản phẩm đúng như mô tả.",
                    "The checkout button does nothing on Safari.", "Could you add a vegan option?"]

# Free-text frames with one PII value ({v}). Keyed by PII type.
TEXT_PII = {
    "phone": ["Please call me back on {v} after 5pm.", "My number changed, it's now {v}.",
              "Can someone ring me at {v}? Order still not here.", "WhatsApp me: {v}", "Tel: {v}",
              "Text me on {v} when the courier is close.", "Llámame al {v}, por favor.", "Mi móvil es {v}",
              "Bitte rufen Sie mich unter {v} zurück.", "Meine Handynummer: {v}",
              "Rappelez-moi au {v} s'il vous plaît.", "Mon portable : {v}", "Proszę o kontakt pod numerem {v}.",
              "Potete richiamarmi al {v}?", "Me liga no {v}", "Bel me terug op {v} aub",
              "電話番号は{v}です。", "我的电话是{v}", "Мой телефон {v}, звоните после 18:00", "{v}",
              "Courier couldn't find the house, I'm on {v}", "contact {v}"],
    "email": ["My new email is {v}, please update my account.", "Send the invoice to {v}", "Contact: {v}",
              "I can't log in with {v}", "Mi correo es {v}", "Bitte an {v} schicken",
              "Mon adresse : {v}", "我的邮箱是{v}", "メールアドレス：{v}", "Mój e-mail: {v}",
              "Il mio indirizzo è {v}", "{v}", "Please unsubscribe {v} from all lists.",
              "Receipt never arrived at {v}"],
    "card": ["I was charged twice on card {v}", "Pagué con la tarjeta {v} y no llegó nada",
             "Karte {v} wurde abgelehnt", "Ma carte {v} a été débitée deux fois", "card: {v} exp 09/27",
             "{v}", "Refund to {v} please", "Why was {v} declined?"],
    "iban": ["Please refund to IBAN {v}", "Bitte überweisen Sie den Betrag auf {v}.", "Mi IBAN es {v}",
             "Remboursement sur le compte {v} svp", "Rekening: {v}", "Numer konta: {v}", "{v}",
             "New bank details: {v}"],
    "ip": ["Can't log in from {v}, is it blocked?", "Our office IP is {v}, please whitelist it.",
           "Seen a login from {v} at 3am, not me!", "Meine IP-Adresse ist {v}", "Mi IP: {v}",
           "{v} keeps getting a captcha", "VPN exit {v} is banned?"],
    "ssn": ["My social security number is {v}", "SSN: {v}", "SSN {v} for the tax form",
            "Social Security No. {v}, please update", "the SSN on file ({v}) is wrong",
            "ssn#{v}"],
}
TEXT_PII_HOLDOUT = {
    "phone": ["Numaram {v}, akşam arayın.", "Số điện thoại của tôi là {v}", "Ring me: {v} (mobile)",
              "Reach me at {v} tomorrow morning"],
    "email": ["Địa chỉ email: {v}", "E-posta adresim {v}", "Drop me a line at {v}"],
    "card": ["Kart numaram {v}", "The card I used was {v}"],
    "iban": ["IBAN'ım {v}", "Kindly wire it to {v}"],
    "ip": ["Sunucu IP {v} erişilemiyor", "My router shows {v} as the WAN address"],
    "ssn": ["Social security: {v}", "I typed my SSN ({v}) in the wrong field"],
}

# Look-alike cue words (text) and keys, per class.
LOOK_WORDS = {
    "part_number": ["part no.", "Part #", "P/N", "part number", "MPN", "item no."],
    "model_number": ["model no.", "Model No.", "model", "Model:", "model number"],
    "serial_number": ["serial:", "S/N", "SN:", "serial number", "Serial No."],
    "order_number": ["order #", "Order No.", "order", "order number", "PO"],
    "tracking_number": ["tracking", "Tracking #", "tracking number", "AWB"],
    "numeric_id": ["ticket #", "case", "invoice", "article"],
    "version": ["v", "version ", "build ", "Build ", "firmware ", "release ", "ver. "],
    "section_number": ["section ", "§ ", "clause ", "Section "],
    "oid": ["OID ", "oid=", "OID: "],
    "gtin": ["EAN ", "GTIN ", "barcode ", "UPC ", "EAN: "],
    "isbn": ["ISBN ", "ISBN-13: ", "ISBN: "],
    "luhn_invalid": ["ref ", "reference ", "txn ", "auth code "],
}
LOOK_WORDS_HOLDOUT = {
    "part_number": ["Art.-Nr.", "réf.", "Teilenummer", "mfr part"],
    "model_number": ["Modell-Nr.", "modèle", "modelo", "type no."],
    "serial_number": ["Seriennummer", "n° de série", "número de serie", "serial#"],
    "order_number": ["Bestellnummer", "n° de commande", "pedido nº", "sipariş no"],
    "tracking_number": ["Sendungsnummer", "suivi", "seguimiento", "consignment"],
    "numeric_id": ["booking ref", "Vorgang"],
    "version": ["fw ", "rev ", "Ver.", "sdk "],
    "section_number": ["Abschnitt ", "para. ", "art. "],
    "oid": ["policy "],
    "gtin": ["EAN-13 ", "código de barras "],
    "isbn": ["ISBN-10: "],
    "luhn_invalid": ["Referenz ", "merchant ref "],
}
LOOK_KEYS = {
    "part_number": ["part_no", "partNumber", "part_number", "mpn", "item_no", "pn"],
    "model_number": ["model", "model_no", "modelNumber", "model_number"],
    "serial_number": ["serial", "serial_number", "serialNumber", "sn"],
    "order_number": ["order_id", "orderId", "order", "order_number", "po_number"],
    "tracking_number": ["tracking", "tracking_number", "trackingNumber", "awb"],
    "numeric_id": ["product_id", "item_id", "ticket_id", "invoice", "article_id", "variant_id"],
    "version": ["version", "v", "app_version", "appVersion", "build", "build_number", "os_version", "ver"],
    "gtin": ["gtin", "gtin13", "ean", "upc", "barcode"],
    "isbn": ["isbn"],
    "luhn_invalid": ["ref", "txn_ref", "reference", "auth_id"],
    "epoch": ["ts", "timestamp", "_", "t", "time", "created", "event_time", "z"],
    "datetime": ["date", "created_at", "updated_at", "since", "from", "dt"],
    "uuid": ["messageId", "request_id", "event_id", "cart_id", "order_uuid"],
    "hex_hash": ["etag", "hash", "sha", "checksum", "commit", "rev"],
    "price": ["price", "value", "revenue", "total", "amount"],
    "coords": ["ll", "location", "geo", "latlng"],
    "non_person_name": ["product_name", "productName", "page_name", "event_name", "campaign_name",
                        "file_name", "category_name", "app_name", "item_name", "product[name]",
                        "products[0][name]", "brand_name", "plan_name", "store_name"],
}
LOOK_KEYS_HOLDOUT = {
    "part_number": ["art_nr", "article_number", "partNo"],
    "model_number": ["modell", "device_model"],
    "serial_number": ["serial_no", "device_serial"],
    "order_number": ["bestellnummer", "purchase_order", "confirmation_no"],
    "tracking_number": ["shipment_id", "parcel_id"],
    "numeric_id": ["sku_id", "listing_id"],
    "version": ["fw", "firmware_version", "sdk_version", "client_version"],
    "gtin": ["ean13", "gtin14"],
    "isbn": ["isbn13"],
    "luhn_invalid": ["merchant_ref"],
    "epoch": ["sent_at_ms", "_ts"],
    "datetime": ["modified", "valid_until"],
    "uuid": ["trace_id", "correlation_id"],
    "hex_hash": ["digest", "fingerprint"],
    "price": ["subtotal", "unit_price"],
    "coords": ["position"],
    "non_person_name": ["layout_name", "template_name", "os_name", "browser_name", "product.name"],
}

# PII keys per type: (key path, name part or None). A path of several
# segments is written customer[name] in queries and forms and nested in JSON.
PII_KEYS = {
    "email": [("email",), ("e",), ("user_email",), ("userEmail",), ("email_address",), ("emailAddress",),
              ("customer", "email"), ("contact", "email"), ("login",), ("username",), ("EMAIL",), ("to",)],
    "phone": [("phone",), ("tel",), ("telephone",), ("mobile",), ("phone_number",), ("phoneNumber",),
              ("mobile_phone",), ("contact", "phone"), ("billing", "phone"), ("Phone",), ("fax",)],
    "card": [("card_number",), ("cardnumber",), ("cc_number",), ("cc-number",), ("card", "number"),
             ("payment", "card_number"), ("cardNumber",)],
    "iban": [("iban",), ("IBAN",), ("account_iban",), ("bank_account",), ("payout", "iban"), ("sepa", "iban")],
    "ip": [("ip",), ("ip_address",), ("ipAddress",), ("client_ip",), ("remote_ip",)],
    "ssn": [("ssn",), ("SSN",), ("social_security_number",), ("applicant", "ssn"), ("ssn_full",)],
}
PII_KEYS_HOLDOUT = {
    "email": [("mail",), ("your-email",), ("recipient",), ("login_hint",), ("member", "email_address")],
    "phone": [("cell",), ("msisdn",), ("sms_number",), ("your-phone",), ("whatsapp",), ("contactPhone",)],
    "card": [("ccnum",), ("pan",), ("creditCard",), ("card", "pan")],
    "iban": [("debtor_iban",), ("sepa_iban",), ("ibanNumber",)],
    "ip": [("remote_addr",), ("clientIp",), ("uip",), ("ipv6",)],
    "ssn": [("ss_number",), ("socialSecurityNumber",), ("borrower", "ssn")],
}
# Name keys: (path, part) with part in first/last/full.
NAME_KEYS = [(("first_name",), "first"), (("firstName",), "first"), (("firstname",), "first"),
             (("FirstName",), "first"), (("first-name",), "first"), (("fname",), "first"),
             (("given_name",), "first"), (("givenName",), "first"), (("user", "first_name"), "first"),
             (("customer", "first_name"), "first"), (("billing", "first_name"), "first"),
             (("shipping_address", "first_name"), "first"),
             (("last_name",), "last"), (("lastName",), "last"), (("lastname",), "last"), (("LastName",), "last"),
             (("lname",), "last"), (("surname",), "last"), (("family_name",), "last"), (("familyName",), "last"),
             (("user", "last_name"), "last"), (("customer", "last_name"), "last"),
             (("full_name",), "full"), (("fullName",), "full"), (("fullname",), "full"),
             (("customer", "name"), "full"), (("user", "name"), "full"), (("billing", "name"), "full"),
             (("shipping", "name"), "full"), (("contact", "name"), "full"), (("account_holder",), "full"),
             (("merge_fields", "FNAME"), "first"), (("merge_fields", "LNAME"), "last")]
NAME_KEYS_HOLDOUT = [(("cardholder_name",), "full"), (("recipient_name",), "full"), (("your-name",), "full"),
                     (("display_name",), "full"), (("middle_name",), "first"), (("maiden_name",), "last"),
                     (("billing_details", "name"), "full"), (("ship_to_name",), "full"),
                     (("patient_name",), "full"), (("contactName",), "full"), (("FNAME",), "first"),
                     (("passenger", "given_name"), "first"), (("passenger", "surname"), "last"),
                     # non-English keys (a table-driven detector may add these languages)
                     (("vorname",), "first"), (("nachname",), "last"), (("nombre",), "first"),
                     (("apellidos",), "last"), (("prenom",), "first")]


# ---- richer PII-free content (combined at random so lines rarely repeat)

NEG_TEXT = {
    "en": (["", "Hi, ", "Hello, ", "Hey team, ", "Hi there! "],
           ["Delivery took {n} days and the packaging was fine.", "Where is my order? It has said processing since {weekday}.",
            "The size guide says {size} fits, is that right?", "Great quality, will buy again!",
            "Can I change the colour after ordering?", "The app crashes when I open the cart on {os}.",
            "Do you ship to {country} and how long does it take?", "Please cancel the gift wrapping.",
            "Coupon code {coupon} is not working at checkout.", "Is the {product} suitable for winter?",
            "Five stars, the {product} is really good.", "I'd like to return the {product}, it is too small.",
            "The page keeps reloading when I click pay.", "Any plans to restock the {product} in {color}?",
            "Wrong item received, I ordered the {color} one.", "The zip on the {product} broke after {n} weeks.",
            "Love the new design of the website!", "Can I pick up in store on {weekday}?",
            "Checkout asks me to log in twice.", "Is there a student discount?",
            "The discount didn't apply to the sale items.", "Instructions are missing from the box.",
            "How do I reset the {product}?", "Search returns nothing for '{term}'.", "Payment page is very slow today.",
            "Arrived a day early, nice.", "The {color} looks different from the photos.",
            "Could you add more sizes above {size}?", "Is the {product} dishwasher safe?"],
           ["", " Thanks!", " Thank you.", " Cheers", " :)", " Regards"]),
    "es": (["", "Hola, ", "Buenas, "],
           ["El pedido llegó incompleto, falta una pieza.", "¿Hacéis envíos a {country}?", "La talla {size} me queda pequeña.",
            "Muy buena calidad, repetiré.", "El cupón {coupon} no funciona.", "¿Cuándo vuelve a haber stock?",
            "Tardó {n} días en llegar.", "El color es precioso."],
           ["", " Gracias.", " Saludos."]),
    "de": (["", "Hallo, ", "Guten Tag, "],
           ["Die Lieferung kam {n} Tage zu spät.", "Kann ich die Farbe noch ändern?", "Der Gutschein {coupon} funktioniert nicht.",
            "Super Qualität, gerne wieder!", "Größe {size} fällt klein aus.", "Wann ist der Artikel wieder verfügbar?",
            "Die Verpackung war beschädigt."],
           ["", " Danke!", " Viele Grüße"]),
    "fr": (["", "Bonjour, "],
           ["Le colis est arrivé en bon état.", "Le code promo {coupon} ne marche pas.", "La taille {size} taille petit.",
            "Livrez-vous en {country} ?", "Très bonne qualité, je recommande.", "Livraison en {n} jours, parfait."],
           ["", " Merci.", " Cordialement"]),
    "it": (["", "Ciao, ", "Buongiorno, "],
           ["La taglia è più piccola del previsto.", "Il codice {coupon} non funziona.", "Spedite in {country}?",
            "Arrivato in {n} giorni, ottimo."], ["", " Grazie!"]),
    "nl": (["", "Hallo, "], ["Bestelling is nog niet verzonden.", "Kortingscode {coupon} werkt niet.",
                             "Maat {size} valt groot."], ["", " Bedankt!"]),
    "pl": (["", "Dzień dobry, "], ["Przesyłka dotarła szybko, polecam.", "Kod rabatowy {coupon} nie działa.",
                                   "Rozmiar {size} jest za mały."], ["", " Dziękuję."]),
    "pt": (["", "Olá, "], ["O pedido chegou rápido.", "O cupom {coupon} não funciona.", "Entregam em {country}?"],
           ["", " Obrigado!"]),
    "ja": ([""], ["商品は予定より早く届きました。", "クーポン{coupon}が使えません。", "サイズ{size}はありますか？"], [""]),
    "zh": ([""], ["质量很好，物流也很快。", "优惠码{coupon}无法使用。", "有黑色吗？"], [""]),
}
NEG_FILL = {
    "weekday": ["Monday", "Tuesday", "Friday", "the weekend", "Sunday"],
    "size": ["42", "M", "10.5", "EU 39", "XL", "UK 8", "38", "L"],
    "os": ["Android", "iOS 17", "Safari", "Firefox", "my tablet"],
    "country": ["Canada", "Ireland", "Norway", "Portugal", "Japan", "Chile", "Suiza", "Österreich"],
    "coupon": ["SPRING10", "WELCOME15", "FREESHIP", "BLACKFRIDAY", "SUMMER20", "VIP5", "NEWSLETTER"],
    "product": ["tent", "jacket", "kettle", "backpack", "headphones", "thermostat", "boots", "duvet cover",
                "skillet", "yoga mat", "socks", "monitor"],
    "color": ["navy", "olive", "red", "black", "sand", "forest green", "grey"],
    "term": ["rain jacket", "merino", "kids boots", "usb hub", "gift card"],
}

SEARCH_NOUNS = ["running shoes", "rain jacket", "tent", "backpack", "headphones", "coffee grinder", "yoga mat",
                "hiking boots", "socks", "duvet cover", "desk lamp", "water bottle", "phone case", "kettle",
                "zapatillas", "chaqueta", "regenjacke", "wanderschuhe", "sac à dos", "borraccia", "plecak",
                "mochila", "キャンプ 椅子", "保温杯"]
SEARCH_MODS = ["", "", "women", "men", "kids", "waterproof", "lightweight", "sale", "cheap", "best", "organic",
               "2 person", "size {size}", "{color}", "for winter", "mujer", "herren", "enfant"]

TITLE_FRAMES = ["{Product} | {brand}", "{Product} – {brand} Online Shop", "Buy {Product} online | {brand}",
                "{Category} – {brand}", "{Category} sale: up to {n}0% off | {brand}", "Checkout – Step {n} of 3 | {brand}",
                "Your cart ({n} items) – {brand}", "Reviews of {Product} | {brand}", "{brand} | Official Store",
                "Search results for \"{term}\" – {brand}"]
CATEGORIES = ["Men's Jackets", "Women's Running Shoes", "Camping Gear", "Kitchen", "Home & Living", "Kids",
              "Damen Schuhe", "Ofertas", "Nouveautés", "Outlet"]
HEADER_NEG_FRAMES = ["Accept-Language: {lang},{lang2};q=0.{q}", "Cache-Control: max-age={n}",
                     'sec-ch-ua: "Chromium";v="{m}", "Not?A_Brand";v="{n}"', "Content-Length: {len}",
                     "Origin: https://{host}", "Host: {host}", "Sec-Fetch-Site: {site}", "Sec-Fetch-Dest: {dest}",
                     "Accept-Encoding: {enc}", "Content-Type: {ctype}", "DNT: 1", "Sec-GPC: 1",
                     "Connection: keep-alive", "Priority: u={n}, i", "sec-ch-ua-platform: \"{platform}\"",
                     "sec-ch-ua-mobile: ?{bit}", "X-Requested-With: XMLHttpRequest", "Pragma: no-cache",
                     "Accept: {accept}", "Upgrade-Insecure-Requests: 1"]
