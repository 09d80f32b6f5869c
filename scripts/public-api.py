#!/usr/bin/env python3
"""The crate's public API as sorted text lines, from rustdoc's JSON output.

    python3 scripts/public-api.py            # prints the API (all features)
    python3 scripts/public-api.py --check    # compares with docs/public-api.txt (exit 1 if it differs)
    python3 scripts/public-api.py --update   # rewrites docs/public-api.txt

What `cargo semver-checks` would need a published baseline for: every public path (modules,
re-exports), struct fields, enum variants, function and method signatures, trait items,
constants, and the trait implementations of public types (auto traits and blanket impls
left out). Types are named by their last path segment, so moving an item between private
modules changes nothing; renaming or removing a public path, or changing a signature,
does. A change to the snapshot is an API change: it needs a CHANGELOG.md entry (breaking
ones under "Changed"/"Removed" with the migration).

The JSON comes from `cargo rustdoc --lib --all-features -- -Z unstable-options
--output-format json` with RUSTC_BOOTSTRAP=1 on the stable toolchain; the script reads
only fields that have been stable across format versions 3x-5x.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAPSHOT = os.path.join(ROOT, "docs", "public-api.txt")


def build_json():
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    subprocess.run(
        ["cargo", "rustdoc", "--quiet", "--lib", "--all-features", "--",
         "-Z", "unstable-options", "--output-format", "json"],
        cwd=ROOT, env=env, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    with open(os.path.join(target, "doc", "spid_sp.json")) as f:
        return json.load(f)


class Api:
    def __init__(self, doc):
        self.index = doc["index"]
        self.root = doc["root"]
        self.lines = set()

    # ---- types ----
    def ty(self, t):
        if t is None:
            return "()"
        (kind, v), = t.items()
        if kind == "resolved_path":
            name = v.get("path") or v.get("name") or "?"
            return name.split("::")[-1] + self.args(v.get("args"))
        if kind == "primitive":
            return v
        if kind == "generic":
            return v
        if kind == "tuple":
            return "(" + ", ".join(self.ty(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        if kind == "slice":
            return "[" + self.ty(v) + "]"
        if kind == "array":
            return "[" + self.ty(v["type"]) + "; " + str(v["len"]) + "]"
        if kind == "borrowed_ref":
            lt = (v.get("lifetime") or "") + " " if v.get("lifetime") else ""
            return "&" + lt + ("mut " if v.get("is_mutable") else "") + self.ty(v["type"])
        if kind == "raw_pointer":
            return "*" + ("mut " if v.get("is_mutable") else "const ") + self.ty(v["type"])
        if kind == "impl_trait":
            return "impl " + " + ".join(self.bound(b) for b in v)
        if kind == "dyn_trait":
            parts = [self.poly(p) for p in v.get("traits", [])]
            if v.get("lifetime"):
                parts.append(v["lifetime"])
            return "dyn " + " + ".join(parts)
        if kind == "qualified_path":
            tr = self.ty({"resolved_path": v["trait"]}) if v.get("trait") else "?"
            return "<" + self.ty(v["self_type"]) + " as " + tr + ">::" + v["name"]
        if kind == "function_pointer":
            sig = v.get("sig") or v.get("decl")
            return "fn(" + ", ".join(self.ty(i[1]) for i in sig["inputs"]) + ")" + self.ret(sig.get("output"))
        if kind == "infer":
            return "_"
        return kind

    def args(self, a):
        if not a:
            return ""
        if "angle_bracketed" in a:
            ab = a["angle_bracketed"]
            out = []
            for x in ab.get("args", []):
                (k, val), = x.items() if isinstance(x, dict) else (("lifetime", x),)
                if k == "type":
                    out.append(self.ty(val))
                elif k == "lifetime":
                    out.append(val)
                elif k == "const":
                    out.append(str(val.get("expr", "?")) if isinstance(val, dict) else str(val))
                else:
                    out.append("_")
            for c in ab.get("constraints", ab.get("bindings", [])):
                b = c.get("binding", {})
                if "equality" in b:
                    eq = b["equality"]
                    out.append(c["name"] + " = " + (self.ty(eq["type"]) if "type" in eq else "?"))
                elif "constraint" in b:
                    out.append(c["name"] + ": " + " + ".join(self.bound(x) for x in b["constraint"]))
            return "<" + ", ".join(out) + ">" if out else ""
        if "parenthesized" in a:
            p = a["parenthesized"]
            return "(" + ", ".join(self.ty(x) for x in p["inputs"]) + ")" + self.ret(p.get("output"))
        return ""

    def ret(self, out):
        return "" if out is None else " -> " + self.ty(out)

    def poly(self, p):
        return self.ty({"resolved_path": p["trait"]})

    def bound(self, b):
        if "trait_bound" in b:
            tb = b["trait_bound"]
            mod = {"maybe": "?", "maybe_const": "~const "}.get(tb.get("modifier"), "")
            return mod + self.ty({"resolved_path": tb["trait"]})
        if "outlives" in b:
            return b["outlives"]
        return "use<..>"

    def generics(self, g):
        if not g:
            return "", ""
        params = []
        for p in g.get("params", []):
            kind = p["kind"]
            if "lifetime" in kind:
                if p["name"].startswith("'_") or kind["lifetime"].get("outlives") is None and p["name"] == "'_":
                    continue
                params.append(p["name"])
            elif "type" in kind:
                if kind["type"].get("is_synthetic"):
                    continue
                bounds = kind["type"].get("bounds", [])
                params.append(p["name"] + (": " + " + ".join(self.bound(b) for b in bounds) if bounds else ""))
            elif "const" in kind:
                params.append("const " + p["name"] + ": " + self.ty(kind["const"]["type"]))
        wheres = []
        for w in g.get("where_predicates", []):
            if "bound_predicate" in w:
                bp = w["bound_predicate"]
                wheres.append(self.ty(bp["type"]) + ": " + " + ".join(self.bound(b) for b in bp["bounds"]))
        return ("<" + ", ".join(params) + ">" if params else ""), (" where " + ", ".join(wheres) if wheres else "")

    def fn_sig(self, name, f):
        h = f.get("header", {})
        pre = ("const " if h.get("is_const") else "") + ("async " if h.get("is_async") else "") + \
              ("unsafe " if h.get("is_unsafe") else "")
        gp, wh = self.generics(f.get("generics"))
        sig = f.get("sig") or f.get("decl")
        inputs = []
        for n, t in sig["inputs"]:
            if n == "self":
                inputs.append(self.ty(t).replace("Self", "self") if t != {"generic": "Self"} else "self")
            else:
                inputs.append(n + ": " + self.ty(t))
        return pre + "fn " + name + gp + "(" + ", ".join(inputs) + ")" + self.ret(sig.get("output")) + wh

    # ---- items ----
    def emit(self, line):
        self.lines.add(line)

    def visit(self, item_id, path, seen):
        item = self.index.get(str(item_id))
        if item is None:
            return
        key = (str(item_id), path)
        if key in seen:
            return
        seen.add(key)
        (kind, inner), = item["inner"].items()
        name = path.split("::")[-1]
        if kind == "module":
            self.emit("pub mod " + path)
            for child in inner["items"]:
                c = self.index.get(str(child))
                if c is None or c.get("visibility") != "public":
                    continue
                (ck, ci), = c["inner"].items()
                if ck == "use":
                    self.visit_use(ci, path, seen)
                elif c.get("name"):
                    self.visit(child, path + "::" + c["name"], seen)
        elif kind == "struct":
            gp, wh = self.generics(inner.get("generics"))
            self.emit("pub struct " + path + gp + wh)
            k = inner.get("kind", {})
            fields = []
            if isinstance(k, dict):
                if "plain" in k:
                    fields = k["plain"].get("fields", [])
                    if k["plain"].get("has_stripped_fields"):
                        self.emit("pub struct " + path + " { .. private fields }")
                elif "tuple" in k:
                    for i, f in enumerate(k["tuple"]):
                        if f is not None:
                            fi = self.index[str(f)]
                            self.emit("pub field " + path + "::" + str(i) + ": " + self.ty(fi["inner"]["struct_field"]))
            for f in fields:
                fi = self.index[str(f)]
                self.emit("pub field " + path + "::" + fi["name"] + ": " + self.ty(fi["inner"]["struct_field"]))
            self.impls(inner.get("impls", []), path)
        elif kind == "enum":
            gp, wh = self.generics(inner.get("generics"))
            self.emit("pub enum " + path + gp + wh)
            if inner.get("has_stripped_variants"):
                self.emit("pub enum " + path + " { .. hidden variants }")
            for v in inner.get("variants", []):
                vi = self.index[str(v)]
                vk = vi["inner"]["variant"]["kind"]
                shape = ""
                if isinstance(vk, dict) and "tuple" in vk:
                    shape = "(" + ", ".join(self.ty(self.index[str(f)]["inner"]["struct_field"]) if f is not None else "_"
                                            for f in vk["tuple"]) + ")"
                elif isinstance(vk, dict) and "struct" in vk:
                    shape = " { " + ", ".join(self.index[str(f)]["name"] + ": " + self.ty(self.index[str(f)]["inner"]["struct_field"])
                                              for f in vk["struct"]["fields"]) + " }"
                self.emit("pub variant " + path + "::" + vi["name"] + shape)
            self.impls(inner.get("impls", []), path)
        elif kind == "function":
            self.emit("pub " + self.fn_sig(path, inner))
        elif kind == "trait":
            gp, wh = self.generics(inner.get("generics"))
            bounds = inner.get("bounds", [])
            self.emit("pub trait " + path + gp + (": " + " + ".join(self.bound(b) for b in bounds) if bounds else "") + wh)
            for t in inner.get("items", []):
                ti = self.index.get(str(t))
                if ti is None:
                    continue
                (tk, tin), = ti["inner"].items()
                if tk == "function":
                    self.emit("pub trait-fn " + self.fn_sig(path + "::" + ti["name"], tin)
                              + (" (provided)" if tin.get("has_body") else ""))
                else:
                    self.emit("pub trait-" + tk + " " + path + "::" + ti["name"])
        elif kind == "constant":
            c = inner.get("const", inner)
            self.emit("pub const " + path + ": " + self.ty(inner.get("type")) + " = " + str(c.get("expr", "")))
        elif kind == "static":
            self.emit("pub static " + path + ": " + self.ty(inner.get("type")))
        elif kind == "type_alias":
            gp, _ = self.generics(inner.get("generics"))
            self.emit("pub type " + path + gp + " = " + self.ty(inner.get("type")))
        elif kind == "macro":
            self.emit("pub macro " + path)
        else:
            self.emit("pub " + kind + " " + path)

    def visit_use(self, u, parent, seen):
        target = u.get("id")
        if u.get("is_glob"):
            t = self.index.get(str(target)) if target is not None else None
            if t and "module" in t["inner"]:
                for child in t["inner"]["module"]["items"]:
                    c = self.index.get(str(child))
                    if c and c.get("visibility") == "public" and c.get("name"):
                        self.visit(child, parent + "::" + c["name"], seen)
            else:
                self.emit("pub use " + parent + "::* = " + u["source"] + "::*")
            return
        path = parent + "::" + u["name"]
        if target is not None and str(target) in self.index:
            self.visit(target, path, seen)
        else:
            self.emit("pub use " + path + " = " + u["source"])

    def impls(self, ids, path):
        for i in ids:
            it = self.index.get(str(i))
            if it is None:
                continue
            imp = it["inner"]["impl"]
            if imp.get("is_synthetic") or imp.get("blanket_impl") is not None:
                continue
            gp, wh = self.generics(imp.get("generics"))
            if imp.get("trait") is not None:
                neg = "!" if imp.get("is_negative") else ""
                self.emit("impl" + gp + " " + neg + self.ty({"resolved_path": imp["trait"]}) + " for " + self.ty(imp["for"]) + wh)
                continue
            for m in imp.get("items", []):
                mi = self.index.get(str(m))
                if mi is None or mi.get("visibility") != "public":
                    continue
                (mk, minn), = mi["inner"].items()
                if mk == "function":
                    self.emit("pub " + self.fn_sig(path + "::" + mi["name"], minn))
                elif mk == "assoc_const":
                    self.emit("pub const " + path + "::" + mi["name"] + ": " + self.ty(minn.get("type")))
                else:
                    self.emit("pub " + mk + " " + path + "::" + mi["name"])


def main():
    doc = build_json()
    api = Api(doc)
    root = doc["index"][str(doc["root"])]
    api.visit(doc["root"], root["name"], set())
    text = "".join(line + "\n" for line in sorted(api.lines))
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "--update":
        with open(SNAPSHOT, "w") as f:
            f.write(text)
        print("public-api: wrote %s (%d lines)" % (os.path.relpath(SNAPSHOT, ROOT), len(api.lines)))
    elif mode == "--check":
        try:
            with open(SNAPSHOT) as f:
                old = f.read()
        except FileNotFoundError:
            old = ""
        if old == text:
            print("public-api: unchanged (%d lines)" % len(api.lines))
            return 0
        import difflib
        sys.stdout.writelines(difflib.unified_diff(
            old.splitlines(True), text.splitlines(True), "docs/public-api.txt", "current API"))
        print("public-api: the public API changed. If intended: python3 scripts/public-api.py --update,"
              " and add a CHANGELOG.md entry (breaking changes with their migration).")
        return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
