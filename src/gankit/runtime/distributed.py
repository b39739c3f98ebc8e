"""Data-parallel training with PyTorch's own engine: `torchrun --nproc_per_node N -m gankit train ...`.

torchrun starts N copies of `gankit train` and tells each its place through the
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).  `setup()` reads it and joins
the process group (NCCL on GPUs, gloo on CPUs); without torchrun it returns a one-process
`Dist` and nothing else changes.

What a run means does not depend on how many processes train it:

- `train.batch_size` is the global batch.  Every rank walks the same epoch order and takes
  its slice of each batch (`shard`), and the noise z and D's targets are drawn for the whole
  batch from generators every rank holds in the same state, then sliced; DDP averages the
  gradients.  So 2 ranks x 32 images train the same model as 1 process x 64 (up to the
  order of floating-point sums), and a checkpoint resumes on any world size that divides
  the batch.
- Everything else random (dropout, DiffAugment, instance noise) draws from torch's default
  generator, seeded per rank (`rank_seed`), so ranks do not repeat each other's masks.
- Rank 0 alone writes: the run directory, logs, grids, evaluations and checkpoints
  (unwrapped from DDP, as always).  The ranks agree each step on whether to stop (a signal,
  the budget, a non-finite loss) with one tiny all-reduce (`agree`), so none waits forever
  for a rank that has left.
- Batch norm becomes SyncBatchNorm on GPUs (statistics over the global batch).  PyTorch's
  SyncBatchNorm has no CPU kernel, so on CPUs each rank normalises by its own slice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist
from torch import nn

from gankit.errors import GankitError


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup() -> Dist:
    """Join torchrun's process group when started by torchrun (WORLD_SIZE > 1); else one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    dist = Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not tdist.is_initialized():
        gpu = torch.cuda.is_available()
        if gpu:
            torch.cuda.set_device(dist.local_rank)
        tdist.init_process_group("nccl" if gpu else "gloo")
    return dist


def teardown(dist: Dist) -> None:
    if dist.active and tdist.is_initialized():
        tdist.destroy_process_group()


def place(device: torch.device, dist: Dist) -> torch.device:
    """Each rank's own GPU (LOCAL_RANK) when the device is CUDA without an index."""
    if dist.active and device.type == "cuda" and device.index is None:
        return torch.device("cuda", dist.local_rank)
    return device


def check_batch(batch_size: int, dist: Dist) -> int:
    """The per-rank slice of train.batch_size (the global batch)."""
    if batch_size % dist.world:
        raise GankitError(f"train.batch_size={batch_size} does not split over {dist.world} processes; "
                          f"use a multiple of {dist.world}")
    return batch_size // dist.world


def shard(x: torch.Tensor, dist: Dist) -> torch.Tensor:
    """This rank's slice of a global batch (along dim 0)."""
    if not dist.active:
        return x
    b = x.shape[0] // dist.world
    return x[dist.rank * b:(dist.rank + 1) * b]


def rank_seed(seed: int, dist: Dist, step: int) -> None:
    """Seed torch's default generator for this rank from (seed, rank, step): distinct per rank,
    reproducible, and the same after a resume at `step`."""
    if dist.active:
        torch.manual_seed((seed * 1_000_003 + dist.rank * 7_919 + step) % (2**63))


def agree(*flags: bool, dist: Dist) -> tuple[bool, ...]:
    """Each flag OR-ed over all ranks (one all-reduce of a few numbers)."""
    if not dist.active:
        return flags
    t = torch.tensor([float(f) for f in flags], device=_comm_device())
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def mean_values(values: dict[str, float], dist: Dist) -> dict[str, float]:
    """The average over ranks of each number (same keys on every rank), for logging."""
    if not dist.active or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=_comm_device())
    tdist.all_reduce(t)
    return {k: v / dist.world for k, v in zip(keys, t.tolist())}


def broadcast(obj, dist: Dist):
    """Rank 0's `obj` on every rank (e.g. the run directory it just created)."""
    if not dist.active:
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def wrap(G: nn.Module, D: nn.Module, device: torch.device, dist: Dist) -> tuple[nn.Module, nn.Module]:
    """(G, D) as the loop calls them: DDP wrappers on several ranks, the modules themselves on one.

    The wrappers share their parameters with the modules, so optimisers, EMA and checkpoints
    keep using the unwrapped G and D.
    """
    if not dist.active:
        return G, D
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    if device.type == "cuda":  # in place: the BN parameters stay the optimiser's tensors
        G = nn.SyncBatchNorm.convert_sync_batchnorm(G)
        D = nn.SyncBatchNorm.convert_sync_batchnorm(D)
    # a growing model (progan) leaves the layers of every other stage without gradients; DDP
    # must look for them each step, or the second step fails ("Expected to have finished
    # reduction in the prior iteration")
    return tuple(DDP(net, device_ids=ids, find_unused_parameters=hasattr(net, "set_progress")) for net in (G, D))


def _comm_device() -> torch.device:
    # NCCL reduces CUDA tensors only; gloo CPU ones
    return torch.device("cuda", torch.cuda.current_device()) if tdist.get_backend() == "nccl" else torch.device("cpu")
