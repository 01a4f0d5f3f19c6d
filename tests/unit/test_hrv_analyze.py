"""``attune analyze``: formats, the summary it prints, and clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attune.cli import build_parser
from attune.hrv.artefacts import screen_centred
from attune.hrv.series import parse_rr_text, series_from_beats, series_from_rr
from attune.hrv.summary import segment_summaries, summarize
from attune.sensor.timeline import Gap, GapCause
from tests.conftest import DATA, load_rr_ms
from tests.unit.hrv_support import beats_from

SHORT = DATA / "rr" / "pyhrv_nsrdb_short_5min_ms.txt"
LONG = DATA / "rr" / "pyhrv_nsrdb_long_60min_ms.txt"
REFERENCE = json.loads((DATA / "rr" / "reference_values.json").read_text())["series"]
UNITS = ("_ms", "_bpm", "_pct", "_ms2", "_hz", "_s")


def main(argv: list[str]) -> int:
    """The command without ``attune.cli.main``'s logging setup, which would bind structlog to
    pytest's captured stderr for the rest of the session."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


def analyze(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["analyze", *args])
    out, err = capsys.readouterr()
    return code, out, err


def analyze_json(capsys, *args: str) -> dict:
    code, out, err = analyze(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_json_has_snake_case_keys_with_units(capsys) -> None:
    result = analyze_json(capsys, str(SHORT))
    for key in (
        "rmssd_ms", "sdnn_ms", "pnn50_pct", "lf_ms2", "hf_ms2", "lf_hf", "dfa_alpha1",
        "sd1_ms", "sd2_ms", "mean_hr_bpm", "n_beats", "n_artefacts",
    ):  # fmt: skip
        assert key in result
    unitless = {"file", "screened", "lf_hf", "lf_nu", "hf_nu", "ln_rmssd", "ln_hf", "nn50"}
    for key in result:
        assert key == key.lower()
        assert key.startswith("n_") or key.endswith(UNITS) or key in unitless | {
            "dfa_alpha1", "stress_index",
        }  # fmt: skip
    assert result["n_beats"] == 337
    # Screened offline with the centred form (which agrees with NeuroKit2's, test_hrv_artefacts).
    flags = screen_centred(load_rr_ms(SHORT.name))
    assert result["n_artefacts"] == sum(f is not None for f in flags) > 0


def test_unscreened_values_equal_the_reference_libraries(capsys) -> None:
    result = analyze_json(capsys, str(SHORT), "--no-screen")
    ref = REFERENCE["pyhrv_short"]
    assert result["n_artefacts"] == 0
    assert result["rmssd_ms"] == pytest.approx(ref["neurokit2"]["time.HRV_RMSSD"], rel=1e-9)
    assert result["sdnn_ms"] == pytest.approx(ref["neurokit2"]["time.HRV_SDNN"], rel=1e-9)
    assert result["mean_hr_bpm"] == pytest.approx(ref["hrvanalysis"]["time.mean_hr"], rel=1e-9)
    assert result["pnn50_pct"] == pytest.approx(ref["hrvanalysis"]["time.pnni_50"], rel=1e-9)
    assert result["sd1_ms"] == pytest.approx(ref["neurokit2"]["nonlinear.HRV_SD1"], rel=1e-9)
    assert result["dfa_alpha1"] == pytest.approx(ref["pyhrv"]["dfa.alpha1_4_16"], abs=1e-6)
    spec = ref["spec_freq_welch_4Hz_cubic_hann_fullwindow"]
    assert result["lf_ms2"] == pytest.approx(spec["LF"], rel=1e-9)
    assert result["hf_ms2"] == pytest.approx(spec["HF"], rel=1e-9)
    assert result["stress_index"] == pytest.approx(ref["baevsky"]["SI"], rel=1e-9)


def test_screened_values_leave_the_flagged_beats_out(capsys) -> None:
    screened = analyze_json(capsys, str(SHORT))
    raw = analyze_json(capsys, str(SHORT), "--no-screen")
    assert screened["n_nn"] == raw["n_nn"] - screened["n_artefacts"]
    assert screened["rmssd_ms"] < raw["rmssd_ms"]  # the flagged beats were long ones
    summary = summarize(series_from_rr(load_rr_ms(SHORT.name)))
    assert screened["rmssd_ms"] == summary.time.rmssd_ms


def test_kubios_two_columns_in_seconds_with_a_header(tmp_path: Path, capsys) -> None:
    rr = load_rr_ms(SHORT.name)
    t = np.cumsum(rr) / 1000
    text = "Time (s)\tRR (s)\n" + "".join(
        f"{a:.4f}\t{b / 1000:.4f}\n" for a, b in zip(t, rr, strict=True)
    )
    path = tmp_path / "kubios.txt"
    path.write_text(text)
    two_columns = analyze_json(capsys, str(path))
    one_column = analyze_json(capsys, str(SHORT))
    assert two_columns["n_beats"] == one_column["n_beats"]
    assert two_columns["rmssd_ms"] == pytest.approx(one_column["rmssd_ms"], rel=1e-9)
    assert two_columns["n_gaps"] == 0


def test_a_time_column_reveals_gaps(tmp_path: Path, capsys) -> None:
    rr = load_rr_ms(SHORT.name)
    t = np.cumsum(rr) / 1000
    t[150:] += 20.0  # 20 s with no beats
    path = tmp_path / "gap.csv"
    path.write_text("".join(f"{a:.4f},{b:.1f}\n" for a, b in zip(t, rr, strict=True)))
    result = analyze_json(capsys, str(path))
    assert result["n_gaps"] == 1
    series = parse_rr_text(path.read_text())
    assert series.gap_before_s[150] == pytest.approx(20.0, abs=1e-3)


def test_segments_cover_the_recording_in_five_minutes(capsys) -> None:
    result = analyze_json(capsys, str(LONG), "--segments")
    segments = result["segments"]
    assert len(segments) == 12
    assert sum(s["n_beats"] for s in segments) == result["n_beats"]
    assert [s["start_s"] for s in segments] == [300.0 * k for k in range(12)]
    assert all(s["lf_ms2"] is not None for s in segments)


def test_the_text_report_names_each_domain(capsys) -> None:
    code, out, _ = analyze(capsys, str(SHORT))
    assert code == 0
    for word in ("artefacts", "time", "frequency", "nonlinear", "RMSSD", "LF/HF", "DFA"):
        assert word in out


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "at least 2 RR intervals"),
        ("RR\n", "at least 2 RR intervals"),
        ("800\n810\nabc\n", "line 3: expected numbers"),
        ("800 1 2\n", "expected one value (RR) or two"),
        ("800\n1.0 810\n", "2 columns where the file started with 1"),
        ("800\n-5\n", "not positive"),
        ("800\nnan\n", "not a finite number"),
        ("1.0 800\n0.5 810\n", "beat times must increase"),
    ],
)
def test_bad_files_get_a_clear_error(tmp_path: Path, capsys, content, reason) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content)
    code, out, err = analyze(capsys, str(path))
    assert code == 2
    assert reason in err
    assert "Traceback" not in err
    assert out == ""


def test_unreadable_files_get_a_clear_error(tmp_path: Path, capsys) -> None:
    binary = tmp_path / "strap.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(65 << 20)  # sparse: costs no disk
    for path, reason in (
        (tmp_path / "missing.txt", "no such file"),
        (tmp_path, "is a directory"),
        (binary, "not a text file"),
        (huge, "more than an RR file can hold"),
    ):
        code, _, err = analyze(capsys, str(path))
        assert code == 2
        assert reason in err
        assert "Traceback" not in err


def test_replay_beats_and_gaps_make_a_series() -> None:
    rr = load_rr_ms(SHORT.name)
    beats = beats_from(rr, gap_before={100})
    start = beats[100].t_s - beats[100].rr_ms / 1000
    series = series_from_beats(beats, [Gap(start - 12.0, start, GapCause.CONTACT_LOST)])
    assert series.gap_before_s[100] == pytest.approx(12.0)
    assert np.count_nonzero(series.after_gap) == 1  # the first beat counts as no gap
    assert segment_summaries(series)[0].n_beats > 0
