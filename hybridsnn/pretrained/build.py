"""Add a finished training run to the pretrained zoo (maintainers; docs/pretrained.md, «Adding a model»).

``python -m hybridsnn.pretrained.build RUN_DIR --name NAME --protocol TEXT --command TEXT --metric KEY
--subset "ARGS"`` copies the run's ``config.json``, ``results.json``, ``metrics.jsonl`` and one checkpoint
into ``models/NAME/``, evaluates the copied checkpoint with ``hybridsnn test MODEL ARGS`` (the fixed test
subset that ``tests/test_pretrained.py`` re-runs), writes the model card and records the sha256 of every
file in the manifest. The zoo is this package's folder, or ``$HYBRIDSNN_PRETRAINED``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hybridsnn.atomic import write_json
from hybridsnn.checkpoint import load_checkpoint, save_checkpoint
from hybridsnn.errors import UserError, one_line_errors
from hybridsnn.pretrained.catalog import (
    CARD_FILE,
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    MODELS_DIR,
    read_manifest,
    sha256,
    zoo_root,
)
from hybridsnn.results import read_config, read_json_file, read_status

RUN_FILES = ("config.json", "results.json", "metrics.jsonl")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _without_machine_paths(value: Any) -> Any:
    """``value`` with every absolute path replaced by its last part (the trainer's folders mean nothing to
    a user of the shipped copy)."""
    if isinstance(value, dict):
        return {k: _without_machine_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_machine_paths(v) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        return Path(value).name
    return value


def _copy_checkpoint(source: Path, target: Path, keep: tuple[str, ...]) -> None:
    """Copy a checkpoint, with only the tensors whose names start with one of ``keep`` (all when empty) and
    without the trainer's paths in its metadata."""
    ckpt = load_checkpoint(source)
    tensors = {k: v for k, v in ckpt.tensors.items() if not keep or k.startswith(keep)}
    save_checkpoint(target, tensors, model=ckpt.model, config=_without_machine_paths(ckpt.config),
                    extra=_without_machine_paths(ckpt.extra))  # fmt: skip


def subset_metric(model: str, checkpoint: Path, flag: str, args: list[str], metric: str) -> float:
    """``metric`` of ``hybridsnn test MODEL --<flag> CHECKPOINT ARGS`` (a scratch run, removed after)."""
    from hybridsnn import cli

    with tempfile.TemporaryDirectory(prefix="hybridsnn-card-") as scratch:
        option = "--" + flag.replace("_", "-")
        argv = ["test", model, option, str(checkpoint), *args, "--output", scratch, "--run-name", "subset",
                "--no-progress"]  # fmt: skip
        try:
            status = cli.main(argv)
        except SystemExit as exc:  # argparse refused a flag (it has printed its one line)
            status = exc.code
        if status != 0:
            raise UserError(f"hybridsnn {shlex.join(argv)} failed")
        value = read_json_file(Path(scratch) / "subset" / "results.json", "results")["metrics"].get(metric)
    if not isinstance(value, (int, float)):
        raise UserError(f"the subset test reports no number {metric!r}")
    return float(value)


def add_to_zoo(
    run_dir: Path,
    name: str,
    *,
    protocol: str,
    command: str,
    metric: str,
    subset_args: list[str],
    test_set: str,
    checkpoint: str = "final",
    flag: str = "checkpoint",
    extra_files: dict[str, Path] | None = None,
    keep: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Copy ``run_dir`` (a completed training run) into the zoo as ``name``; returns its card. ``keep``:
    ship only the checkpoint tensors under these prefixes (e.g. ``model/``, leaving out optimiser state).
    The model is assembled in a staging folder and takes the place of an earlier ``name`` only once its
    subset test has passed, so a failed build leaves the zoo as it was."""
    config, results = read_config(run_dir), read_json_file(run_dir / "results.json", "results")
    if results.get("status") != "completed" or config.get("command") != "train":
        raise UserError(f"{str(run_dir)!r} is not a completed training run")
    relative = f"checkpoints/{checkpoint}.safetensors"
    if not (run_dir / relative).is_file():
        found = ", ".join(sorted(p.stem for p in (run_dir / "checkpoints").glob("*.safetensors"))) or "none"
        raise UserError(f"{str(run_dir)!r} has no checkpoint {checkpoint!r} (it has: {found})")
    full = results["metrics"].get(metric)
    if not isinstance(full, (int, float)):
        raise UserError(f"{str(run_dir)!r}: results.json has no number {metric!r}")
    root = zoo_root()
    folder = root / MODELS_DIR / name
    staging = folder.with_name(f".{name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _copy_run(run_dir, staging, relative, keep, extra_files or {})
        subset = subset_metric(config["model"], staging / relative, flag, subset_args, metric)
        card = {
            "name": name,
            "model": config["model"],
            "task": config["task"],
            "dataset": results.get("dataset") or config.get("dataset"),
            "protocol": protocol,
            "command": command,
            "git_commit": results.get("git_commit"),
            "seed": results.get("seed"),
            "machine": {
                "host": read_status(run_dir).get("host"),
                "cpu": _cpu_name(),
                "cores": os.cpu_count(),
                "device": results.get("device"),
                "engine": results.get("engine"),
            },
            "wall_time_s": results.get("wall_time_s"),
            "metric": metric,
            "test_accuracy": float(full),
            "test_set": test_set,
            "subset": {"args": subset_args, "accuracy": subset},
            "checkpoint": relative,
            "flag": flag,
            "versions": results.get("versions"),
        }
        write_json(staging / CARD_FILE, card)
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record_in_manifest(root, name)
    return card


def _copy_run(run_dir: Path, folder: Path, relative: str, keep: tuple[str, ...],
              extra_files: dict[str, Path]) -> None:  # fmt: skip
    """Copy the run's files, its checkpoint ``relative`` (trimmed to ``keep``) and ``extra_files`` into
    ``folder``."""
    (folder / "checkpoints").mkdir(parents=True)
    for file in RUN_FILES:
        if (run_dir / file).is_file() and file.endswith(".json"):
            write_json(folder / file, _without_machine_paths(read_json_file(run_dir / file, file)))
        elif (run_dir / file).is_file():
            shutil.copy2(run_dir / file, folder / file)
    _copy_checkpoint(run_dir / relative, folder / relative, keep)
    for target, source in extra_files.items():
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, folder / target)


def record_in_manifest(root: Path, name: str) -> None:
    """Write the sha256 of every file of the zoo's model ``name`` into the manifest of ``root``."""
    folder = root / MODELS_DIR / name
    manifest = read_manifest(root)
    manifest[name] = {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*"))
                      if p.is_file()}  # fmt: skip
    write_json(root / MANIFEST_FILE, {"format": MANIFEST_FORMAT, "version": 1, "models": manifest})


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """Command line of the zoo builder."""
    parser = argparse.ArgumentParser(prog="python -m hybridsnn.pretrained.build", description=__doc__)
    parser.add_argument("run_dir", type=Path, help="a completed training run")
    parser.add_argument("--name", required=True, help="the model's name in the zoo")
    parser.add_argument("--protocol", required=True, help="what was trained, in words")
    parser.add_argument("--command", required=True, help="the exact command that trained it")
    parser.add_argument("--metric", required=True, help="the results.json metric that the card reports")
    parser.add_argument("--subset", default="", help="flags of the fixed-subset test ('--test-samples 500')")
    parser.add_argument("--test-set", required=True, help="the test set behind the run's number, in words")
    parser.add_argument("--checkpoint", default="final", help="checkpoint name inside RUN_DIR/checkpoints")
    parser.add_argument("--flag", default="checkpoint", help="what --pretrained fills: checkpoint, encoders")
    parser.add_argument("--extra", action="append", default=[], metavar="TARGET=PATH",
                        help="one more file to ship, at TARGET inside the model's folder")  # fmt: skip
    parser.add_argument("--keep", action="append", default=[], metavar="PREFIX",
                        help="ship only the checkpoint tensors under PREFIX (repeatable; default: all)")
    args = parser.parse_args(argv)
    extra = dict((t, Path(p)) for t, p in (item.split("=", 1) for item in args.extra))
    card = add_to_zoo(
        args.run_dir,
        args.name,
        protocol=args.protocol,
        command=args.command,
        metric=args.metric,
        subset_args=shlex.split(args.subset),
        test_set=args.test_set,
        checkpoint=args.checkpoint,
        flag=args.flag,
        extra_files=extra,
        keep=tuple(args.keep),
    )
    print(f"{args.name}: {card['metric']} {card['test_accuracy']:.4f} ({card['test_set']}); "
          f"subset {card['subset']['accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
