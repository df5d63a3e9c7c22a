"""The messages of the web view (every ``_()``/``gettext`` in the templates and every
``gettext``/``N_`` in ``api/web/*.py``) and the upkeep of the ``.po`` catalogs.

After adding or changing a message, ``python -m api.web.catalogs`` adds it to both catalogs
(English filled in with the message itself; Korean left empty for a translator) and drops
messages no longer used; ``tests/web/test_language.py`` fails while a Korean entry is empty.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_python
from babel.messages.pofile import write_po
from jinja2.ext import babel_extract

from api.web.rendering import TEMPLATES
from api.web.translations import DOMAIN, LANGUAGES, po_path, read_catalog

PYTHON = Path(__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}

Message = str | tuple[str, str]
"""A message id, or (singular, plural)."""


def _ids(function: str, found: object) -> Iterator[Message]:
    """The message of one call: ``ngettext`` gives (singular, plural), the others their first
    argument (keyword values that follow are not messages)."""
    if isinstance(found, str):
        yield found
    elif isinstance(found, tuple) and function == "ngettext":
        if len(found) >= 2 and isinstance(found[0], str) and isinstance(found[1], str):
            yield (found[0], found[1])
    elif isinstance(found, tuple) and found and isinstance(found[0], str):
        yield found[0]


def messages() -> dict[Message, list[str]]:
    """Every message id in use, with where it is used."""
    found: dict[Message, list[str]] = {}
    for template in sorted(TEMPLATES.glob("*.html")):
        with template.open("rb") as file:
            for line, function, text, _ in babel_extract(file, list(KEYWORDS), [], JINJA_OPTIONS):
                for message in _ids(function, text):
                    found.setdefault(message, []).append(f"templates/{template.name}:{line}")
    for module in sorted(PYTHON.glob("*.py")):
        if module.name == "catalogs.py":
            continue
        with module.open("rb") as file:
            for number, name, python_text, _ in extract_python(file, KEYWORDS, [], {}):
                for message in _ids(str(name), python_text):
                    found.setdefault(message, []).append(f"{module.name}:{number}")
    return found


def update() -> dict[str, list[str]]:
    """Bring both catalogs up to the messages in use; the untranslated ids per language."""
    used = messages()
    missing: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        path = po_path(lang)
        old = read_catalog(lang) if path.exists() else Catalog(locale=lang, domain=DOMAIN)
        new = Catalog(locale=lang, domain=DOMAIN, project="allot", fuzzy=False)
        for message, places in sorted(used.items(), key=lambda item: str(item[0])):
            key = message if isinstance(message, str) else message[0]
            kept = old.get(key)
            string: str | tuple[str, ...]
            if kept is not None and kept.string and any(kept.string):
                string = kept.string if isinstance(kept.string, str) else tuple(kept.string)
            elif lang == "en":
                string = message
            else:
                string = "" if isinstance(message, str) else ("",)
            locations = [
                (place.rsplit(":", 1)[0], int(place.rsplit(":", 1)[1])) for place in places
            ]
            new.add(message, string, locations=locations)
            if not string or not any(string):
                missing.setdefault(lang, []).append(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            write_po(file, new, width=100, sort_output=True, omit_header=False)
    return missing


def main() -> int:
    missing = update()
    for lang, ids in missing.items():
        lines = [f"{lang}: {len(ids)} messages to translate", *(f"  {m}" for m in ids)]
        sys.stderr.write("\n".join(lines) + "\n")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
