"""`retail-assets bench`: the naive, reference and default pipelines side by side on one video.

All pipelines read the same frames at the same input resolution (640), each in its own child
process (see `runners`). Printed per pipeline: milliseconds per frame per stage, frames/s,
real-time factor and peak RSS; then the default's recall of the reference's boxes and, with
`--gt`, MOTA and IDF1 of every pipeline. `--json` adds one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from retail_assets.benchmarks.runners import PIPELINES, PipelineRun, run_in_child
from retail_assets.errors import InputError
from retail_assets.vision.cli_options import crop_size
from retail_assets.vision.config import EMBED_PRECISIONS, EMBED_WHEN, PRECISIONS
from retail_assets.vision.stage_clock import STAGES


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _pipeline_list(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in PIPELINES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"choose among {', '.join(PIPELINES)} (comma-separated), got {value!r}"
        )
    return [name for name in PIPELINES if name in names]  # always the same order


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from retail_assets.vision.trackers import TRACKING_CHOICES

    parser.add_argument(
        "--video", help="video file to run every pipeline on (required unless a suite is named)"
    )
    parser.add_argument("--gt", help="MOTChallenge gt.txt of the video: adds MOTA and IDF1 per pipeline")
    parser.add_argument(
        "--max-frames", type=_positive_int, help="only the first N frames (quick runs, tests)"
    )
    parser.add_argument(
        "--pipelines",
        type=_pipeline_list,
        default=list(PIPELINES),
        help=f"comma-separated subset of {','.join(PIPELINES)} (default: all three)",
    )
    parser.add_argument(
        "--repeat-video",
        type=_positive_int,
        default=1,
        help="run on the video concatenated N times (memory must stay flat as videos get longer)",
    )
    parser.add_argument("--device", default="cpu", help="inference device for every pipeline (default cpu)")
    # Levers: change one setting of the project's pipelines and measure it against the same baselines.
    parser.add_argument(
        "--tracker",
        choices=TRACKING_CHOICES,
        help="tracker of the reference and default pipelines (default: the project's default)",
    )
    parser.add_argument(
        "--embed-size", type=crop_size, metavar="HxW", help="crop size of the default pipeline's embedder"
    )
    parser.add_argument(
        "--sample-fps", type=float, help="frames per second of video the default pipeline processes"
    )
    parser.add_argument(
        "--precision", choices=PRECISIONS, help="weights of the default pipeline's OpenVINO detector"
    )
    parser.add_argument(
        "--embed-when",
        choices=EMBED_WHEN,
        help="which detections the default pipeline embeds: always, or only ambiguous ones",
    )
    parser.add_argument(
        "--embed-precision",
        choices=EMBED_PRECISIONS,
        help="arithmetic of the default pipeline's OpenVINO embedder: auto (bfloat16 where the CPU has it) or fp32",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="the default pipeline runs its stages one after the other (no decode/detect thread)",
    )
    parser.add_argument("--keep", help="keep every pipeline's NDJSON output in this directory")
    parser.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    # Other suites, named after `bench`: each module brings its own options.
    suites = parser.add_subparsers(dest="suite", metavar="SUITE")
    from retail_assets.benchmarks import analytics

    analytics.add_arguments(
        suites.add_parser(
            "analytics", help="bronze -> silver -> gold rows/s, columnar vs naive (synthetic day)"
        )
    )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "suite", None) == "analytics":
        from retail_assets.benchmarks.analytics import run as run_analytics

        return run_analytics(args)
    if not args.video:
        raise InputError("bench needs --video (the pipelines' benchmark) or a suite: `bench analytics`")
    from retail_assets.benchmarks.comparison import box_agreement, tracking_scores
    from retail_assets.benchmarks.video_files import concatenate_video
    from retail_assets.vision.evaluation import load_mot_ground_truth, predictions_from_ndjson
    from retail_assets.vision.sampling import processed_frames

    video = Path(args.video)
    if not video.is_file():
        raise InputError(f"video {video}: file does not exist")
    gt = load_mot_ground_truth(args.gt) if args.gt else None
    scratch = Path(tempfile.mkdtemp(prefix="rva-bench-"))
    try:
        workdir = Path(args.keep) if args.keep else scratch
        workdir.mkdir(parents=True, exist_ok=True)
        source = video
        if args.repeat_video > 1:
            source = concatenate_video(
                video, args.repeat_video, scratch / f"repeated{video.suffix or '.avi'}"
            )
        machine = machine_description()
        runs: dict[str, PipelineRun] = {}
        for name in args.pipelines:
            print(f"bench: running {name} ...", file=sys.stderr, flush=True)
            overrides = _overrides(args, name)
            runs[name] = run_in_child(name, source, workdir, args.max_frames, args.device, overrides)
        outputs = {name: predictions_from_ndjson(run.output) for name, run in runs.items()}
        report: dict[str, object] = {
            "video": str(video),
            "repeat_video": args.repeat_video,
            "machine": machine,
            "pipelines": {name: _pipeline_summary(name, runs) for name in runs},
        }
        if "default" in runs and "reference" in runs:
            default = runs["default"]
            frames = processed_frames(
                default.frames_decoded, default.video_fps, default.settings.get("sample_fps")
            )
            agreement = box_agreement(outputs["reference"], outputs["default"], frames)
            report["default_agreement_with_reference"] = agreement.as_dict()
        if gt is not None:
            report["ground_truth"] = str(args.gt)
            report["tracking"] = {
                name: _rounded(tracking_scores(gt, outputs[name], run.frames_decoded).as_dict())
                for name, run in runs.items()
            }
        machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
        print_report(report, runs)
        if args.json:
            print(json.dumps(report, sort_keys=True))
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _overrides(args: argparse.Namespace, pipeline: str) -> dict[str, object]:
    """The project settings this run changes for `pipeline` (the reference keeps full precision)."""
    overrides: dict[str, object] = {}
    if args.tracker and pipeline in ("reference", "default"):
        overrides["tracker"] = args.tracker  # same tracker settings on both sides of the comparison
    if pipeline == "default":
        if args.embed_size:
            overrides["embed_size"] = args.embed_size
        if args.sample_fps:
            overrides["sample_fps"] = args.sample_fps
        if args.precision:
            overrides["precision"] = args.precision
        if args.embed_when:
            overrides["embed_when"] = args.embed_when
        if args.embed_precision:
            overrides["embed_precision"] = args.embed_precision
        if args.sequential:
            overrides["overlap_stages"] = False
    return overrides


def _pipeline_summary(name: str, runs: dict[str, PipelineRun]) -> dict[str, object]:
    """One pipeline's figures, with its frames/s as a multiple of each baseline's in the same run."""
    summary = runs[name].summary()
    for baseline in ("naive", "reference"):
        if baseline in runs and baseline != name and runs[baseline].fps > 0:
            summary[f"speedup_vs_{baseline}"] = round(runs[name].fps / runs[baseline].fps, 3)
    return summary


def _rounded(scores: dict[str, float | int]) -> dict[str, float | int]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}


def machine_description() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def print_report(report: dict, runs: dict[str, PipelineRun]) -> None:
    first = next(iter(runs.values()))
    machine = report["machine"]
    print(
        f"video {report['video']}"
        + (f" x{report['repeat_video']}" if report["repeat_video"] > 1 else "")
        + f": {first.frames_decoded} frames at {first.video_fps:g} fps ({first.video_seconds:.1f} s of video)"
    )
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, 1-minute load average "
        f"{machine['load_average_1m_at_start']} at start, {machine['load_average_1m_at_end']} at end"
    )
    header = "".join(f"{stage:>10}" for stage in (*STAGES, "total"))
    print(f"{'ms/frame':<10}{header}{'frames':>8}{'fps':>8}{'x real':>8}{'peak RSS':>10}")
    for name, run in runs.items():
        cells = "".join(f"{value:10.1f}" for value in run.ms_per_frame().values())
        print(
            f"{name:<10}{cells}{run.frames_processed:8d}{run.fps:8.2f}{run.realtime_factor:8.2f}"
            f"{run.peak_rss_mb:7.0f} MB"
        )
    for name, run in runs.items():
        print(f"  {name}: {run.description}; setup {run.setup_seconds:.1f} s")
    for name, summary in report["pipelines"].items():
        speedups = [
            f"{summary[key]:.2f}x the {key.removeprefix('speedup_vs_')}'s"
            for key in ("speedup_vs_naive", "speedup_vs_reference")
            if key in summary
        ]
        if speedups:
            print(f"{name} frames/s: " + ", ".join(speedups))
    if "default_agreement_with_reference" in report:
        agreement = report["default_agreement_with_reference"]
        print(
            f"default vs the reference's boxes (IoU >= {agreement['iou']}): recall {agreement['recall']:.4f} "
            f"({agreement['matched']} of {agreement['reference_boxes']}), precision "
            f"{agreement['precision']:.4f} (of {agreement['candidate_boxes']})"
        )
    if "tracking" in report:
        print(f"tracking accuracy against {report['ground_truth']}:")
        for name, scores in report["tracking"].items():
            print(
                f"  {name:<10} MOTA {100 * scores['mota']:5.1f}  IDF1 {100 * scores['idf1']:5.1f}  "
                f"ID switches {scores['id_switches']:4d}  precision {100 * scores['precision']:5.1f}  "
                f"recall {100 * scores['recall']:5.1f}"
            )
