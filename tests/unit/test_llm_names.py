"""Names from an LLM: one question per cluster, a second pass for names that read alike, the judges' answer store
(no question paid twice), the budget, and the offline names whenever the model cannot be read or stops."""
import pytest

from core.curation import Curation, EditLog, NamerChoice, Rename, estimate_naming
from core.curation.llm_names import check_namer_spec, parse_name, parse_names, similar_groups
from core.errors import SettingsError
from core.llm import JudgmentStore
from tests.unit.test_curation import built_run as built_run  # noqa: F401  (fixtures)
from tests.unit.test_curation import run_dir as run_dir  # noqa: F401
from tests.unit.test_curation import topic_texts_module as topic_texts_module  # noqa: F401


class ScriptedModel:
    """A text model naming a cluster after its first distinguishing word, so each gets a name of its own; `same`
    makes every first answer alike (to call the distinct pass). Counts the prompts it was sent."""

    name = "scripted"
    concurrency = 2

    def __init__(self, *, same: bool = False, unreadable: bool = False) -> None:
        self.same = same
        self.unreadable = unreadable
        self.prompts: list[str] = []

    def ask(self, prompt: str) -> tuple[str, int, float, float]:
        self.prompts.append(prompt)
        if self.unreadable:
            return "I think these are about various things.", 30, 0.001, 0.0
        if prompt.startswith("These clusters"):
            count = prompt.count("\nCluster ")
            return "\n".join(f"{i}. Name: Distinct topic {i} | Description: number {i}" for i in range(1, count + 1)), \
                60, 0.002, 0.0
        term = prompt.split("Distinguishing words: ", 1)[1].split(",")[0].split()[0]
        name = "Customer questions" if self.same else f"Questions on {term}"
        return f"**Name:** {name}\nDescription: Texts about {term}.", 50, 0.001, 0.0


def curation_with(run_dir, tmp_path, fake_embedder, model):
    return Curation(run_dir, log=EditLog(tmp_path / "catalogue.sqlite"), embedder=fake_embedder,
                    text_models=lambda spec, api_base: model)


def test_replies_are_read_strictly_but_tolerate_markdown_and_quotes():
    assert parse_name("**Name:** \"Card delivery\"\nDescription: Where is my card.") == ("Card delivery",
                                                                                      "Where is my card.")
    assert parse_name("name: a very long name that goes on and on\n") == ("A very long name that", "")
    assert parse_name("Card delivery questions") is None
    assert [parse_name(f"Name: {echo}") for echo in ("<name", "[name]", "2", "<name>")] == [None] * 4
    assert parse_names("1. Name: Card arrival | Description: when\n2) Card fees | costs", 2) == [
        ("Card arrival", "when"), ("Card fees", "costs")]
    assert parse_names("1. Name: Card arrival", 2) is None
    assert similar_groups({1: "Card delivery", 2: "Card delivery time", 3: "Refunds", 4: "Delivery card"}) == [
        [1, 2, 4]]


def test_llm_names_every_cluster_once_and_a_new_session_pays_nothing(run_dir, tmp_path, fake_embedder):
    model = ScriptedModel()
    curation = curation_with(run_dir, tmp_path, fake_embedder, model)
    curation.choose_namer(NamerChoice("litellm:scripted"))
    clusters = curation.current().clusters
    assert len(model.prompts) == 3 and all(c.named_by.startswith("llm-") for c in clusters)
    assert {c.name.split()[0] for c in clusters} == {"Questions"} and len({c.name for c in clusters}) == 3
    assert all(c.description.startswith("Texts about") for c in clusters)
    stored = JudgmentStore(tmp_path / "catalogue.sqlite").list(run_dir.name, kind="name")
    assert len(stored) == 3 and sum(j.cost for j in stored) == pytest.approx(0.003)
    again = curation_with(run_dir, tmp_path, fake_embedder, model)
    assert [c.name for c in again.current().clusters] == [c.name for c in clusters]
    assert len(model.prompts) == 3  # the names are stored; nothing is asked again


def test_alike_names_are_asked_again_together(run_dir, tmp_path, fake_embedder):
    model = ScriptedModel(same=True)
    curation = curation_with(run_dir, tmp_path, fake_embedder, model)
    curation.choose_namer(NamerChoice("litellm:scripted"))
    names = sorted(c.name for c in curation.current().clusters)
    assert names == ["Distinct topic 1", "Distinct topic 2", "Distinct topic 3"]
    assert len(model.prompts) == 4 and model.prompts[-1].count("named “Customer questions”") == 3


def test_unreadable_replies_keep_the_offline_name_and_are_asked_again(run_dir, tmp_path, fake_embedder):
    model = ScriptedModel(unreadable=True)
    curation = curation_with(run_dir, tmp_path, fake_embedder, model)
    offline = {c.id: c.name for c in curation.current().clusters}
    curation.choose_namer(NamerChoice("litellm:scripted"))
    assert {c.id: c.name for c in curation.current().clusters} == offline
    store = JudgmentStore(tmp_path / "catalogue.sqlite")
    assert store.cached_answer("scripted", store.list(run_dir.name, kind="name")[0].prompt_version,
                               store.list(run_dir.name, kind="name")[0].question_hash) is None


def test_a_persons_name_stays_and_a_spent_budget_goes_back_to_offline_names(run_dir, tmp_path, fake_embedder):
    model = ScriptedModel()
    curation = curation_with(run_dir, tmp_path, fake_embedder, model)
    first = curation.current().clusters[0].id
    curation.apply(Rename(first, "My own name"))
    curation.choose_namer(NamerChoice("litellm:scripted", max_queries=1))
    state = {c.id: c for c in curation.current().clusters}
    assert state[first].name == "My own name" and state[first].named_by == "person"
    assert curation.naming_problem and "budget" in curation.naming_problem
    assert curation.namer_choice().offline  # back to the offline namer, said so
    assert all(not c.named_by.startswith("llm-") for c in state.values())
    assert len(JudgmentStore(tmp_path / "catalogue.sqlite").list(run_dir.name, kind="name")) == 1  # paid, kept


def test_estimates_price_known_models_and_bad_specs_say_what_to_write():
    priced = estimate_naming("litellm:openai/gpt-4o-mini", 20, 60.0)
    assert priced.paid and priced.names == 30 and priced.cost and priced.cost > 0 and "naming" in priced.describe()
    offline = estimate_naming("keywords", 20, 60.0)
    assert not offline.paid and "nothing is paid" in offline.describe()
    with pytest.raises(SettingsError, match="litellm:<model>"):
        check_namer_spec("gpt-4o")
