"""Training: one loop for every method's fine-tuning (epochs, batches, seeding, checkpoints, progress, cancel)."""
from core.train.checkpoint import Checkpoint
from core.train.seeding import epoch_generator, seed_everything

__all__ = ["Checkpoint", "epoch_generator", "seed_everything"]
