"""Leaderboard export: CSV, JSON entries (with a JSON Schema), Markdown and a static HTML page (Jinja2 template)."""

from __future__ import annotations

from .board import Board, BoardColumn, BoardRow, ExtraColumn, board_view, build_board, entry_slug, interval_of
from .entries import (
    SCHEMA_VERSION,
    EntryValidationError,
    build_entries,
    entry_errors,
    load_entries,
    load_schema,
    plain,
    validate_entries,
    validate_entry,
    write_json,
)
from .html import (
    Column,
    FigureSection,
    Glossary,
    PageFigure,
    Table,
    direction_text,
    esc,
    format_interval,
    render_page,
)
from .tables import columns_of, escape_markdown, format_value, to_markdown, write_csv

__all__ = [
    "SCHEMA_VERSION",
    "Board",
    "BoardColumn",
    "BoardRow",
    "Column",
    "EntryValidationError",
    "ExtraColumn",
    "FigureSection",
    "Glossary",
    "PageFigure",
    "Table",
    "board_view",
    "build_board",
    "build_entries",
    "columns_of",
    "direction_text",
    "entry_errors",
    "entry_slug",
    "esc",
    "escape_markdown",
    "format_interval",
    "format_value",
    "interval_of",
    "load_entries",
    "load_schema",
    "plain",
    "render_page",
    "to_markdown",
    "validate_entries",
    "validate_entry",
    "write_csv",
    "write_json",
]
