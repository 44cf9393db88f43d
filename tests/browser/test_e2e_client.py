"""The dashboard's own JavaScript in the browser: it replaces nothing of Plotly, runs no
timer of its own while idle, draws each map once per epoch and keeps hexagons tiling at any size."""

import pytest
from playwright.sync_api import expect
from zsom_testkit import wait_until

from components.ids import Ids
from components.settings import SETTING_BY_NAME, SETTING_CONTROLS, row_id

pytestmark = pytest.mark.browser

HEX_PANELS = (Ids.U_MATRIX, Ids.HITS)

# Runs before any script of the page. It keeps Plotly's functions as Plotly defines them
# (at the moment plotly.js assigns window.Plotly), and notes every interval timer and any
# timeout that a script under /assets/ starts.
PROBES = """
(() => {
  const probe = window.__probe = {plotly: null, functions: {}, intervals: new Map(), assetTimeouts: 0};
  const fromAssets = () => /\\/assets\\//.test(new Error().stack || '');
  const functionsOf = plotly => {
    const found = {};
    for (const [name, value] of Object.entries(plotly)) {
      if (typeof value === 'function') found[name] = value;
      else if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [inner, member] of Object.entries(value)) {
          if (typeof member === 'function') found[name + '.' + inner] = member;
        }
      }
    }
    return found;
  };
  let current;
  Object.defineProperty(window, 'Plotly', {
    configurable: true,
    get() { return current; },
    set(value) {
      current = value;
      if (probe.plotly === null && value) { probe.plotly = value; probe.functions = functionsOf(value); }
    },
  });
  const setInterval = window.setInterval, clearInterval = window.clearInterval, setTimeout = window.setTimeout;
  window.setInterval = function (...args) {
    const id = setInterval.apply(this, args);
    probe.intervals.set(id, fromAssets());
    return id;
  };
  window.clearInterval = function (id) {
    probe.intervals.delete(id);
    return clearInterval.call(this, id);
  };
  window.setTimeout = function (...args) {
    if (fromAssets()) probe.assetTimeouts++;
    return setTimeout.apply(this, args);
  };
})();
"""

# Interval timers that the dashboard's own scripts started (Dash's dcc.Interval components,
# such as the pace of the page's poll of the server, are not scripts of the page).
ASSET_INTERVALS = "Array.from(window.__probe.intervals.values()).filter(Boolean).length"

# Plotly's functions that are no longer the ones it defined, by name.
REPLACED = """() => {
  const probe = window.__probe;
  if (window.Plotly !== probe.plotly) return ['window.Plotly'];
  return Object.entries(probe.functions).filter(([name, original]) => {
    const [outer, inner] = name.split('.');
    const now = inner === undefined ? window.Plotly[outer] : (window.Plotly[outer] || {})[inner];
    return now !== original;
  }).map(([name]) => name);
}"""

# Each afterplot of the hexagon maps, by the colour array it drew: every epoch's patch
# brings new colours, so an array drawn twice is an epoch drawn twice.
COUNT_DRAWS = """panels => {
  const log = window.__draws = {last: performance.now(), panels: {}};
  for (const panel of panels) {
    const gd = document.getElementById(panel).querySelector('.js-plotly-plot');
    const seen = log.panels[panel] = {draws: 0, colours: new Set()};
    gd.on('plotly_afterplot', () => {
      log.last = performance.now();
      seen.draws++;
      seen.colours.add(gd.data[0].marker.color);
    });
  }
}"""
# dcc.Graph resizes each new graph once or twice as the page settles, one redraw each.
QUIET = "ms => performance.now() - window.__draws.last > ms"
RESTART_COUNT = "() => Object.values(window.__draws.panels).forEach(seen => { seen.draws = 0; seen.colours.clear(); })"
DRAWS = """() => Object.fromEntries(Object.entries(window.__draws.panels).map(
  ([panel, seen]) => [panel, {draws: seen.draws, epochs: seen.colours.size}]))"""


def test_plotly_is_left_as_it_is_and_nothing_polls_while_idle(open_dashboard):
    dashboard = open_dashboard(init_script=PROBES)
    dashboard.wait_until_hexagons_fit(HEX_PANELS)
    page = dashboard.page
    assert page.evaluate("window.__probe.plotly !== null && Object.keys(window.__probe.functions).length > 20")
    assert page.evaluate("window.__probe.functions.react === Plotly.react")
    assert page.evaluate(REPLACED) == []
    assert page.evaluate(ASSET_INTERVALS) == 0
    before = page.evaluate("window.__probe.assetTimeouts")
    # Polling shows only over time: nothing to wait for but a while of idleness.
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__probe.assetTimeouts") == before
    assert page.evaluate(ASSET_INTERVALS) == 0


def test_each_epoch_draws_each_hexagon_map_once(open_dashboard):
    dashboard = open_dashboard(init_script=PROBES)
    page = dashboard.page
    dashboard.wait_until_hexagons_fit(HEX_PANELS)
    page.evaluate(COUNT_DRAWS, list(HEX_PANELS))
    page.wait_for_function(QUIET, arg=1000)
    page.evaluate(RESTART_COUNT)
    dashboard.set_number(SETTING_CONTROLS["epochs"], 600)
    dashboard.train()
    dashboard.wait_for_status("done")
    page.wait_for_function(QUIET, arg=1000)
    dashboard.wait_until_hexagons_fit(HEX_PANELS)
    draws = page.evaluate(DRAWS)
    for panel in HEX_PANELS:
        assert draws[panel]["epochs"] >= 2, draws
        assert draws[panel]["draws"] == draws[panel]["epochs"], draws
    assert page.evaluate(REPLACED) == []


def assert_tiles(dashboard, panel) -> None:
    tiling = dashboard.hex_tiling(panel)
    assert tiling["gaps"] == 0, tiling
    # Hexagons too large overlap and grow the map past its edges; too small leave gaps
    # and shrink it. The drawn edges sit within anti-aliasing of the ideal ones.
    for painted, expected in zip(tiling["painted"], tiling["expected"]):
        assert abs(painted - expected) <= 1.5, tiling


@pytest.mark.parametrize("viewport", [{"width": 1800, "height": 1000}, {"width": 1100, "height": 700}])
def test_hexagons_tile_after_the_window_is_resized(open_dashboard, viewport):
    dashboard = open_dashboard()
    dashboard.set_number(SETTING_CONTROLS["epochs"], 5)
    dashboard.train()
    dashboard.wait_for_status("done")
    dashboard.wait_until_hexagons_fit(HEX_PANELS)
    for panel in HEX_PANELS:
        assert_tiles(dashboard, panel)
    pitch = dashboard.hex_tiling(Ids.U_MATRIX)["pitch"]
    dashboard.page.set_viewport_size(viewport)
    dashboard.page.wait_for_function(
        "([panel, pitch]) => { const gd = document.getElementById(panel).querySelector('.js-plotly-plot');"
        " const xaxis = gd._fullLayout.xaxis; return Math.abs(xaxis.l2p(1) - xaxis.l2p(0) - pitch) > 1; }",
        arg=[Ids.U_MATRIX, pitch])
    dashboard.wait_until_hexagons_fit(HEX_PANELS)
    for panel in HEX_PANELS:
        assert_tiles(dashboard, panel)


def test_the_minkowski_p_row_shows_for_the_minkowski_metric_only(dashboard):
    row = dashboard.page.locator(f"#{row_id(SETTING_BY_NAME['p'])}")
    expect(row).to_be_hidden()
    for metric, shown in (("minkowski", True), ("cosine", False)):
        dashboard.page.click(f"#{SETTING_CONTROLS['metric']}")
        dashboard.page.click(f".dash-dropdown-option:has(input[value='{metric}'])")
        expect(row).to_be_visible() if shown else expect(row).to_be_hidden()


# What a Dash request of the page's poll says in its body.
POLL_REQUEST = f'"{Ids.POLL.value}.data"'


# zsom.pacePoll called as Dash calls it, with the page's own interval stopped: the page
# is kept busy first (as drawing a large answer does), then the answer to a Train click
# arrives (a new run: the timeline and the run menu move with it) and is drawn. Returns
# how long after that the poll fell due, or null when it did not within ``busyMs``.
PACE_AFTER_A_CLICK = """async ([ids, busyMs]) => {
  const zsom = window.dash_clientside.zsom, noUpdate = window.dash_clientside.no_update;
  const state = window.store.getState();
  let node = state.layout;
  for (const key of state.paths.strs[ids.config]) node = node[key];
  const config = node.props.data;
  window.dash_clientside.set_props(ids.pace, {disabled: true});
  const pause = ms => new Promise(resolve => setTimeout(resolve, ms));
  await pause(500);  // a tick already due has gone
  const started = performance.now();
  while (performance.now() - started < busyMs) {}
  await pause(100);  // the long task is counted
  const inputs = [[ids.pace, 'n_intervals'], [ids.train, 'n_clicks'], [ids.cancel, 'n_clicks'],
                  [ids.touched, 'data'], [ids.token, 'data'], [ids.step, 'data'], [ids.timeline, 'value'],
                  [ids.runs, 'value']];
  const view = {seq: 1e6, run: 'the-new-run', epoch: 0, poll_ms: 200, retry_ms: 60000};
  const call = (fired, values) => {
    window.dash_clientside.callback_context = {
      inputs_list: inputs.map(([id, property], i) => ({id, property, value: values[i]})),
      triggered: fired.map(i => ({prop_id: inputs[i][0] + '.' + inputs[i][1]}))};
    return zsom.pacePoll(...values, view, config);
  };
  const values = [1, 1, 0, null, 'token', null, 1, 'the-new-run'];
  call([1, 6, 7], values);
  zsom.queuePanels({seq: view.seq, panels: {}}, view, config);
  const answered = Date.now();
  for (let tick = 2; Date.now() - answered < busyMs; tick++) {
    values[0] = tick;
    if (call([0], values) !== noUpdate) return Date.now() - answered;
    await pause(20);
  }
  return null;
}"""


def test_a_clicks_answer_starts_the_polls_pace_again(dashboard):
    # The pace after an answer stretches with the time the page was busy since its request
    # went out; the Train click's request went out after the busy spell, so the poll falls
    # due poll_ms after its answer is drawn, not after the spell's length again.
    dashboard.wait_for_callbacks()
    ids = {"config": Ids.CLIENT_CONFIG, "pace": Ids.PACE, "train": Ids.TRAIN, "cancel": Ids.CANCEL,
           "touched": Ids.SETTINGS_TOUCHED, "token": Ids.DATASET_TOKEN, "step": Ids.PLAY_STEP,
           "timeline": Ids.TIMELINE, "runs": Ids.RUNS}
    due_after_ms = dashboard.page.evaluate(PACE_AFTER_A_CLICK, [{k: str(v) for k, v in ids.items()}, 4000])
    assert due_after_ms is not None


def test_no_poll_goes_out_while_a_menu_is_open(dashboard, server):
    page = dashboard.page
    dashboard.set_number(SETTING_CONTROLS["epochs"], 1000)
    dashboard.train()
    dashboard.wait_for_status(r"training.*Epoch \d+ /")
    polls = []
    page.on("request", lambda request: polls.append(request) if POLL_REQUEST in (request.post_data or "") else None)
    page.click(f"#{SETTING_CONTROLS['neighborhood']}")
    page.wait_for_selector(".dash-dropdown-option")
    held = dashboard.view_state()["epoch"]
    sent_at_open = len(polls)  # at most one was on its way as the menu opened
    # Meanwhile the run goes on: the page would have polled several times.
    wait_until(lambda: server.current_run(dashboard.session_id())[1] >= held + 10, timeout=30,
               what="ten more stored epochs")
    assert len(polls) <= sent_at_open + 1, [request.post_data[:120] for request in polls]
    page.keyboard.press("Escape")
    page.wait_for_selector(".dash-dropdown-option", state="detached")
    dashboard.wait_for_answers(2)
    assert dashboard.view_state()["epoch"] >= held + 10
    page.click("#cancel-button")
    dashboard.wait_for_status("cancelled")
