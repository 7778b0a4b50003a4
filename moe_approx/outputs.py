"""One output of a network with m outputs, as an exact sub-network (docs/theory.md §3).

The experts of a vector target are m component networks composed in parallel
(:func:`moe_approx.calculus.parallel`): one shared input layer, then block-diagonal layers. Taking
output j back out keeps its block only, which is the j-th component network itself; a network that
is not block-diagonal in m equal blocks keeps all its hidden neurons and only the output row j.
Both compute x ↦ Φ(x)_j exactly (the removed neurons have zero weight into output j).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int
from .mlp import MLP


def _blocks(net: MLP) -> list[np.ndarray] | None:
    """Per layer l = 1 … J, the block index of each input neuron of layer l, if ``net`` (a stack or
    not) is block-diagonal with m = out_dim equal blocks in every hidden layer; else None."""
    m = net.out_dim
    widths = net.widths[1:-1]
    if any(w % m for w in widths):
        return None
    owners = [np.repeat(np.arange(m), w // m) for w in widths]
    outs = owners[1:] + [np.arange(m)]
    for (w, _), rows, cols in zip(net.layers[1:], owners, outs):
        if np.any(np.asarray(w)[..., rows[:, None] != cols[None, :]]):
            return None
    return owners


def output_component(net: MLP, j: int) -> MLP:
    """The network x ↦ net(x)_j (one output), exact; the j-th block where ``net`` is block-diagonal.

    Parameters
    ----------
    net : MLP
        A network or a stack with ``out_dim`` m >= 1.
    j : int
        The output, 0 <= j < m.

    Returns
    -------
    MLP
        One output; for a parallel composition of m networks of one architecture, the j-th network.

    Raises
    ------
    TypeError, ValueError
        If ``net`` is not an MLP or ``j`` is not an integer in [0, m).

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> from moe_approx.outputs import output_component
    >>> both = calculus.parallel(calculus.absolute(1), calculus.scale(calculus.absolute(1), 2.0))
    >>> both.widths, output_component(both, 1).widths           # x ↦ (|x|, 2|x|), then its block 1
    ((1, 4, 2), (1, 2, 1))
    >>> np.asarray(output_component(both, 1)(np.array([-3.0])))
    array([6.])
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP, got {type(net).__name__}")
    j = check_int(j, "j", 0)
    if j >= net.out_dim:
        raise ValueError(f"j must be an output index in [0, {net.out_dim}), got {j}")
    owners = _blocks(net)
    keep = [np.arange(w) for w in net.widths[1:-1]] if owners is None else [np.nonzero(o == j)[0] for o in owners]
    rows = [slice(None)] + keep
    cols = keep + [np.array([j])]
    layers = tuple((np.asarray(w)[..., r, :][..., c], np.asarray(b)[..., c])
                   for (w, b), r, c in zip(net.layers, rows, cols))
    slopes = tuple(np.asarray(a)[..., c] for a, c in zip(net.slopes, keep))
    return MLP(layers, slopes, net.activation)
