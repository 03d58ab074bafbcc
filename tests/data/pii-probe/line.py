"""One labeled line under construction: values are encoded as they are
put in, and labeled with what the README of tests/data/pii/ asks for."""
import json

import encode

MARK = "\u2063{%d}\u2063"  # invisible separator: never in our values


class Line:
    def __init__(self, context, template, encoding="plain"):
        self.context, self.template, self.encoding = context, template, encoding
        self.pii, self.look = [], []

    def enc(self, raw, enc=None):
        return encode.ENCODERS[enc or self.encoding_fn](raw)

    @property
    def encoding_fn(self):
        return {"plain": "plain", "percent": "percent", "form": "form", "percent2": "percent2",
                "json": "json_php", "browser": "browser"}.get(self.encoding, self.encoding)

    def pii_(self, typ, raw, enc=None, key=None, **attrs):
        v = encode.ENCODERS[enc or self.encoding_fn](raw)
        self.pii.append(dict(type=typ, value=v, raw=raw, key=key, **attrs))
        return v

    def look_(self, cls, raw, cue, looks_like=(), enc=None):
        v = encode.ENCODERS[enc or self.encoding_fn](raw)
        self.look.append(dict(**{"class": cls}, value=v, raw=raw, cue=cue, looks_like=list(looks_like)))
        return v

    def finish(self, text):
        """The JSONL record; raises when a label is not exactly once in the
        text or its decoded form is in it too."""
        pii, look = [], []
        for p in self.pii:
            pii.append(self._label(text, p, ("type", "value")))
        for l in self.look:
            look.append(self._label(text, l, ("class", "value")))
        enc = {"browser": "percent", "json_php": "json", "json_dotnet": "json", "json_at": "json",
               "json_plain": "plain"}.get(self.encoding, self.encoding)
        return dict(context=self.context, template=self.template, encoding=enc, text=text,
                    pii=pii, lookalikes=look)

    @staticmethod
    def _label(text, item, first):
        v, raw = item["value"], item["raw"]
        if text.count(v) != 1:
            raise ValueError("label %r occurs %d times" % (v, text.count(v)))
        out = {k: item[k] for k in first}
        e = encode.classify(v, raw)
        out["encoding"] = e
        if raw != v:
            if raw in text:
                raise ValueError("decoded %r also in text" % raw)
            out["decoded"] = raw
        for k, val in item.items():
            if k not in ("value", "raw") + first and val not in (None, "", []):
                out[k] = val
        if "looks_like" in item:
            out["looks_like"] = item["looks_like"]
        return out


def dumps(record):
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
