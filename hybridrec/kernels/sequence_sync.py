"""Synchronous minibatches for the sequence epochs with layer weights (CNN, LSTM,
mixture): the workers share each minibatch and one optimiser step follows it, so the
algorithm is the same at any thread count.

A minibatch is cut into chunks of a few sequences (``chunk_bounds``, positions in the
epoch's ``order``). Every worker walks the minibatches in order; in each it claims chunks
from the minibatch's counter until none is left, adding their gradients to its own
buffers. The worker whose finished chunks complete the minibatch sums the other
workers' buffers into worker 0's and takes the step (``end_minibatch``); the others wait
for it (``wait_for``) before they read the weights of the next minibatch. A worker waits
only for chunks another worker has already claimed, so the epoch cannot deadlock however
the threading layer runs the workers (even one after the other on one thread).

Chunk ``c`` draws its negatives from ``chunk_states[c]``: the minibatch's stream
advanced past the draws of the chunks before it (``chunk_streams``). The negatives of
every target are therefore the ones of one thread running the minibatch in sequence
order, and with one thread the training is bit for bit the former sequential one.
"""

from . import _jit as jit
from ._atomic import fetch_add_at, load_at, relax, store_at
from ._rng import next_state
from .adam import step_worker

#: Polls of a flag before a waiting worker starts giving its core away (``relax``).
SPINS_BEFORE_YIELD = 64


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


@jit.serial
def reduce_items(gE, gEo, gb, touched, tied):
    """Add every worker's item-row gradients to worker 0's (rows it touched only) and
    zero them (``gE, gEo`` float32[n_workers, n_items, d]; ``gEo`` unused when ``tied``)."""
    n_items, d = gE.shape[1], gE.shape[2]
    for w in range(1, gE.shape[0]):
        for r in range(n_items):
            if touched[w, r] == 0:
                continue
            for c in range(d):
                gE[0, r, c] += gE[w, r, c]
                gE[w, r, c] = 0.0
            if not tied:
                for c in range(d):
                    gEo[0, r, c] += gEo[w, r, c]
                    gEo[w, r, c] = 0.0
            gb[0, r] += gb[w, r]
            gb[w, r] = 0.0
            touched[0, r] = 1
            touched[w, r] = 0


@jit.serial
def reduce_flat(g_theta):
    """Add every worker's layer-weight gradient to worker 0's and zero it (a worker that
    took no chunk of this minibatch still holds zeros)."""
    for w in range(1, g_theta.shape[0]):
        for j in range(g_theta.shape[1]):
            g_theta[0, j] += g_theta[w, j]
            g_theta[w, j] = 0.0


@jit.serial
def end_minibatch(k, done, first, n_chunks, completed, released, chunk_loss, batch_loss,
                  steps, theta, g_theta, m_theta, v_theta, E, Eo, b, tied, hashes, E_items,
                  gE, gEo, gb, touched, table_grads, table_touched, mE, vE, mEo, vEo, mb, vb,
                  optimizer, learning_rate, beta1, beta2, epsilon, l2):
    """A worker's end of minibatch ``k`` after it finished ``done`` of its ``n_chunks``
    chunks (``first`` the index of its first): the worker that completes it sums the
    workers' buffers, records the minibatch loss (its chunks' losses in chunk order),
    takes the optimiser step from worker 0's buffers and releases the others; every
    other worker waits for that release.

    ``completed, released`` : int64[n_batches] shared counters (zero at the start of the
    epoch); the other arguments are those of ``adam.step_worker`` with every worker's
    buffers (leading axis ``n_workers``).
    """
    if done > 0 and fetch_add_at(completed, k, done) + done == n_chunks:
        reduce_items(gE, gEo, gb, touched, tied)
        reduce_flat(g_theta)
        loss = 0.0
        for c in range(first, first + n_chunks):
            loss += chunk_loss[c]
        batch_loss[k] = loss
        gE_0 = gE[0]
        gEo_0 = gE_0 if tied else gEo[0]
        step_worker(steps, theta, g_theta[0], m_theta, v_theta, E, Eo, b, tied, hashes,
                    E_items[0], gE_0, gEo_0, gb[0], touched[0], table_grads[0],
                    table_touched[0], mE, vE, mEo, vEo, mb, vb, optimizer, learning_rate,
                    beta1, beta2, epsilon, l2)
        store_at(released, k, 1)
    else:
        wait_for(released, k)


@jit.inline
def claim(claimed, k):
    """The next unclaimed chunk of minibatch ``k`` (its index within the minibatch; at
    least the chunk count once none is left)."""
    return fetch_add_at(claimed, k, 1)
