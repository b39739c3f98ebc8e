"""A self-supervised evaluator for unlabelled images: SimCLR's contrastive objective on an EvalNet.

Why SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
Representations"): it needs no labels, no momentum encoder or memory bank, and its features
are what Morozov et al. (ICLR 2021, "On Self-Supervised Image Representations for GAN
Evaluation") found to rank GANs more faithfully than ImageNet-supervised Inception features.
Two random views of each image are pulled together and pushed away from every other image's
views in the batch (NT-Xent); the views are made by the DiffAugment ops D's inputs use
(colour, translation, cutout: SimCLR's ablation shows crop + colour is the composition that
matters) plus horizontal flips.  The 128-d penultimate layer of the EvalNet is the feature
space, as for the classifiers; the EvalNet's head is SimCLR's projection (dropped for
measuring: only the features are used).

Quality is reported on held-out images as the contrastive loss and the share of views whose
most similar other view is their own partner (instance-discrimination accuracy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.diffaugment import color, cutout, translation
from gankit.models.evaluator_net import EvalNet

PROJECTION_DIM = 64
TEMPERATURE = 0.2  # SimCLR's small-batch setting (the paper: 0.1-0.5; lower is better at small batches)


def views(x: Tensor) -> Tensor:
    """One random view per image of float images in [-1, 1] (torch's global generator)."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    return cutout(translation(color(x), ratio=0.2), ratio=0.3)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = TEMPERATURE) -> tuple[Tensor, Tensor]:
    """SimCLR's loss for projections of paired views [B,D] x 2, and the pair-retrieval accuracy."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))  # a view is not its own positive
    b = z1.shape[0]
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(sim, target), (sim.argmax(1) == target).float().mean()


def fit_ssl(x_tr: Tensor, widths, steps: int, seed: int, batch_size: int = 128, log=None) -> EvalNet:
    """An EvalNet trained by SimCLR on uint8 images [N,C,H,W] (square), `steps` batches of pairs.

    AdamW, one-cycle lr 2e-3, weight decay 5e-4 (the classifier recipe's optimiser); weights,
    data order and views from the global RNG seeded here.  `log(step, mean_loss)` ten times.
    """
    torch.manual_seed(seed)
    _, c, h, _ = x_tr.shape
    net = EvalNet(c, h, PROJECTION_DIM, list(widths))
    net.drop.p = 0.0  # the projection sees the features as they are
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    batch_size = min(batch_size, x_tr.shape[0])
    order, at, total = torch.randperm(x_tr.shape[0]), 0, 0.0
    net.train()
    for step in range(1, steps + 1):
        if at + batch_size > order.numel():
            order, at = torch.randperm(x_tr.shape[0]), 0
        x = x_tr[order[at : at + batch_size]].float() / 127.5 - 1.0
        at += batch_size
        _, z1 = net(views(x))
        _, z2 = net(views(x))
        loss, _ = nt_xent(z1, z2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach())
        if log is not None and (step % max(1, steps // 10) == 0 or step == steps):
            log(step, total / step)
    return net.eval()


@torch.no_grad()
def ssl_quality(net: EvalNet, x: Tensor, seed: int = 0, batch_size: int = 128) -> dict:
    """Held-out contrastive loss and pair-retrieval accuracy (chance: 1 / (2 * batch - 1))."""
    torch.manual_seed(seed)
    net.eval()
    batch_size = min(batch_size, x.shape[0])
    losses, accs = [], []
    for i in range(0, x.shape[0] - batch_size + 1, batch_size):
        xb = x[i : i + batch_size].float() / 127.5 - 1.0
        loss, acc = nt_xent(net(views(xb))[1], net(views(xb))[1])
        losses.append(float(loss))
        accs.append(float(acc))
    if not losses:
        return {}
    return {"ssl_loss": round(sum(losses) / len(losses), 4), "ssl_pair_accuracy": round(sum(accs) / len(accs), 4),
            "ssl_chance_accuracy": round(1 / (2 * batch_size - 1), 4)}
