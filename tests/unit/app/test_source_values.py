"""A bound variable's value from the rows a source gave: filtered by ``where``, the
chosen row or every row, typed by the variable; errors name the source, the field and
what to do, never the value."""

from __future__ import annotations

import pytest

from workbench.app.source_read import Rows
from workbench.app.source_resolve import typed_value
from workbench.core.errors import SourceError
from workbench.core.models import Binding, Variable

ROWS = Rows(
    ["id", "region", "vip", "limit", "tags"],
    [
        {"id": "1", "region": "eu", "vip": "yes", "limit": "10", "tags": '["a"]'},
        {"id": "2", "region": "us", "vip": "no", "limit": "2.5", "tags": None},
        {"id": "3", "region": "eu", "vip": "no", "limit": "x-secret-7", "tags": "[]"},
    ],
)


def test_rows_are_filtered_chosen_and_typed() -> None:
    eu = {"region": "region"}
    vip = Variable(name="vip", type="boolean")
    assert typed_value(vip, Binding(source="s", field="vip", where=eu), ROWS, {"region": "eu"})
    second = Binding(source="s", field="vip", where=eu, row=2)
    assert typed_value(vip, second, ROWS, {"region": "eu"}) is False
    limit = Variable(name="limit", type="number")
    assert typed_value(limit, Binding(source="s", field="limit", where={"id": "cid"}), ROWS,
                       {"cid": 2}) == 2.5  # fmt: skip
    everyone = Variable(name="ids", type="json")
    assert typed_value(everyone, Binding(source="s", field="id", row="all"), ROWS, {}) == [
        "1", "2", "3"
    ]  # fmt: skip
    tags = Variable(name="tags", type="json")
    assert typed_value(tags, Binding(source="s", field="tags"), ROWS, {}) == ["a"]


def test_what_cannot_be_given_is_said_without_the_value() -> None:
    limit = Variable(name="limit", type="integer", sensitivity="sensitive")
    with pytest.raises(SourceError, match="field 'limit' is not of type integer") as caught:
        typed_value(limit, Binding(source="s", field="limit", where={"id": "cid"}), ROWS,
                    {"cid": "3"})  # fmt: skip
    assert "x-secret-7" not in str(caught.value)
    with pytest.raises(SourceError, match="gave 0 matching rows; variable 'limit' takes row 1"):
        typed_value(limit, Binding(source="s", field="limit", where={"id": "cid"}), ROWS,
                    {"cid": "9"})  # fmt: skip
    with pytest.raises(SourceError, match="no column 'plan'"):
        typed_value(limit, Binding(source="s", field="plan"), ROWS, {})
    with pytest.raises(SourceError, match="no column 'country' to match 'c' on"):
        typed_value(limit, Binding(source="s", field="limit", where={"country": "c"}), ROWS, {})
    text = Variable(name="tags", type="string")
    with pytest.raises(SourceError, match="field 'tags' is empty in row 2"):
        typed_value(text, Binding(source="s", field="tags", row=2), ROWS, {})
    with pytest.raises(ValueError, match="row counts from 1"):
        Binding(source="s", field="x", row=0)
