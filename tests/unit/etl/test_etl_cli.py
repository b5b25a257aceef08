"""`rankops etl run` input errors: one clear line, exit 1, no traceback, no Spark started."""

from typer.testing import CliRunner

from pipelines.cli import build_app


def test_missing_input_dir_is_one_clear_line(rankops_home, tmp_path):
    result = CliRunner().invoke(build_app(), ["etl", "run", "--input", str(tmp_path / "nope")])
    assert result.exit_code == 1
    text = " ".join(result.output.split())  # rich wraps long lines
    assert text == f"error: input directory {tmp_path / 'nope'} does not exist or is not a directory"


def test_directory_without_raw_files_names_the_problem_files(rankops_home, tmp_path):
    (tmp_path / "raw" / "d1" / "videos").mkdir(parents=True)
    (tmp_path / "raw" / "d1" / "videos" / "part-0.jsonl").write_bytes(b"")
    result = CliRunner().invoke(build_app(), ["etl", "run", "--input", str(tmp_path / "raw")])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "no raw files to ingest" in text
    assert "d1/videos/part-0.jsonl: ignored: empty file (0 bytes)" in text
