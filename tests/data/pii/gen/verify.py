#!/usr/bin/env python3
"""Check the committed evaluation set without regenerating it.

    python3 tests/data/pii/gen/verify.py

Python 3 standard library only. If `phonenumbers`, `python-stdnum` or
`idna` happen to be installed, their independent validators are used as
cross-checks too (libphonenumber for phones; python-stdnum's IBAN with
national check digits for BE/ES/ME/NO, Luhn, US SSN, EAN/GTIN and ISBN;
IDNA 2008 for the punycode domains). Exits non-zero on the first class of
error, printing every offending line id.
"""

import ipaddress
import json
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the data directory free of __pycache__

import encode as E  # noqa: E402

DATA = os.path.dirname(HERE)
CONTEXTS = {"url", "referrer", "link", "form", "search", "title", "json", "text", "header", "log", "useragent"}
ENCODINGS = {"plain", "percent", "percent2", "form", "json"}
TYPES = {"email", "phone", "card", "iban", "ip", "ssn", "name"}
CLASSES = {"part_number", "model_number", "serial_number", "order_number", "tracking_number", "numeric_id",
           "version", "ua_version", "ua_token", "retina_asset", "package_spec", "mention", "css_at_rule",
           "stack_frame", "oid", "section_number", "luhn_invalid", "gtin", "isbn", "datetime", "epoch", "uuid",
           "hex_hash", "price", "coords", "non_person_name", "ip_network", "ip_special", "client_id",
           "http_status_size"}

IBAN_LEN = {"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
            "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
            "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
            "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
            "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
            "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
            "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20}


def luhn(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        v = int(c) * (2 if i % 2 else 1)
        s += v - 9 if v > 9 else v
    return s % 10 == 0


def digits(s):
    return "".join(c for c in s if c.isdigit())


def iban_ok(s):
    s = s.replace(" ", "").replace("-", "").upper()
    if s[:2] not in IBAN_LEN or len(s) != IBAN_LEN[s[:2]] or not s.isalnum():
        return False
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def ssn_ok(d):
    if len(d) != 9 or d in ("078051120", "219099999", "457555462"):
        return False
    return 1 <= int(d[:3]) <= 899 and d[:3] != "666" and d[3:5] != "00" and d[5:] != "0000"


def gs1_ok(d):
    return sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(reversed(d))) % 10 == 0


def check_pii(p, errs, rid, opt):
    t, v = p["type"], p.get("decoded", p["value"])
    ok = True
    if t == "email":
        ok = v.count("@") >= 1 and "." in v.rsplit("@", 1)[1]
        if ok and opt.get("idna") and "xn--" in v:
            try:
                opt["idna"].decode(v.rsplit("@", 1)[1])
            except Exception:
                ok = False
    elif t == "card":
        d = digits(v)
        ok = 12 <= len(d) <= 19 and luhn(d)
    elif t == "iban":
        ok = iban_ok(v)
        if ok and opt.get("iban"):
            ok = opt["iban"].is_valid(v)
    elif t == "ip":
        try:
            a = ipaddress.ip_address(v.split("%")[0])
            if a.version == 6 and a.ipv4_mapped:
                a = a.ipv4_mapped
            ok = (int(a) & 0xff) not in (0, 255) if a.version == 4 else (int(a) & ((1 << 64) - 1)) != 0
        except ValueError:
            ok = False
    elif t == "ssn":
        d = digits(v)
        if p.get("form") == "number_lost_zero":
            d = "0" + d
        ok = ssn_ok(d)
        if ok and opt.get("ssn"):
            ok = opt["ssn"].is_valid(d)
    elif t == "phone":
        d = digits(v)
        ok = 6 <= len(d) <= 17
        pn = opt.get("phonenumbers")
        if ok and pn:
            s = v[4:] if v.startswith("tel:") else v
            s = s.replace("(0)", "")
            if p.get("form") == "intl_digits":
                s = "+" + s
            if s.startswith("00"):
                s = "+" + digits(s)[2:]
            try:
                n = pn.parse(s, None if s.startswith("+") else p["region"])
                ok = pn.is_valid_number(n)
            except Exception:
                ok = False
    elif t == "name":
        ok = bool(v.strip())
    if not ok:
        errs.append("%s: invalid %s %r" % (rid, t, v))


def check_look(lk, errs, rid, opt):
    c, v = lk["class"], lk.get("decoded", lk["value"])
    ok = True
    if c == "luhn_invalid":
        ok = not luhn(digits(v))
    elif c == "gtin":
        ok = gs1_ok(v) and (not opt.get("ean") or opt["ean"].is_valid(v))
    elif c == "isbn":
        ok = not opt.get("isbn") or opt["isbn"].is_valid(v)
    elif c == "uuid":
        try:
            uuid.UUID(v)
        except ValueError:
            ok = False
    if not ok:
        errs.append("%s: invalid look-alike %s %r" % (rid, c, v))


def optional():
    opt = {}
    try:
        import phonenumbers
        opt["phonenumbers"] = phonenumbers
    except ImportError:
        pass
    try:
        from stdnum import ean, iban, isbn
        from stdnum.us import ssn
        opt.update(iban=iban, ean=ean, isbn=isbn, ssn=ssn)
    except ImportError:
        pass
    try:
        import idna
        opt["idna"] = idna
    except ImportError:
        pass
    return opt


def main():
    opt = optional()
    print("cross-checks:", ", ".join(sorted(opt)) or "none (standard library only)")
    errs = []
    ids = set()
    for split in ("dev", "holdout"):
        n = 0
        for line in open(os.path.join(DATA, split + ".jsonl"), encoding="utf-8"):
            rec = json.loads(line)
            n += 1
            rid, text = rec["id"], rec["text"]
            if rid in ids or not rid.startswith(split + "-"):
                errs.append("%s: duplicate id or wrong split" % rid)
            ids.add(rid)
            if rec["context"] not in CONTEXTS or rec["encoding"] not in ENCODINGS:
                errs.append("%s: unknown context/encoding" % rid)
            if rec["context"] == "json":
                try:
                    json.loads(text)
                except ValueError:
                    errs.append("%s: json context line is not JSON" % rid)
            for item in rec["pii"] + rec["lookalikes"]:
                val, dec = item["value"], item.get("decoded", item["value"])
                if "decoded" in item and dec == val:
                    errs.append("%s: decoded given though equal to value" % rid)
                if text.count(val) != 1:
                    errs.append("%s: %r occurs %d times" % (rid, val, text.count(val)))
                if E.DECODERS[item["encoding"]](val) != dec:
                    errs.append("%s: %r does not decode (%s) to %r" % (rid, val, item["encoding"], dec))
                if dec != val and dec in text:
                    errs.append("%s: decoded form %r also in text" % (rid, dec))
            for p in rec["pii"]:
                if p["type"] not in TYPES:
                    errs.append("%s: unknown type" % rid)
                check_pii(p, errs, rid, opt)
            for lk in rec["lookalikes"]:
                if lk["class"] not in CLASSES:
                    errs.append("%s: unknown class %s" % (rid, lk["class"]))
                check_look(lk, errs, rid, opt)
        print("%s: %d lines checked" % (split, n))
    if errs:
        print("\n".join(errs[:200]))
        sys.exit("%d errors" % len(errs))
    print("ok")


if __name__ == "__main__":
    main()
