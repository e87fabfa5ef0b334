"""Everything a step function needs: models, optimisers, data stream, attacker, RNGs.

The context owns the complete training state, so ``state_dict()`` / ``load_state_dict()`` give an
exact resume (models, optimisers, data position, every RNG).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import torch
from torch import nn

from robgan import data as rdata
from robgan.attacks import ThreatModel
from robgan.config import method_section_view, section_attack
from robgan.models import ClassifierView, build_discriminator, build_generator
from robgan.provenance import autocast, bf16_supported, torch_load
from robgan.training import schedule as sched

# Independent RNG streams derived from the run seed (so adding an attack does not shift the data).
_STREAM_DATA, _STREAM_LATENT, _STREAM_ATTACK = 1, 2, 3


def _derived_seed(seed: int, stream: int) -> int:
    return (seed * 1_000_003 + stream * 7_919) % (2**63 - 1)


class Context:
    """Training state of one run.

    Attributes:
        modules: ``{"G": generator, "D": discriminator}`` (G absent for advtrain).
        forward: the callables used for forward passes (``torch.compile``-d when configured).
        optimizers: ``{"D": Adam, "G": Adam}`` (only ``D`` for classifiers).
        classifier: ``ClassifierView(D)`` for AC discriminators, else None.
        stream: the resumable training-data stream.
        threat: the training attacker's threat model at the current iteration (None when the method does
            not attack); ``full_threat`` is the configured one (they differ during ``eps_warmup``).
        g_sample_bn: how G's batch norm normalises when it makes fine-tuning fakes (``"batch"`` or
            ``"running"``, :mod:`robgan.training.sampling`).
        g_ema: the moving average of G's weights when ``train.g_ema`` is set and the method trains G
            (:meth:`update_g_ema`), else None; snapshots and ``model.pt`` hold it as their generator.
        iteration: the 0-based iteration of the last :meth:`apply_schedule` call.
    """

    def __init__(self, cfg: dict, spec, device: torch.device, init_from: Path | None = None, *,
                 train_data: tuple[torch.Tensor, torch.Tensor] | None = None,
                 info: rdata.DatasetInfo | None = None):
        """``train_data`` (uint8 images (N,C,H,W), labels (N,)) and ``info`` replace the configured
        dataset (the benchmark feeds synthetic tensors of the paper shapes)."""
        self.cfg, self.spec, self.device = cfg, spec, device
        self.section = method_section_view(cfg, spec.name)
        self.total = int(self.section["iterations"])
        self.batch_size = int(self.section["batch_size"])
        seed = int(cfg["run"]["seed"])
        self.info = info if info is not None else rdata.dataset_info(cfg["data"])
        perf = cfg["performance"]
        self.bf16_requested = bool(perf["bf16"])
        # bf16 autocast where the device computes in bf16 (CUDA; CPUs with AVX-512-BF16 or AMX through
        # oneDNN); elsewhere float32, and the manifest says so (performance_record)
        self.bf16 = self.bf16_requested and bf16_supported(device)
        self.channels_last = bool(perf["channels_last"])
        if device.type == "cuda":
            # Training shapes never change within a run: let cuDNN pick the fastest kernels once.
            torch.backends.cudnn.benchmark = True

        images, labels = train_data if train_data is not None else rdata.load_split(cfg["data"], "train")
        self.stream = rdata.BatchStream(images, labels, self.batch_size, _derived_seed(seed, _STREAM_DATA),
                                        augment=cfg["data"]["augment"], noise=cfg["data"]["noise"],
                                        device=device)
        self.latent_gen = torch.Generator(device=device).manual_seed(_derived_seed(seed, _STREAM_LATENT))
        self.attack_gen = torch.Generator(device=device).manual_seed(_derived_seed(seed, _STREAM_ATTACK))

        self.modules: dict[str, nn.Module] = {}
        if spec.has_generator:
            self.modules["G"] = build_generator(cfg["model"], self.info)
        self.modules["D"] = build_discriminator(cfg["model"], self.info, spec.name)
        if init_from is not None:
            self._load_init(init_from)
        for m in self.modules.values():
            m.to(device)
            if self.channels_last:
                m.to(memory_format=torch.channels_last)
        if spec.has_generator and not spec.info.has_generator:
            # a generator the method does not train (fine-tuning's, from its robgan run) supplies frozen fakes
            self.modules["G"].eval().requires_grad_(False)

        self.forward = {k: (torch.compile(m) if perf["compile"] else m) for k, m in self.modules.items()}
        self.classifier = ClassifierView(self.forward["D"]) if spec.has_classifier else None
        self.g_sample_bn = str(cfg["model"]["g_sample_bn"])
        self.g_ema_decay = self.section.get("g_ema") if spec.info.has_generator else None
        self.g_ema = (copy.deepcopy(self.modules["G"]).requires_grad_(False)
                      if self.g_ema_decay is not None else None)
        self.iteration = 0
        self.full_threat = self._threat()
        self.threat = self.full_threat
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self._make_optimizers()
        self.n_classes = self.info.n_classes
        self.z_dim = int(cfg["model"]["z_dim"])

    # -- construction -------------------------------------------------------------------------
    def _load_init(self, run_dir: Path) -> None:
        """Fine-tuning starts from a finished run's ``model.pt`` (generator and discriminator)."""
        path = Path(run_dir) / "model.pt"
        if not path.is_file():
            raise FileNotFoundError(f"--from {run_dir}: no model.pt there; train that run to completion first")
        state = torch_load(path)
        for key, name in (("G", "generator"), ("D", "discriminator")):
            if key in self.modules:
                if name not in state:
                    raise ValueError(f"--from {run_dir}: model.pt has no {name}; fine-tuning needs a robgan run")
                self.modules[key].load_state_dict(state[name])

    def _threat(self) -> ThreatModel | None:
        """The method's training attack (:func:`robgan.config.section_attack`; fine-tuning: steps of
        eps / attack_steps), None for the methods that train on clean images (``attacks`` false in
        :data:`robgan.registry.METHODS`)."""
        if not self.spec.attacks:
            return None
        return ThreatModel(**section_attack(self.cfg, self.spec.section))

    def _make_optimizers(self) -> None:
        s = self.section
        if self.spec.section == "train":
            betas = tuple(s["betas"])
            self.optimizers["D"] = torch.optim.Adam(self.modules["D"].parameters(), lr=s["lr_d"], betas=betas)
            self.optimizers["G"] = torch.optim.Adam(self.modules["G"].parameters(), lr=s["lr_g"], betas=betas)
        else:
            self.optimizers["D"] = torch.optim.Adam(self.modules["D"].parameters(), lr=s["lr"],
                                                    betas=tuple(s["betas"]))
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["base_lr"] = group["lr"]

    # -- per-iteration helpers ----------------------------------------------------------------
    def apply_schedule(self, iteration: int) -> None:
        """Set every optimiser's lr for 0-based ``iteration``; reset Adam's state at milestones; scale the
        training attack during an ``eps_warmup`` (``full_threat`` is the configured one)."""
        self.iteration = iteration
        sch = self.section["schedule"]
        if sched.resets_optimizer(sch, iteration, self.total):
            for opt in self.optimizers.values():
                opt.state.clear()
        factor = sched.lr_factor(sch, iteration, self.total)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = group["base_lr"] * factor
        warmup = int(self.section.get("eps_warmup", 0))
        if warmup and self.full_threat is not None:
            f = sched.eps_factor(warmup, iteration)
            full = self.full_threat
            self.threat = dataclasses.replace(full, eps=full.eps * f, step_size=full.step_size * f)

    @torch.no_grad()
    def update_g_ema(self) -> None:
        """After the G update of iteration ``self.iteration``: move the average's parameters towards G's
        by ``1 - ema_decay(g_ema, iteration + 1)`` and copy G's buffers (batch-norm statistics). A no-op
        without ``train.g_ema``."""
        if self.g_ema is None:
            return
        decay = sched.ema_decay(float(self.g_ema_decay), self.iteration + 1)
        for p_avg, p in zip(self.g_ema.parameters(), self.modules["G"].parameters(), strict=True):
            p_avg.lerp_(p, 1.0 - decay)
        for b_avg, b in zip(self.g_ema.buffers(), self.modules["G"].buffers(), strict=True):
            b_avg.copy_(b)

    def sample_latent(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """z ~ N(0, I) (n, z_dim) and labels uniform over classes (n,), from the run's latent RNG."""
        z = torch.randn(n, self.z_dim, generator=self.latent_gen, device=self.device)
        y = torch.randint(0, self.n_classes, (n,), generator=self.latent_gen, device=self.device)
        return z, y

    def autocast(self):
        """bf16 autocast on the run's device when ``performance.bf16`` is on and the device supports it."""
        return autocast(self.device, self.bf16)

    def performance_record(self) -> dict:
        """What the manifest records of the speed settings: as configured and as in effect here."""
        return {"bf16_requested": self.bf16_requested, "bf16": self.bf16,
                "channels_last": self.channels_last, "compile": bool(self.cfg["performance"]["compile"])}

    def to_memory_format(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        modules = {k: m.state_dict() for k, m in self.modules.items()}
        if self.g_ema is not None:
            modules["G_ema"] = self.g_ema.state_dict()
        return {
            "modules": modules,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "stream": self.stream.state_dict(),
            "latent_gen": self.latent_gen.get_state(),
            "attack_gen": self.attack_gen.get_state(),
            "cpu_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(state["modules"][k])
        if self.g_ema is not None:
            self.g_ema.load_state_dict(state["modules"]["G_ema"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
            for group in o.param_groups:  # base_lr is config-derived; keep it authoritative
                group["base_lr"] = group.get("base_lr", group["lr"])
        self.stream.load_state_dict(state["stream"])
        self.latent_gen.set_state(state["latent_gen"])
        self.attack_gen.set_state(state["attack_gen"])
        torch.set_rng_state(state["cpu_rng"])

    def model_payload(self) -> dict:
        """The weights that a snapshot / ``model.pt`` holds (generator and/or discriminator). With
        ``train.g_ema`` the generator is the weight average and the trained weights are ``generator_raw``."""
        out = {"discriminator": self.modules["D"].state_dict()}
        if self.g_ema is not None:
            out["generator"] = self.g_ema.state_dict()
            out["generator_raw"] = self.modules["G"].state_dict()
        elif "G" in self.modules:
            out["generator"] = self.modules["G"].state_dict()
        return out
