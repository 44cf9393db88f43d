"""Everything the page shows about runs, from one callback: ``show_runs``.

Train, Cancel, a settings change, new data, the run menu, the timeline and the page's
own poll all reach the same callback, which (1) acts on the trigger through the job
layer (``zsom_jobs.Runs``), then (2) brings the page one step closer to what the store
holds: the data, the shown run's panels, its epoch, the status line, the buttons, the
timeline and the run menu. Each output has this one writer. Every answer is computed
from the store and the page's view state, so an answer Dash drops (it keeps only the
newest of overlapping calls) loses nothing: the next one says it all again.

The page polls (``Ids.POLL``) once each answer has arrived, ``poll_ms`` after it: soon
while a run trains or the page is behind the store, rarely otherwise; each answer
counts itself in the view state (``seq``) so that the browser (``zsom.pacePoll``) knows
it arrived. A poll whose answer never came (dropped by Dash, or lost with a server that
restarted) is sent again after ``retry_ms``. The page never asks faster than it is
answered and never stops asking, so no answer is its last word.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dash import Input, Output, State, ctx, html, no_update

from components.figures import (
    curves_cleared,
    data_view_figure,
    data_view_reset,
    data_view_title,
    map_skeletons,
    panel_updates,
    run_skeletons,
)
from components.geometry import map_structure
from components.ids import PANELS, Ids
from components.run_menu import distinguishing, run_label
from components.settings import (
    SETTING_CONTROLS,
    SettingsError,
    TrainingSettings,
    auto_sizes,
    control_values,
    parse_settings,
    setting_changes,
)
from components.status import run_controls, stale_note, unavailable_controls
from zsom_jobs import Liveness, NoDataset, RunRecord, Runs
from zsom_jobs.store import StoreUnavailable, log_outage

from .data import data_token_of, page_token
from .inputs import epoch_of, grid_of, mapping_of, session_of

# Milliseconds from an answer to the page's next poll: while a run trains (or the page
# is behind the store), and otherwise; and from a poll that got no answer to the next.
POLL_BUSY_MS = 200
POLL_IDLE_MS = 2000
POLL_RETRY_MS = 5000


def run_settings_of(record: RunRecord) -> TrainingSettings:
    return TrainingSettings.from_run(record.settings, record.extra.get("choices"))


def restore_settings(outputs: dict, record: RunRecord) -> None:
    """Adds to ``outputs`` what shows a run's settings in the sidebar's controls, and marks
    the view state ``restored``: the page's debounce then takes the controls' change for
    the echo it is (Dash never sends a callback that its own outputs triggered back to
    it), not for the user's."""
    values = control_values(record.settings, record.extra.get("choices"))
    outputs.update({(control, "value"): values[name] for name, control in SETTING_CONTROLS.items()})
    outputs[(Ids.VIEW, "data")] = {**outputs[(Ids.VIEW, "data")], "restored": True}


@dataclass(frozen=True)
class ViewState:
    """What the page's panels hold, as the page reports it (``Ids.VIEW``; checked here).

    ``dataset``: the data cloud's token; ``data_grid``: the grid whose triangles the data
    panel holds; ``grid``: the grid of the map panels' skeletons; ``run``: the run whose
    skeletons the panels hold, ``epoch`` the epoch drawn (0: none yet), ``latest`` its
    newest epoch the page knows of; ``follow``: show each new epoch as it comes;
    ``menu``: what the run menu lists; ``seq``: the answers so far; ``announced``: a
    reloaded page was told its run before its data (``RunPage._announce``). ``settings``: the shown
    run's settings in one line, for the export's header. The server writes each answer's
    ``restored`` (it brought a run's settings back to the sidebar) and ``asked`` (it
    answers the user, not the poll) and never reads them back.
    """

    dataset: str | None = None
    label: str = ""
    data_grid: list | None = None
    grid: list | None = None
    run: str | None = None
    epoch: int = 0
    latest: int = 0
    follow: bool = True
    menu: list = field(default_factory=list)
    seq: int = 0
    settings: str = ""
    announced: bool = False

    @classmethod
    def from_page(cls, value) -> ViewState:
        value = mapping_of(value)

        def text(key):
            item = value.get(key)
            return item if isinstance(item, str) else None

        menu = value.get("menu")
        return cls(dataset=text("dataset"), label=text("label") or "", data_grid=grid_of(value.get("data_grid")),
                   grid=grid_of(value.get("grid")), run=text("run"), epoch=max(epoch_of(value.get("epoch")) or 0, 0),
                   latest=max(epoch_of(value.get("latest")) or 0, 0), follow=value.get("follow") is not False,
                   menu=[item for item in menu if isinstance(item, str)] if isinstance(menu, list) else [],
                   seq=max(epoch_of(value.get("seq")) or 0, 0), announced=value.get("announced") is True)

    def to_page(self, poll_ms: int, behind: bool = False) -> dict:
        """What the page keeps, counting this answer, and when it should poll next
        (``behind``: the page is still building a run's panels, and asks again as soon as
        this answer is drawn)."""
        return {"dataset": self.dataset, "label": self.label, "data_grid": self.data_grid, "grid": self.grid,
                "run": self.run, "epoch": self.epoch, "latest": self.latest, "follow": self.follow,
                "menu": self.menu, "seq": (self.seq + 1) % 2**31, "poll_ms": poll_ms, "retry_ms": POLL_RETRY_MS,
                "settings": self.settings, "behind": behind, "announced": self.announced, "restored": False,
                "asked": False}


@dataclass(frozen=True)
class PageInput:
    """One call of ``show_runs``, its values checked."""

    trigger: str | None
    session_id: str
    settings: dict
    auto_retrain: bool
    view: ViewState
    chosen_run: str | None
    slider: int | None
    dataset_token: str | None


class RunPage:
    """``show_runs``'s logic, callable without Dash: ``answer(PageInput)`` -> outputs."""

    def __init__(self, runs: Runs):
        self.runs = runs
        self.store = runs.store

    # ------------------------------------------------------------------ acting on the trigger

    def act(self, page: PageInput) -> tuple[str | None, object]:
        """Do what the trigger asks; returns (the run to show if the trigger chose one,
        the settings message: a component, "" to clear it, or no_update)."""
        session, trigger = page.session_id, page.trigger
        if trigger == Ids.TRAIN:
            return self._start(page)
        if trigger == Ids.CANCEL:
            self.runs.cancel(session)
            return None, no_update
        if trigger in (Ids.SETTINGS_TOUCHED, Ids.DATASET_TOKEN):
            current = self.store.current_run(session)
            if current is None or not self.runs.observe(session, current.run)[1].live:
                return None, no_update
            if trigger == Ids.DATASET_TOKEN and current.dataset_token == data_token_of(page.dataset_token or ""):
                return None, no_update  # a reloaded page showing its data again, or another view of it
            shown = self.store.get_run(session, page.view.run) if page.view.run else None
            # The settings of the run on screen (one just opened from the menu, whose
            # settings the sidebar now shows) ask for nothing new either.
            if any(self._runs_as_asked(record, page) for record in (current, shown) if record is not None):
                return None, no_update
            if page.auto_retrain:
                return self._start(page)
            if trigger == Ids.DATASET_TOKEN:
                self.runs.cancel(session)  # a run on data the page no longer shows
        if trigger == Ids.RUNS and page.chosen_run not in (None, page.view.run):  # not the echo of an answer
            return page.chosen_run, no_update
        return None, no_update

    def _start(self, page: PageInput) -> tuple[str | None, object]:
        shown = self.store.get_run(page.session_id, page.view.run) if page.view.run else None
        try:
            settings = self.requested(page)
            if settings is None:
                raise NoDataset("no dataset loaded yet: choose one or upload a mesh first")
            # Why this run replaces the one on screen, for its status line and menu entry.
            changes = [] if shown is None else setting_changes(run_settings_of(shown), settings)
            record = self.runs.start(page.session_id, settings.run_settings(), settings.schedule(),
                                     extra={"choices": settings.page_choices(), "changes": changes})
        except (SettingsError, NoDataset) as error:
            return None, html.Span(str(error), className="error")
        return record.run, ""

    def requested(self, page: PageInput) -> TrainingSettings | None:
        """The settings the sidebar asks for, sized for the session's data (None without
        data); ``SettingsError`` when they are not valid."""
        settings = parse_settings(page.settings)  # what is wrong with them is said first
        dataset = self.store.get_dataset(page.session_id)
        if dataset is None:
            return None
        return settings.resolved(dataset.get("auto_sizes") or auto_sizes(dataset["points"]))

    def _runs_as_asked(self, record: RunRecord, page: PageInput) -> bool:
        dataset = self.store.get_dataset(page.session_id)
        if dataset is None or dataset["token"] != record.dataset_token:
            return False
        try:
            return run_settings_of(record) == self.requested(page)
        except SettingsError:
            return False

    # ------------------------------------------------------------------ which run the page shows

    def run_to_show(self, session_id: str, token: str, view: ViewState, chosen: str | None) -> RunRecord | None:
        """The run chosen now, else the one on screen, else the current run while it
        trains, else the newest run on this data that stored an epoch."""
        for run_id in (chosen, view.run if data_token_of(view.dataset or "") == token else None):
            record = self.store.get_run(session_id, run_id) if run_id else None
            if record is not None and record.dataset_token == token:
                return record
        current = self.store.current_run(session_id)
        if current is not None and current.dataset_token == token and not current.finished:
            return current
        for record in reversed(self.store.runs(session_id)):
            if record.dataset_token == token and self.store.epochs_done(session_id, record.run):
                return record
        return None

    # ------------------------------------------------------------------ the answer

    def answer(self, page: PageInput) -> dict:
        """Every output of ``show_runs``: keys are (component id, property)."""
        try:
            outputs = self._answer(page)
        except StoreUnavailable as error:
            # Shown where the run's status goes, and asked again soon: the page comes
            # back by itself once the store does. (The reason, with the store's address,
            # is for the server's log.)
            log_outage(error)
            outputs = self._outputs({}, page.view, unavailable_controls(), no_update, soon=True)
        # The user's own request, not the page's poll: the page draws all its panels at once.
        outputs[(Ids.VIEW, "data")]["asked"] = page.trigger not in (None, Ids.POLL)
        return outputs

    def _answer(self, page: PageInput) -> dict:
        chosen, message = self.act(page)
        session = page.session_id
        dataset = self.store.get_dataset(session)
        if dataset is None or page_token(dataset) != page.dataset_token:
            # No data yet, or the page holds older data: the data callback is replacing it.
            waiting = run_controls(None, Liveness.FINISHED, None, 0, "Loading the data...")
            view = page.view
            if view.run is not None and self.store.get_run(session, view.run) is None:
                view = replace(view, run=None, epoch=0, latest=0)  # not this session's run
            return self._outputs({}, view, waiting, message, soon=False)
        panels: dict = {}
        shown = self.run_to_show(session, dataset["token"], page.view, chosen)
        reloaded = page.trigger == Ids.DATASET_TOKEN and page.view.dataset is None and not page.view.announced
        if reloaded and shown is not None:
            return self._announce(page, shown, message)
        view = self._show_data(dataset, page.view, panels, None if shown is None else run_settings_of(shown).grid_key())
        record, live = (None, Liveness.FINISHED) if shown is None else self.runs.observe(session, shown.run)
        status_epoch = None
        if record is not None:
            view = self._show_run(dataset["display"], record, view, panels)
            view = replace(view, settings=run_settings_of(record).describe())
            view, status_epoch = self._show_epoch(page, dataset["display"], record, view, panels)
        elif view.run is not None:
            view = replace(view, run=None, epoch=0, latest=0, follow=True)  # gone, or not this session's
        display = dataset["display"]
        idle = f"{dataset['label']}: {display['n']:,} points in {display['dim']}-D. Press Train."
        controls = run_controls(record, live, status_epoch, view.latest, idle)
        # A run opened from the menu brings its settings back to the sidebar (as ``_announce``
        # does for the run a reloaded page finds).
        restore = record is not None and chosen == record.run
        stale = "" if restore else self._stale(page, record, live)
        behind = record is not None and (view.run != record.run or view.data_grid != view.grid
                                         or view.epoch != self._epoch_wanted(page, view, view.latest))
        # Still building the run's panels (not only a newer epoch to show): ask again at once.
        building = record is not None and (view.run != record.run or view.data_grid != view.grid
                                           or (view.epoch == 0 and view.latest > 0))
        view, menu = self._menu(session, dataset["token"], view)
        outputs = self._outputs(panels, view, controls, message, soon=live.live or behind, behind=building)
        outputs[(Ids.STALE_NOTE, "children")] = stale
        outputs[(Ids.PANELS, "className")] = "panels stale" if stale else "panels"
        outputs[(Ids.RUNS, "options")] = menu
        if view.run != page.chosen_run:  # written only when it changes, so that its echo is told from a choice
            outputs[(Ids.RUNS, "value")] = view.run
        if restore:
            restore_settings(outputs, record)
        return outputs

    def _announce(self, page: PageInput, shown: RunRecord, message) -> dict:
        """A reloaded page's first answer: its run's status and buttons, and the run's
        settings back in the sidebar, before any figure (drawing the data takes the
        browser seconds; the next answer brings it at once)."""
        record, live = self.runs.observe(page.session_id, shown.run)
        controls = run_controls(record, live, None, self.store.epochs_done(page.session_id, record.run), "")
        outputs = self._outputs({}, replace(page.view, announced=True), controls, message, soon=True, behind=True)
        restore_settings(outputs, record)
        return outputs

    def _stale(self, page: PageInput, record: RunRecord | None, live: Liveness) -> str:
        """What the page says when the sidebar asks for other settings than the shown run's."""
        if record is None:
            return ""
        try:
            requested = self.requested(page)
        except SettingsError:
            return ""  # the sidebar says what is wrong next to each control
        changes = [] if requested is None else setting_changes(run_settings_of(record), requested)
        return stale_note(record.number, changes, restarts=live.live)

    @staticmethod
    def _show_data(dataset: dict, view: ViewState, panels: dict, grid: list | None) -> ViewState:
        """New data: its cloud in the data panel (with the triangles of ``grid``, the map
        of the run to show, if any), and the maps of the previous data's run cleared."""
        shown_as = page_token(dataset)
        if view.dataset == shown_as:
            return view
        display = dataset["display"]
        structure = None if grid is None else map_structure(*grid)
        panels[Ids.DATA_VIEW] = data_view_figure(display, data_view_title(dataset["label"], display),
                                                 revision=shown_as, structure=structure)
        if data_token_of(view.dataset or "") == dataset["token"]:
            # The same data in another view: only the data panel is new; its map is drawn
            # again from the epoch on screen.
            return replace(view, dataset=shown_as, data_grid=grid, epoch=0)
        if view.run is not None:
            # The map panels keep their figures (replacing one costs far more than
            # patching it) but lose the previous data's map.
            panels[Ids.CURVES] = curves_cleared()
            if view.grid is not None:
                panels.update(map_skeletons(map_structure(*view.grid)))
        return ViewState(dataset=shown_as, label=dataset["label"], data_grid=grid, grid=view.grid, seq=view.seq)

    @staticmethod
    def _show_run(display: dict, record: RunRecord, view: ViewState, panels: dict) -> ViewState:
        """Another run: its skeletons (the map panels only for another grid); the data
        panel's map traces take the run's grid once the panel holds the data."""
        grid = run_settings_of(record).grid_key()
        if view.run != record.run or view.grid != grid:
            updates = run_skeletons(display, map_structure(*grid), record.epochs, record.schedule,
                                    map_panels=view.grid != grid, data_view=False)
            panels.update({panel: figure for panel, figure in updates.items() if panel not in panels})
            view = replace(view, run=record.run, grid=grid, epoch=0, latest=0, follow=True)
        if view.data_grid != grid and Ids.DATA_VIEW not in panels:
            panels[Ids.DATA_VIEW] = data_view_reset(display, map_structure(*grid))
            view = replace(view, data_grid=grid, epoch=0)
        return view

    def _show_epoch(self, page: PageInput, display: dict, record: RunRecord, view: ViewState,
                    panels: dict) -> tuple[ViewState, dict | None]:
        """The epoch the page should show, patched in when the panels hold the run's
        skeletons (no other panel update in this answer); returns the view and the stored
        record of the epoch the panels then show (None before the first), which the
        status line describes."""
        session = page.session_id
        latest = self.store.epochs_done(session, record.run)
        wanted = self._epoch_wanted(page, view, latest)
        drawn = None
        if wanted and wanted != view.epoch and not panels:
            stored = self.store.get_epoch(session, record.run, wanted)
            history = self.store.get_history(session, record.run)
            if stored is not None and history is not None:
                panels.update(panel_updates(display, map_structure(*view.grid), stored, history,
                                            adaptive=bool(record.settings["adaptive_lr"]), run=record.run))
                view, drawn = replace(view, epoch=wanted), stored
        if drawn is None and view.epoch:
            drawn = self.store.get_epoch(session, record.run, view.epoch)
        chose = page.trigger == Ids.TIMELINE and page.slider is not None
        follow = page.slider >= view.latest if chose else view.follow
        return replace(view, latest=latest, follow=follow), drawn

    @staticmethod
    def _epoch_wanted(page: PageInput, view: ViewState, latest: int) -> int:
        """The epoch the panels should show: the timeline's choice, else the newest while
        following, else the one held."""
        if page.trigger == Ids.TIMELINE and page.slider is not None and view.run is not None:
            return min(max(page.slider, 1), latest) if latest else 0
        if view.follow or not view.epoch:
            return latest
        return min(view.epoch, latest)

    def _menu(self, session_id: str, token: str, view: ViewState) -> tuple[ViewState, object]:
        """The run menu's options when what it lists changed (else no_update)."""
        records = [record for record in reversed(self.store.runs(session_id)) if record.dataset_token == token]
        signature = [f"{record.run}:{record.status.value}" for record in records]
        if signature == view.menu:
            return view, no_update
        settings = [run_settings_of(record) for record in records]
        options = []
        for record, differs in zip(records, distinguishing(settings)):
            history = self.store.get_history(session_id, record.run)
            done = 0 if history is None else len(history["mqe"])
            final = float(history["mqe"][-1]) if done else None
            options.append({"label": run_label(record, done, final, differs), "value": record.run})
        return replace(view, menu=signature), options

    @staticmethod
    def _outputs(panels: dict, view: ViewState, controls, message, *, soon: bool, behind: bool = False) -> dict:
        page_view = view.to_page(POLL_BUSY_MS if soon else POLL_IDLE_MS, behind)
        latest = view.latest
        outputs = {
            (Ids.PANEL_UPDATES, "data"): {"seq": page_view["seq"],
                                          "panels": {str(panel): panels[panel] for panel in PANELS if panel in panels}},
            (Ids.VIEW, "data"): page_view,
            (Ids.TIMELINE, "max"): max(latest, 1),
            (Ids.TIMELINE, "value"): max(view.epoch, 1),
            (Ids.TIMELINE_LABEL, "children"): f"Epoch {view.epoch} / {latest}" if view.epoch else (
                "waiting for the first epoch" if view.run else "no run yet"),
            (Ids.STATUS, "children"): controls.status,
            (Ids.CANCEL, "disabled"): not controls.live,
            (Ids.TRAIN, "children"): controls.train_label,
            (Ids.SETTINGS_MESSAGE, "children"): message,
            (Ids.STALE_NOTE, "children"): no_update,
            (Ids.PANELS, "className"): no_update,
            (Ids.RUNS, "options"): no_update,
            (Ids.RUNS, "value"): no_update,
            **{(control, "value"): no_update for control in SETTING_CONTROLS.values()},
        }
        return outputs


# Inputs that change together reach show_runs in one call (a poll the pace sent as the
# user clicked Train): the user's act is the trigger, never the poll it came with.
TRIGGER_PRIORITY = (Ids.TRAIN, Ids.CANCEL, Ids.RUNS, Ids.PLAY_STEP, Ids.TIMELINE, Ids.DATASET_TOKEN,
                    Ids.SETTINGS_TOUCHED, Ids.POLL)


def first_trigger(fired, default):
    """The input of highest priority among the ``fired`` component ids."""
    fired = set(fired)
    return next((trigger for trigger in TRIGGER_PRIORITY if trigger in fired), default)


def register(app, runs: Runs) -> None:
    page_logic = RunPage(runs)
    outputs = [Output(Ids.PANEL_UPDATES, "data"), Output(Ids.VIEW, "data"),
               Output(Ids.TIMELINE, "max"), Output(Ids.TIMELINE, "value"), Output(Ids.TIMELINE_LABEL, "children"),
               Output(Ids.STATUS, "children"), Output(Ids.CANCEL, "disabled"),
               Output(Ids.TRAIN, "children"), Output(Ids.SETTINGS_MESSAGE, "children"),
               Output(Ids.STALE_NOTE, "children"), Output(Ids.PANELS, "className"),
               Output(Ids.RUNS, "options"), Output(Ids.RUNS, "value"),
               *[Output(control, "value") for control in SETTING_CONTROLS.values()]]
    keys = [(str(output.component_id), output.component_property) for output in outputs]

    @app.callback(
        *outputs,
        Input(Ids.TRAIN, "n_clicks"),
        Input(Ids.CANCEL, "n_clicks"),
        Input(Ids.SETTINGS_TOUCHED, "data"),
        Input(Ids.DATASET_TOKEN, "data"),
        Input(Ids.RUNS, "value"),
        Input(Ids.TIMELINE, "value"),
        Input(Ids.PLAY_STEP, "data"),
        Input(Ids.POLL, "data"),
        *[State(control, "value") for control in SETTING_CONTROLS.values()],
        State(Ids.AUTO_RETRAIN, "value"),
        State(Ids.VIEW, "data"),
        State(Ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def show_runs(_train, _cancel, _touched, token, chosen, slider, played, _poll, *values):
        *setting_values, auto_retrain, view, session_id = values
        trigger = first_trigger(ctx.triggered_prop_ids.values(), ctx.triggered_id)
        if trigger == Ids.PLAY_STEP:
            trigger, slider = Ids.TIMELINE, played  # a step of the player is a choice on the timeline
        page = PageInput(
            trigger=trigger, session_id=session_of(session_id),
            settings=dict(zip(SETTING_CONTROLS, setting_values)), auto_retrain=bool(auto_retrain),
            view=ViewState.from_page(view), chosen_run=chosen if isinstance(chosen, str) else None,
            slider=epoch_of(slider), dataset_token=token if isinstance(token, str) else None)
        answer = page_logic.answer(page)
        return tuple(answer[key] for key in keys)
