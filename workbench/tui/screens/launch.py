"""The launch dialog: agent and task (only compatible pairs; plug-in agents too, installed
ones found through their entry points or one typed as a spec), a form generated from the
agent's Config and the task's parameters, seeds (several seeds launch several runs) and
the step budget. Launching queues the runs and starts their background workers. Opened to
clone a run, it can also start the new runs from that run's networks (fine-tuning)."""

from __future__ import annotations

from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from agents.registry import AGENTS, get_agent
from envs.config import MAX_SEED, MAX_STEPS, ConfigError, build
from envs.registry import get_task
from workbench.tui import actions
from workbench.tui.messages import AgentsFound, ReportsFailures, RunsLaunched
from workbench.tui.readers import plugins
from workbench.tui.widgets.config_form import ConfigForm
from workbench.tui.widgets.message_line import MessageLine

MAX_SEEDS = 64
"""Most runs one launch starts (one per seed)."""


def parse_seeds(text: str) -> list[int]:
    """'0', '0,1,2' or '0-4' (inclusive); ConfigError says what is wrong."""
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            span = range(int(low), int(high) + 1) if dash else range(int(part), int(part) + 1)
        except ValueError:
            raise ConfigError(f"seeds {text!r}: give integers like 0 or 0,1,2 or 0-4") from None
        if len(seeds) + len(span) > MAX_SEEDS:  # before building the list: 0-10**12
            raise ConfigError(f"seeds {text!r}: too many runs at once; at most {MAX_SEEDS}")
        if span and not (0 <= span[0] and span[-1] <= MAX_SEED):
            raise ConfigError(f"seeds {text!r}: each seed is 0 to {MAX_SEED:,}")
        seeds.extend(span)
    if not seeds:
        raise ConfigError("seeds: give at least one, e.g. 0 or 0-4")
    return seeds


def task_choices(agent: str) -> tuple[str, ...]:
    """The tasks offered for an agent: its families, or for one that lists none, a
    standard gymnasium env of each action kind it takes."""
    from workbench.plugin_check import STANDARD_GYM_TASKS

    spec = get_agent(agent)
    return spec.tasks or tuple(STANDARD_GYM_TASKS[kind] for kind in spec.actions)


class LaunchScreen(ReportsFailures, ModalScreen[list[int] | None]):
    """Dismissed with the launched run ids, or None when cancelled."""

    PALETTE_PREFIX = "launch"

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "launch", "Launch")]

    def __init__(
        self,
        agent: str = "dqn",
        task: str | None = None,
        config: dict[str, Any] | None = None,
        task_params: dict[str, Any] | None = None,
        steps: int = 50_000,
        seeds: str = "0",
        init_from: int | None = None,
    ) -> None:
        super().__init__()
        self.init_from = init_from
        self.agent_name = agent
        self.plugins: list[str] = [] if agent in AGENTS else [agent]
        self.task_name = task or task_choices(agent)[0]
        self.config = config or {}
        self.task_params = task_params or {}
        self.steps, self.seeds = steps, seeds

    def compose(self) -> ComposeResult:
        with Vertical(id="launch-dialog"):
            yield Static("[b]Launch runs[/b]  (Ctrl+S launches, Esc cancels)")
            with Horizontal(classes="launch-row"):
                yield Select(
                    self._agent_options(),
                    value=self.agent_name,
                    allow_blank=False,
                    id="agent",
                )
                yield Select(
                    self._task_options(), value=self.task_name, allow_blank=False, id="task"
                )
            with Horizontal(classes="launch-row"):
                yield Input(
                    placeholder="plug-in agent: path/file.py:Class or package.module:Class",
                    id="agent-spec",
                    tooltip="Enter loads the agent (docs/plugins.md) and offers it above.",
                )
            with Horizontal(classes="launch-row"):
                yield Label("steps", classes="launch-label")
                yield Input(str(self.steps), id="steps", tooltip="Env steps per run.")
                yield Label("seeds", classes="launch-label")
                yield Input(self.seeds, id="seeds", tooltip="0, or 0,1,2, or 0-4: one run each.")
            if self.init_from is not None:
                yield Checkbox(
                    f"start from run {self.init_from}'s networks (fine-tune)",
                    id="init-from",
                    tooltip="The new runs take this run's last checkpoint's network weights "
                    "and train on with their own optimiser, steps and seed; same agent and "
                    "network sizes only.",
                )
            yield MessageLine("", id="launch-top-error", classes="field-error")
            with VerticalScroll(id="launch-forms"):
                yield Static("[b]agent config[/b]", classes="form-title", id="agent-form-title")
                yield ConfigForm(get_agent(self.agent_name).config, self.config, id="agent-form")
                yield Static("[b]task parameters[/b]", classes="form-title", id="task-form-title")
                yield ConfigForm(get_task(self.task_name).Params, self.task_params, id="task-form")
            yield Static("", id="field-help").set_styles("display: none;")
            with Horizontal(classes="launch-row"):
                yield Button("Launch", variant="primary", id="launch")
                yield Button("Cancel", id="cancel")

    def _agent_options(self) -> list[tuple[str, str]]:
        return [(name, name) for name in [*AGENTS, *self.plugins]]

    def _task_options(self) -> list[tuple[str, str]]:
        return [(task, task) for task in task_choices(self.agent_name)]

    def on_mount(self) -> None:
        self.find_installed_agents()

    @work(thread=True, exclusive=True, group="plugins", exit_on_error=False)
    def find_installed_agents(self) -> None:
        found = plugins.read_installed_agents()
        if found.problems:
            self.app.call_from_thread(
                self.query_one("#launch-top-error", MessageLine).say, found.problems[0]
            )
        if found.names:
            self.post_message(AgentsFound(found.names))

    @on(Input.Submitted, "#agent-spec")
    def spec_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#launch-top-error", MessageLine).say("")
        self.load_typed_agent(event.value)

    @work(thread=True, exclusive=True, group="plugin-spec", exit_on_error=False)
    def load_typed_agent(self, spec: str) -> None:
        """A failure (no file, no class, the protocol not followed) shows in the top line."""
        name = plugins.load_agent(spec)
        self.post_message(AgentsFound([name], select=name))

    def on_agents_found(self, message: AgentsFound) -> None:
        new = [name for name in message.names if name not in AGENTS and name not in self.plugins]
        agent_select = self.query_one("#agent", Select)
        if new:
            self.plugins += new
            agent_select.set_options(self._agent_options())
        agent_select.value = message.select or self.agent_name

    @on(Select.Changed, "#agent")
    async def agent_changed(self, event: Select.Changed) -> None:
        if event.value == self.agent_name:
            return
        self.agent_name, self.config = str(event.value), {}
        task_select = self.query_one("#task", Select)
        tasks = task_choices(self.agent_name)
        if self.task_name not in tasks:
            self.task_name, self.task_params = tasks[0], {}
        task_select.set_options(self._task_options())
        task_select.value = self.task_name
        await self._replace_form(
            "#agent-form", ConfigForm(get_agent(self.agent_name).config, id="agent-form")
        )
        await self._replace_form(
            "#task-form",
            ConfigForm(get_task(self.task_name).Params, self.task_params, id="task-form"),
        )

    @on(Select.Changed, "#task")
    async def task_changed(self, event: Select.Changed) -> None:
        if event.value == self.task_name or event.value is Select.BLANK:
            return
        self.task_name, self.task_params = str(event.value), {}
        await self._replace_form(
            "#task-form", ConfigForm(get_task(self.task_name).Params, id="task-form")
        )

    async def _replace_form(self, selector: str, form: ConfigForm) -> None:
        await self.query_one(selector, ConfigForm).remove()
        await self.query_one("#launch-forms").mount(form, after=f"{selector}-title")

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The focused field's help on a line of its own (tooltips need a mouse)."""
        tip = event.widget.tooltip
        help_line = self.query_one("#field-help", Static)
        help_line.update(str(tip) if tip else "")
        help_line.display = bool(tip)  # no room taken while a field without help has focus

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        elif event.button.id == "cancel":
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_launch(self) -> None:
        top = self.query_one("#launch-top-error", MessageLine)
        top.say("")
        agent_form = self.query_one("#agent-form", ConfigForm)
        task_form = self.query_one("#task-form", ConfigForm)
        config, task_params = agent_form.values(), task_form.values()
        try:
            steps_text = self.query_one("#steps", Input).value.strip()
            if not steps_text.isdigit() or not 1 <= int(steps_text) <= MAX_STEPS:
                raise ConfigError(f"steps {steps_text!r}: give a whole number, 1 to {MAX_STEPS:,}")
            seeds = parse_seeds(self.query_one("#seeds", Input).value)
        except ConfigError as err:
            top.say(str(err))
            return
        if config is None or task_params is None:
            top.say("fix the fields marked in red")
            return
        # Cross-field rules (Config.check) show beside the field they name.
        for form, cls, values, owner in (
            (agent_form, get_agent(self.agent_name).config, config, self.agent_name),
            (task_form, get_task(self.task_name).Params, task_params, self.task_name),
        ):
            try:
                build(cls, values, owner=owner)
            except ConfigError as err:
                if not form.show_error(err):
                    top.say(str(err))
                return
        fine_tune = self.init_from is not None and self.query_one("#init-from", Checkbox).value
        init_from = self.init_from if fine_tune else None
        self.launch_runs(config, task_params, int(steps_text), seeds, init_from)

    @work(thread=True, exclusive=True, group="launch", exit_on_error=False)
    def launch_runs(
        self,
        config: dict[str, Any],
        task_params: dict[str, Any],
        steps: int,
        seeds: list[int],
        init_from: int | None,
    ) -> None:
        """Queue the runs and start their workers; a failure shows in the top line (the
        app's failure handler), the dialog staying open."""
        ids = actions.launch_runs(
            self.app.store.home,
            seeds,
            agent=self.agent_name,
            task=self.task_name,
            config=config,
            task_params=task_params,
            steps=steps,
            init_from=init_from,
        )
        self.post_message(RunsLaunched(ids))

    def on_runs_launched(self, message: RunsLaunched) -> None:
        self.dismiss(message.run_ids)
