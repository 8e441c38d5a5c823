"""The shipped components.json equals what the classes say (``iqa-bench list --presets`` reads it, no import)."""

from iqa_core.registry import shipped_spec, spec_document

FIX = "run python tools/release/gen_component_specs.py"


def test_shipped_components_json_matches_the_classes() -> None:
    shipped = shipped_spec("iqa_metrics")
    assert shipped is not None, f"iqa_metrics/components.json is missing: {FIX}"
    assert shipped == spec_document("iqa-metrics"), f"stale iqa_metrics/components.json: {FIX}"
    assert shipped["components"], "no component of iqa-metrics in its components.json"
