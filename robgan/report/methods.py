"""What each run label was trained with, read from the resolved experiment config (torch-free).

The report states these beside its numbers so that a comparison says whether it is like for like:
the discriminator family of every label, the generator's sampling mode (``model.g_sample_bn``) and the
classifier's training budget (:func:`robgan.registry.training_budget`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from robgan.config import method_section, method_section_view
from robgan.registry import label_info, training_budget

D_ARCH_NAMES = {"resnet": "ResNet", "preact_resnet18": "PreAct-ResNet-18"}
G_SAMPLE_BN = {"batch": "batch statistics (train-mode BN, as the authors)",
               "running": "running statistics (eval-mode BN; the authors sample with batch statistics)"}


def discriminator(cfg: Mapping[str, Any] | None, label: str) -> tuple[str, str] | None:
    """``(family, description)`` of ``label``'s discriminator, e.g. ``("resnet", "SN-ResNet, projection
    head")``; None without a config or for a label the registry does not know.

    SN-GAN's projection discriminator is a spectrally normalised ResNet whatever ``model.d_arch`` says;
    every AC method uses ``model.d_arch``.
    """
    if not cfg:
        return None
    try:
        info = label_info(label).info
    except ValueError:
        return None
    if info.d_head == "projection":
        return "resnet", f"{'SN-' if info.spectral_norm else ''}ResNet, projection head"
    model = cfg.get("model") or {}
    arch = str(model.get("d_arch", "resnet"))
    pool = str(model.get("d_pool", "sum"))
    if arch == "resnet" and pool != "sum":  # the documented deviation: another parameterisation of the head
        return f"{arch}-{pool}", f"{'SN-' if info.spectral_norm else ''}ResNet ({pool}-pooled), AC head"
    return arch, f"{'SN-' if info.spectral_norm else ''}{D_ARCH_NAMES.get(arch, arch)}, AC head"


def _gan_train_view(cfg: Mapping[str, Any] | None, label: str) -> Mapping[str, Any] | None:
    """The ``train`` section of a GAN label with its ``method_overrides`` applied; None for other labels
    or without a config."""
    if not cfg:
        return None
    try:
        method = label_info(label).method
    except ValueError:
        return None
    if method_section(method) != "train" or "train" not in cfg:
        return None
    return method_section_view(cfg, method)


def optimiser(cfg: Mapping[str, Any] | None, label: str) -> str | None:
    """``"Adam(lr_d 0.002, lr_g 0.002, betas 0/0.9)"`` of a GAN label (its ``train.method_overrides``
    applied); None for other labels or without a config."""
    t = _gan_train_view(cfg, label)
    if t is None:
        return None
    b = "/".join(f"{x:g}" for x in t.get("betas", ()))
    n_dis = "" if t.get("n_dis") == cfg["train"].get("n_dis") else f", n_dis {t.get('n_dis')}"
    return f"Adam(lr_d {t.get('lr_d'):g}, lr_g {t.get('lr_g'):g}, betas {b}){n_dis}"


def g_ema(cfg: Mapping[str, Any] | None, label: str) -> float | None:
    """The weight-average decay of a GAN label's generator (``train.g_ema``), None when it keeps no average
    (or for other labels, or without a config)."""
    t = _gan_train_view(cfg, label)
    return None if t is None or t.get("g_ema") is None else float(t["g_ema"])


def n_dis(cfg: Mapping[str, Any] | None, label: str) -> int | None:
    """D steps per G step of a GAN label (``train.n_dis`` with its ``method_overrides``); None otherwise."""
    t = _gan_train_view(cfg, label)
    return None if t is None else int(t.get("n_dis", 1))


def unlike_n_dis(cfg: Mapping[str, Any] | None, labels: Sequence[str]) -> str | None:
    """Why generators ``labels`` are not comparable (they train at different D steps per G step, so one
    gets more discriminator updates and costs more per iteration), else None."""
    steps = {lab: n_dis(cfg, lab) for lab in labels}
    if any(v is None for v in steps.values()) or len(set(steps.values())) < 2:
        return None
    return (f"the pair trains at different D steps per G step ({_grouped({k: f'n_dis {v}' for k, v in steps.items()})}"
            "): one gets more discriminator updates per generator iteration and costs more per iteration, so "
            "neither speed nor final quality compares the methods (the authors' 64-px runs train both at 5)")


def _grouped(values: Mapping[str, str]) -> str:
    """``"a, b: X vs c: Y"``: labels that share a value listed together, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for lab, v in values.items():
        groups.setdefault(v, []).append(lab)
    return " vs ".join(f"{', '.join(labs)}: {v}" for v, labs in groups.items())


def unlike_discriminators(cfg: Mapping[str, Any] | None, labels: Sequence[str]) -> str | None:
    """A sentence when ``labels`` train discriminators of different families or with different optimisers
    (not like for like), else None."""
    parts = []
    described = {lab: discriminator(cfg, lab) for lab in labels}
    if all(v is not None for v in described.values()) and len({v[0] for v in described.values()}) > 1:
        parts.append(f"different discriminator families ({_grouped({lab: d for lab, (_, d) in described.items()})})")
    opts = {lab: optimiser(cfg, lab) for lab in labels}
    if all(v is not None for v in opts.values()) and len(set(opts.values())) > 1:
        parts.append(f"different optimisers ({_grouped(opts)})")
    if not parts:
        return None
    return (f"not like for like: {'; '.join(parts)}; a difference mixes the method with the architecture "
            "and its training settings")


def g_sample_bn(cfg: Mapping[str, Any] | None) -> str | None:
    """The generator's sampling mode (``model.g_sample_bn``: ``batch`` or ``running``); None without a config."""
    if not cfg:
        return None
    return str((cfg.get("model") or {}).get("g_sample_bn", "running"))


def g_sample_text(cfg: Mapping[str, Any] | None) -> str:
    mode = g_sample_bn(cfg)
    if mode is None:
        return "generator sampling mode unknown (no experiment config given)"
    return f"generator sampled with {G_SAMPLE_BN.get(mode, mode)} (model.g_sample_bn = {mode})"


def budget(cfg: Mapping[str, Any] | None, label: str) -> dict[str, int] | None:
    """``{"d_updates", "real_images"}`` of ``label``'s classifier / discriminator; None when unknown."""
    if not cfg:
        return None
    try:
        return training_budget(cfg, label)
    except (KeyError, ValueError, TypeError):
        return None


def budget_text(b: Mapping[str, int] | None) -> str:
    """``"400 D updates, 12.8k real images"``; ``"n/a"`` when unknown."""
    if not b:
        return "n/a"
    imgs = b["real_images"]
    img_txt = f"{imgs / 1e6:.1f}M" if imgs >= 1e6 else f"{imgs / 1e3:.1f}k" if imgs >= 1e4 else str(imgs)
    return f"{b['d_updates']:,} D updates, {img_txt} real images"
