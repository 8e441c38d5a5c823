"""Leaderboard export: CSV, JSON entries (with a JSON Schema), Markdown and a static HTML page."""

from __future__ import annotations

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
from .html import Column, Heatmap, Scatter, Table, esc, heatmap_svg, render_page, scatter_svg
from .tables import columns_of, escape_markdown, format_value, to_markdown, write_csv

__all__ = [
    "SCHEMA_VERSION",
    "Column",
    "EntryValidationError",
    "Heatmap",
    "Scatter",
    "Table",
    "build_entries",
    "columns_of",
    "entry_errors",
    "esc",
    "escape_markdown",
    "format_value",
    "heatmap_svg",
    "load_entries",
    "load_schema",
    "plain",
    "render_page",
    "scatter_svg",
    "to_markdown",
    "validate_entries",
    "validate_entry",
    "write_csv",
    "write_json",
]
