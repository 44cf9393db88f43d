"""The page for everyone: axe-core finds nothing serious in any state of a run, every
setting is reached with Tab in the sidebar's order and operated from the keyboard, and the
page fits a 1280 x 720 window and one 900 px wide without cutting or overlapping anything.

Screenshots of each window size go to pytest's temporary folder (under /tmp); the test
prints where.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe

from components.ids import PANELS, Ids
from components.layout import DATA_TITLE, SECTIONS
from components.settings import DEFAULTS, SETTINGS, parse_settings

pytestmark = pytest.mark.browser

SERIOUS = {"serious", "critical"}

# The sidebar's controls in the order it shows them: each section's title, then its
# controls (a setting shown only under another's value is hidden by default).
SIDEBAR_ORDER = [DATA_TITLE, Ids.DATASET.value, Ids.SAMPLES.value, Ids.UPLOAD.value]
for _section, _title in SECTIONS:
    SIDEBAR_ORDER.append(_title)
    SIDEBAR_ORDER += [s.control_id for s in SETTINGS if s.section == _section and s.shown_if is None]
SIDEBAR_ORDER.append(Ids.AUTO_RETRAIN.value)

# What holds the focus: the control (by id) around the focused element, or a section's title.
FOCUS_OWNER = """ids => {
  let element = document.activeElement;
  if (element.tagName === 'SUMMARY') return element.textContent.trim();
  for (; element; element = element.parentElement) if (ids.includes(element.id)) return element.id;
  return null;
}"""

# The focused element, in a few words: tag, id, tab index, and the control around it.
FOCUSED = """() => {
  const element = document.activeElement;
  const holder = element.closest('[id]');
  return `${element.tagName} #${element.id} tabindex=${element.getAttribute('tabindex')} in #${holder && holder.id}`;
}"""
REWRITTEN_STOPS = f"""() => ({{
  dropdown: Array.from(document.querySelectorAll('#{Ids.DATASET.value}, .dash-dropdown-focus-target'))
    .map(e => `${{e.tagName}} tabindex=${{e.getAttribute('tabindex')}} inert=${{e.hasAttribute('inert')}}`
              + ` disabled=${{e.disabled}}`),
  switch: Array.from(document.querySelectorAll('#{Ids.AUTO_RETRAIN.value} input'))
    .map(e => `role=${{e.getAttribute('role')}} disabled=${{e.disabled}} hidden=${{e.offsetParent === null}}`),
}})"""

# A control's value as Dash holds it (its own copy of the layout), the one callbacks send.
DASH_VALUE = """id => {
  const state = window.store.getState();
  let node = state.layout;
  for (const key of state.paths.strs[id]) node = node[key];
  return node.props.value;
}"""

# Boxes of what the page shows, in viewport pixels: [left, top, right, bottom].
PAGE_GEOMETRY = """panels => {
  const box = element => { const r = element.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const one = selector => box(document.querySelector(selector));
  const sidebar = document.querySelector('.sidebar');
  return {
    viewport: [window.innerWidth, window.innerHeight],
    page: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
    sidebarScrolls: getComputedStyle(sidebar).overflowY === 'auto',
    status: one('#status-line'),
    statusParts: Array.from(document.getElementById('status-line').children).map(box),
    timeline: {runs: one('.run-choice'), play: one('#play-button'), track: one('#timeline .dash-slider-wrapper'),
               value: one('#timeline input'), label: one('#timeline-label')},
    panels: panels.map(panel => box(document.getElementById(panel).parentElement)),
  };
}"""


def axe_problems(page) -> list[str]:
    """The serious and critical violations axe-core finds on the page, one line each."""
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']]}"
            for v in violations if v["impact"] in SERIOUS]


def overlap(a, b) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


def inside(inner, outer) -> bool:
    return (inner[0] >= outer[0] - 0.5 and inner[1] >= outer[1] - 0.5
            and inner[2] <= outer[2] + 0.5 and inner[3] <= outer[3] + 0.5)


def train_until_metrics_show(dashboard, epochs: int = 1000) -> str:
    dashboard.set_number("epochs", epochs)
    dashboard.train()
    return dashboard.wait_for_status(rf"training.*Epoch \d+ / {epochs}.*MQE")


def test_axe_finds_nothing_serious_idle_training_cancelled_or_done(dashboard):
    page = dashboard.page
    dashboard.wait_for_callbacks()
    assert axe_problems(page) == [], "idle"
    train_until_metrics_show(dashboard)
    assert axe_problems(page) == [], "training"
    page.click("#cancel-button")
    dashboard.wait_for_status("cancelled")  # an amber badge
    assert axe_problems(page) == [], "cancelled"
    dashboard.set_number("epochs", 5)
    dashboard.train()
    dashboard.wait_for_status("done")  # a green badge
    dashboard.wait_for_callbacks()
    assert axe_problems(page) == [], "done"


def test_tab_reaches_every_setting_in_the_sidebars_order(dashboard):
    page = dashboard.page
    dashboard.wait_for_callbacks()
    page.focus("#download-figure-button")  # the last control before the sidebar
    owners, stops = [], []
    for _ in range(100):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
        if not page.evaluate("document.activeElement.closest('.sidebar') !== null"):
            break
        owner = page.evaluate(FOCUS_OWNER, SIDEBAR_ORDER)
        # A slider's value box and handle, a number's stepper buttons: one control.
        if owner is not None and (not owners or owners[-1] != owner):
            owners.append(owner)
    if owners != SIDEBAR_ORDER:  # said in full: where each Tab landed, the stops zsom.js rewrites
        pytest.fail(f"Tab went {owners},\nnot {SIDEBAR_ORDER};\nit landed on {stops};\n"
                    f"the rewritten stops: {page.evaluate(REWRITTEN_STOPS)}")


def test_radio_groups_switches_and_menus_work_from_the_keyboard(dashboard, server):
    page = dashboard.page
    dashboard.wait_for_callbacks()
    expected = dict(DEFAULTS)
    for setting in SETTINGS:
        control = setting.control_id
        choices = list(setting.choices)
        if setting.control == "radio":
            page.focus(f"#{control} input:checked")  # where Tab lands in a radio group
            page.keyboard.press("ArrowRight")
            expected[setting.name] = choices[(choices.index(setting.default) + 1) % len(choices)]
            assert page.evaluate(f"document.querySelector('#{control} input:checked').value") == expected[setting.name]
            assert page.evaluate(DASH_VALUE, control) == expected[setting.name]
        elif setting.control == "switch":
            page.focus(f"#{control} input")
            page.keyboard.press("Space")
            expected[setting.name] = not setting.default
            assert page.evaluate(DASH_VALUE, control) == (["on"] if expected[setting.name] else [])
        elif setting.control == "dropdown":
            # The sidebar's answer to the changes above (rows shown or hidden) lands first,
            # so that it does not redraw the menu while the keys work it.
            dashboard.wait_for_callbacks()
            page.focus(f"#{control}")
            page.keyboard.press("ArrowDown")  # opens the menu, on the chosen option
            page.wait_for_function("value => document.activeElement.value === value", arg=setting.default)
            expected[setting.name] = choices[(choices.index(setting.default) + 1) % len(choices)]
            page.keyboard.press("ArrowDown")
            page.wait_for_function("value => document.activeElement.value === value", arg=expected[setting.name])
            page.keyboard.press("Enter")
            page.wait_for_function(f"({DASH_VALUE})('{control}') === '{expected[setting.name]}'")
    assert expected != DEFAULTS
    dashboard.set_number("epochs", 3)  # typed, and short: online training takes a while per epoch
    expected["epochs"] = 3
    page.focus("#train-button")
    page.keyboard.press("Enter")
    dashboard.wait_for_status("training|done")
    record, _ = server.current_run(dashboard.session_id())
    # Every switch flipped: the map's size and sigma0 are the sidebar's own, so the run
    # records exactly what was chosen (its engine keywords, and the page's choices beside them).
    chosen = parse_settings(expected)
    assert record.settings == chosen.run_settings() and record.extra["choices"] == chosen.page_choices()
    dashboard.wait_for_status("done")


@pytest.mark.parametrize("size", [(1280, 720), (900, 700)], ids=["1280x720", "900x700"])
def test_the_page_fits_the_window_without_cutting_or_overlapping(dashboard, size, tmp_path):
    page = dashboard.page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    status = train_until_metrics_show(dashboard)
    shot = tmp_path / f"page-{size[0]}x{size[1]}-training.png"
    page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    shown = page.evaluate(PAGE_GEOMETRY, [str(panel) for panel in PANELS])
    width, height = shown["viewport"]
    # The page itself never scrolls: the sidebar and the panels scroll on their own.
    assert shown["page"] == [width, height], shown
    assert shown["sidebarScrolls"]
    # A status part is shown whole or not at all (it wraps out of sight); badge and text always.
    parts = shown["statusParts"]
    assert all(inside(part, shown["status"]) or part[1] >= shown["status"][3] for part in parts), (status, parts)
    assert inside(parts[0], shown["status"]) and inside(parts[1], shown["status"]), (status, parts)
    # The timeline is in the window, its parts apart, the slider wide enough to aim at.
    timeline = shown["timeline"]
    for name, box in timeline.items():
        assert inside(box, [0, 0, width, height]), (name, timeline)
    names = list(timeline)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not overlap(timeline[first], timeline[second]), (first, second, timeline)
    assert timeline["track"][2] - timeline["track"][0] >= 150, timeline
    panels = shown["panels"]
    for i, panel in enumerate(panels):
        assert panel[2] - panel[0] >= 250 and panel[3] - panel[1] >= 250, panels
        assert not any(overlap(panel, other) for other in panels[i + 1:]), panels
    # With the sections above it folded (from the keyboard), all of Training is in sight.
    for title in (DATA_TITLE, *(title for _, title in SECTIONS[:-1])):
        summary = page.locator("summary", has_text=title)
        summary.focus()
        page.keyboard.press("Enter")
        assert summary.evaluate("summary => !summary.parentElement.open"), title
    sidebar = page.locator(".sidebar").bounding_box()
    visible = [sidebar["x"], sidebar["y"], sidebar["x"] + sidebar["width"], sidebar["y"] + sidebar["height"]]
    last_section = SECTIONS[-1][0]
    controls = [s.control_id for s in SETTINGS if s.section == last_section and s.shown_if is None]
    for control in [*controls, Ids.AUTO_RETRAIN]:
        box = page.locator(f"#{control}").bounding_box()
        assert inside([box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]], visible), control
    page.screenshot(path=tmp_path / f"page-{size[0]}x{size[1]}-folded.png")
    page.click("#cancel-button")
    dashboard.wait_for_status("cancelled")
