"""Third-party predictions: OpenFace 2.0 / py-feat / generic readers, the test-only audit, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit.classifiers.prediction_files import KEYS, detect_format, read_openface, read_predictions
from auditkit.data import load_dataset
from auditkit.errors import AuditkitError
from auditkit.protocol.predictions_audit import audit_predictions
from auditkit.report.render import build_report
from tests.helpers import AUS12, probabilities, run_cli, write_generic, write_openface


@pytest.mark.slow
def test_openface_reader(audit_dataset: Path, tmp_path: Path) -> None:
    ds = load_dataset(audit_dataset)
    root = write_openface(ds, tmp_path / "openface")
    first = sorted(root.rglob("*.csv"))[0]
    assert detect_format(first) == "openface"
    table, dropped = read_openface(first, root)
    assert dropped == 1 and table["subject"].iloc[0] == first.parent.name and table["sequence"].iloc[0] == first.stem
    assert {"AU01", "AU24"} <= set(table.columns) and set(table["AU12"].unique()) <= {0.0, 1.0}
    preds, counts = read_predictions(root)
    assert (
        counts["formats"] == ["openface"]
        and counts["dropped_no_face"] == ds.frames.groupby(["subject", "sequence"]).ngroups
    )


@pytest.mark.slow
def test_openface_folder_per_person_layout_reads_like_the_flat_one(audit_dataset: Path, tmp_path: Path) -> None:
    """PRED/<subject>/<subject>_<seq>.csv names the same frames as PRED/<subject>/<seq>.csv; a layout that names none
    of the dataset's frames is refused with what was expected and what was found."""
    from auditkit.classifiers.prediction_files import join_predictions

    ds = load_dataset(audit_dataset)
    flat, _ = read_predictions(write_openface(ds, tmp_path / "flat"))
    nested, _ = read_predictions(write_openface(ds, tmp_path / "nested", nested=True))
    pd.testing.assert_frame_equal(nested.sort_values(KEYS).reset_index(drop=True),
                                  flat.sort_values(KEYS).reset_index(drop=True))
    _, _, counts = join_predictions(ds.frames, nested, AUS12, formats=["openface"])
    assert counts["matched_frames"] == len(nested)
    renamed = nested.assign(sequence="clip-" + nested["sequence"])
    first = ds.frames.iloc[0]
    with pytest.raises(
        AuditkitError,
        match=rf"the predictions name e.g. \S+/clip-\S+ frame \d+, the dataset "
        rf"{first['subject']}/{first['sequence']} frame {first['frame']}; check the "
        "file naming",
    ):
        join_predictions(ds.frames, renamed, AUS12, formats=["openface"])


def test_openface_garbage_in_rows_without_a_face_is_dropped_with_them(audit_dataset: Path, tmp_path: Path) -> None:
    root = write_openface(load_dataset(audit_dataset), tmp_path / "openface")
    first = sorted(root.rglob("*.csv"))[0]
    df = pd.read_csv(first, dtype=str)
    df.loc[0, " AU01_c"] = "-nan(ind)"  # OpenFace on Windows, where success is 0
    df.to_csv(first, index=False)
    table, dropped = read_openface(first, root)
    assert dropped == 1 and table["AU01"].dtype == float and table["AU01"].notna().all()
    df.loc[0, " success"] = "1"  # the same garbage on a row that claims a face: refused, naming value and frame
    df.to_csv(first, index=False)
    with pytest.raises(AuditkitError, match=r"column 'AU01_c': must hold probabilities \(numbers\), found "
                                            r"'-nan\(ind\)' at frame"):
        read_openface(first, root)

def test_pyfeat_reader(audit_dataset: Path, tmp_path: Path) -> None:
    ds = load_dataset(audit_dataset)
    grp = ds.subject_frames(ds.subjects["subject"].iloc[0])
    one = grp[grp["sequence"] == grp["sequence"].iloc[0]]
    df = pd.DataFrame({"frame": one["frame"], "input": "video.mp4", "FaceScore": 0.99})
    df[AUS12] = probabilities(one, 0.1, 0)
    df.loc[df.index[1], "AU01"] = np.nan  # no face found in that frame
    path = tmp_path / f"{one['subject'].iloc[0]}_{one['sequence'].iloc[0]}.csv"
    df.to_csv(path, index=False)
    assert detect_format(path) == "pyfeat"
    preds, counts = read_predictions(path)
    assert counts["dropped_no_face"] == 1 and len(preds) == len(one) - 1
    assert preds["subject"].iloc[0] == one["subject"].iloc[0]


@pytest.mark.slow
def test_test_only_audit_finds_the_worse_group(audit_dataset: Path, tmp_path: Path) -> None:
    ds = load_dataset(audit_dataset)
    preds = write_generic(ds, tmp_path / "preds.parquet", {"female": 0.05, "male": 0.3})
    results, run = audit_predictions(preds, audit_dataset, ("gender",), tmp_path / "audit")
    assert set(results["test_group"]) == {"female", "male"} and (results["condition"] == "test-only").all()
    assert run["counts"]["matched_frames"] == len(ds.frames)
    html = build_report(tmp_path / "audit").read_text()
    assert "Test subjects in female score" in html and "higher than those in male" in html
    again, _ = audit_predictions(preds, audit_dataset, ("gender",), tmp_path / "audit")  # the same audit: redone
    pd.testing.assert_frame_equal(again, results)
    write_generic(ds, preds, {"female": 0.3, "male": 0.3})  # other predictions in the same file: another audit
    with pytest.raises(AuditkitError, match="holds results of a different audit"):
        audit_predictions(preds, audit_dataset, ("gender",), tmp_path / "audit")
    changed, _ = audit_predictions(preds, audit_dataset, ("gender",), tmp_path / "audit", force=True)
    assert not changed.equals(results)


def _bad_generic(tmp_path: Path, ds, mutate) -> Path:
    path = write_generic(ds, tmp_path / "p.parquet", {"female": 0.1, "male": 0.1})
    df = mutate(pd.read_parquet(path))
    df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.drop(columns="frame"), "p.parquet: column 'frame': required column is missing"),
    (lambda d: d.assign(AU12=d["AU12"] * 3), "p.parquet: column 'AU12': probabilities must lie in [0, 1]"),
    (lambda d: d.assign(subject=d["subject"] + "-unknown"), "no prediction matches a dataset frame"),
    (lambda d: pd.concat([d, d.iloc[:1]]), "is predicted twice"),
    (lambda d: d.drop(columns=AUS12), "no AUxx probability columns"),
])
def test_bad_predictions_are_one_line_errors(audit_dataset: Path, tmp_path: Path, mutate, message: str) -> None:
    path = _bad_generic(tmp_path, load_dataset(audit_dataset), mutate)
    with pytest.raises(AuditkitError) as info:
        audit_predictions(path, audit_dataset, ("gender",), tmp_path / "a")
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_corrupt_csv_and_cli(audit_dataset: Path, tmp_path: Path) -> None:
    bad = tmp_path / "S_T1.csv"
    bad.write_bytes(b"\x00\xff\xfe garbage")
    with pytest.raises(AuditkitError, match="S_T1.csv"):
        read_predictions(bad)
    ds = load_dataset(audit_dataset)
    root = write_openface(ds, tmp_path / "of")
    res = run_cli(
        "audit-predictions", str(root), "--data", str(audit_dataset), "--attr", "gender",
        "--out", str(tmp_path / "cli"),
    )
    assert res.returncode == 0, res.stderr
    assert (
        "frames matched" in res.stdout
        and "female vs male" in res.stdout
        and (tmp_path / "cli" / "report.html").exists()
    )
    res = run_cli("audit-predictions", str(tmp_path / "missing"), "--data", str(audit_dataset), "--attr", "gender")
    assert res.returncode == 2 and "no such file or directory" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_every_format_checks_probabilities_and_files_must_give_the_same_aus(
    audit_dataset: Path, tmp_path: Path
) -> None:
    ds = load_dataset(audit_dataset)
    root = write_openface(ds, tmp_path / "openface")
    files = sorted(root.rglob("*.csv"))
    # one file lacks an AU the others give: refused, naming the file and the column (never scored as "absent")
    df = pd.read_csv(files[1])
    df.drop(columns=[" AU17_c"]).to_csv(files[1], index=False)
    with pytest.raises(AuditkitError, match=f"{files[1]}: column 'AU17': missing here but given in "):
        read_predictions(root)
    # OpenFace occurrence columns out of range
    df[" AU12_c"] = 2.0
    df.to_csv(files[1], index=False)
    with pytest.raises(
        AuditkitError, match=f"{files[1]}: column 'AU12_c': probabilities must lie in \\[0, 1\\], found 2"
    ):
        read_predictions(root)
    # py-feat probabilities out of range
    one = ds.frames[ds.frames["subject"] == ds.subjects["subject"].iloc[0]]
    feat = pd.DataFrame({"frame": one["frame"], "AU01": 1.5, "AU02": 0.2})
    path = tmp_path / "S_T1.csv"
    feat.to_csv(path, index=False)
    with pytest.raises(AuditkitError, match="S_T1.csv: column 'AU01': probabilities must lie in"):
        read_predictions(path, "pyfeat")


def test_pyfeat_frames_with_several_faces_keep_the_most_confident(audit_dataset: Path, tmp_path: Path) -> None:
    ds = load_dataset(audit_dataset)
    grp = ds.subject_frames(ds.subjects["subject"].iloc[0])
    one = grp[grp["sequence"] == grp["sequence"].iloc[0]]
    # py-feat's detection CSV: one row per detected face (FaceRect*, FaceScore), AU probabilities per row
    df = pd.DataFrame({"frame": one["frame"], "FaceRectX": 10.0, "FaceRectY": 12.0, "FaceRectWidth": 90.0,
                       "FaceRectHeight": 110.0, "FaceScore": 0.99, "input": "video.mp4"})
    df[AUS12] = probabilities(one, 0.1, 0)
    second = df.iloc[:2].assign(FaceScore=0.4, FaceRectX=300.0, **{au: 0.5 for au in AUS12})  # a face in the background
    path = tmp_path / f"{one['subject'].iloc[0]}_{one['sequence'].iloc[0]}.csv"
    pd.concat([df, second]).to_csv(path, index=False)
    preds, counts = read_predictions(path)
    assert counts["frames_with_several_faces"] == 2 and len(preds) == len(one)
    first = preds[preds["frame"] == df["frame"].iloc[0]].iloc[0]
    assert first["AU12"] == pytest.approx(df["AU12"].iloc[0])  # the FaceScore 0.99 face, not the 0.4 one
    with pytest.raises(AuditkitError, match="column 'frame': frame .* has several faces"):
        read_predictions(path, faces="error")
    with pytest.raises(AuditkitError, match="--faces: unknown choice"):
        read_predictions(path, faces="all")


def test_frame_numbering_offsets_are_detected_refused_when_ambiguous_or_given(
    audit_dataset: Path, tmp_path: Path
) -> None:
    from auditkit.classifiers.prediction_files import join_predictions

    ds = load_dataset(audit_dataset)
    frames = ds.frames
    assert frames.groupby(["subject", "sequence"])["frame"].min().eq(1).all()  # the dataset counts from 1
    # a py-feat run counts from 0: frame k of the file is dataset frame k + 1
    preds = frames[["subject", "sequence", "frame"]].assign(frame=frames["frame"] - 1).copy()
    preds[AUS12] = probabilities(frames, 0.0, 0)
    rows, proba, counts = join_predictions(frames, preds, AUS12, formats=["pyfeat"])
    assert counts["frame_offset"] == 1 and counts["frame_offset_detected"] and counts["matched_frames"] == len(frames)
    np.testing.assert_array_equal(proba, preds[AUS12].to_numpy(np.float32)[rows])  # each label meets its own frame
    # a generic file (no known convention) whose first frames were dropped: both alignments match every prediction
    gappy = preds[preds["frame"] > 0]
    with pytest.raises(AuditkitError, match="numbering is ambiguous .* pass --frame-offset"):
        join_predictions(frames, gappy, AUS12, formats=["generic"])
    # given explicitly: used as given
    _, _, counts = join_predictions(frames, gappy, AUS12, frame_offset=1, formats=["generic"])
    assert counts["frame_offset"] == 1 and not counts["frame_offset_detected"]
    # generic with the dataset's own numbering: the only complete alignment
    same = preds.assign(frame=preds["frame"] + 1)
    assert join_predictions(frames, same, AUS12, formats=["generic"])[2]["frame_offset"] == 0



def test_a_file_covering_the_whole_dataset_joins_an_audit_of_some_of_its_people() -> None:
    """Long sequences, a prediction for every dataset frame, an audit reading two of four people: at +0 every audited
    frame finds its prediction, at +1 each sequence loses only one of 20 frames (too few to tell by counts)."""
    from auditkit.classifiers.prediction_files import join_predictions

    everyone = pd.DataFrame([(f"S{s}", "T1", f) for s in range(4) for f in range(1, 21)],
                            columns=["subject", "sequence", "frame"])
    preds = everyone.assign(**{au: 0.5 for au in AUS12})
    audited = everyone[everyone["subject"].isin(["S0", "S1"])]
    rows, _, counts = join_predictions(audited, preds, AUS12, formats=["generic"])
    assert counts["frame_offset"] == 0 and counts["matched_frames"] == len(audited) == len(rows)
    # a file that lost its first frame and covers only those people stays ambiguous (both alignments are complete)
    with pytest.raises(AuditkitError, match="numbering is ambiguous"):
        join_predictions(audited, preds[preds["subject"].isin(["S0", "S1"]) & (preds["frame"] > 1)], AUS12,
                         formats=["generic"])


def test_sequences_starting_mid_video_join_zero_based_tool_output_without_options(audit_dataset: Path) -> None:
    from auditkit.classifiers.prediction_files import describe_offset, join_predictions

    frames = load_dataset(audit_dataset).frames
    # BP4D's coded segments start mid-video: here every sequence at 1001, then each at its own first frame
    first = frames.groupby(["subject", "sequence"]).ngroup()
    for starts in (np.full(first.max() + 1, 1000), 1000 + 250 * np.arange(first.max() + 1)):
        moved = frames.assign(frame=frames["frame"] + starts[first.to_numpy()])
        preds = frames[["subject", "sequence"]].assign(frame=frames["frame"] - 1)  # py-feat: the segment from 0
        preds[AUS12] = probabilities(frames, 0.0, 0)
        rows, proba, counts = join_predictions(moved, preds, AUS12, formats=["pyfeat"])
        assert counts["matched_frames"] == len(frames) and counts["frame_offset_detected"]
        np.testing.assert_array_equal(proba, preds[AUS12].to_numpy(np.float32)[rows])  # each row meets its own frame
        if (starts == 1000).all():
            assert counts["frame_offset"] == 1001 and describe_offset(counts) == "+1001 (detected)"
        else:
            assert counts["frame_offset"] == "per sequence" and counts["frame_offset_range"][0] == 1001
            assert describe_offset(counts).startswith("per sequence, +1001 to")


@pytest.mark.slow
def test_frames_a_tool_drops_are_reported_per_group(audit_dataset: Path, tmp_path: Path) -> None:
    import json

    ds = load_dataset(audit_dataset)
    root = write_openface(ds, tmp_path / "openface")
    gender = ds.subjects.set_index("subject")["gender"]
    for f in root.rglob("*.csv"):  # the tracker fails on a third of the women's frames
        if gender[f.parent.name] == "female":
            df = pd.read_csv(f)
            df.loc[df.index % 3 == 0, " success"] = 0
            df.to_csv(f, index=False)
    res = run_cli(
        "audit-predictions", str(root), "--data", str(audit_dataset), "--attr", "gender", "--out", str(tmp_path / "a"),
    )
    assert res.returncode == 0, res.stderr
    assert "Frames the tool never served" in res.stdout and "female vs male" in res.stdout
    missed = pd.read_parquet(tmp_path / "a" / "missed_frames.parquet")
    share = missed.groupby("group")["missed_share"].mean()
    assert share["female"] > 0.3 > share["male"]  # a third dropped, plus each file's first frame
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    test = summary["missed_frames"]["tests"][0]
    assert test["comparison"] == "female vs male" and test["p"] < 0.001 and test["mean_a"] > 30  # percent
    html = (tmp_path / "a" / "report.html").read_text()
    assert 'id="missed"' in html and "frames of subjects in female" in html


@pytest.mark.slow
def test_subjects_and_sequences_the_tool_never_ran_on_are_not_missed_frames(
    audit_dataset: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    ds = load_dataset(audit_dataset)
    root = write_openface(ds, tmp_path / "openface")
    gender = ds.subjects.set_index("subject")["gender"]
    kept = [s for g in ("female", "male") for s in sorted(gender.index[gender == g])[:2]]  # 2 people per group
    for d in root.iterdir():
        if d.name not in kept:
            shutil.rmtree(d)  # the tool was never run on them
    one = sorted((root / kept[0]).glob("*.csv"))
    one[-1].unlink()  # nor on one sequence of a person it ran on
    out = tmp_path / "a"
    res = run_cli(
        "audit-predictions", str(root), "--data", str(audit_dataset), "--attr", "gender", "--out", str(out),
    )
    assert res.returncode == 0, res.stderr
    missed = pd.read_parquet(out / "missed_frames.parquet")
    assert sorted(missed["subject"]) == sorted(kept)
    # only each file's first frame (no face) is missed: the absent people and sequence are not detection failures
    per_file = ds.frames.groupby(["subject", "sequence"]).size()
    files = {s: len(list((root / s).glob("*.csv"))) for s in kept}
    for r in missed.itertuples():
        assert r.missed == files[r.subject] and r.frames == per_file[r.subject].iloc[:files[r.subject]].sum()
    run = json.loads((out / "run.json").read_text())
    never = run["missed_frames"]["not_run"]
    in_scope = len(run["plan"]["scope"])
    assert never["subjects"] == in_scope - len(kept) and never["sequences"] == 1 and "covered" not in run["counts"]
    assert "warning: no predictions for" in res.stdout
    md = (out / "summary.md").read_text()
    assert f"No predictions at all for {in_scope - len(kept)} subject(s) and 1 further sequence(s)" in md


@pytest.mark.slow
def test_the_f1_rule_is_settable_recorded_and_stated(audit_dataset: Path, tmp_path: Path) -> None:
    ds = load_dataset(audit_dataset)
    preds = write_generic(ds, tmp_path / "preds.parquet", {"female": 0.1, "male": 0.1})
    base = ["audit-predictions", str(preds), "--data", str(audit_dataset), "--attr", "gender"]
    res = run_cli(*base, "--out", str(tmp_path / "a"), "--f1-no-positives", "exclude")
    assert res.returncode == 0, res.stderr
    results = pd.read_parquet(tmp_path / "a" / "results.parquet")
    assert results.loc[results["f1"].isna(), "positives"].eq(0).all()
    assert "f1_rule" in (tmp_path / "a" / "run.json").read_text()
    assert "rule 'exclude'" in (tmp_path / "a" / "summary.md").read_text()
    bad = run_cli(*base, "--out", str(tmp_path / "b"), "--f1-no-positives", "half")
    assert bad.returncode != 0 and "--f1-no-positives: unknown rule 'half'" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "b" / "results.parquet").exists()


LIBREFACE_DETECTION = [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24]  # BP4D's 12, as LibreFace's detector outputs them
LIBREFACE_INTENSITY = [1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26]  # DISFA's 12


def write_libreface(ds, root: Path, keep_every: int = 1) -> Path:
    """LibreFace video CSVs as its writer lays them out: a pandas index column, frame_idx counted from 0,
    frame_time_in_ms, head pose, MediaPipe landmarks, au_N detections (0/1), au_N_intensity, facial_expression;
    frames without a face are absent (gaps in frame_idx)."""
    for (subject, sequence), grp in ds.frames.groupby(["subject", "sequence"]):
        p = probabilities(grp, 0.1, len(grp))
        idx = grp["frame"].to_numpy() - 1  # LibreFace counts the video's frames from 0
        table = {"frame_idx": idx, "frame_time_in_ms": idx * 40.0, "pitch": 1.0, "yaw": -2.0, "roll": 0.5,
                 "lm_mp_0_x": 0.4, "lm_mp_0_y": 0.6, "lm_mp_0_z": 0.0}
        for k, au in enumerate(LIBREFACE_DETECTION):
            table[f"au_{au}"] = (p[:, k] >= 0.5).astype(int)
        for au in LIBREFACE_INTENSITY:
            table[f"au_{au}_intensity"] = 1.5
        table["facial_expression"] = "Neutral"
        df = pd.DataFrame(table).iloc[::keep_every]
        (root / subject).mkdir(parents=True, exist_ok=True)
        df.to_csv(root / subject / f"{sequence}.csv")  # with its index, as LibreFace's to_csv writes it
    return root


@pytest.mark.slow
def test_libreface_reader_maps_detections_and_counts_from_zero(audit_dataset: Path, tmp_path: Path) -> None:
    from auditkit.classifiers.prediction_files import join_predictions

    ds = load_dataset(audit_dataset)
    root = write_libreface(ds, tmp_path / "lf", keep_every=2)  # every other frame had no face
    first = sorted(root.rglob("*.csv"))[0]
    assert detect_format(first) == "libreface"
    preds, counts = read_predictions(root)
    assert counts["formats"] == ["libreface"] and {"AU01", "AU12", "AU24"} <= set(preds.columns)
    assert "AU05" not in preds.columns  # an intensity-only AU is not a detection
    _, _, joined = join_predictions(ds.frames, preds, AUS12, formats=counts["formats"])
    assert joined["frame_offset"] == 1  # LibreFace's frame 0 is the dataset's frame 1
    assert joined["matched_frames"] == len(preds) and joined["dataset_frames_without_prediction"] > len(ds.frames) // 3
