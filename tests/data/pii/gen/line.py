"""A line under construction: a list of parts, some of them labeled.

Parts are encoded as they are appended (the encoders in encode.py work
character by character), so a labeled part's text is exactly what appears in
the final line, and its `decoded` is the plain value it was made from.
"""

import encode as E


class P:
    """A PII value to place (JSON builder marker)."""

    def __init__(self, ptype, plain, attrs=None, number=False):
        self.ptype, self.plain, self.attrs, self.number = ptype, plain, dict(attrs or {}), number


class K:
    """A look-alike to place (JSON builder marker)."""

    def __init__(self, cls, plain, attrs=None, cue="", number=False):
        self.cls, self.plain, self.attrs, self.cue, self.number = cls, plain, dict(attrs or {}), cue, number


class Sub:
    """A nested piece of text built separately (JSON builder marker): its
    parts are placed inside a JSON string, escaped once more."""

    def __init__(self, line):
        self.line = line


class Line:
    def __init__(self, context, mode, template, json_style=None):
        self.context, self.mode, self.template = context, mode, template
        self.json_style = json_style
        self.parts = []  # [text, label or None]

    # -- encoding by slot --------------------------------------------------
    def enc(self, s, slot):
        m = self.mode
        if slot == "raw_plain":
            return s
        if slot == "fbody":
            return E.form(s)
        if slot == "json":
            return E.json_string(s, self.json_style if m == "json" else None)
        if slot in ("q", "path", "frag"):
            if m == "plain":
                return E.whatwg(s, {"q": "query", "path": "path", "frag": "fragment"}[slot])
            if m == "percent":
                return E.uri_component(s)
            if m == "percent2":
                return E.uri_component(E.uri_component(s))
            if m == "form":
                return E.form(s) if slot != "path" else E.uri_component(s)
            return E.uri_component(s)
        if slot == "raw":
            if m == "plain":
                return s
            if m == "percent":
                return E.uri_component(s)
            if m == "percent2":
                return E.uri_component(E.uri_component(s))
            if m == "form":
                return E.form(s)
            if m == "json":
                return E.json_string(s, self.json_style)
        raise ValueError((slot, m))

    # -- appending -----------------------------------------------------------
    def lit(self, s):
        """Literal text, already in its final form."""
        if s:
            self.parts.append([s, None])
        return self

    def val(self, s, slot):
        """An unlabeled value, encoded for its slot."""
        return self.lit(self.enc(s, slot))

    def pii(self, ptype, plain, attrs, slot):
        self.parts.append([self.enc(plain, slot), {"pii": ptype, "decoded": plain, "attrs": dict(attrs)}])
        return self

    def look(self, cls, plain, attrs, slot, cue=""):
        self.parts.append([self.enc(plain, slot), {"look": cls, "decoded": plain, "attrs": dict(attrs), "cue": cue}])
        return self

    def put(self, item, slot):
        """A P, K or plain string."""
        if isinstance(item, P):
            return self.pii(item.ptype, item.plain, item.attrs, slot)
        if isinstance(item, K):
            return self.look(item.cls, item.plain, item.attrs, slot, item.cue)
        return self.val(item, slot)

    def nest(self, other, fn):
        """Append another line's parts, each passed through `fn` (an encoder
        applied on top of the encoding they already have)."""
        for text, label in other.parts:
            self.parts.append([fn(text), label])
        return self

    def mark(self):
        return len(self.parts)

    def wrap_from(self, mark, fn):
        for p in self.parts[mark:]:
            p[0] = fn(p[0])
        return self

    # -- JSON -----------------------------------------------------------------
    def json(self, obj, sep=(",", ":")):
        """Serialize obj (dict/list/str/number/bool/None/P/K/Sub) as JSON text."""
        if isinstance(obj, dict):
            self.lit("{")
            for i, (k, v) in enumerate(obj.items()):
                if i:
                    self.lit(sep[0])
                self.lit('"' + self.enc(k, "json") + '"' + sep[1])
                self.json(v, sep)
            self.lit("}")
        elif isinstance(obj, list):
            self.lit("[")
            for i, v in enumerate(obj):
                if i:
                    self.lit(sep[0])
                self.json(v, sep)
            self.lit("]")
        elif isinstance(obj, (P, K)):
            if obj.number:
                self.put(obj, "raw_plain")
            else:
                self.lit('"')
                self.put(obj, "json")
                self.lit('"')
        elif isinstance(obj, Sub):
            style = self.json_style if self.mode == "json" else None
            self.lit('"')
            self.nest(obj.line, lambda s: E.json_string(s, style))
            self.lit('"')
        elif isinstance(obj, bool):
            self.lit("true" if obj else "false")
        elif obj is None:
            self.lit("null")
        elif isinstance(obj, (int, float)):
            self.lit(repr(obj) if isinstance(obj, float) else str(obj))
        elif isinstance(obj, str):
            self.lit('"' + self.enc(obj, "json") + '"')
        else:
            raise TypeError(type(obj))
        return self

    # -- result ---------------------------------------------------------------
    def text(self):
        return "".join(p[0] for p in self.parts)

    def labels(self):
        out = []
        pos = 0
        for text, label in self.parts:
            if label is not None:
                out.append((pos, pos + len(text), text, label))
            pos += len(text)
        return out
