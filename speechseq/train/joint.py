"""Joint CTC-attention training of the recogniser, and training the attention decoder alone on a
frozen recogniser's encoder outputs.

    B: batch, T: input frames, T': encoder frames, E: encoder size (2 x LSTM units), S: tokens

Joint model: the recogniser (speechseq.nn.recognizer, unchanged) and an AttentionDecoder reading
its BiLSTM outputs, trained on
    loss = lam * CTC + (1 - lam) * cross-entropy of the decoder (teacher forcing, label smoothing)
with lam = JointConfig.ctc_weight. The decoder's SharedEmbedding can start from a trained LM's
(one module object: the LM and the decoder are then built around the same embedding).

Decoder only: a shipped recogniser is kept as it is; its encoder outputs over the training audio
are computed once (`memories`) and the decoder learns to read them (lam = 0, encoder frozen),
cheap enough for a CPU.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..frontend import FrontendConfig
from ..nn.recognizer import Recognizer
from ..nn.text import AttentionDecoder, DecoderConfig, SharedEmbedding
from ..text import BLANK, EOS, SOS, encode, normalize

__all__ = ["KIND_JOINT", "KIND_DECODER", "JointConfig", "JointModel", "encoder_outputs", "decoder_targets",
           "joint_loss_fn", "decoder_loss", "memories", "memory_batches", "train_decoder", "train_joint",
           "load_decoder_checkpoint"]

KIND_JOINT = "joint"
KIND_DECODER = "attention-decoder"


@dataclass(frozen=True)
class JointConfig:
    ctc_weight: float = 0.3          # lam; 1.0 = CTC only, 0.0 = decoder only
    label_smoothing: float = 0.1
    memory_dropout: float = 0.2      # dropout on the encoder outputs the decoder reads (training)

    def __post_init__(self) -> None:
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], got {self.ctc_weight}")
        # torch takes a negative smoothing without a word, and a dropout of 1 hides the audio from the decoder
        for name in ("label_smoothing", "memory_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")


def encoder_outputs(rec: Recognizer, features: torch.Tensor, lengths: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The recogniser's forward, also returning its BiLSTM outputs (Recognizer.encode).

    features (B, T, F) -> log_probs (B, T', V), out_lengths (B,), memory (B, T', E).
    """
    y, out_lengths = rec.encode(features, lengths)
    return torch.log_softmax(rec.out(rec.drop(y)), dim=-1), out_lengths, y


class JointModel(nn.Module):
    """A recogniser and an attention decoder over its encoder outputs."""

    def __init__(self, recognizer: Recognizer, decoder: AttentionDecoder) -> None:
        super().__init__()
        if decoder.cfg.enc_dim != 2 * recognizer.cfg.hidden:
            raise ValueError(f"decoder enc_dim {decoder.cfg.enc_dim} != 2 x recogniser hidden {recognizer.cfg.hidden}")
        self.recognizer = recognizer
        self.decoder = decoder

    def forward(self, features: torch.Tensor, lengths: torch.Tensor, tokens_in: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> CTC log_probs (B, T', V), out_lengths (B,), decoder logits (B, S, V_text)."""
        log_probs, out_lengths, memory = encoder_outputs(self.recognizer, features, lengths)
        return log_probs, out_lengths, self.decoder(memory, out_lengths, tokens_in)[0]


def decoder_targets(texts: Sequence[str] | None = None, targets: torch.Tensor | None = None,
                    target_lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder inputs (<sos> c1 .. cn) and outputs (c1 .. cn <eos>), (B, S) each, padded with BLANK,
    from normalised texts or from concatenated CTC targets (sum S_i,) + their lengths (B,)."""
    if texts is not None:
        seqs = [encode(normalize(t)) for t in texts]
    else:
        seqs = [s.tolist() for s in torch.split(targets.cpu(), target_lengths.cpu().tolist())]
    n = max(len(s) for s in seqs) + 1
    inp = torch.full((len(seqs), n), BLANK, dtype=torch.long)
    out = torch.full((len(seqs), n), BLANK, dtype=torch.long)
    for i, s in enumerate(seqs):
        inp[i, : len(s) + 1] = torch.tensor([SOS, *s])
        out[i, : len(s) + 1] = torch.tensor([*s, EOS])
    return inp, out


def decoder_loss(logits: torch.Tensor, out: torch.Tensor, label_smoothing: float) -> tuple[torch.Tensor, dict]:
    """Mean cross-entropy per target symbol (padding ignored) and the token accuracy."""
    flat = logits.reshape(-1, logits.shape[-1])
    loss = nn.functional.cross_entropy(flat, out.reshape(-1), ignore_index=BLANK, label_smoothing=label_smoothing)
    real = out != BLANK
    acc = ((logits.argmax(-1) == out) & real).sum() / real.sum().clamp_min(1)
    return loss, {"att_acc": float(acc)}


def joint_loss_fn(cfg: JointConfig, device: str = "cpu", augment=None, noise: torch.Tensor | None = None,
                  seed: int = 0, floor: float = FrontendConfig.floor,
                  generator: torch.Generator | None = None) -> Callable[[nn.Module, object], tuple[torch.Tensor, dict]]:
    """loss_fn(model, batch) for train_loop over the recogniser's batches (speechseq.train.recognizer.Batch);
    `augment`: an AugmentConfig applied to each batch as the recogniser's own CTC training does, at the features'
    frontend `floor` (the recogniser's, 1e-5), with `generator` (None: one seeded with `seed`)."""
    g = generator if generator is not None else torch.Generator(device=device).manual_seed(seed * 7919)
    noise_dev = None if noise is None else noise.to(device)

    def loss_fn(model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
        core = model.module if hasattr(model, "module") else model
        x, lengths = batch.features.to(device), batch.lengths.to(device)
        if augment is not None:
            from .feataug import augment_batch

            x = augment_batch(x, lengths, augment, g, noise_dev, core.recognizer.feat_mean, floor=floor)
        inp, out = decoder_targets(targets=batch.targets, target_lengths=batch.target_lengths)
        log_probs, out_lengths, memory = encoder_outputs(core.recognizer, x, lengths)
        ctc = nn.functional.ctc_loss(log_probs.transpose(0, 1), batch.targets.to(device), out_lengths,
                                     batch.target_lengths.to(device), blank=0, reduction="mean", zero_infinity=True)
        memory = nn.functional.dropout(memory, cfg.memory_dropout, core.training)
        logits, _ = core.decoder(memory, out_lengths, inp.to(device))
        att, logs = decoder_loss(logits, out.to(device), cfg.label_smoothing)
        lam = cfg.ctc_weight
        return lam * ctc + (1 - lam) * att, {"ctc": float(ctc.detach()), "att": float(att.detach()), **logs}

    return loss_fn


@torch.no_grad()
def memories(rec: Recognizer, features: Sequence[np.ndarray], batch_frames: int = 60000,
             device: str = "cpu") -> list[np.ndarray]:
    """Encoder outputs (T'_i, E) float16 of each utterance's features (T_i, F), in order."""
    rec = rec.to(device).eval()
    order = np.argsort([len(f) for f in features])
    out: list[np.ndarray | None] = [None] * len(features)
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * len(features[order[end]]) <= batch_frames:
            end += 1
        idx = order[start:end]
        lengths = torch.tensor([len(features[i]) for i in idx])
        x = torch.full((len(idx), int(lengths.max()), features[idx[0]].shape[1]), float(np.log(1e-6)))
        for k, i in enumerate(idx):
            x[k, : lengths[k]] = torch.from_numpy(np.asarray(features[i], dtype=np.float32))
        _, n, mem = encoder_outputs(rec, x.to(device), lengths.to(device))
        for k, i in enumerate(idx):
            out[i] = mem[k, : int(n[k])].cpu().numpy().astype(np.float16)
        start = end
    return out  # type: ignore[return-value]


def memory_batches(mems: Sequence[np.ndarray], texts: Sequence[str], batch_frames: int, seed: int | None
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(memory (B, T', E), lengths (B,), tokens_in (B, S), tokens_out (B, S)) batches of at most
    `batch_frames` padded encoder frames, similar lengths together; shuffled by seed (None: in order)."""
    lengths = np.array([len(m) for m in mems])
    rng = np.random.default_rng(seed)
    order = np.argsort(lengths + (rng.random(len(mems)) * 20 if seed is not None else 0), kind="stable")
    groups, start = [], 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * lengths[order[end]] <= batch_frames:
            end += 1
        groups.append(order[start:end])
        start = end
    if seed is not None:
        groups = [groups[i] for i in rng.permutation(len(groups))]
    for idx in groups:
        n = torch.tensor(lengths[idx])
        mem = torch.zeros(len(idx), int(n.max()), mems[idx[0]].shape[1])
        for k, i in enumerate(idx):
            mem[k, : n[k]] = torch.from_numpy(mems[i].astype(np.float32))
        inp, out = decoder_targets([texts[i] for i in idx])
        yield mem, n, inp, out


def train_decoder(train: tuple[Sequence[np.ndarray], Sequence[str]], val: tuple[Sequence[np.ndarray], Sequence[str]],
                  out_dir: str | os.PathLike, cfg: DecoderConfig, loop_cfg, joint: JointConfig = JointConfig(),
                  embedding: SharedEmbedding | None = None, batch_frames: int = 20000,
                  extra: dict | None = None, progress: bool = True,
                  encoder_probe: Sequence[float] | None = None) -> list[dict]:
    """Train (or resume) an attention decoder on precomputed encoder outputs (the encoder frozen).

    embedding: e.g. a trained LM's (load_lm_checkpoint(p)[0].embedding); best.pt is chosen by the
    validation per-symbol cross-entropy ("val_att_nll", no smoothing). encoder_probe: the
    runtime.text_decoder.encoder_probe of the recogniser that made the outputs, kept in the checkpoint
    and written by its export, so that rescoring notices a decoder paired with another recogniser."""
    from .loop import train_loop

    if not len(train[0]):  # every epoch would train on nothing, and best.pt be the random weights
        raise ValueError("no training utterance")
    torch.manual_seed(loop_cfg.seed)
    emb = embedding if embedding is not None else SharedEmbedding(cfg.vocab_size, cfg.embed_dim)
    model = AttentionDecoder(cfg, emb)

    def loss_fn(m: nn.Module, batch) -> tuple[torch.Tensor, dict]:
        mem, n, inp, out = (t.to(loop_cfg.device) for t in batch)
        mem = nn.functional.dropout(mem, joint.memory_dropout, m.training)
        return decoder_loss(m(mem, n, inp)[0], out, joint.label_smoothing)

    def validate(m: nn.Module) -> dict[str, float]:
        total, count, correct = 0.0, 0, 0
        for mem, n, inp, out in memory_batches(*val, batch_frames, None):
            logits = m(mem.to(loop_cfg.device), n.to(loop_cfg.device), inp.to(loop_cfg.device))[0].cpu()
            real = out != BLANK
            total += float(nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), out.reshape(-1),
                                                       ignore_index=BLANK, reduction="sum"))
            count += int(real.sum())
            correct += int(((logits.argmax(-1) == out) & real).sum())
        return {"val_att_nll": total / max(1, count), "val_att_acc": correct / max(1, count)}

    info = {"train_utterances": len(train[0]), "joint": asdict(joint), **(extra or {})}
    if encoder_probe is not None:
        info["encoder_probe"] = [float(v) for v in encoder_probe]
    return train_loop(model, lambda epoch: memory_batches(*train, batch_frames, loop_cfg.seed * 1000 + epoch),
                      loss_fn, validate if val[0] else None, out_dir, KIND_DECODER, cfg.to_dict(), loop_cfg,
                      select="val_att_nll" if val[0] else "loss", mode="min", extra=info, progress=progress)


def train_joint(train_bank, val_banks: dict, out_dir: str | os.PathLike, recognizer: Recognizer, dec_cfg: DecoderConfig,
                loop_cfg, joint: JointConfig = JointConfig(), opts=None, embedding: SharedEmbedding | None = None,
                noise: np.ndarray | None = None, extra: dict | None = None, progress: bool = True) -> list[dict]:
    """Joint CTC-attention training over the recogniser's feature banks and batches
    (speechseq.train.recognizer.make_batches); `recognizer` is the starting point (fresh with its
    feature statistics set, or a trained one to fine-tune). best.pt is chosen by greedy CTC WER."""
    from .loop import train_loop
    from .recognizer import TrainOptions, make_batches, make_validate

    opts = opts or TrainOptions()
    torch.manual_seed(loop_cfg.seed)
    emb = embedding if embedding is not None else SharedEmbedding(dec_cfg.vocab_size, dec_cfg.embed_dim)
    model = JointModel(recognizer, AttentionDecoder(dec_cfg, emb)).to(loop_cfg.device)
    rec_validate = make_validate(val_banks, loop_cfg.device) if val_banks else None
    config = {"recognizer": recognizer.cfg.to_dict(), "decoder": dec_cfg.to_dict()}
    info = {"frontend": train_bank.frontend, "train_hours": round(train_bank.hours, 3), "joint": asdict(joint),
            **(extra or {})}
    noise_t = None if noise is None else torch.as_tensor(noise, dtype=torch.float32)
    g = torch.Generator(device=loop_cfg.device).manual_seed(opts.seed * 7919)
    loss_fn = joint_loss_fn(joint, loop_cfg.device, opts.augment, noise_t, opts.seed,
                            FrontendConfig(**train_bank.frontend).floor, g)
    return train_loop(model, lambda epoch: make_batches(train_bank, epoch, opts), loss_fn,
                      (lambda m: rec_validate(m.recognizer)) if rec_validate else None, out_dir, KIND_JOINT, config,
                      loop_cfg, select="val_wer" if rec_validate else "loss", mode="min", extra=info,
                      progress=progress, generators={"augment": g})


def load_decoder_checkpoint(path: str | os.PathLike) -> tuple[AttentionDecoder, dict]:
    """The decoder of an "attention-decoder" or "joint" checkpoint, in eval mode, and the checkpoint."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict):  # a list or a tensor saved by other code: ck.get was an AttributeError
        raise ValueError(f"{path}: not a training checkpoint ({type(ck).__name__}), so not an attention decoder")
    if ck.get("kind") == KIND_DECODER:
        cfg = DecoderConfig(**ck["model_config"])
        state = ck["model"]
    elif ck.get("kind") == KIND_JOINT:
        cfg = DecoderConfig(**ck["model_config"]["decoder"])
        state = {k.removeprefix("module.").removeprefix("decoder."): v for k, v in ck["model"].items()
                 if k.removeprefix("module.").startswith("decoder.")}
    else:
        raise ValueError(f"{path}: a {ck.get('kind')!r} checkpoint, not an attention decoder")
    model = AttentionDecoder(cfg, SharedEmbedding(cfg.vocab_size, cfg.embed_dim))
    model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
    return model.eval(), ck
