"""The shipped components.json equals what the classes say (``iqa-bench list --presets`` reads it, no import)."""

from iqa_core.registry import shipped_spec, spec_document

FIX = "run python tools/release/gen_component_specs.py"


def test_shipped_components_json_matches_the_classes() -> None:
    shipped = shipped_spec("iqa_attacks")
    assert shipped is not None, f"iqa_attacks/components.json is missing: {FIX}"
    assert shipped == spec_document("iqa-attacks"), f"stale iqa_attacks/components.json: {FIX}"
    assert shipped["components"], "no component of iqa-attacks in its components.json"
