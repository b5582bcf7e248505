import pytest
import torch

from digitsum.models.net import MODELS, create_model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_runs_forward_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.rand(2, 1, 40, 168)
    out = model(x)
    expected = {"digits": (2, 4, 10), "sum": (2, 37), "regression": (2,), "centers": (2, 11, 84)}[model.head_kind]
    assert out.shape == expected
    out.float().square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    model.eval()
    digit_probs, sum_probs = model.predict_proba(x)
    assert sum_probs.shape == (2, 37) and torch.allclose(sum_probs.sum(1), torch.ones(2), atol=1e-5)
    if model.head_kind in ("digits", "centers"):
        assert digit_probs.shape == (2, 4, 10)
    else:
        assert digit_probs is None


def test_other_canvas_size_is_a_config_value():
    model = create_model("resnet_small", height=48, width=200)
    assert model(torch.rand(2, 1, 48, 200)).shape == (2, 4, 10)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown model"):
        create_model("vgg")
    with pytest.raises(ValueError, match="unknown trunk"):
        create_model("resnet18", trunk="alexnet")


def test_the_reader_is_the_default_and_reports_where_it_read():
    from digitsum.models.net import DEFAULT_MODEL
    model = create_model(DEFAULT_MODEL).eval()
    assert model.head_kind == "centers"
    digit_probs, sum_probs, where, _ = model.read(torch.rand(3, 1, 40, 168))
    assert digit_probs.shape == (3, 4, 10) and sum_probs.shape == (3, 37)
    assert where.shape == (3, 4) and (where[:, 1:] > where[:, :-1]).all()        # reading order
    assert 0 <= where.min() and where.max() < 168
    assert create_model("resnet_small").eval().read(torch.rand(1, 1, 40, 168))[2] is None


def test_reader_weights_do_not_depend_on_position():
    # shifting the input by 8 px (a multiple of the width stride, 4) shifts every map by 4
    # sub-columns: the same weights read a digit wherever it sits. Compared away from the canvas
    # edges (the receptive field is ~100 px wide), on a canvas wide enough to have such a middle.
    torch.manual_seed(0)
    model = create_model("reader").eval()
    x = torch.zeros(1, 1, 40, 320)
    x[0, 0, 10:30, 130:146] = torch.rand(20, 16)
    shifted = torch.roll(x, 8, dims=3)
    with torch.no_grad():
        a, b = model(x), model(shifted)
    assert a.shape == (1, 11, 160)
    assert torch.allclose(a[..., 26:130], b[..., 30:134], atol=1e-4)
    assert not torch.allclose(a[..., 26:130], b[..., 26:130], atol=1e-2)   # and it does see the ink


def test_decode_takes_the_four_strongest_peaks_in_reading_order():
    from digitsum.models.reader import decode
    maps = torch.full((1, 11, 84), -5.0)
    for pos, digit, strength in ((60, 3, 4.0), (10, 7, 3.0), (30, 1, 5.0), (31, 2, 4.5), (45, 9, 2.0), (70, 0, -1.0)):
        maps[0, 0, pos] = strength
        maps[0, 1 + digit, pos] = 8.0
    logits, positions = decode(maps)
    # 31 is the shoulder of the peak at 30, not a digit; 70 is the weakest of the rest
    assert positions.tolist() == [[10, 30, 45, 60]]
    assert logits.argmax(-1).tolist() == [[7, 1, 9, 3]]


# the seeds' models as the seeds built them (digitsum.models.seeds): torchvision's ResNets, 7x7/2 stem
# and max-pool on one channel, global pool and fc; parameters as torchvision's, less the stem's two
# other input channels (64 x 2 x 7 x 7) and the 1000-way fc, plus the seed's head
TORCHVISION_PARAMS = {"resnet18": 11_689_512, "resnet50": 25_557_032, "resnet101": 44_549_160}
FEATURES = {"resnet18": 512, "resnet50": 2048, "resnet101": 2048}


@pytest.mark.parametrize("name", ["seed_resnet18_sum37", "seed_resnet50_sum37", "seed_resnet101_sum37",
                                  "seed_resnet18_digits", "seed_resnet50_digits", "seed_resnet18_regression"])
def test_seed_resnets_are_torchvisions_with_a_gray_stem_and_the_seeds_head(name):
    arch = name.split("_")[1]
    model = create_model(name)
    stem = model.trunk[0]
    assert (stem.in_channels, stem.kernel_size, stem.stride) == (1, (7, 7), (2, 2))
    assert isinstance(model.trunk[3], torch.nn.MaxPool2d)
    assert not hasattr(model, "mix")   # no column features: torchvision's global pool
    c = FEATURES[arch]
    head = {"sum": c * 37 + 37, "digits": 4 * (c * 10 + 10), "regression": c + 1}[model.head_kind]
    expected = TORCHVISION_PARAMS[arch] - 64 * 2 * 49 - (c * 1000 + 1000) + head
    assert sum(p.numel() for p in model.parameters()) == expected
    if name == "seed_resnet50_sum37":
        assert 23.4e6 < expected < 23.7e6
    x = torch.rand(2, 1, 40, 168)
    with torch.no_grad():
        out = model.eval()(x)
    assert out.shape == {"digits": (2, 4, 10), "sum": (2, 37), "regression": (2,)}[model.head_kind]


def test_seed_resnets_take_torchvision_imagenet_weights():
    import torchvision
    from digitsum.models.net import load_torchvision_weights
    torch.manual_seed(0)
    source = torchvision.models.resnet18(weights=None).state_dict()
    model = create_model("seed_resnet18_sum37")
    report = load_torchvision_weights(model, source)
    assert report["adapted"] == ["conv1.weight"] and report["trunk_tensors_not_loaded"] == []
    assert set(report["skipped"]) == {"fc.weight", "fc.bias"}
    assert torch.allclose(model.trunk[0].weight, source["conv1.weight"].sum(1, keepdim=True))
    assert torch.equal(model.trunk[7][1].conv2.weight, source["layer4.1.conv2.weight"])


def test_seed_vgg_is_torchvisions_whole_frozen_features_with_an_adapter():
    import torchvision
    from digitsum.models.net import load_torchvision_weights
    model = create_model("seed_vgg11_frozen_digits")
    features = torchvision.models.vgg11(weights=None).features
    assert len(model.trunk[1]) == len(features)        # all five pools (ours, vgg11_frozen, stops at the third)
    learned = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert learned == (1 * 3 + 3) + 4 * (512 * 10 + 10)   # the adapter and the four digit fc
    assert model(torch.rand(2, 1, 40, 168)).shape == (2, 4, 10)
    source = torchvision.models.vgg11(weights=None).state_dict()
    report = load_torchvision_weights(model, source)
    assert report["trunk_tensors_not_loaded"] == ["trunk.0.bias", "trunk.0.weight"]   # the adapter
    assert torch.equal(model.trunk[1][18].weight, source["features.18.weight"])
