"""User-facing texts: one catalog per language, picked from Telegram's language_code."""

from collections.abc import Container

from bot.conversation.texts.catalog import Catalog
from bot.conversation.texts.en import ENGLISH
from bot.conversation.texts.pt import PORTUGUESE

__all__ = [
    "CATALOGS",
    "ENGLISH",
    "PORTUGUESE",
    "Catalog",
    "catalog_for",
    "instance_label",
    "language_of",
    "marked",
]

CATALOGS: dict[str, Catalog] = {"en": ENGLISH, "pt": PORTUGUESE}


def language_of(language_code: str | None) -> str:
    """`pt`, `pt-BR`, `pt-br` → "pt"; anything else (or nothing) → "en"."""
    return "pt" if (language_code or "").lower().startswith("pt") else "en"


def catalog_for(language: str | None) -> Catalog:
    return CATALOGS.get(language_of(language), ENGLISH)


def instance_label(texts: Catalog, name: str, sandboxes: Container[str]) -> str:
    """An instance's name as shown: a sandbox's with its mark."""
    return texts.sandbox.instance.format(instance=name) if name in sandboxes else name


def marked(texts: Catalog, text: str, instance: str | None, sandboxes: Container[str]) -> str:
    """`text` about a flow on `instance`: opened by the sandbox's mark when it is one."""
    return f"{texts.sandbox.mark} · {text}" if instance in sandboxes else text
