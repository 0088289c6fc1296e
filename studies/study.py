"""A study: one agent on one task, N lifetimes, and a method choosing each lifetime's
discount (or any other Config fields). It is an Optuna study whose settings travel with
it, as a user attribute, so a worker on another machine needs only its name and storage.

Every trial is queued when the study is created (grid points; random points drawn by
RandomSampler; empty trials that TPE or GP fill in when a worker takes them; lifetimes of
a meta-gradient agent). Workers only take queued trials, so however many run, no grid
point is visited twice and no study runs more than N lifetimes (studies/worker.py).

A worker may take up to P trials at once and train them as one batched population. P is
how a study trains, not what it is: the spec's ``population`` is `study run`'s default,
left out when specs are compared; member m of a population computes what a lone lifetime
with m's seed and config computes, so the trials' values do not depend on it.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna

from agents.common.population import shared_fields
from agents.registry import get_agent
from envs.config import MAX_STEPS, ConfigError, build, suggest
from envs.errors import UserError
from envs.registry import get_task
from studies.bulk import enqueue_all
from studies.lifetimes import Lifetime
from studies.space import DEFAULT_PARAM, Param, grid_points, parse_space

METHODS = ("grid", "random", "bayes", "meta-gradient")
PRUNERS = ("none", "median", "hyperband")
SAMPLERS = ("tpe", "gp")
META_GRADIENT_AGENTS = ("mg-a2c", "meta-dqn")
MAX_TRIALS = 10_000
MAX_POPULATION = 4096
"""Most trials one worker trains as one population: thousands fit a GPU; on a CPU the
step of a population grows with P, so a few dozen already pay."""
FRESH_SEED_BASE = 1_000_000
"""Seeds of the re-evaluation lifetimes after a search; search lifetimes use seed + trial
number, which stays below it."""
MAX_STUDY_SEED = FRESH_SEED_BASE - MAX_TRIALS
SPEC_ATTR = "workbench"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""A study's name: 1 to 100 letters, digits, dots, dashes and underscores, beginning with
a letter or digit. It names log files (``study-NAME.log``) and is pasted into the shell
commands the workbench prints, so no path separator, space, control character or markup."""
NAME_RULE = (
    "1 to 100 letters, digits, '.', '-' or '_', beginning with a letter or digit "
    "(e.g. gamma-grid_2)"
)


def learns_discount(agent: str, fixed: dict[str, Any]) -> bool:
    """Whether the agent's lifetimes with these fixed settings (``--set``) learn their
    discount online and log it as ``meta/discount``: a meta-gradient agent always, sf-gpi
    with ``learn_discount``. Only that field is read, so the others need not be valid."""
    if agent in META_GRADIENT_AGENTS or "learn_discount" not in fixed:
        return agent in META_GRADIENT_AGENTS
    values = {"learn_discount": fixed["learn_discount"]}
    return bool(build(get_agent(agent).config, values, owner=agent).to_dict()["learn_discount"])


def check_name(name: str, what: str = "study name", field: str = "name") -> str:
    """``name`` if it is a valid study (or group) name, else a ConfigError that states the
    pattern."""
    if not NAME_PATTERN.fullmatch(name):
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise ConfigError(f"{what} {shown!r} is not valid: use {NAME_RULE}", field=field)
    return name


@dataclass(frozen=True)
class StudySpec:
    """Everything that defines a study; two studies compare when they share agent family,
    task, task parameters, fixed config and step budget."""

    agent: str
    task: str
    method: str
    trials: int
    steps: int
    params: tuple[str, ...] = ()
    fixed: dict[str, str] = field(default_factory=dict)
    task_params: dict[str, str] = field(default_factory=dict)
    group: str | None = None
    pruner: str = "none"
    sampler: str = "tpe"
    seed: int = 0
    prune_after: int = 0
    """Env steps before which the pruner sees no evaluation (its first rung comes after):
    say a predictive agent's pre-training, during which every lifetime scores alike."""
    population: int = 1
    """Trials a worker takes at once and trains as one population, unless `study run
    --population` says otherwise (not part of what the study is: see the module)."""

    @classmethod
    def from_cli(
        cls,
        *,
        agent: str,
        task: str,
        method: str,
        trials: int,
        steps: int,
        params: list[str] | None,
        fixed: dict[str, str],
        task_params: dict[str, str],
        group: str | None,
        pruner: str,
        sampler: str,
        seed: int,
        population: int = 1,
        prune_after: int = 0,
    ) -> StudySpec:
        if method not in METHODS:
            raise ConfigError(
                f"unknown method {method!r}{suggest(method, METHODS)}; "
                f"choose one of {', '.join(METHODS)}",
                field="method",
            )
        if not params and method != "meta-gradient":
            params = [DEFAULT_PARAM]
        spec = cls(
            agent=agent,
            task=task,
            method=method,
            trials=trials,
            steps=steps,
            params=tuple(params or ()),
            fixed=fixed,
            task_params=task_params,
            group=group,
            pruner=pruner,
            sampler=sampler,
            seed=seed,
            prune_after=prune_after,
            population=population,
        )
        spec.check()
        return spec

    # --- validation -----------------------------------------------------------------------
    def check(self) -> None:
        """Refuse anything that would fail only once trials run; ConfigError says what."""
        if self.group is not None:
            check_name(self.group, "--group", "group")
        agent = get_agent(self.agent)
        agent.check_task(self.task)
        family = get_task(self.task)
        params = build(family.Params, self.task_params, owner=self.task)
        if not 1 <= self.trials <= MAX_TRIALS:
            raise ConfigError(f"--trials {self.trials}: give 1 to {MAX_TRIALS}", field="trials")
        if not 1 <= self.steps <= MAX_STEPS:
            raise ConfigError(
                f"--steps {self.steps}: give 1 to {MAX_STEPS:,} env steps", field="steps"
            )
        if not 0 <= self.seed <= MAX_STUDY_SEED:
            raise ConfigError(
                f"--seed {self.seed}: give 0 to {MAX_STUDY_SEED:,} (trial n trains with seed "
                f"+ n, below the fresh lifetimes' seeds from {FRESH_SEED_BASE:,})",
                field="seed",
            )
        if self.pruner not in PRUNERS:
            raise ConfigError(
                f"unknown pruner {self.pruner!r}; choose one of {', '.join(PRUNERS)}",
                field="pruner",
            )
        if self.prune_after and self.pruner == "none":
            raise ConfigError(
                f"--prune-after {self.prune_after}: there is no pruner to hold back; give "
                "--pruner median or hyperband",
                field="prune_after",
            )
        if not 0 <= self.prune_after < self.steps:
            raise ConfigError(
                f"--prune-after {self.prune_after}: give 0 to {self.steps - 1:,} env steps "
                "(fewer than --steps, or nothing would ever be pruned)",
                field="prune_after",
            )
        if self.sampler not in SAMPLERS:
            raise ConfigError(
                f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}",
                field="sampler",
            )
        if self.method == "meta-gradient":
            if not learns_discount(self.agent, self.fixed):
                raise ConfigError(
                    f"method meta-gradient needs an agent that learns its discount "
                    f"({', '.join(META_GRADIENT_AGENTS)}, or sf-gpi with --set "
                    f"learn_discount=true), not {self.agent!r} as set"
                )
            if self.params:
                raise ConfigError(
                    "method meta-gradient learns the discount online; drop --param "
                    "(fix other fields with --set)"
                )
        space = self.space()
        for param in space:
            if param.name in self.fixed:
                raise ConfigError(f"{param.name} is both searched (--param) and fixed (--set)")
        if self.method == "grid":
            grid_points(space, self.trials)
        for point in self.corners():
            config = build(agent.config, {**self.fixed, **point}, owner=self.agent)
            agent.check_settings(config, params, self.steps)
        self.check_population(self.population)

    def check_population(self, population: int) -> None:
        """Refuse a population size this study cannot train with, naming why: an agent
        with no batched form, or a searched field the members must share (it sets a shape
        or the loop's structure). Such a study trains lone lifetimes: batches split by
        that field's value would be small (of one lifetime, if it is all that varies)."""
        if not 1 <= population <= MAX_POPULATION:
            raise ConfigError(
                f"--population {population}: give 1 to {MAX_POPULATION}", field="population"
            )
        if population == 1:
            return
        agent = get_agent(self.agent)
        if agent.population is None:
            raise ConfigError(
                f"--population {population}: agent {self.agent} has no batched form, so its "
                "lifetimes train one at a time; give --population 1",
                field="population",
            )
        shared = shared_fields(agent.config)
        for param in self.space():
            if param.name in shared:
                raise ConfigError(
                    f"--population {population}: this study searches {param.name}, which the "
                    "members of a population share (it sets a shape or the loop's "
                    "structure); give --population 1",
                    field="population",
                )

    def space(self) -> list[Param]:
        return parse_space(list(self.params), get_agent(self.agent).config, self.agent)

    def corners(self) -> list[dict[str, Any]]:
        """The space's lowest and highest points, so a bad --set combination shows now."""
        space = self.space()  # an int field's bounds as ints: it refuses 16.0
        low = {p.name: int(p.low) if p.integer else p.low for p in space}
        return [low, {p.name: int(p.high) if p.integer else p.high for p in space}]

    def config_for(self, params: dict[str, Any]) -> dict[str, Any]:
        config = build(get_agent(self.agent).config, {**self.fixed, **params}, owner=self.agent)
        return config.to_dict()

    def task_config(self) -> dict[str, Any]:
        family = get_task(self.task)
        return build(family.Params, self.task_params, owner=self.task).to_dict()

    def lifetime(
        self,
        study_name: str,
        config: dict[str, Any],
        seed: int,
        name: str,
        trial: int | None = None,
    ) -> Lifetime:
        """One lifetime of this study for a trainer: a trial's, or (``trial`` None) a fresh
        re-evaluation lifetime."""
        return Lifetime(
            study=study_name,
            trial=trial,
            agent=self.agent,
            task=self.task,
            config=config,
            task_params=self.task_config(),
            seed=seed,
            steps=self.steps,
            name=name,
        )

    # --- samplers and pruners --------------------------------------------------------------
    def sampler_seed(self, worker_index: int) -> int:
        """A worker's sampler seed: per study seed, method and worker, so that parallel
        Bayesian workers do not propose the same points, and a Bayesian study's random
        start-up trials are not the random study's points."""
        return (self.seed * 1000 + worker_index) ^ zlib.crc32(self.method.encode())

    def sampler_for(self, worker_seed: int) -> optuna.samplers.BaseSampler:
        space = {p.name: p.distribution() for p in self.space()}
        if self.method == "grid":
            return optuna.samplers.GridSampler(
                {name: [pt[name] for pt in self.queued_points()] for name in space},
                seed=self.seed,
            )
        if self.method == "bayes":
            # A worker taking P trials at once samples them one after the other while the
            # earlier ones run, as parallel workers do: TPE's constant liar counts running
            # trials as bad results, so a batch spreads out instead of repeating its best
            # guess; Optuna's GPSampler (5.0) has no such switch because it always
            # conditions on running trials (q-batch log EI, greedy, one point at a time).
            startup = max(2, min(10, self.trials // 3))
            if self.sampler == "gp":
                return optuna.samplers.GPSampler(seed=worker_seed, n_startup_trials=startup)
            return optuna.samplers.TPESampler(
                seed=worker_seed, n_startup_trials=startup, multivariate=True, constant_liar=True
            )
        return optuna.samplers.RandomSampler(seed=worker_seed)

    def pruner_obj(self) -> optuna.pruners.BasePruner:
        if self.pruner == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
        if self.pruner == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto")
        return optuna.pruners.NopPruner()

    def queued_points(self) -> list[dict[str, Any]]:
        """The parameters of each trial queued at creation ({} is sampled when taken)."""
        space = self.space()
        if self.method == "grid":
            return grid_points(space, self.trials)
        if self.method == "random":
            draft = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=self.seed))
            distributions = {p.name: p.distribution() for p in space}
            return [draft.ask(distributions).params for _ in range(self.trials)]
        return [{} for _ in range(self.trials)]

    # --- persistence ----------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({**asdict(self), "params": list(self.params)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StudySpec:
        data = json.loads(text)
        data["params"] = tuple(data["params"])
        return cls(**data)

    def differences(self, other: StudySpec) -> list[str]:
        """The settings that make two studies different studies (not ``population``,
        which is how one trains)."""
        mine, theirs = json.loads(self.to_json()), json.loads(other.to_json())
        mine.pop("population"), theirs.pop("population", None)
        return [key for key in mine if mine[key] != theirs.get(key)]


def create(storage: optuna.storages.BaseStorage, name: str, spec: StudySpec) -> bool:
    """Create the study with all its trials queued; False if it already exists unchanged.

    A study of that name with other settings is refused: resuming it is `study resume`.
    """
    existing = find(storage, name)
    if existing is not None:
        differ = spec.differences(existing)
        if differ:
            raise ConfigError(
                f"study {name!r} exists with a different {', '.join(differ)}; "
                f"`workbench study resume {name}` continues it, or pick another name"
            )
        return False
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        sampler=spec.sampler_for(spec.sampler_seed(0)),
        pruner=spec.pruner_obj(),
    )
    if study.user_attrs.get(SPEC_ATTR):  # another process created it a moment ago
        return create(storage, name, spec)
    study.set_user_attr(SPEC_ATTR, spec.to_json())
    enqueue_all(study, spec.queued_points())
    return True


def find(storage: optuna.storages.BaseStorage, name: str) -> StudySpec | None:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    text = storage.get_study_user_attrs(study_id).get(SPEC_ATTR)
    if text is None:
        raise UserError(f"study {name!r} in this storage was not made by the workbench")
    return StudySpec.from_json(text)


def load(storage: optuna.storages.BaseStorage, name: str, worker_index: int = 0):
    """(optuna.Study, StudySpec) of an existing study, or a UserError naming the choices."""
    spec = find(storage, name)
    if spec is None:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise UserError(
            f"no study named {name!r}{suggest(name, names)}; `workbench study ls` lists them"
        )
    study = optuna.load_study(
        study_name=name,
        storage=storage,
        sampler=spec.sampler_for(spec.sampler_seed(worker_index)),
        pruner=spec.pruner_obj(),
    )
    return study, spec
