#!/usr/bin/env python
"""Amplitude before phase: train a network on real images and test it, during training, on the
original test images, on phase-randomised copies (amplitude only) and on amplitude-equalised copies
(phase only).

Pipeline: load images (bundled textures, CIFAR-100 binary, or an image folder) -> build the three
test sets -> SGD for several seeds at once (vmapped, progress bar) -> the step at which each
accuracy leaves chance and the step at which the original curve separates from the phase-randomised
one, with 95% bootstrap intervals over seeds -> OUT/results.nc, OUT/summary.json,
OUT/textures.png and OUT/textures.pdf, written atomically.

Exit codes: 0 done, 2 bad input (one line on stderr naming the value and what to do), including a
learning rate so large that the loss diverges (nothing is written then).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import claims
from claims import textures
from claims.cli._common import Parser


def build_parser() -> argparse.ArgumentParser:
    d = textures.TextureConfig()
    p = Parser(
        prog="texture_experiment.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default=d.model, help="two-layer or cnn [default: %(default)s]")
    p.add_argument(
        "--dataset",
        default=d.dataset,
        help="textures (scikit-image brick/grass/gravel), cifar100:PATH (folder with train.bin and "
        "test.bin) or imagefolder:PATH (PATH/train/<class>/*.JPEG and PATH/val or PATH/test) "
        "[default: %(default)s]",
    )
    p.add_argument("--seeds", type=int, default=d.seeds, help="seeds trained at once [default: %(default)s]")
    p.add_argument("--steps", type=int, default=d.steps, help="SGD steps [default: %(default)s]")
    p.add_argument("--batch", type=int, default=d.batch, help="minibatch size [default: %(default)s]")
    p.add_argument("--lr", type=float, default=None, help="learning rate [default: 0.01 two-layer, 0.05 cnn]")
    p.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum [default: %(default)s]")
    p.add_argument(
        "--hidden", type=int, default=d.hidden, help="two-layer hidden units [default: %(default)s]"
    )
    p.add_argument("--width", type=int, default=d.width, help="CNN base width [default: %(default)s]")
    p.add_argument(
        "--n-eval", type=int, default=d.n_eval, help="log-spaced evaluations [default: %(default)s]"
    )
    p.add_argument("--patch", type=int, default=d.patch, help="texture patch side [default: %(default)s]")
    p.add_argument(
        "--train-per-class",
        type=int,
        default=d.train_per_class,
        help="random texture crops per class [default: %(default)s]",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=d.image_size,
        help="image-folder side after resize [default: %(default)s]",
    )
    p.add_argument(
        "--limit-per-class",
        type=int,
        default=None,
        help="image folders: images per class and split; CIFAR-100: records per file [default: all]",
    )
    p.add_argument("--cifar-labels", default=d.cifar_labels, help="fine or coarse [default: %(default)s]")
    p.add_argument(
        "--center",
        default=d.center,
        help="image: subtract each image's mean (no brightness cue); dataset: the training mean only "
        "[default: %(default)s]",
    )
    p.add_argument("--root-seed", type=int, default=d.root_seed, help="[default: %(default)s]")
    p.add_argument("--out", default=None, help="output folder [default: results/textures-MODEL]")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = textures.TextureConfig(
        model=args.model,
        dataset=args.dataset,
        seeds=args.seeds,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        momentum=args.momentum,
        hidden=args.hidden,
        width=args.width,
        n_eval=args.n_eval,
        patch=args.patch,
        train_per_class=args.train_per_class,
        image_size=args.image_size,
        limit_per_class=args.limit_per_class,
        cifar_labels=args.cifar_labels,
        center=args.center,
        root_seed=args.root_seed,
    )
    out = Path(args.out or f"results/textures-{args.model}")
    try:
        cfg.validated()
        claims.check_writable(out)
        claims.enable_compilation_cache()
        print(
            f"training {cfg.seeds} seeds of {cfg.model} on {cfg.dataset} for {cfg.steps} steps ...",
            flush=True,
        )
        run, summary = textures.run_experiment(cfg, progress=not args.no_progress)
    except (ValueError, claims.SimulationError) as err:  # a diverged run, a malformed dataset file
        print(f"texture_experiment.py: error: {err}", file=sys.stderr)
        return 2
    paths = textures.write_results(out, run, summary)
    print("\n".join(textures.describe(summary)))
    print(f"{summary['wall_seconds']:.0f} s; wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
