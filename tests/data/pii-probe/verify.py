#!/usr/bin/env python3
"""Checks a probe file: the format, every label exactly once in its line,
`decoded` following from `value` by the named chain, and each PII value
valid for its type (Luhn, MOD 97-10, SSA rules, address syntax).

  python3 tests/data/pii-probe/verify.py probe.jsonl
"""
import ipaddress
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encode  # noqa: E402
import values as V  # noqa: E402


def valid(typ, d):
    digits = re.sub(r"\D", "", d)
    if typ == "card":
        return 13 <= len(digits) <= 19 and V.luhn_ok(digits)
    if typ == "iban":
        return V.iban_valid(d)
    if typ == "ssn":
        a, g, s = int(digits[:3]), int(digits[3:5]), int(digits[5:])
        return len(digits) == 9 and 0 < a < 900 and a != 666 and g and s
    if typ == "ip":
        try:
            ipaddress.ip_address(d.split("%")[0])
            return True
        except ValueError:
            return False
    if typ == "email":
        return re.fullmatch(r"[^@\s]+@[\w.-]+\.[A-Za-z]{2,}", d) is not None
    if typ == "phone":
        return 7 <= len(digits) <= 15
    return typ == "name" and d.strip() != "" and not re.search(r"\d", d)


def main(path):
    n, ids = 0, set()
    for raw in open(path, encoding="utf-8"):
        rec = json.loads(raw)
        assert rec["id"] not in ids, rec["id"]
        ids.add(rec["id"])
        text = rec["text"]
        for item in rec["pii"] + rec["lookalikes"]:
            v = item["value"]
            d = item.get("decoded", v)
            assert text.count(v) == 1, (rec["id"], v)
            assert encode.classify(v, d) == item["encoding"], (rec["id"], v, item["encoding"])
            if "decoded" in item:
                assert d != v and d not in text, (rec["id"], d)
            if "type" in item:
                assert valid(item["type"], d), (rec["id"], item["type"], d)
        n += 1
    print("ok: %d lines" % n)


if __name__ == "__main__":
    main(sys.argv[1])
