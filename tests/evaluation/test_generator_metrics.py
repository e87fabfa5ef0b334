"""Generator metrics of the field (KID, precision/recall, intra-class FID and recall) against torch-fidelity
on small synthetic features, golden values, the collapse floor, and a doctored collapsed generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robgan.evaluation import acceptance
from robgan.evaluation import fidelity as fd


def _feats(n: int, d: int = 8, seed: int = 0, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


# ------------------------------------------------------------------------------------- vs torch-fidelity


def test_precision_recall_equals_torch_fidelity_full_computation():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    fake, real = _feats(60, seed=1, shift=0.5), _feats(80, seed=2)
    ours = fd.precision_recall(fake, real)
    prec, rec = calculate_precision_recall_full(fake.float(), real.float(), 3, 10000)
    assert ours == {"precision": pytest.approx(prec, abs=1e-12), "recall": pytest.approx(rec, abs=1e-12)}
    assert 0.0 < ours["precision"] < 1.0 and 0.0 < ours["recall"] < 1.0


def test_precision_recall_with_cached_real_radii_equals_torch_fidelity_exactly():
    """The real side's k-NN radii computed once (per evaluation) give torch-fidelity's own numbers, bit for
    bit, through its public entry point; per-class radii likewise for the intra-class metric."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    fake, real = _feats(70, seed=4, shift=0.3).float(), _feats(90, seed=5).float()
    tf = prc_features_to_metric(fake, real, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=True,
                                verbose=False)
    radii = fd.knn_radii(real)
    assert radii.shape == (90,) and bool((radii > 0).all())
    cached = fd.precision_recall(fake, real, real_radii=radii)
    assert cached == fd.precision_recall(fake, real) == {"precision": tf["precision"], "recall": tf["recall"]}
    with pytest.raises(ValueError, match=r"real_radii must be \(90,\)"):
        fd.precision_recall(fake, real, real_radii=radii[:5])
    fl, rl = torch.arange(70) % 2, torch.arange(90) % 2
    class_radii = fd.class_knn_radii(real, rl, 2)
    assert [len(r) for r in class_radii] == [45, 45]
    assert (fd.intra_class_precision_recall(fake, fl, real, rl, 2, real_radii=class_radii)
            == fd.intra_class_precision_recall(fake, fl, real, rl, 2))


def test_precision_recall_golden_cases():
    real = _feats(50, seed=3)
    assert fd.precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}
    # a generator that ignores its noise: one point repeated -> its k-NN balls have radius 0
    collapsed = real[:1].repeat(40, 1) + 1e-3
    out = fd.precision_recall(collapsed, real)
    assert out["recall"] == 0.0
    # hand-computed: 1-D, fakes {0, 1, 2, 3, 10} real {0, 1, 2, 3}, k = 1
    fake = torch.tensor([[0.0], [1.0], [2.0], [3.0], [10.0]])
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    # real radii (1st NN): 1 each -> fakes 0-3 inside, 10 outside: precision 4/5; fake radii: 1,1,1,1,7
    # -> every real point is inside: recall 1
    assert fd.precision_recall(fake, real, neighborhood=1) == {"precision": pytest.approx(0.8), "recall": 1.0}
    with pytest.raises(ValueError, match="N, M > 3"):
        fd.precision_recall(real[:3], real)


def test_kid_equals_torch_fidelity_and_is_near_zero_for_one_distribution():
    from torch_fidelity.metric_kid import kid_features_to_metric

    fake, real = _feats(120, seed=4, shift=0.3), _feats(150, seed=5)
    ours = fd.kernel_inception_distance(fake, real, subsets=20, subset_size=100, seed=7)
    ref = kid_features_to_metric(fake, real, kid_subsets=20, kid_subset_size=100, kid_kernel="poly",
                                 kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1,
                                 rng_seed=7, verbose=False)
    assert ours["kid_mean"] == pytest.approx(float(ref["kernel_inception_distance_mean"]), rel=1e-12)
    assert ours["kid_std"] == pytest.approx(float(ref["kernel_inception_distance_std"]), rel=1e-12)
    assert ours["kid_subset_size"] == 100
    same = fd.kernel_inception_distance(_feats(300, seed=8), _feats(300, seed=9), subsets=20, seed=0)
    assert same["kid_subset_size"] == 300  # capped by the inputs
    assert abs(same["kid_mean"]) < 0.2 * ours["kid_mean"]


def test_intra_class_fid_golden_shifts_and_per_class_fid():
    # each class's fakes are its reals shifted by c along every axis: FID_c = D·c² exactly (same covariance)
    d, k = 4, 3
    real = torch.cat([_feats(40, d, seed=10 + c) for c in range(k)])
    labels = torch.arange(k).repeat_interleave(40)
    fake = real + labels[:, None].double()
    out = fd.intra_class_fid(fake, labels, real, labels, k)
    assert out["intra_fid_per_class"] == pytest.approx([0.0, d * 1.0, d * 4.0], abs=1e-6)
    assert out["intra_fid"] == pytest.approx(d * 5 / 3, abs=1e-6)
    # and it is torch-fidelity's FID per class
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    c = 2
    stats = [{"mu": x[labels == c].numpy().mean(0), "sigma": np.cov(x[labels == c].numpy(), rowvar=False)}
             for x in (fake, real)]
    assert out["intra_fid_per_class"][c] == pytest.approx(
        fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"], rel=1e-9)
    # pooling hides what the per-class FID sees: the classes' fakes swapped leave the pooled FID at 0
    apart = real + 3.0 * labels[:, None].double()                        # classes 3 apart
    swapped = apart[torch.cat([torch.arange(40, 80), torch.arange(0, 40), torch.arange(80, 120)])]
    pooled = fd.frechet_distance(*fd.feature_stats(swapped), *fd.feature_stats(apart))["fid"]
    assert pooled == pytest.approx(0, abs=1e-6)
    assert fd.intra_class_fid(swapped, labels, apart, labels, k)["intra_fid"] > 2 * d * 9 / 3 * 0.9  # ~ (9+9+0)d/3
    with pytest.raises(ValueError, match="class 2"):
        fd.intra_class_fid(fake[:81], labels[:81], real, labels, k)


def test_intra_class_recall_sees_one_collapsed_class():
    k, d = 4, 6
    real = torch.cat([_feats(60, d, seed=20 + c, shift=6.0 * c) for c in range(k)])
    rl = torch.arange(k).repeat_interleave(60)
    # fakes: a diverse copy of the class's distribution, except class 3: one image repeated
    fake = torch.cat([_feats(60, d, seed=40 + c, shift=6.0 * c) for c in range(k)])
    fl = rl.clone()
    fake[fl == 3] = real[rl == 3][0]
    out = fd.intra_class_precision_recall(fake, fl, real, rl, k, per_class=50)
    per = out["intra_recall_per_class"]
    assert per[3] == pytest.approx(1 / 60)      # the repeated image covers only itself (distance 0 <= radius 0)
    assert min(per[:3]) > 0.4
    assert out["intra_recall"] == pytest.approx(sum(per) / k)
    assert out["min_class_samples"] == 50  # the first 50 of each class
    whole = fd.intra_class_precision_recall(fake, fl, real, rl, k, per_class=1000)
    assert whole["min_class_samples"] == 60


# ------------------------------------------------------------------------------------------- the floor


def test_collapse_check_floor_and_records_that_predate_it():
    assert acceptance.collapse_check({"iteration": 5, "is_mean": 9.3}) == (acceptance.NOT_MEASURED,
                                                                           acceptance.PREDATES)
    st, detail = acceptance.collapse_check({"iteration": 1200, "intra_recall": 0.05,
                                            "intra_recall_per_class": [0.1, 0.0]})
    assert st == acceptance.FAILED and "0.050 < 0.1" in detail and "lowest class 0.000 (class 1)" in detail
    assert acceptance.collapse_check({"iteration": 1, "intra_recall": acceptance.MIN_INTRA_RECALL})[0] == acceptance.OK
    # a mean above the floor with one collapsed class fails (quick's first Rob-GAN: 0.228, class 5 at 0.005)
    st, detail = acceptance.collapse_check({"iteration": 1000, "intra_recall": 0.228,
                                            "intra_recall_per_class": [0.3] * 5 + [0.005] + [0.3] * 4})
    assert st == acceptance.FAILED and "class 5 0.005 < 0.04" in detail and "collapsed within that class" in detail
    st, detail = acceptance.collapse_check({"iteration": 1000, "intra_recall": 0.3,
                                            "intra_recall_per_class": [0.3] * 9 + [acceptance.MIN_CLASS_INTRA_RECALL]})
    assert st == acceptance.OK and "every class ≥ 0.04" in detail
    assert acceptance.class_accuracy_check("sngan", 0.61)[0] == acceptance.OK
    assert acceptance.class_accuracy_check("robgan", 0.61)[0] == acceptance.FAILED
    assert acceptance.class_accuracy_check("robgan", None)[0] == acceptance.NOT_MEASURED
    assert acceptance.clean_accuracy_check(0.4)[0] == acceptance.FAILED
