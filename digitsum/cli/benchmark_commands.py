"""The timing commands: `benchmark-model` (a checkpoint against resnet18, one image end to end,
batched evaluation) and `benchmark-synth` (the training generator's images per second)."""
from __future__ import annotations

import time


def cmd_benchmark_synth(a) -> int:
    import torch
    from digitsum.data.mnist import load_mnist
    from digitsum.data.synth import make_generator
    if a.threads:
        torch.set_num_threads(a.threads)
    images, labels = load_mnist("train")
    for augment in a.augment:
        gen = make_generator(images, labels, a.layout, augment, device=a.device, seed=0)
        gen.sample(a.batch_size)  # warm-up
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < a.seconds:
            gen.sample(a.batch_size)
            n += a.batch_size
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()
        rate = n / (time.perf_counter() - start)
        print(f"synthetic generator, layout {a.layout}, augment {augment}, {a.device}, "
              f"{torch.get_num_threads()} threads, batch {a.batch_size}: {rate:,.0f} images/s")
    return 0


def _resnet18_reference():
    """torchvision's resnet18 with a 1-channel 7x7/2 stem: the speed yardstick."""
    import torch
    import torchvision
    net = torchvision.models.resnet18(weights=None)
    net.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return net.eval()


def _seconds(fn) -> float:
    """The time of one call of `fn`, after one warm-up call."""
    fn()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cmd_benchmark_model(a) -> int:
    """Forward pass against resnet18 (side by side, one process), one image end to end, and
    batched evaluation of a course set, for a checkpoint."""
    import numpy as np
    import torch
    import torch.fx.experimental.optimization
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.evaluate import predict_batches
    from digitsum.reading.predict import predict_image
    from digitsum.data.synth import generate_dataset
    if a.threads:
        torch.set_num_threads(a.threads)
    plain = load_checkpoint(a.checkpoint)
    model = load_checkpoint(a.checkpoint, for_inference=True)      # as the app and evaluation read
    reference = _resnet18_reference()
    # like for like: resnet18 with its BatchNorms folded too (torch.fx finds its conv + bn pairs)
    folded_reference = torch.fx.experimental.optimization.fuse(_resnet18_reference())
    x = torch.rand(a.batch_size, 1, model.height, model.width)
    runs = {"resnet18": reference, "resnet18, BatchNorm folded": folded_reference,
            "ours": plain, "ours, BatchNorm folded (served)": model}
    with torch.inference_mode():
        # interleaved, best of `repeats`: all see the same machine state
        times = {name: [] for name in runs}
        for _ in range(a.repeats):
            for name, net in runs.items():
                times[name].append(_seconds(lambda: net(x)))
    best = {name: min(t) * 1000 for name, t in times.items()}
    print(f"{a.checkpoint}: {torch.get_num_threads()} threads")
    print(f"  forward, batch {a.batch_size} at {model.height}x{model.width} (resnet18 with a 1-channel 7x7/2 stem), ms: "
          + ", ".join(f"{name} {ms:.0f}" for name, ms in best.items()))
    print(f"  speed-up against resnet18: served {best['resnet18'] / best['ours, BatchNorm folded (served)']:.2f}x, "
          f"unfolded {best['resnet18'] / best['ours']:.2f}x, both folded "
          f"{best['resnet18, BatchNorm folded'] / best['ours, BatchNorm folded (served)']:.2f}x")
    images, _ = generate_dataset("test", a.n, seed=1)
    one = images[0]
    times = []
    for _ in range(a.repeats * 5):
        start = time.perf_counter()
        predict_image(model, one)
        times.append(time.perf_counter() - start)
    print(f"  one image (preprocessing + model + decoding), median of {len(times)}: {np.median(times) * 1000:.1f} ms")
    _, _, rate = predict_batches(model, images, batch_size=500)
    print(f"  evaluation, {a.n} course images in batches of 500: {rate:,.0f} images/s")
    return 0
