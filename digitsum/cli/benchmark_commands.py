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
    from digitsum.storage.checkpoint import load_checkpoint
    from digitsum.evaluation.evaluate import predict_batches
    from digitsum.reading.predict import predict_image
    from digitsum.data.synth import generate_dataset
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_checkpoint(a.checkpoint)
    reference = _resnet18_reference()
    x = torch.rand(a.batch_size, 1, model.height, model.width)
    with torch.inference_mode():
        # interleaved, best of `repeats`: both see the same machine state
        ref_s, ours_s = [], []
        for _ in range(a.repeats):
            ref_s.append(_seconds(lambda: reference(x)))
            ours_s.append(_seconds(lambda: model(x)))
    ref_best, ours_best = min(ref_s), min(ours_s)
    print(f"{a.checkpoint}: {torch.get_num_threads()} threads")
    print(f"  forward, batch {a.batch_size} at {model.height}x{model.width}: {ours_best * 1000:.0f} ms; "
          f"resnet18 (1-channel 7x7/2 stem) {ref_best * 1000:.0f} ms; speed-up {ref_best / ours_best:.2f}x")
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
