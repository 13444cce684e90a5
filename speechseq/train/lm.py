"""Training the character language model: corpus, held-out split, batches, perplexity.

    sents = load_corpus(["../shared/data/text/ljspeech.txt"], exclude=dev_texts)
    train, heldout = split_heldout(sents, percent=5)
    history = train_lm(train, heldout, "runs/lm", LMConfig(), LoopConfig(epochs=5, lr=2e-3))

A sentence is the model's unit: it reads <sos> c1 ... cn and predicts c1 ... cn <eos>, so
perplexity is per character with one <eos> a sentence counted as a character. A sentence too
long for a batch (a text without line breaks) is trained and measured in pieces cut at spaces
(`cut_long`). Sentences that overlap the evaluation prompts (e.g. Kathleen `dev`) are removed
before anything else, so the LM never saw a sentence it will help to decode.
"""
from __future__ import annotations

import math
import os
import zlib
from dataclasses import replace
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ..files import split_lines
from ..nn.text import CharLM, LMConfig, build_lm
from ..text import BLANK, EOS, SOS, encode, normalize

__all__ = ["KIND", "read_corpus", "corpus_lines", "select_sentences", "load_corpus", "overlaps", "split_heldout",
           "cut_long", "piece_chars", "make_lm_batches", "lm_loss_fn", "perplexity", "train_lm", "load_lm_checkpoint",
           "manifest_texts", "texts_of_manifest"]

KIND = "lm"


def manifest_texts(path: str | os.PathLike, split: str | Iterable[str] | None = None) -> list[str]:
    """Transcripts of a JSONL manifest (rows of `split`, a name or several, only when given), normalised."""
    return texts_of_manifest(Path(path).read_text(encoding="utf-8"), split)


def texts_of_manifest(text: str, split: str | Iterable[str] | None = None) -> list[str]:
    """manifest_texts of a manifest's text, read (once: a pipe can be read only once)."""
    import json

    splits = None if split is None else {split} if isinstance(split, str) else set(split)
    out = []
    # a byte order mark is not part of the first row (as load_manifest reads manifests)
    for line in split_lines(text):
        if line.strip():
            rec = json.loads(line)
            if splits is None or rec.get("split") in splits:
                out.append(normalize(rec["text"]))
    return out


def _trigrams(words: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + 3]) for i in range(max(1, len(words) - 2))}


def overlaps(sentences: Sequence[str], exclude: Sequence[str], threshold: float = 0.5,
             contained: float = 0.8) -> list[bool]:
    """For each normalised sentence: does it (nearly) repeat one of `exclude`?

    True when half or more of its word trigrams occur in a single excluded sentence (prompt
    texts and what a speaker read differ by a word here and there), when the sentence is
    contained in one of them (short fragments), or when it holds one of them: `contained` or more
    of the word trigrams of an excluded text of three words or more occur in the sentence (a
    prompt inside a longer line, or two prompts on one line, are not left in the text).
    """
    index: dict[tuple[str, ...], set[int]] = {}
    sizes = []  # distinct word trigrams of each excluded text (0: under three words, no containment rule)
    for j, text in enumerate(exclude):
        words = text.split()
        grams = _trigrams(words)
        sizes.append(len(grams) if len(words) >= 3 else 0)
        for g in grams:
            index.setdefault(g, set()).add(j)
    out = []
    for s in sentences:
        grams = _trigrams(s.split())
        counts: dict[int, int] = {}
        for g in grams:
            for j in index.get(g, ()):
                counts[j] = counts.get(j, 0) + 1
        hit = bool(counts) and max(counts.values()) >= threshold * len(grams)
        hit = hit or any(sizes[j] and c >= contained * sizes[j] for j, c in counts.items())
        out.append(hit or any(s and s in e for e in exclude if len(s) >= 0.5 * len(e)))
    return out


def read_corpus(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The normalised non-blank lines of text files, in order, duplicates kept ('' for a line with
    no character of the vocabulary)."""
    return corpus_lines(Path(path).read_text(encoding="utf-8") for path in paths)


def corpus_lines(texts: Iterable[str]) -> list[str]:
    """The normalised non-blank lines of `texts` (each a file's text), as read_corpus reads them from their files:
    the same lines whether a file's Windows line ends were read as they are or translated (Path.read_text)."""
    # str.splitlines, not files.split_lines: a form feed or \u2028 ends a sentence here, as runs recorded their text
    # ("N sentences, crc32": a run made before resumes only on the same record; tests/test_review_s51_a.py)
    return [normalize(line) for text in texts for line in text.splitlines() if line.strip()]


def select_sentences(lines: Sequence[str], exclude: Sequence[str] = (), min_chars: int = 2) -> list[str]:
    """Normalised `lines` of at least `min_chars` characters, duplicates and lines that overlap
    `exclude` (texts) removed; order kept."""
    out = list(dict.fromkeys(s for s in lines if len(s) >= min_chars))
    if exclude:
        drop = overlaps(out, [normalize(e) for e in exclude])
        out = [s for s, d in zip(out, drop) if not d]
    return out


def load_corpus(paths: Iterable[str | os.PathLike], exclude: Sequence[str] = (),
                min_chars: int = 2) -> list[str]:
    """Normalised sentences of text files (one sentence or line each), duplicates and sentences
    that overlap `exclude` (normalised texts) removed; order kept."""
    return select_sentences(read_corpus(paths), exclude, min_chars)


def split_heldout(sentences: Sequence[str], percent: float = 5.0) -> tuple[list[str], list[str]]:
    """(train, heldout): a sentence is held out when crc32(sentence) % 1000 < 10 * percent, a
    choice that does not depend on the order or on the other sentences."""
    train, held = [], []
    for s in sentences:
        (held if zlib.crc32(s.encode()) % 1000 < 10 * percent else train).append(s)
    return train, held


def piece_chars(batch_tokens: int) -> int:
    """The most characters a sentence may have to fit a batch of `batch_tokens` with its <sos> and <eos>."""
    return max(1, batch_tokens - 2)


def cut_long(sentences: Sequence[str], max_chars: int) -> list[str]:
    """`sentences` (normalised) with each one longer than `max_chars` characters cut into pieces of at most that many,
    at the last space that keeps a piece within it (the space dropped; a word longer than `max_chars` cut where the
    piece is full), order kept. A text without line breaks (a paragraph or a book on one line) is one sentence: whole,
    it was one batch of its length whatever the batch size (a 100,000-character line took 3.6 GB to train)."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    out = []
    for s in sentences:
        while len(s) > max_chars:
            cut = s.rfind(" ", 1, max_chars + 1)
            piece, s = (s[:cut], s[cut + 1:]) if cut > 0 else (s[:max_chars], s[max_chars:].lstrip(" "))
            out.append(piece)
        if s:
            out.append(s)
    return out


def _encode_all(sentences: Sequence[str]) -> list[np.ndarray]:
    return [np.array([SOS, *encode(s), EOS], dtype=np.int64) for s in sentences]


def make_lm_batches(seqs: Sequence[np.ndarray], batch_tokens: int, seed: int | None) -> list[torch.Tensor]:
    """Padded (B, S + 1) token batches (<sos> ... <eos>, padding = BLANK), each at most
    `batch_tokens` padded tokens; sorted by length within pools, batch order shuffled by seed
    (None: in order, for validation)."""
    lengths = np.array([len(s) for s in seqs])
    rng = np.random.default_rng(seed)
    order = np.argsort(lengths, kind="stable") if seed is None else rng.permutation(len(seqs))
    batches, pool = [], 2048
    for p in range(0, len(order), pool):
        chunk = order[p:p + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        start = 0
        while start < len(chunk):
            end = start + 1
            while end < len(chunk) and (end + 1 - start) * lengths[chunk[end]] <= batch_tokens:
                end += 1
            idx = chunk[start:end]
            x = torch.full((len(idx), int(lengths[idx].max())), BLANK, dtype=torch.long)
            for k, i in enumerate(idx):
                x[k, : lengths[i]] = torch.from_numpy(seqs[i])
            batches.append(x)
            start = end
    if seed is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def lm_loss_fn(model: CharLM, batch: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Mean cross-entropy (nats per predicted character, padding ignored)."""
    dev = model.bias.device
    batch = batch.to(dev)
    logits, _ = model(batch[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                                             ignore_index=BLANK)
    return loss, {}


@torch.no_grad()
def perplexity(model: CharLM, sentences_or_batches: Sequence[str] | Sequence[torch.Tensor],
               batch_tokens: int = 16384) -> dict[str, float]:
    """{"ppl": per-character perplexity, "bpc": bits per character, "nll": nats per character}
    of normalised sentences (each with its <eos>) or of make_lm_batches' batches, the model in eval
    mode. ValueError for no sentence (a perplexity of 1 would say perfect)."""
    items = sentences_or_batches
    if not len(items):
        raise ValueError("no sentence to measure the perplexity of")
    batches = (make_lm_batches(_encode_all(items), batch_tokens, None)
               if items and isinstance(items[0], str) else items)
    was = model.training
    model.eval()
    total, count = 0.0, 0
    for b in batches:
        b = b.to(model.bias.device)
        logits, _ = model(b[:, :-1])
        target = b[:, 1:].reshape(-1)
        total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target,
                                                         ignore_index=BLANK, reduction="sum"))
        count += int((target != BLANK).sum())
    model.train(was)
    nll = total / max(1, count)
    return {"ppl": math.exp(nll), "bpc": nll / math.log(2), "nll": nll}


def train_lm(train: Sequence[str], heldout: Sequence[str], out_dir: str | os.PathLike, cfg: LMConfig,
             loop_cfg, batch_tokens: int = 8192, extra: dict | None = None, progress: bool = True) -> list[dict]:
    """Train (or resume) an LM in out_dir; best.pt is chosen by held-out perplexity ("val_ppl"). A sentence of
    more than batch_tokens - 2 characters is trained (or measured) in pieces that fit a batch (`cut_long`).

    loop_cfg's warm-up and weight average are capped by the run's length (as a recogniser's): warm-up at most a
    tenth of its steps, so that the rate reaches the peak loop_cfg.lr names, and the average's decay at most
    1 - 5 / steps (0.95 at least), so that the average validated and kept in best.pt holds e ** -5 of the random
    start by the end, however short the run."""
    from .detector_checkpoints import finetune_ema_decay
    from .loop import train_loop

    if not train:  # every epoch would train on nothing, and best.pt be the random weights
        raise ValueError("no training sentence")
    # a sentence longer than a batch holds is read in pieces that fit one, held-out ones too (measured as trained)
    train, heldout = cut_long(train, piece_chars(batch_tokens)), cut_long(heldout, piece_chars(batch_tokens))
    torch.manual_seed(loop_cfg.seed)
    model = CharLM(cfg)
    seqs = _encode_all(train)
    val_batches = make_lm_batches(_encode_all(heldout), 4 * batch_tokens, None) if heldout else []

    def batches(epoch: int) -> Iterator[torch.Tensor]:
        return iter(make_lm_batches(seqs, batch_tokens, seed=loop_cfg.seed * 1000 + epoch))

    def validate(m: torch.nn.Module) -> dict[str, float]:
        r = perplexity(m, val_batches)
        return {"val_ppl": r["ppl"], "val_bpc": r["bpc"]}

    info = {"train_sentences": len(train), "train_chars": int(sum(len(s) - 1 for s in seqs)),
            "heldout_sentences": len(heldout), "batch_tokens": batch_tokens, **(extra or {})}
    if not loop_cfg.steps_per_epoch:  # the cosine schedule needs it from the first epoch on
        loop_cfg = replace(loop_cfg, steps_per_epoch=len(make_lm_batches(seqs, batch_tokens, 0)))
    # a fixed 100-step warm-up and a 0.995 average: a run of 42 steps (1,123 ARCTIC prompts, 3 epochs) never
    # reached the peak rate and kept 81 % of its random start in best.pt (held-out perplexity 31.5, the weights
    # trained 21.6); the shipped run (2,400 steps) keeps both as they were
    steps = loop_cfg.epochs * loop_cfg.steps_per_epoch
    ema = loop_cfg.ema_decay and min(loop_cfg.ema_decay, finetune_ema_decay(steps))   # 0 or None: no average
    loop_cfg = replace(loop_cfg, warmup_steps=min(loop_cfg.warmup_steps, max(1, steps // 10)), ema_decay=ema)
    return train_loop(model, batches, lm_loss_fn, validate if heldout else None, out_dir, KIND, cfg.to_dict(),
                      loop_cfg, select="val_ppl" if heldout else "loss", mode="min", extra=info, progress=progress)


def load_lm_checkpoint(path: str | os.PathLike) -> tuple[CharLM, dict]:
    """The LM of a checkpoint (EMA weights in best.pt), in eval mode, and the checkpoint."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict):  # a list or a tensor saved by other code: ck.get was an AttributeError
        raise ValueError(f"{path}: not a training checkpoint ({type(ck).__name__}), so not an lm")
    if ck.get("kind") != KIND:
        raise ValueError(f"{path}: a {ck.get('kind')!r} checkpoint, not an lm")
    model = build_lm(ck["model_config"])
    model.load_state_dict({k.removeprefix("module."): v for k, v in ck["model"].items()})
    return model.eval(), ck
