"""Training: one loop for every method's fine-tuning (epochs, batches, seeding, checkpoints, progress, cancel)."""
from core.train.checkpoint import Checkpoint, Position
from core.train.loop import Examples, Loss, Trainer
from core.train.seeding import epoch_generator, seed_everything

__all__ = ["Checkpoint", "Examples", "Loss", "Position", "Trainer", "epoch_generator", "seed_everything"]
