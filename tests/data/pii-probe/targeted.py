"""Hand-written hypothesis lines, one failure class per `context` value, to
confirm what the generated probe showed (README.md): `targeted.jsonl` (the
classes found) and `targeted2.jsonl` (written forms of each type).

  python3 tests/data/pii-probe/targeted.py
  PII_EVAL_FILE=tests/data/pii-probe/targeted.jsonl PII_EVAL_SHOW= cargo bench --bench pii_eval
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import encode  # noqa: E402
out = []
def add(cls, text, pii=(), look=()):
    P = []
    for typ, v, d in pii:
        assert text.count(v) == 1, (text, v)
        e = {"type": typ, "value": v, "encoding": encode.classify(v, d)}
        if d != v: e["decoded"] = d
        P.append(e)
    Lk = []
    for c, v, d in look:
        assert text.count(v) == 1, (text, v)
        e = {"class": c, "value": v, "encoding": encode.classify(v, d), "looks_like": ["x"]}
        if d != v: e["decoded"] = d
        Lk.append(e)
    out.append({"id": "t-%03d-%s" % (len(out), cls), "context": cls, "encoding": "plain", "text": text, "pii": P, "lookalikes": Lk})
E = "hanna.koch@example.de"
for t in ["メールは%sまで", "メール：%s", "メール %s まで", "请发邮件到%s", "邮箱%s谢谢", "連絡先%s", "이메일%s로", "Mail:%s。", "（%s）"]:
    add("cjk_email", t % E, [("email", E, E)])
P = "090-1234-5678"
for t in ["電話番号は%sです", "電話%sまで", "电话%s谢谢", "（%s）"]:
    add("cjk_phone", t % P, [("phone", P, P)])
for t in ["réf. 03 4225 4345", "r%C3%A9f.+03+4225+4345", "Art.-Nr.+0301+234+567", "Artikelnummer%3A%200301%20234%20567", "SKU%20212-555-0187", "SKU 212-555-0187"]:
    v = t.split("+", 1)[1] if "+" in t else (t.split("%20", 1)[1] if "%20" in t else t.split(" ", 1)[1])
    add("cue_encoded", "https://www.bing.com/search?q=" + t, look=[("part_number", v, encode.d_form(v))])
for t in ["Firmware-Update auf 3.19.3.88 verfügbar", "Update auf 3.19.3.88", "update to 3.19.3.88", "upgraded to version 3.19.3.88",
          "Software-Version 3.19.3.88", "firmware: 3.19.3.88", "mise à jour vers 3.19.3.88", "actualizado a la versión 3.19.3.88",
          "App-Version 3.19.3.88", "Versión 3.19.3.88", "ver. 3.19.3.88", "Firmware-Version 3.19.3.88"]:
    add("version_phrase", t, look=[("version", "3.19.3.88", "3.19.3.88")])
for t in ["who called me 712-77-1170", "mi número 712-77-1170", "call 712-77-1170", "Tel 712-77-1170", "my number is 712-77-1170", "712-77-1170"]:
    add("ssn_after_phone_cue", t, [("ssn", "712-77-1170", "712-77-1170")])
N = "Álvaro Muñoz"
for t in ['<input name="first_name" value="%s">', '<input type="text" name="lastName" value="%s">', '<input id="fullname" value="%s">',
          '<input value="%s" name="first_name">', "<input name='first_name' value='%s'>", 'first_name: "%s"', '"first_name" => "%s"',
          "first_name='%s'", "first_name: %s", "First name: %s"]:
    add("name_markup", t % N, [("name", N, N)])
for t in ["at https://x.example/c?first_name=Gudrun:12:5", "at https://x.example/c?first_name=Gudrun&x=1:12:5", "https://x.example/c?first_name=Gudrun#top"]:
    add("name_url_suffix", t, [("name", "Gudrun", "Gudrun")])
for t in ["?phone=%2B4915123456789:12:5", "at https://x.example/c?phone=015123456789:12:5", "at https://x.example/c?ssn=123456789:12:5"]:
    v = t.split("=", 1)[1].split(":")[0]
    add("num_url_suffix", t, [("phone" if "phone" in t else "ssn", v, encode.d_pct(v))])
for t in ['{"author":{"name":"%s","email":"x@y.de"}}', '{"object":"customer","name":"%s","email":"x@y.de"}', '{"name":"%s","email":"x@y.de","phone":"+4915123456789"}',
          '{"seller":{"name":"%s"}}', '{"owner":{"name":"%s"}}', '{"member":{"name":"%s"}}', '{"employee":{"name":"%s"}}', '{"patient":{"name":"%s"}}',
          '{"guest":{"name":"%s"}}', '{"recipient":{"name":"%s"}}', '{"sender":{"name":"%s"}}', '{"driver":{"name":"%s"}}']:
    add("bare_name_json", t % "Gudrun Weißenborn", [("name", "Gudrun Weißenborn", "Gudrun Weißenborn")])
for k in ["nome", "nombre", "nombre_completo", "nom_complet", "fornamn", "förnamn", "efternamn", "imie", "imię", "vorname", "cognome", "nom", "prénom", "jméno", "příjmení", "etunimi", "sukunimi", "fornavn", "etternavn", "achternaam", "voornaam", "ime", "prezime", "nev", "vezeteknev", "имя", "фамилия", "名前", "氏名", "姓名", "名字"]:
    add("name_key_lang", "https://x.example/signup?%s=Gudrun&step=2" % k, [("name", "Gudrun", "Gudrun")])
for k in ["up.name", "ep.name", "up.user_name", "up.first_name", "ep.customer_name", "user_properties.name"]:
    add("ga4_name", "https://www.google-analytics.com/g/collect?v=2&%s=Gudrun%%20Wei%%C3%%9Fenborn&en=page_view" % k, [("name", "Gudrun%20Wei%C3%9Fenborn", "Gudrun Weißenborn")])
for p in ["0151.23456789", "07713.407667", "030.12345678", "9201.6304", "06.12345678", "0151/23456789", "8983/3270298"]:
    add("dots_under_key", "https://x.example/c?phone=%s&step=2" % p, [("phone", p, p)])
with open(os.path.join(HERE, "targeted.jsonl"), "w") as f:
    for o in out: f.write(json.dumps(o, ensure_ascii=False) + "\n")
print(len(out))
out.clear()
for p in ["+1 415 829 3311x204", "+49 (0) 89 123456-78", "(0 30) 12 34 56 78", "+49 30 123456-0", "(+49) 151 2345 6789",
          "+49(0)151-23456789", "+33 (0)6 12 34 56 78", "0033 (0)1 42 68 53 00", "+41 (0)44 668 18 00", "+1.415.829.3311",
          "+44 7911 123456", "+44 (0)7911-123-456", "+31 (0)6-12345678", "0 15 12 34 56 789", "+61 (04) 1234 5678"]:
    v = p.split("x")[0] if "x" in p else p
    add("phone_shapes", "Kontakt: " + p + " (Mo-Fr)", [("phone", v, v)])
for e, t in [("JANE.DOE@EXAMPLE.COM", "mailto:%s"), ("jane.doe+tag@sub.example.co.uk", "write to %s."), ("jane@example.com", "Jane Doe <%s>"),
             ("jane%40example.com", "/u/%s/profile"), ("jane@example.com", "(%s)"), ("jane@example.com", "email:%s;"),
             ("jane.o'neil@example.ie", "%s"), ("jane@xn--bcher-kva.de", "%s"), ("jürgen@bücher.de", "%s"), ("j@example.museum", "%s"),
             ("jane=40example.com", "QP: %s")]:
    d = e.replace("%40", "@")
    if "=40" in e: continue
    add("email_shapes", t % e, [("email", e, d)])
for ip in ["::ffff:c000:0280", "2001:DB8::1", "[2001:db8::1]:8443", "203.0.113.7:51234", "fe80::1%25en0", "2001:0db8:0000:0000:0000:ff00:0042:8329",
           "::ffff:203.0.113.7", "2a02:8108:1c00:4a:1c2e:7bff:fe00:1"]:
    v = ip.strip("[").split("]")[0] if ip.startswith("[") else (ip.rsplit(":", 1)[0] if ip.count(":") == 1 else ip)
    d = encode.d_pct(v)
    add("ip_shapes", "client " + ip + " connected", [("ip", v, d)])
for c in ["4111.1111.1111.1111", "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "3782 822463 10005", "6011 0009 9013 9424",
          "4000 0566 5566 5556", "30569309025904", "3056 930902 5904", "6200 0000 0000 0005", "4111111111111111"]:
    add("card_shapes", "card: " + c + ".", [("card", c, c)])
for i in ["IBAN:DE89370400440532013000.", "(IBAN GB29 NWBK 6016 1331 9268 19)", "iban=fr1420041010050500013m02606", "IBAN NL91ABNA0417164300,", "CH93 0076 2011 6238 5295 7"]:
    m = re.search(r"([A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4})+(?: ?[A-Za-z0-9]{1,3})?)", i)
    v = m.group(1)
    add("iban_shapes", i, [("iban", v, v)])
for s in ["SSN 123.45.6789", "SSN: 123 45 6789", "ssn=123456789", "SSN#123-45-6789", "Social Security No. 123-45-6789", "SSN:123456789", "soc. sec. 123-45-6789"]:
    v = re.search(r"\d[\d .-]*\d", s).group(0)
    add("ssn_shapes", s, [("ssn", v, v)])
with open(os.path.join(HERE, "targeted2.jsonl"), "w") as f:
    for o in out: f.write(json.dumps(o, ensure_ascii=False) + "\n")
print(len(out))
