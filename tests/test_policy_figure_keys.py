"""Every number in a policy pack is either a figure `make policy-mutations` changes or a key it names as
not a figure (issue 18): a new figure key can never again be skipped silently."""
import yaml

from poverty_warning.policy import PACK_DIR, available

from .policy_mutations import FIGURE_KEYS, NON_FIGURE_KEYS, figures


def numeric_keys(node, path=""):
    """(path, key) of every number in a pack, outside a choice's range (as `figures` walks it)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "choice":
                continue
            here = f"{path}.{key}" if path else key
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield here, key
            else:
                yield from numeric_keys(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from numeric_keys(value, f"{path}[{i}]")


def test_every_numeric_key_is_a_figure_or_named_as_not_one():
    unlisted = [f"{pid}: {path}" for pid in available()
                for path, key in numeric_keys(yaml.safe_load((PACK_DIR / f"{pid}.yaml").read_text(encoding="utf-8")))
                if key not in FIGURE_KEYS and key not in NON_FIGURE_KEYS]
    assert not unlisted, "numbers policy_mutations neither changes nor names as non-figures:\n" + "\n".join(unlisted)


def test_the_two_lists_do_not_overlap():
    assert not set(FIGURE_KEYS) & set(NON_FIGURE_KEYS)


def test_the_new_figure_keys_are_found():
    """The keys issue 18 found skipped: children's disease ages, fund targets and the line year."""
    found = {(pid, f.key) for pid in available()
             for f in figures(pid, yaml.safe_load((PACK_DIR / f"{pid}.yaml").read_text(encoding="utf-8")))}
    for expected in (("wuhai-2020", "max_age"), ("wuhai-2020", "minimum"), ("wuhai-2020", "maximum"),
                     ("zhoushan-2019", "minimum"), ("wuhai-2020", "line_year_offset"),
                     ("shanghai-2022", "line_year_offset")):
        assert expected in found, expected
