"""Reading rendered pages back in tests (stdlib html.parser: what a browser would build, minus scripts)."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.text_parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.text_parts + [c.text for c in self.children])

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        out = []
        for c in self.children:
            if (tag is None or c.tag == tag) and (cls is None or cls in c.classes()):
                out.append(c)
            out += c.find_all(tag, cls)
        return out


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        el = Element(tag, dict(attrs), self.cur)
        self.cur.children.append(el)
        if tag not in VOID:
            self.cur = el

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Element(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        node = self.cur
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.cur = node.parent

    def handle_data(self, data):
        self.cur.text_parts.append(data)


def parse(path: str | Path) -> Element:
    b = _Builder()
    b.feed(Path(path).read_text(encoding="utf-8"))
    b.close()
    return b.root


def table_models(page: str | Path) -> list[str]:
    """Model names of the leaderboard table's rows, in page order."""
    root = parse(page)
    table = next(t for t in root.find_all("table") if "lb" in t.classes())
    body = table.find_all("tbody")[0]
    return [row.find_all("td", "model")[0].find_all("a")[0].text for row in body.find_all("tr")]


def row_cells(page: str | Path, model: str) -> dict[str, str]:
    """One row of the leaderboard table as {column name: displayed text} (metric columns by name)."""
    root = parse(page)
    table = next(t for t in root.find_all("table") if "lb" in t.classes())
    heads = table.find_all("thead")[0].find_all("th")
    names = [h.attrs["data-col"] for h in heads]
    for row in table.find_all("tbody")[0].find_all("tr"):
        cells = [c for c in row.children if c.tag == "td"]
        if cells[1].find_all("a")[0].text == model:
            return {n: c.text.strip() for n, c in zip(names, cells, strict=True)} | {
                f"sort:{n}": c.attrs.get("data-sort") for n, c in zip(names, cells, strict=True)}
    raise KeyError(model)


def track_file(track: str, suffix: str = ".html") -> str:
    """A track's page (or download, by suffix) in a rendered site."""
    from benchbed.leaderboard.views import track_page

    return track_page(track)[: -len(".html")] + suffix


def model_file(model: str, suffix: str = ".html") -> str:
    from benchbed.leaderboard.views import model_page

    return model_page(model)[: -len(".html")] + suffix
