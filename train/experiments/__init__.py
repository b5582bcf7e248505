"""`python -m train.experiments seeds --budget {smoke,cpu,gpu} --out DIR`: the seeds' table in one command.

Each system of `SYSTEMS` (the designs the seed reports compared) is trained by its own subprocess,
`python -m train ...` (or `python -m train --task mnist ...`), with its own `--out DIR/runs/NAME`;
its numbers are read from the metrics the run writes (`DIR/runs/NAME/best/metrics.json`, or
`metrics.json` for MNIST). `DIR/results.json` holds one object per system (the seed's reported
result, ours, the command, budget, wall time, notes) and `DIR/results.md` the same as a table.
Systems already done at this budget in DIR/results.json are skipped, and a system stopped midway
goes on from its last save point (--resume), so a stopped call resumes; `--part K/N` runs the K-th
of N consecutive groups of rows of about equal estimated time.

Data (made once under DIR/data, never mixing train and test):
- real-train: course-layout images of MNIST *train* digits written with their SUMS only (no
  digits*.npy), the seeds' "real data" (the course gave sums only);
- val: `--data ROOT/val` (MNIST train digits, README's seed 2), for checkpoint choice only;
- test: `--data ROOT/test` (MNIST *test* digits, README's seed 1234), its first `test_n` images.
Missing sets under ROOT are generated with the README's settings.

Budgets: `smoke` seconds a system (CI), `cpu` minutes a system on a 2-core CPU, `gpu` the seeds'
128-image batches and 30k real images, every row on one H100-class GPU in about 12 minutes in all
(scripts/seeds_gpu.sh; the dry run prints each row's steps and estimated time).
ImageNet weights: `--pretrained PATH` (a torchvision resnet50 or vgg11 state_dict, read with
torch.load(weights_only=True); which one is told by its keys), or `--torchvision-weights` to try
torchvision's own download. Without either, every model trains from scratch and the table says so.

The modules: plan (budgets, and each system's `python -m train` flags), systems (the table's rows,
and running one), estimate (each row's time on one H100, from its counted operations and FLOPs), inputs (the data sets and ImageNet weights the systems share), seeds (the
`seeds` command: every row, skipping what is done), table (results.json and results.md), reader
(the `reader-mnist` command), cli (the flags of the three commands).
"""
