"""Synthetic Llama-shaped checkpoints: a base and fine-tunes (tests, fixtures, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from weightzoo.merge.checkpoint_io import PlannedOutput, ShardedWriter


@dataclass(frozen=True)
class LlamaShape:
    """Sizes of a Llama decoder (names and shapes as ``LlamaForCausalLM``)."""

    hidden: int = 32
    layers: int = 2
    intermediate: int = 64
    vocab: int = 64
    heads: int = 4
    kv_heads: int = 4

    def tensor_shapes(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        h, i = self.hidden, self.intermediate
        kv = h // self.heads * self.kv_heads
        yield "model.embed_tokens.weight", (self.vocab, h)
        for layer in range(self.layers):
            p = f"model.layers.{layer}."
            yield p + "input_layernorm.weight", (h,)
            yield p + "self_attn.q_proj.weight", (h, h)
            yield p + "self_attn.k_proj.weight", (kv, h)
            yield p + "self_attn.v_proj.weight", (kv, h)
            yield p + "self_attn.o_proj.weight", (h, h)
            yield p + "post_attention_layernorm.weight", (h,)
            yield p + "mlp.gate_proj.weight", (i, h)
            yield p + "mlp.up_proj.weight", (i, h)
            yield p + "mlp.down_proj.weight", (h, i)
        yield "model.norm.weight", (h,)
        yield "lm_head.weight", (self.vocab, h)

    def n_params(self) -> int:
        total = 0
        for _, shape in self.tensor_shapes():
            n = 1
            for s in shape:
                n *= s
            total += n
        return total

    def hf_config(self, dtype: torch.dtype) -> dict:
        """A ``config.json`` that transformers and mergekit read as Llama."""
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "vocab_size": self.vocab,
            "max_position_embeddings": 128,
            "rms_norm_eps": 1e-6,
            "hidden_act": "silu",
            "tie_word_embeddings": False,
            "torch_dtype": str(dtype).removeprefix("torch."),
        }


def synthetic_tensor(
    name: str, shape: tuple[int, ...], *, seed: int, finetune: int | None, delta_scale: float
) -> torch.Tensor:
    """The base tensor (``finetune`` None) or base + a sparse-ish random delta of fine-tune
    ``finetune``; deterministic in (seed, name, finetune), float32."""
    import zlib

    g = torch.Generator().manual_seed(seed * 7919 + zlib.crc32(name.encode()))
    if name.endswith("layernorm.weight") or name == "model.norm.weight":
        base = 1 + 0.1 * torch.randn(shape, generator=g)
    else:
        base = torch.randn(shape, generator=g) * 0.02
    if finetune is None:
        return base
    g2 = torch.Generator().manual_seed(
        seed * 7919 + zlib.crc32(name.encode()) + 104729 * (finetune + 1)
    )
    # Heavy-tailed deltas, like real fine-tunes: most small, a few large.
    delta = torch.randn(shape, generator=g2) * torch.rand(shape, generator=g2) ** 4
    return base + delta_scale * 0.02 * delta


def write_synthetic_llama(
    folder: str | Path,
    shape: LlamaShape,
    *,
    seed: int = 0,
    finetune: int | None = None,
    dtype: torch.dtype = torch.float32,
    delta_scale: float = 0.5,
    max_shard_bytes: int = 5 * 10**9,
) -> Path:
    """Write a synthetic base (or fine-tune) as a Hugging Face folder, one tensor at a time."""
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plan = [PlannedOutput(n, s, dtype) for n, s in shape.tensor_shapes()]
    writer = ShardedWriter(folder, plan, max_shard_bytes=max_shard_bytes)
    for name, s in shape.tensor_shapes():
        t = synthetic_tensor(name, s, seed=seed, finetune=finetune, delta_scale=delta_scale)
        writer.write(name, t.to(dtype))
    writer.finish()
    (folder / "config.json").write_text(json.dumps(shape.hf_config(dtype), indent=2) + "\n")
    return folder
