"""What each system of the seeds' table runs: the budgets (steps, batches, set sizes), and each
system's `python -m train` flags, its settings and notes as the table shows them (a `Plan`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]   # the repository: checkpoints/, data/, where the runs start
ANCHORS = "neuro-symbolic anchors on sums of four MNIST images: DeepProbLog 95.2 %, DeepStochLog 96.4 % sum accuracy"
NO_WEIGHTS = "trained from scratch: no pretrained weights offline (give --pretrained PATH)"


def shown(path) -> str:
    """A path as the runs are given it and the records write it: relative to the repository (where
    every run starts) when it is inside it, so that a command in results.json or a model card runs
    in anyone's clone; absolute when it is outside (a relative one would then depend on where the
    `seeds` call was started)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def arg_text(value) -> str:
    """One word of a run's command: paths as `shown` writes them."""
    return shown(value) if isinstance(value, Path) else str(value)


@dataclass(frozen=True)
class Budget:
    """How much every system gets at one budget: steps and batches, and the sizes of the sets."""
    name: str
    real_n: int            # real-train images (sums only)
    test_n: int            # first N of the test set
    val_limit: int
    steps: dict            # system group -> optimizer steps
    batch: int             # images a step, every four-digit system alike
    mnist_steps: dict      # MNIST model -> steps
    mnist_batch: int
    mnist_train_limit: int
    mnist_test_limit: int
    reader_digits: int     # MNIST test digits the default reader reads (a multiple of 4)
    stand_in: bool         # ResNet-50 rows run resnet_small_sum37 unless ImageNet weights are given
    mnist_test_limits: dict = field(default_factory=dict)   # MNIST model -> its own test limit


BUDGETS = {
    "smoke": Budget("smoke", real_n=256, test_n=64, val_limit=32,
                    steps=dict(convnet=3, resnet=2, resnet101=2, ours_resnet=2, naive=2, regression=2, vgg=2,
                               sums_only=2),
                    batch=8,
                    mnist_test_limits=dict(resnet18=32, resnet50=32),
                    mnist_steps=dict(mlp=3, cnn2=2, cnn_k1=2, cnn_k5=2, resnet18=2, resnet50=1), mnist_batch=8,
                    mnist_train_limit=512, mnist_test_limit=64, reader_digits=64, stand_in=True),
    "cpu": Budget("cpu", real_n=20000, test_n=2000, val_limit=500,
                  steps=dict(convnet=200, resnet=100, resnet101=50, ours_resnet=100, naive=100, regression=100, vgg=100,
                             sums_only=120),
                  batch=32,
                  mnist_test_limits=dict(resnet50=2000),
                  mnist_steps=dict(mlp=940, cnn2=150, cnn_k1=150, cnn_k5=150, resnet18=150, resnet50=20), mnist_batch=64,
                  mnist_train_limit=0, mnist_test_limit=0, reader_digits=10000, stand_in=True),
    # the seeds' 128-image batches and 30k real images, all 22 rows on one H100-class GPU in about 12
    # minutes in all (the dry run prints each row's estimate, train/experiments/estimate.py; 22 starts
    # of ~15 s are 5 of them): 10 epochs for the ConvNet, 8 for the seeds' ResNet-50 and ResNet-18 rows
    # (torchvision's stem: 24 ms a step), 2.6 for ResNet-101 (46 ms), 1.7 for our ResNet-50 rows (42 ms:
    # the 3x3 stride-1 stem), 6.8 for the regression and 3.4 of real images for the VGG rows, 13 for
    # sums-only; 128k naive images (1.3x the seed's 100k set); MNIST 5 epochs (2 for ResNet-50 and the
    # fine-tuned ResNet-18)
    "gpu": Budget("gpu", real_n=30000, test_n=10000, val_limit=2000,
                  steps=dict(convnet=2350, resnet=1875, resnet101=600, ours_resnet=400, naive=1000, regression=1600,
                             vgg=1600, sums_only=3000),
                  batch=128,
                  mnist_steps=dict(mlp=2345, cnn2=2345, cnn_k1=2345, cnn_k5=2345, resnet18=940, resnet50=940),
                  mnist_batch=128,
                  mnist_train_limit=0, mnist_test_limit=0, reader_digits=10000, stand_in=False),
}


@dataclass
class SeedsRun:
    """What every system of one `seeds` call shares: where it writes, its budget, the data sets and
    ImageNet weights it found or made, and the flags passed to every run."""
    out: Path
    budget: Budget
    data: dict = field(default_factory=dict)        # "real", "val", "test" -> folders
    pretrained: dict = field(default_factory=dict)  # "resnet50", "vgg11" -> state_dict files
    pretrained_notes: list = field(default_factory=list)
    device: str = "auto"
    threads: int = 0
    dry_run: bool = False


@dataclass
class Plan:
    """One system's run, as its plan function makes it for a `SeedsRun`."""
    argv: list             # after `python -m train`
    model: str
    settings: str
    notes: list
    init_from: str | None = None    # "resnet50" / "vgg11": build an --init folder from ImageNet weights


def _common(seeds: SeedsRun, group: str, name: str) -> list:
    b = seeds.budget
    steps = b.steps[group]
    argv = ["--steps", steps, "--batch-size", b.batch, "--val", seeds.data["val"], "--val-limit", b.val_limit,
            "--test", seeds.data["test"], "--eval-every", max(1, steps // 2), "--warmup-steps", min(200, steps // 10),
            "--seed", 0, "--device", seeds.device, "--out", seeds.out / "runs" / name,
            "--export", seeds.out / "checkpoints" / name, "--half"]
    if seeds.threads:
        argv += ["--threads", seeds.threads]
    return argv


def _real_only(seeds: SeedsRun) -> list:
    return ["--real", seeds.data["real"], "--synthetic-fraction", 0]


def plan_convnet(seeds: SeedsRun, name: str) -> Plan:
    argv = ["--model", "convnet4_sum37", *_real_only(seeds), *_common(seeds, "convnet", name)]
    return Plan(argv, "convnet4_sum37", "4-layer ConvNet, 37-way sum softmax, real sum labels only, train defaults "
                "(AdamW 2e-3, wd 0.05, EMA 0.999, label smoothing 0.05)", [])


def _plan_resnet(seeds: SeedsRun, name: str, ema: float) -> Plan:
    weights = "resnet50" in seeds.pretrained
    model = "resnet50_sum37" if weights or not seeds.budget.stand_in else "resnet_small_sum37"
    notes = []
    if model != "resnet50_sum37":
        notes.append(f"{seeds.budget.name} budget: resnet_small (one block a stage) stands in for ResNet-50, which "
                     "needs minutes a batch at 40x168 on this CPU; the gpu budget runs resnet50_sum37")
    notes.append("from ImageNet weights (--pretrained)" if weights else NO_WEIGHTS)
    notes.append("AdamW (decoupled decay) where the seed had Adam with L2 1e-4")
    ema_flags = ["--ema-decay", 0]
    if ema:   # the seed's 0.99 per step; train's --ema-decay is per 128 images
        batch = seeds.budget.batch
        ema_flags = ["--ema-decay", round(1 - (1 - ema) * 128 / batch, 6), "--ema-warmup", 10]
        notes.append(f"EMA {ema} per step of {batch} images (--ema-decay {ema_flags[1]} per 128 images), warm-up 10 steps")
    argv = ["--model", model, *_real_only(seeds), "--lr", "1e-3", "--weight-decay", "1e-4", *ema_flags,
            "--label-smoothing", 0, *_common(seeds, "ours_resnet", name)]
    settings = (f"ours: {model} (3x3 stride-1 stem, no max-pool, column head), real sum labels only, AdamW 1e-3, "
                "wd 1e-4, " + (f"EMA {ema}" if ema else "no EMA"))
    return Plan(argv, model, settings, notes, init_from="resnet50" if weights else None)


def plan_resnet_noema(seeds: SeedsRun, name: str) -> Plan:
    return _plan_resnet(seeds, name, 0)


def plan_resnet_ema(seeds: SeedsRun, name: str) -> Plan:
    return _plan_resnet(seeds, name, 0.99)


def plan_naive(seeds: SeedsRun, name: str) -> Plan:
    model = "resnet_small" if seeds.budget.name != "gpu" else "resnet18"
    b = seeds.budget
    seen = b.steps["naive"] * b.batch
    argv = ["--model", model, "--synthetic-fraction", 1, "--layout", "naive", "--augment", "none",
            *_common(seeds, "naive", name)]
    notes = [f"{seen:,} freshly drawn naive images ({b.steps['naive']} x {b.batch}); the seed: a fixed 100k set"]
    return Plan(argv, model, f"{model}, four digit heads, synthetic only: naive 28 px side-by-side concatenations "
                "of MNIST train digits, no augmentation", notes)


def plan_course(seeds: SeedsRun, name: str) -> Plan:
    """The naive row's control: the same model and steps on course-layout synthetic images."""
    model = "resnet_small" if seeds.budget.name != "gpu" else "resnet18"
    argv = ["--model", model, "--synthetic-fraction", 1, "--layout", "course", "--augment", "none",
            *_common(seeds, "naive", name)]
    return Plan(argv, model, f"{model}, four digit heads, synthetic only: course-layout images of MNIST train "
                "digits, no augmentation; the same steps as the naive row", ["our control for the naive row"])


def plan_regression(seeds: SeedsRun, name: str) -> Plan:
    """Seed 003's regression: one output trained with MSE on the sum, rounded to the nearest sum."""
    argv = ["--model", "resnet_small_regression", *_real_only(seeds), "--regression-loss", "mse",
            *_common(seeds, "regression", name)]
    return Plan(argv, "resnet_small_regression", "resnet_small, one regression output trained with MSE on the sum "
                "(the seed's loss), real sum labels only, prediction rounded to the nearest sum", [])


def plan_vgg(seeds: SeedsRun, name: str) -> Plan:
    weights = "vgg11" in seeds.pretrained
    argv = ["--model", "vgg11_frozen_digits", "--real", seeds.data["real"], "--synthetic-fraction", 0.5,
            "--layout", "course", "--augment", "train", *_common(seeds, "vgg", name)]
    notes = ["from ImageNet weights (--pretrained): frozen ImageNet features" if weights else
             "random frozen features: no ImageNet weights offline (give --pretrained PATH), so only the adapter "
             "and the head learn, on top of random convolutions"]
    return Plan(argv, "vgg11_frozen_digits", "vgg11 convolutions to the 3rd pool (frozen), learned 1x1 1->3 channel "
                "adapter, four digit heads; half real sums, half course-layout synthetic with digits", notes,
                init_from="vgg11" if weights else None)


def plan_sums_only(seeds: SeedsRun, name: str) -> Plan:
    argv = ["--model", "resnet_small", *_real_only(seeds), *_common(seeds, "sums_only", name)]
    return Plan(argv, "resnet_small", "resnet_small, four digit heads trained by the exact-sum likelihood "
                "(sum_nll) on real sum-labelled images only; no digit label anywhere (real-train has no digits file, "
                "no synthetic data); digit accuracy measured on the test set's digit labels",
                [ANCHORS, "our digit accuracy is per digit; their figure is sum accuracy"])


def _mnist(seeds: SeedsRun, name: str, model: str) -> Plan:
    b = seeds.budget
    argv = ["--task", "mnist", "--model", model, "--steps", b.mnist_steps[model], "--batch-size", b.mnist_batch,
            "--train-limit", b.mnist_train_limit, "--test-limit", b.mnist_test_limits.get(model, b.mnist_test_limit),
            "--seed", 0,
            "--device", seeds.device, "--out", seeds.out / "runs" / name]
    if seeds.threads:
        argv += ["--threads", seeds.threads]
    notes = [] if model != "resnet50" else [
        "trained from scratch, as seed 004's 99.42 % (its 99.53 % started from ImageNet weights: the MNIST task's "
        "--pretrained); ours: a 3x3 stride-1 stem without max-pool (train.mnist_task), not torchvision's 7x7/2"]
    settings = f"MNIST {model}, Adam 1e-3 cosine, {b.mnist_steps[model]} x {b.mnist_batch}"
    if model == "resnet18":   # seed 002 fine-tuned it: from ImageNet weights when there are some
        weights = seeds.pretrained.get("resnet18")
        if weights is not None:
            argv += ["--pretrained", weights]
        notes.append("fine-tuned from ImageNet weights (--pretrained resnet18)" if weights is not None else NO_WEIGHTS)
        settings = (f"MNIST torchvision resnet18 (1-channel 7x7/2 stem, max-pool, fc), "
                    f"{'fine-tuned' if weights is not None else 'from scratch'}, Adam 1e-3 cosine, "
                    f"{b.mnist_steps[model]} x {b.mnist_batch}")
    if model in ("resnet18", "resnet50") and b.mnist_steps[model] < 200:
        notes.append(f"only {b.mnist_steps[model]} steps: BatchNorm's running statistics are far from settled, so "
                     "the eval-mode accuracy lags the training loss (see final_loss in results.json)")
    return Plan(argv, model, settings, notes)


def plan_mnist(model):
    return lambda seeds, name: _mnist(seeds, name, model)


def plan_reader(seeds: SeedsRun, name: str) -> Plan:
    n = seeds.budget.reader_digits
    argv = ["reader-mnist", "--checkpoint", ROOT / "checkpoints" / "digitsum-reader", "--digits", n,
            "--out", seeds.out / "runs" / name]
    return Plan(argv, "digitsum-reader", f"the default checkpoint, not retrained: {n} MNIST test digits, each read "
                "once, four to a 40x168 course-layout canvas (digitsum.data.synth course layout, no augmentation), "
                "per-digit accuracy", [])


