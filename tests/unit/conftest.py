"""A tiny random-weight causal LM with a tokenizer trained in memory: ERASMO's tests never download or load SmolLM2."""
from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

CORPUS = ["species is Adelie, island is Torgersen, bill length mm is 39.1, sex is male",
          "species is Gentoo, island is Biscoe, body mass g is 5000, sex is female",
          "age is forty-two point five, city is Lyon, age is high, size is low, medium"]


@functools.cache
def _tokenizer_json() -> str:
    """A byte-level BPE tokenizer trained on CORPUS once per session, as JSON (each LM gets a fresh copy)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(CORPUS, trainer)
    return backend.to_str()


def tiny_causal_lm(spec: str = "tiny", device: str = "cpu"):
    """(model, tokenizer): a 2-layer Llama with 32-d states and a byte-level BPE tokenizer, same weights every call."""
    import torch
    from tokenizers import Tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from core.embed.causal_lm import prepare_tokenizer

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_tokenizer_json()), eos_token="<eos>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    return LlamaForCausalLM(config).to(device), prepare_tokenizer(tokenizer)


@pytest.fixture
def tiny_lm() -> Callable[[str, str], tuple]:
    """A model loader (spec, device) -> (model, tokenizer) building the tiny LM."""
    return tiny_causal_lm
