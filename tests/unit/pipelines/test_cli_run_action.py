"""run_action: the one try / fail / --summary block every CLI command goes through."""

import json

import pytest
import typer

from pipelines.cli.context import run_action


class Expected(Exception):
    pass


def test_the_result_goes_to_the_summary_through_record(tmp_path):
    out = tmp_path / "nested" / "summary.json"
    result = run_action(lambda: [1, 2], summary=out, record=lambda r: {"n": len(r)})
    assert result == [1, 2]
    assert json.loads(out.read_text()) == {"n": 2}


def test_an_expected_error_ends_with_one_masked_line_and_no_summary(tmp_path, capsys):
    out = tmp_path / "summary.json"

    def boom():
        raise Expected("cannot reach https://alice:s3cret@mlflow.example/api")

    with pytest.raises(typer.Exit) as exc:
        run_action(boom, errors=(Expected,), summary=out)
    assert exc.value.exit_code == 1
    err = capsys.readouterr().err
    assert "https://***@mlflow.example/api" in err and "s3cret" not in err
    assert not out.exists()


def test_an_unexpected_error_is_not_swallowed(tmp_path):
    with pytest.raises(KeyError):
        run_action(lambda: {}["missing"], errors=(Expected,), summary=tmp_path / "s.json")
