"""CACTUS's attention between entities: the masks, the pooled-vector rule, and the layer loop against each family."""
import math

import pytest
import torch

from core.errors import SettingsError
from core.methods.cactus.attention import ContextEncoder, family_of, group_attention, key_mask

# Three entities of lengths 3, 1 and 2, padded to 3 tokens.
TOKENS = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0]], dtype=torch.bool)


def test_nia_keys_are_the_entitys_own_tokens():
    assert torch.equal(key_mask(TOKENS, "nia"), TOKENS)


def test_sia_keys_are_own_tokens_and_the_other_entities_pooled_vectors():
    mask = key_mask(TOKENS, "sia")
    n, length = TOKENS.shape
    assert mask.shape == (n, length + n)  # no slot for another entity's tokens exists at all
    assert torch.equal(mask[:, :length], TOKENS)
    assert torch.equal(mask[:, length:], ~torch.eye(n, dtype=torch.bool))


def test_fia_keys_are_every_real_token_of_the_group():
    mask = key_mask(TOKENS, "fia")
    assert mask.shape == (3, 9)
    assert all(torch.equal(row, TOKENS.reshape(-1)) for row in mask)


def test_unknown_attention_is_a_settings_error():
    with pytest.raises(SettingsError, match="sia, nia, fia"):
        key_mask(TOKENS, "full")


def dense_reference(q, k, v, token_mask, mode):
    """The definition over the whole group: queries = all tokens, keys = [all tokens ; one pooled vector per entity],
    with the mask written out position by position."""
    n, heads, length, dim = q.shape
    weights = token_mask.float() / token_mask.sum(1, keepdim=True)
    pooled_k, pooled_v = (torch.einsum("nl,nhld->hnd", weights, t) for t in (k, v))
    keys = torch.cat([k.transpose(0, 1).reshape(heads, n * length, dim), pooled_k], dim=1)
    values = torch.cat([v.transpose(0, 1).reshape(heads, n * length, dim), pooled_v], dim=1)
    allowed = torch.zeros(n * length, n * length + n, dtype=torch.bool)
    for i in range(n):
        for a in range(length):
            row = i * length + a
            for j in range(n):
                for b in range(length):
                    real = bool(token_mask[j, b])
                    allowed[row, j * length + b] = real and (j == i if mode in ("nia", "sia") else True)
                allowed[row, n * length + j] = mode == "sia" and j != i
    scores = torch.einsum("hqd,hkd->hqk", q.transpose(0, 1).reshape(heads, n * length, dim), keys) / math.sqrt(dim)
    scores = scores.masked_fill(~allowed, float("-inf"))
    out = torch.einsum("hqk,hkd->hqd", scores.softmax(-1), values)
    return out.reshape(heads, n, length, dim).transpose(0, 1)


@pytest.mark.parametrize("mode", ["nia", "sia", "fia"])
def test_scalable_layout_equals_the_dense_definition(mode):
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 3, 4) for _ in range(3))
    fast = group_attention(q, k, v, TOKENS, mode, scale=4 ** -0.5)
    slow = dense_reference(q, k, v, TOKENS, mode)
    real = TOKENS[:, None, :, None].expand_as(fast)
    assert torch.allclose(fast[real], slow[real], atol=1e-5)


def test_sia_sees_other_entities_only_through_their_pooled_vectors():
    """Reshuffling another entity's token states without changing their mean leaves entity 0 unchanged under SIA,
    and changes it under FIA."""
    torch.manual_seed(1)
    q, k, v = (torch.randn(3, 2, 3, 4) for _ in range(3))
    k2, v2 = k.clone(), v.clone()
    shift = torch.randn(2, 4)
    k2[2, :, 0] += shift
    k2[2, :, 1] -= shift  # entity 2 has two real tokens: their mean is unchanged
    v2[2, :, 0] -= shift
    v2[2, :, 1] += shift
    for mode, same in (("sia", True), ("fia", False)):
        before = group_attention(q, k, v, TOKENS, mode, scale=0.5)[0]
        after = group_attention(q, k2, v2, TOKENS, mode, scale=0.5)[0]
        assert torch.allclose(before, after, atol=1e-5) is same, mode


def test_nia_ignores_other_entities_entirely():
    torch.manual_seed(2)
    q, k, v = (torch.randn(3, 2, 3, 4) for _ in range(3))
    k2 = k.clone()
    k2[1:] = torch.randn_like(k2[1:])
    assert torch.allclose(group_attention(q, k, v, TOKENS, "nia", scale=0.5)[0],
                          group_attention(q, k2, v, TOKENS, "nia", scale=0.5)[0])


@pytest.mark.parametrize("mode", ["sia", "fia"])
def test_a_very_negative_cross_bias_turns_inter_entity_attention_off(mode):
    torch.manual_seed(3)
    q, k, v = (torch.randn(3, 2, 3, 4) for _ in range(3))
    position = torch.randn(3, 2, 3, 3)  # a position bias within each entity (MPNet, T5) stays with its entity
    off = group_attention(q, k, v, TOKENS, mode, scale=0.5, bias=position, cross_bias=torch.full((2,), -50.0))
    alone = group_attention(q, k, v, TOKENS, "nia", scale=0.5, bias=position)
    real = TOKENS[:, None, :, None].expand_as(off)
    assert torch.allclose(off[real], alone[real], atol=1e-5)
    alone = group_attention(q, k, v, TOKENS, "nia", scale=0.5)
    half = group_attention(q, k, v, TOKENS, mode, scale=0.5, cross_bias=torch.tensor([0.0, -50.0]))
    assert torch.allclose(half[:, 1][TOKENS], alone[:, 1][TOKENS], atol=1e-5)  # per head
    assert not torch.allclose(half[:, 0][TOKENS], alone[:, 0][TOKENS], atol=1e-3)


def tiny_models():
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel, T5Config, T5EncoderModel

    torch.manual_seed(0)
    common = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
    return {
        "bert": BertModel(BertConfig(**common), add_pooling_layer=False),
        "mpnet": MPNetModel(MPNetConfig(**common), add_pooling_layer=False),
        "t5": T5EncoderModel(T5Config(vocab_size=50, d_model=16, d_kv=8, d_ff=32, num_layers=2, num_heads=2)),
    }


@pytest.mark.parametrize("name", ["bert", "mpnet", "t5"])
def test_nia_layer_loop_reproduces_the_encoder_itself(name):
    model = tiny_models()[name].eval()
    ids = torch.tensor([[3, 7, 9, 4], [3, 8, 4, 0], [3, 4, 0, 0]])
    if name == "mpnet":
        ids = torch.where(ids == 0, torch.tensor(1), ids)  # MPNet pads with id 1
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]])
    with torch.no_grad():
        ours = ContextEncoder(model, "nia").eval()(ids, mask)
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    expected = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    assert torch.allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize("name", ["bert", "mpnet", "t5"])
def test_context_changes_an_entitys_embedding_only_with_inter_entity_attention(name):
    model = tiny_models()[name].eval()
    ids = torch.tensor([[3, 7, 9], [3, 8, 5]])
    other = torch.tensor([[3, 7, 9], [3, 11, 12]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        for mode, changes in (("nia", False), ("sia", True), ("fia", True)):
            encoder = ContextEncoder(model, mode).eval()
            first, second = encoder(ids, mask)[0], encoder(other, mask)[0]
            assert (not torch.allclose(first, second, atol=1e-6)) is changes, mode


def test_gradients_reach_the_encoder_and_the_cross_bias_through_sia():
    model = tiny_models()["bert"].train()
    encoder = ContextEncoder(model, "sia", context_bias=-2.0)
    assert torch.equal(encoder.cross_bias.detach(), torch.full((2, 2), -2.0))  # one per layer and head
    out = encoder(torch.tensor([[3, 7], [3, 8]]), torch.ones(2, 2, dtype=torch.long))
    out.pow(2).sum().backward()
    assert model.encoder.layer[0].attention.self.key.weight.grad.abs().sum() > 0
    assert encoder.cross_bias.grad.abs().sum() > 0


def test_an_unsupported_encoder_is_named():
    with pytest.raises(SettingsError, match="BERT-style, MPNet and T5"):
        family_of(torch.nn.Linear(2, 2))


def test_load_encoder_finds_the_transformer_of_a_sentence_transformers_folder(tmp_path):
    import json

    from core.embed.encoders import load_encoder
    from tests.unit.cactus_helpers import tiny_encoder

    model, tokenizer = tiny_encoder()
    model.save_pretrained(tmp_path / "0_Transformer")
    tokenizer.save_pretrained(tmp_path / "0_Transformer")
    (tmp_path / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"}]))
    loaded, loaded_tokenizer = load_encoder(str(tmp_path))
    assert type(loaded).__name__ == "BertModel" and loaded_tokenizer("card")["input_ids"][0] == 2
    key = loaded.encoder.layer[0].attention.self.key.weight
    assert torch.equal(key, model.encoder.layer[0].attention.self.key.weight)


def test_a_t5_checkpoint_loads_as_its_encoder_only(tmp_path):
    from core.embed.encoders import load_encoder
    from tests.unit.cactus_helpers import tiny_tokenizer
    from transformers import T5Config, T5ForConditionalGeneration

    T5ForConditionalGeneration(T5Config(vocab_size=50, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                        decoder_start_token_id=0)).save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    model, _ = load_encoder(str(tmp_path))
    assert type(model).__name__ == "T5EncoderModel" and family_of(model).__name__ == "_T5"


def test_an_encoder_that_cannot_be_had_is_a_clear_error(tmp_path):
    from core.errors import ModelUnavailableError
    from core.embed.encoders import load_encoder

    with pytest.raises(ModelUnavailableError, match="Could not load the encoder"):
        load_encoder(str(tmp_path))  # an empty folder


def test_fia_training_recomputes_attention_and_gives_the_same_gradients():
    model = tiny_models()["bert"]
    for module in model.modules():  # without dropout, training mode (recomputed attention) and eval mode agree
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    encoder = ContextEncoder(model, "fia")
    ids, mask = torch.tensor([[3, 7, 9], [3, 8, 0]]), torch.tensor([[1, 1, 1], [1, 1, 0]])
    grads = []
    for training in (True, False):
        encoder.train(training)
        model.zero_grad()
        encoder(ids, mask).pow(2).sum().backward()
        grads.append(model.encoder.layer[0].attention.self.query.weight.grad.clone())
    assert grads[0].abs().sum() > 0 and torch.allclose(grads[0], grads[1], atol=1e-6)
