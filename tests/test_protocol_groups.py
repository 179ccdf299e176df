"""Group pools per attribute, the template subject, and the too-small-pool error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from auditkit.data import load_dataset
from auditkit.data.template import select_template
from auditkit.errors import AuditkitError, DatasetError
from auditkit.protocol.groups import Pool, attribute_labels, build_pools, check_pool_sizes, parse_bins


@pytest.fixture(scope="module")
def ds(audit_dataset: Path):
    return load_dataset(audit_dataset)


def test_parse_bins() -> None:
    assert parse_bins("1-2,3-4,5-6") == [(1, 2, "1-2"), (3, 4, "3-4"), (5, 6, "5-6")]
    assert parse_bins("lighter=1-2, darker=5-6") == [(1, 2, "lighter"), (5, 6, "darker")]
    for bad in ("1-2,x", "4-1", ""):
        with pytest.raises(AuditkitError, match="--bins"):
            parse_bins(bad)
    # overlapping ranges would put types 3-4 in both groups: refused; a shared end point stays allowed
    with pytest.raises(AuditkitError, match="--bins: ranges 1-4 and 3-6 overlap \\(3 to 4 would be in both\\)"):
        parse_bins("1-4,3-6")
    assert parse_bins("1-2,2-3") == [(1, 2, "1-2"), (2, 3, "2-3")]


def test_a_shared_end_point_that_a_subject_holds_is_refused() -> None:
    """1-3,3-6 on the Fitzpatrick scale: a type III subject would sit in 3-6 while the group 1-3 claims type III."""
    subjects = pd.DataFrame({"subject": ["a", "b", "c", "d"], "fitzpatrick": [1, 3, 5, 6]})
    with pytest.raises(DatasetError, match=r"column 'fitzpatrick': --bins ranges 1-3 and 3-6 both hold 3 "
                                           r"\(1 subject\(s\), e.g. 'b'\); make them disjoint \(e.g. 1-2,3-6 or "
                                           r"1-3,4-6\)"):
        attribute_labels(subjects, "fitzpatrick", parse_bins("1-3,3-6"))
    # nobody holds 3: the labels are true to what the groups hold, so the ranges stand
    held = attribute_labels(subjects.drop(index=1), "fitzpatrick", parse_bins("1-3,3-6"))
    assert held.tolist() == ["1-3", "3-6", "3-6"]


def test_an_empty_group_value_is_named_not_printed_as_a_blank(ds) -> None:
    table = ds.subjects.copy()
    table["site"] = "lab"
    table.loc[table.index[3], "site"] = "  "
    with pytest.raises(DatasetError, match=r"subjects.parquet: column 'site': subject '.+' has an empty value"):
        attribute_labels(table, "site", None)
    table.loc[table.index[3], "site"] = None  # missing is allowed: that subject is in no group
    assert attribute_labels(table, "site", None).isna().sum() == 1


def test_fitzpatrick_default_bins_leave_out_middle_types(ds) -> None:
    labels = attribute_labels(ds.subjects, "fitzpatrick", None)
    fitz = ds.subjects["fitzpatrick"]
    assert (labels[fitz <= 2] == "lighter").all() and (labels[fitz >= 5] == "darker").all()
    assert labels[(fitz >= 3) & (fitz <= 4)].isna().all()


def test_categorical_numeric_and_intersection_pools(ds) -> None:
    everyone = list(ds.subjects["subject"])
    gender = build_pools(ds, ["gender"], everyone)
    assert [p.name for p in gender] == ["female", "male"]
    assert sum(len(p.subjects) for p in gender) == len(everyone)
    age = build_pools(ds, ["age"], everyone)
    assert len(age) == 2 and all(p.name.startswith("age") for p in age)
    both = build_pools(ds, ["gender", "fitzpatrick"], everyone, {"fitzpatrick": parse_bins("1-3,4-6")})
    assert {p.name for p in both} <= {"female & 1-3", "female & 4-6", "male & 1-3", "male & 4-6"}
    table = ds.subjects.set_index("subject")
    for p in both:
        g, b = p.name.split(" & ")
        assert all(table.loc[s, "gender"] == g for s in p.subjects)
    assert build_pools(ds, ["person"], everyone) == [Pool("all", tuple(sorted(everyone)))]


def test_unknown_attribute_names_file_and_column(ds) -> None:
    with pytest.raises(
        DatasetError, match=r"subjects.parquet: column 'height': unknown attribute \(usable: person, dataset"
    ):
        build_pools(ds, ["height"], list(ds.subjects["subject"]))


def test_too_small_pool_is_named() -> None:
    with pytest.raises(AuditkitError, match=r"pool 'darker' has 5 subjects but the protocol needs at least 7"):
        check_pool_sizes([Pool("lighter", tuple("abcdefgh")), Pool("darker", tuple("abcde"))], 4, 2)
    check_pool_sizes([Pool("darker", tuple("abcde"))], 2, 2)


def test_template_is_the_most_expressive(ds) -> None:
    template = select_template(ds)
    active = (ds.frames[ds.aus] == 1).sum(axis=1).groupby(ds.frames["subject"]).median()
    assert active[template] == active.max()
    some = list(ds.subjects["subject"][:5])
    assert select_template(ds, some) in some
