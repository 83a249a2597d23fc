"""Synchronous minibatches for the sequence epochs with layer weights (CNN, LSTM,
mixture): the workers share each minibatch and one optimiser step follows it, so that
a minibatch's gradient is computed at the weights of all the steps before it, as with
one thread, unless a worker would have to wait long for another.

A minibatch is cut into chunks of a few sequences (``chunk_bounds``, positions in the
epoch's ``order``). Every worker walks the minibatches in order; in each it claims chunks
from the minibatch's counter until none is left and adds their gradients to its own
buffers. Step ``k`` sums every worker's buffers of minibatch ``k`` and is taken by
whoever finds both minibatch ``k`` complete and step ``k - 1`` taken (``end_minibatch``:
the worker completing ``k``, or the one taking step ``k - 1``), so the steps follow one
another in order.

Before it reads the weights of minibatch ``k`` a worker waits for step ``k - 1``, for at
most ``wait_factor`` (``WAIT_FACTOR``) times what the largest chunk of minibatch
``k - 1`` and a step take at the fastest rates seen in the epoch (``begin_minibatch``).
On an idle machine the other workers finish their chunks within that, and the epoch is
exactly the sequential algorithm (up to the order in which float gradients are summed).
A worker kept waiting longer, because the thread it waits for lost its core to another
process, goes on with the weights one step old (it counts that in ``stats[1]``); it
always waits for step ``k - 2``, and it keeps the gradients of two consecutive
minibatches apart (buffer slot ``(k % 2) * n_workers + w``). A worker waits only for
chunks another worker has already claimed, so the epoch cannot deadlock however the
threading layer runs the workers (even one after the other on one thread).

Chunk ``c`` draws its negatives from ``chunk_states[c]``: the minibatch's stream
advanced past the draws of the chunks before it (``chunk_streams``). The negatives of
every target are therefore the ones of one thread running the minibatch in sequence
order, and with one thread the training is bit for bit the former sequential one.

``stats`` (int64[3], zero at the start of the epoch): the fastest step (ns), the
minibatches a worker started without the previous step, the fastest chunk rate (ps per
item).
"""

import numpy as np

from . import _jit as jit
from ._atomic import fetch_add_at, load_at, relax, store_at
from ._clock import monotonic_ns
from ._rng import next_state
from .adam import step_worker

#: Polls of a flag before a worker that must wait starts giving its core away (``relax``).
SPINS_BEFORE_YIELD = 64
#: How long a worker waits for the previous step, in (largest chunk + step) times (the
#: epochs' ``wait_factor``; 0 never waits for it, as far as the bound allows).
WAIT_FACTOR = 2.0
#: Without a clock (``_clock``): polls of the previous step's flag before going on.
POLLS_WITHOUT_CLOCK = 200_000
#: ``stats`` entries.
STEP_NS = 0
LATE_STARTS = 1
RATE_PS = 2


@jit.serial
def chunk_streams(chunk_starts, chunk_draws, rng_states, out):
    """The random stream each chunk starts from (``out`` uint64[n_chunks]).

    Parameters
    ----------
    chunk_starts : int64[n_batches + 1]
        Minibatch ``k``'s chunks are ``chunk_starts[k]:chunk_starts[k + 1]``.
    chunk_draws : int64[n_chunks]
        Random numbers each chunk draws (its targets times the draws per target).
    rng_states : uint64[n_batches]
        Each minibatch's stream.
    """
    for k in range(chunk_starts.shape[0] - 1):
        state = rng_states[k]
        for c in range(chunk_starts[k], chunk_starts[k + 1]):
            out[c] = state
            for _ in range(chunk_draws[c]):
                state = next_state(state)


@jit.inline
def wait_for(flags, k):
    """Return once ``flags[k]`` (int64, set by another worker) is not 0."""
    spins = 0
    while load_at(flags, k) == 0:
        spins += 1
        if spins >= SPINS_BEFORE_YIELD:
            relax()


@jit.inline
def wait_up_to(flags, k, budget_ns):
    """Poll ``flags[k]`` for at most ``budget_ns``; returns whether it was set."""
    start = monotonic_ns()
    polls = 0
    while load_at(flags, k) == 0:
        polls += 1
        if start < 0:
            if polls >= POLLS_WITHOUT_CLOCK:
                return False
        elif polls % 32 == 0 and monotonic_ns() - start > budget_ns:
            return False
    return True


@jit.inline
def chunk_items(order, chunk_bounds, indptr, c):
    """Items (time steps of work) of chunk ``c``."""
    n = 0
    for q in range(chunk_bounds[c], chunk_bounds[c + 1]):
        s = order[q]
        n += indptr[s + 1] - indptr[s]
    return n


@jit.inline
def claim(claimed, k):
    """The next unclaimed chunk of minibatch ``k`` (its index within the minibatch; at
    least the chunk count once none is left)."""
    return fetch_add_at(claimed, k, 1)


@jit.inline
def begin_minibatch(k, claimed, released, stats, wait_factor, order, chunk_bounds,
                    chunk_starts, indptr):
    """Wait before a worker reads the weights of minibatch ``k``, then claim its first
    chunk; returns ``(index of the minibatch's first chunk, its chunk count, the claimed
    chunk's index within the minibatch)`` (``claim``).

    It waits for step ``k - 2`` always, for step ``k - 1`` up to ``wait_factor`` times
    the time of minibatch ``k - 1``'s largest chunk plus a step, both at the fastest
    rates seen (preemption only ever slows a chunk down; while nothing is measured yet,
    without limit)."""
    if k >= 2:
        wait_for(released, k - 2)
    if k >= 1 and load_at(released, k - 1) == 0:
        rate = load_at(stats, RATE_PS)
        step_ns = load_at(stats, STEP_NS)
        if rate == 0 or step_ns == 0:
            wait_for(released, k - 1)
        else:
            largest = 0
            for c in range(chunk_starts[k - 1], chunk_starts[k]):
                largest = max(largest, chunk_items(order, chunk_bounds, indptr, c))
            budget = np.int64(wait_factor * (rate * largest // 1000 + step_ns))
            if not wait_up_to(released, k - 1, budget):
                fetch_add_at(stats, LATE_STARTS, 1)
    first = chunk_starts[k]
    return first, chunk_starts[k + 1] - first, claim(claimed, k)


@jit.inline
def note_fastest(stats, index, value):
    """``stats[index] = value`` if it is smaller (or nothing is recorded yet)."""
    if value > 0:
        current = load_at(stats, index)
        if current == 0 or value < current:
            store_at(stats, index, value)


@jit.inline
def note_chunk(stats, started_ns, n_items):
    """Record the rate (ps per item) of a chunk of ``n_items`` that started at
    ``started_ns`` if it is the fastest seen."""
    if n_items > 0:
        note_fastest(stats, RATE_PS, (monotonic_ns() - started_ns) * 1000 // n_items)


@jit.serial
def reduce_items(gE, gEo, gb, touched, tied, first, count):
    """Add the item-row gradients of the ``count - 1`` buffer slots after slot ``first``
    to slot ``first`` (rows they touched only) and zero them (``gE, gEo``
    float32[n_slots, n_items, d]; ``gEo`` unused when ``tied``)."""
    n_items, d = gE.shape[1], gE.shape[2]
    for w in range(first + 1, first + count):
        for r in range(n_items):
            if touched[w, r] == 0:
                continue
            for c in range(d):
                gE[first, r, c] += gE[w, r, c]
                gE[w, r, c] = 0.0
            if not tied:
                for c in range(d):
                    gEo[first, r, c] += gEo[w, r, c]
                    gEo[w, r, c] = 0.0
            gb[first, r] += gb[w, r]
            gb[w, r] = 0.0
            touched[first, r] = 1
            touched[w, r] = 0


@jit.serial
def reduce_flat(g_theta, first, count):
    """Add the layer-weight gradients of the ``count - 1`` slots after slot ``first`` to
    slot ``first`` and zero them (a worker that took no chunk of the minibatch holds
    zeros)."""
    for w in range(first + 1, first + count):
        for j in range(g_theta.shape[1]):
            g_theta[first, j] += g_theta[w, j]
            g_theta[w, j] = 0.0


@jit.serial
def step_minibatch(k, chunk_starts, chunk_loss, batch_loss, stats, steps, theta, g_theta,
                   m_theta, v_theta, E, Eo, b, tied, hashes, E_items, gE, gEo, gb, touched,
                   table_grads, table_touched, mE, vE, mEo, vEo, mb, vb, optimizer,
                   learning_rate, beta1, beta2, epsilon, l2):
    """Step ``k``: sum the workers' buffers of minibatch ``k`` into its first slot, record
    its loss (its chunks' losses in chunk order) and take the optimiser step."""
    start = monotonic_ns()
    n_workers = gE.shape[0] // 2
    first = (k % 2) * n_workers
    reduce_items(gE, gEo, gb, touched, tied, first, n_workers)
    reduce_flat(g_theta, first, n_workers)
    loss = 0.0
    for c in range(chunk_starts[k], chunk_starts[k + 1]):
        loss += chunk_loss[c]
    batch_loss[k] = loss
    gE_first = gE[first]
    gEo_first = gE_first if tied else gEo[first]
    step_worker(steps, theta, g_theta[first], m_theta, v_theta, E, Eo, b, tied, hashes,
                E_items[0], gE_first, gEo_first, gb[first], touched[first],
                table_grads[first], table_touched[first], mE, vE, mEo, vEo, mb, vb,
                optimizer, learning_rate, beta1, beta2, epsilon, l2)
    note_fastest(stats, STEP_NS, monotonic_ns() - start)


@jit.serial
def end_minibatch(k, done, chunk_starts, completed, released, step_claims, stats,
                  chunk_loss, batch_loss, steps, theta, g_theta, m_theta, v_theta, E, Eo, b,
                  tied, hashes, E_items, gE, gEo, gb, touched, table_grads, table_touched,
                  mE, vE, mEo, vEo, mb, vb, optimizer, learning_rate, beta1, beta2, epsilon,
                  l2):
    """A worker's end of minibatch ``k`` after it finished ``done`` chunks of it: if
    they complete the minibatch and step ``k - 1`` is taken, it takes step ``k``, then
    every later step whose minibatch is already complete.

    ``completed, released, step_claims`` : int64[n_batches] shared counters (zero at the
    start of the epoch): chunks finished, step taken, claims of the step (the first
    claimant takes it; the completing worker and the one taking step ``k - 1`` may both
    find it due). The other arguments are those of ``adam.step_worker`` with every slot's
    buffers (leading axis ``2 n_workers``).
    """
    if done == 0:
        return
    n_chunks = chunk_starts[k + 1] - chunk_starts[k]
    if fetch_add_at(completed, k, done) + done != n_chunks:
        return
    n_batches = chunk_starts.shape[0] - 1
    # Sequentially consistent: this worker wrote completed[k] and reads released[k - 1];
    # the one taking step k - 1 writes released[k - 1] and then reads completed[k]. At
    # least one of the two sees the other's write, and step_claims lets only one step.
    while k == 0 or load_at(released, k - 1) != 0:
        if fetch_add_at(step_claims, k, 1) != 0:
            return
        step_minibatch(k, chunk_starts, chunk_loss, batch_loss, stats, steps, theta,
                       g_theta, m_theta, v_theta, E, Eo, b, tied, hashes, E_items, gE, gEo,
                       gb, touched, table_grads, table_touched, mE, vE, mEo, vEo, mb, vb,
                       optimizer, learning_rate, beta1, beta2, epsilon, l2)
        store_at(released, k, 1)
        k += 1
        if k == n_batches:
            return
        if load_at(completed, k) != chunk_starts[k + 1] - chunk_starts[k]:
            return
