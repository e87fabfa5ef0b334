"""Training: one loop (:mod:`.loop`), one step function per method (:mod:`.methods`)."""

from robgan.training.loop import Interrupted, NonFiniteLossError, RunMismatchError, train_run
from robgan.training.methods import METHODS, get_method, run_label

__all__ = ["METHODS", "Interrupted", "NonFiniteLossError", "RunMismatchError", "get_method", "run_label",
           "train_run"]
