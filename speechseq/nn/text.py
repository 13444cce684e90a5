"""The text side in torch: one shared character embedding, an RNN language model and an
attention decoder that both read (and write through) that same embedding.

    B: batch, S: tokens, V: symbols (len(speechseq.text.VOCAB) = 32: CTC symbols + <sos> <eos> <unk>),
    D: embedding size, L: RNN layers, H: RNN units, T': encoder frames, E: encoder output size
    (2 x the recogniser's LSTM units), A: attention size

Both models tie their output layer to the embedding (logits = W_emb @ proj(h) + bias for the LM; the
decoder's is W_emb @ tanh(proj([h; context])) + bias, Luong's attentional state), so a
decoder built on a trained LM's `SharedEmbedding` starts from the LM's view of the characters.
Index 0 (the CTC blank) is the padding index of the text side: it is never a target.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..checks import finite, refuse, whole
from ..text import BLANK, VOCAB

__all__ = ["LMConfig", "DecoderConfig", "SharedEmbedding", "CharLM", "AttentionDecoder", "build_lm"]

LSTMState = tuple[torch.Tensor, ...]


def _sizes_and_dropout(cfg, sizes: tuple[str, ...]) -> list[tuple[str, object, bool, str]]:
    """The checks of a text model's vocab_size (len(VOCAB)), sizes (whole numbers >= 1) and dropout (in [0, 1)) for
    `refuse`: a float size or a dropout of 1.5 was taken, then failed in torch when the model was built (or in the
    middle of an export). The text side reads and writes VOCAB's indices (<sos> 29, <eos> 30, <unk> 31) and an
    export names VOCAB as its outputs: any other vocab_size was an IndexError in training, or a model whose
    metadata misdescribed its own log_probs."""
    vocab = cfg.vocab_size
    return [("vocab_size", vocab, whole(vocab) and vocab == len(VOCAB),
             f"{len(VOCAB)}: the symbols of speechseq.text.VOCAB"),
            *((name, getattr(cfg, name), whole(getattr(cfg, name)), "a whole number >= 1") for name in sizes),
            ("dropout", cfg.dropout, finite(cfg.dropout) and 0 <= cfg.dropout < 1, "in [0, 1)")]


@dataclass(frozen=True)
class LMConfig:
    vocab_size: int = len(VOCAB)
    embed_dim: int = 64
    hidden: int = 512
    layers: int = 1
    rnn: str = "lstm"             # "lstm" or "gru"
    dropout: float = 0.1

    def __post_init__(self) -> None:
        refuse("language model settings", _sizes_and_dropout(self, ("embed_dim", "hidden", "layers")))
        if self.rnn not in ("lstm", "gru"):
            raise ValueError(f"rnn must be 'lstm' or 'gru', got {self.rnn!r}")
        if self.layers < 1 or self.hidden < 1 or self.embed_dim < 1 or self.vocab_size < 1:
            raise ValueError("layers, hidden, embed_dim and vocab_size must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DecoderConfig:
    vocab_size: int = len(VOCAB)
    embed_dim: int = 64           # must equal the embedding's size (the LM's embed_dim)
    enc_dim: int = 512            # E: recogniser output size (2 x LSTM units)
    hidden: int = 256
    layers: int = 1
    attn_dim: int = 128
    dropout: float = 0.1

    def __post_init__(self) -> None:
        refuse("attention decoder settings", _sizes_and_dropout(
            self, ("embed_dim", "enc_dim", "hidden", "layers", "attn_dim")))
        if min(self.vocab_size, self.embed_dim, self.enc_dim, self.hidden, self.layers, self.attn_dim) < 1:
            raise ValueError(f"vocab_size, embed_dim, enc_dim, hidden, layers and attn_dim must be >= 1: {self}")

    def to_dict(self) -> dict:
        return asdict(self)


class SharedEmbedding(nn.Module):
    """Character vectors, read by `forward` (input lookup) and by `logits` (tied output layer).

    tokens (...) int -> (..., D); h (..., D) -> logits (..., V).
    """

    def __init__(self, vocab_size: int = len(VOCAB), dim: int = 64) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab_size, dim) * dim ** -0.5)

    @property
    def dim(self) -> int:
        return self.weight.shape[1]

    def check(self, vocab_size: int, dim: int) -> None:
        """Raise ValueError unless this embedding is (vocab_size, dim): what a model built on it needs."""
        if tuple(self.weight.shape) != (vocab_size, dim):
            raise ValueError(f"embedding of {self.weight.shape[0]} symbols x {self.dim} does not fit a model of "
                             f"vocab_size {vocab_size}, embed_dim {dim}")

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(tokens, self.weight, padding_idx=BLANK)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.weight.t()


class CharLM(nn.Module):
    """A character RNN language model over VOCAB.

    forward(tokens (B, S), state) -> (logits (B, S, V), state); step(tokens (B,), state) ->
    (log_probs (B, V), state). A state is (h,) for a GRU or (h, c) for an LSTM, each (L, B, H);
    None means zeros. A sentence is read as <sos> c1 ... cn and predicts c1 ... cn <eos>.
    """

    def __init__(self, cfg: LMConfig = LMConfig(), embedding: SharedEmbedding | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = embedding if embedding is not None else SharedEmbedding(cfg.vocab_size, cfg.embed_dim)
        self.embedding.check(cfg.vocab_size, cfg.embed_dim)
        rnn = nn.LSTM if cfg.rnn == "lstm" else nn.GRU
        self.rnn = rnn(cfg.embed_dim, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                       dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(cfg.hidden, cfg.embed_dim)   # into the embedding space: tied output
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def initial_state(self, batch: int = 1) -> LSTMState:
        """Zeros: (h,) or (h, c), each (L, B, H)."""
        z = torch.zeros(self.cfg.layers, batch, self.cfg.hidden, device=self.bias.device)
        return (z, z.clone()) if self.cfg.rnn == "lstm" else (z,)

    def forward(self, tokens: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        x = self.drop(self.embedding(tokens))
        if state is None:
            y, new = self.rnn(x)
        else:
            y, new = self.rnn(x, state if self.cfg.rnn == "lstm" else state[0])
        new = tuple(new) if isinstance(new, tuple) else (new,)
        return self.embedding.logits(self.proj(self.drop(y))) + self.bias, new

    def step(self, tokens: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        logits, state = self.forward(tokens[:, None], state)
        return torch.log_softmax(logits[:, 0], dim=-1), state


class AttentionDecoder(nn.Module):
    """An LSTM decoder with additive (Bahdanau) attention over the recogniser's BiLSTM outputs.

    It uses the `SharedEmbedding` object it is given (e.g. a trained LM's), for its input and
    its tied output layer. Input feeding: the LSTM reads [embed(previous token); previous context].
    State: (h (B, L, H), c (B, L, H), context (B, E)), batch first.
    """

    def __init__(self, cfg: DecoderConfig, embedding: SharedEmbedding) -> None:
        super().__init__()
        embedding.check(cfg.vocab_size, cfg.embed_dim)
        self.cfg = cfg
        self.embedding = embedding
        sizes = [cfg.embed_dim + cfg.enc_dim] + [cfg.hidden] * (cfg.layers - 1)
        self.cells = nn.ModuleList(nn.LSTMCell(n, cfg.hidden) for n in sizes)
        self.key = nn.Linear(cfg.enc_dim, cfg.attn_dim)
        self.query = nn.Linear(cfg.hidden, cfg.attn_dim, bias=False)
        self.energy = nn.Linear(cfg.attn_dim, 1, bias=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(cfg.hidden + cfg.enc_dim, cfg.embed_dim)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def initial_state(self, batch: int = 1) -> LSTMState:
        p = self.bias
        z = torch.zeros(batch, self.cfg.layers, self.cfg.hidden, device=p.device)
        return z, z.clone(), torch.zeros(batch, self.cfg.enc_dim, device=p.device)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """memory (Bm, T', E) -> attention keys (Bm, T', A); computed once per utterance."""
        return self.key(memory)

    def step(self, memory: torch.Tensor, keys: torch.Tensor, tokens: torch.Tensor, state: LSTMState,
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """One output symbol for B hypotheses.

        memory (Bm, T', E) and keys (Bm, T', A) with Bm = B, or Bm = 1 shared by every row (a beam
        over one utterance); tokens (B,) the previous symbols; mask (Bm, T') True on real frames.
        Returns logits (B, V), attention weights (B, T') and the new state.
        """
        h, c, context = state
        x = torch.cat([self.drop(self.embedding(tokens)), context], dim=-1)
        hs, cs = [], []
        for layer, cell in enumerate(self.cells):
            hl, cl = cell(x, (h[:, layer], c[:, layer]))
            hs.append(hl)
            cs.append(cl)
            x = self.drop(hl)
        query = self.query(hs[-1])[:, None, :]                                   # (B, 1, A)
        scores = self.energy(torch.tanh(keys + query))[..., 0]                   # (B, T')
        if mask is not None:
            scores = scores.masked_fill(~mask, -1e4)
        weights = torch.softmax(scores, dim=-1)
        context = torch.matmul(weights[:, None, :], memory)[:, 0]                # (B, E)
        out = torch.tanh(self.proj(self.drop(torch.cat([hs[-1], context], dim=-1))))
        logits = self.embedding.logits(out) + self.bias
        return logits, weights, (torch.stack(hs, 1), torch.stack(cs, 1), context)

    def forward(self, memory: torch.Tensor, mem_lengths: torch.Tensor | None,
                tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing. memory (B, T', E), mem_lengths (B,) or None, tokens (B, S) the inputs
        (<sos> c1 ... ). Returns logits (B, S, V) and attention weights (B, S, T')."""
        mask = None
        if mem_lengths is not None:
            mask = torch.arange(memory.shape[1], device=memory.device)[None, :] < mem_lengths[:, None]
        keys = self.keys(memory)
        state = self.initial_state(tokens.shape[0])
        logits, weights = [], []
        for s in range(tokens.shape[1]):
            lg, w, state = self.step(memory, keys, tokens[:, s], state, mask)
            logits.append(lg)
            weights.append(w)
        return torch.stack(logits, 1), torch.stack(weights, 1)


def build_lm(model_config: dict) -> CharLM:
    """Rebuild an LM from the `model_config` dict saved in a checkpoint."""
    return CharLM(LMConfig(**model_config))
