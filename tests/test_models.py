import pytest
import torch

from digitsum.models import MODELS, create_model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_runs_forward_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.rand(2, 1, 40, 168)
    out = model(x)
    expected = {"digits": (2, 4, 10), "sum": (2, 37), "regression": (2,)}[model.head_kind]
    assert out.shape == expected
    out.float().square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    model.eval()
    digit_probs, sum_probs = model.predict_proba(x)
    assert sum_probs.shape == (2, 37) and torch.allclose(sum_probs.sum(1), torch.ones(2), atol=1e-5)
    if model.head_kind == "digits":
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
