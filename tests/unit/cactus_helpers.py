"""A tiny random-weight BERT with a word-level tokenizer built in memory: CACTUS's tests never load MiniLM."""
from __future__ import annotations

import functools
import re

from core.data.groups import EntityGroup

TOPICS = {
    "refund": ["refund my order", "i want my money back", "refund the payment please", "money back for this order"],
    "card": ["my card has not arrived", "where is my new card", "card delivery is late", "track my card please"],
    "password": ["reset my password", "forgot my password", "password link expired", "cannot log in password"],
}


@functools.cache
def _vocabulary() -> tuple[str, ...]:
    words = sorted({word for texts in TOPICS.values() for text in texts for word in re.findall(r"\w+", text)})
    return ("[PAD]", "[UNK]", "[CLS]", "[SEP]", *words)


def tiny_tokenizer():
    """A whitespace word-level tokenizer that wraps each text in [CLS] ... [SEP], as BERT's does."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {word: index for index, word in enumerate(_vocabulary())}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                           special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]")


def tiny_encoder(spec: str = "tiny", device: str = "cpu"):
    """(model, tokenizer): a 2-layer BERT with 32-d states, the same weights on every call."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(_vocabulary()), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    return BertModel(config, add_pooling_layer=False).to(device), tiny_tokenizer()


def topic_groups(count: int, seed: int = 0) -> list[EntityGroup]:
    """Groups of 2-3 topics with 2-3 messages each, clustered by topic."""
    from core.data.groups import make_groups

    texts = [text for items in TOPICS.values() for text in items]
    labels = [topic for topic, items in TOPICS.items() for _ in items]
    return make_groups(texts, labels, n_groups=count, clusters=(2, 3), sizes=(2, 3), seed=seed)
