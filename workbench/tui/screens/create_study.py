"""The create-study dialog: name, agent, one of the agent's tasks, method, trials, steps,
searched params, fixed settings, task parameters, group, and the population size its run
(u) trains with. The study is created (a storage opened, N trials queued) off the UI
thread."""

from __future__ import annotations

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from agents.registry import AGENTS
from envs.config import ConfigError
from studies.study import METHODS, StudySpec
from workbench.tui import actions
from workbench.tui.messages import ActionDone, ReportsFailures
from workbench.tui.widgets.message_line import MessageLine


def task_options(agent: str) -> list[tuple[str, str]]:
    return [(task, task) for task in AGENTS[agent].tasks]


class CreateStudyScreen(ReportsFailures, ModalScreen[str | None]):
    """Dismissed with the new study's name, or None when cancelled."""

    PALETTE_PREFIX = "study"

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "create", "Create")]

    def __init__(self) -> None:
        super().__init__()
        self.creating = False  # one creation at a time
        self.name_created = ""

    def compose(self) -> ComposeResult:
        agent = "a2c"
        task = "cartpole" if "cartpole" in AGENTS[agent].tasks else AGENTS[agent].tasks[0]
        with Vertical(id="launch-dialog"):
            yield Static("[b]Create a study[/b]  (Ctrl+S creates, Esc cancels)")
            rows = [
                ("name", Input(placeholder="a new name", id="study-name")),
                (
                    "agent",
                    Select(
                        [(a, a) for a in AGENTS], value=agent, allow_blank=False, id="study-agent"
                    ),
                ),
                (
                    "task",
                    Select(task_options(agent), value=task, allow_blank=False, id="study-task"),
                ),
                (
                    "method",
                    Select(
                        [(m, m) for m in METHODS],
                        value="grid",
                        allow_blank=False,
                        id="study-method",
                    ),
                ),
                ("trials", Input("5", id="study-trials")),
                ("steps", Input("50000", id="study-steps")),
                (
                    "params",
                    Input(
                        "discount=0.9:0.999",
                        id="study-params",
                        tooltip="name=low:high[:log], several separated by spaces",
                    ),
                ),
                ("fixed", Input("", id="study-fixed", tooltip="key=value pairs, space separated")),
                (
                    "task params",
                    Input("", id="study-task-params", tooltip="key=value pairs, space separated"),
                ),
                ("group", Input("", id="study-group")),
                (
                    "population",
                    Input(
                        "1",
                        id="study-population",
                        tooltip="trials a worker trains at once as one batched population "
                        "when the study runs (u); 1: one at a time",
                    ),
                ),
            ]
            for label, widget in rows:
                with Horizontal(classes="launch-row"):
                    yield Label(label, classes="create-label")
                    yield widget
            yield Static("", id="field-help").set_styles("display: none;")
            yield MessageLine("", id="create-error", classes="field-error")
            with Horizontal(classes="launch-row"):
                yield Button("Create", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    @on(Select.Changed, "#study-agent")
    def agent_changed(self, event: Select.Changed) -> None:
        """Only the agent's tasks are offered; the task stays if the new agent has it."""
        tasks = AGENTS[str(event.value)].tasks
        select = self.query_one("#study-task", Select)
        current = select.value
        select.set_options(task_options(str(event.value)))
        select.value = current if current in tasks else tasks[0]

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The focused field's help on a line of its own (tooltips need a mouse)."""
        tip = event.widget.tooltip
        help_line = self.query_one("#field-help", Static)
        help_line.update(str(tip) if tip else "")
        help_line.display = bool(tip)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_create() if event.button.id == "create" else self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def value(self, widget_id: str) -> str:
        return str(self.query_one(f"#{widget_id}").value).strip()

    def action_create(self) -> None:
        if self.creating:
            return
        error = self.query_one(MessageLine)
        name = self.value("study-name")
        try:
            if not name:
                raise ConfigError("give the study a name")
            method = self.value("study-method")
            spec = StudySpec.from_cli(
                agent=self.value("study-agent"),
                task=self.value("study-task"),
                method=method,
                trials=_integer(self.value("study-trials"), "trials"),
                steps=_integer(self.value("study-steps"), "steps"),
                # meta-gradient learns the discount: the searched fields do not apply
                params=None if method == "meta-gradient" else self.value("study-params").split(),
                fixed=_pairs(self.value("study-fixed"), "fixed"),
                task_params=_pairs(self.value("study-task-params"), "task params"),
                group=self.value("study-group") or None,
                pruner="none",
                sampler="tpe",
                seed=0,
                population=_integer(self.value("study-population"), "population"),
            )
        except ConfigError as err:
            error.say(str(err), failure=True)
            return
        error.say(f"creating study {name}…")
        self.creating, self.name_created = True, name
        self.create(name, spec)

    @work(thread=True, exclusive=True, group="create-study", exit_on_error=False)
    def create(self, name: str, spec: StudySpec) -> None:
        try:
            self.post_message(ActionDone(actions.create_study(self.app.store.home, name, spec)))
        finally:
            self.creating = False  # a failure shows inline; the user may try again

    def on_action_done(self, message: ActionDone) -> None:
        self.dismiss(self.name_created)


def _integer(text: str, what: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"{what} {text!r}: give a whole number")
    return int(text)


def _pairs(text: str, what: str) -> dict[str, str]:
    pairs = {}
    for item in text.split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what}: {item!r} is not key=value")
        pairs[key] = value
    return pairs
