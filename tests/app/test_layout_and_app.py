"""The page layout and the app factory."""

import json
import os
import re
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import pytest
from dash import Input, dcc, html
from ui_testkit import walk
from zsom_testkit import free_port

from components.ids import PANELS, Ids, label_id
from components.layout import DATA_TITLE, EXPORT_LAYOUT, SECTIONS, build_layout, export_size, graph_config
from components.settings import SETTING_CONTROLS, SETTINGS, hint_id, message_id, row_id

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def page():
    return build_layout(str(uuid.uuid4()), {"bunny": "a bunny", "clusters": "blobs"}, "bunny", 20_000)


def test_every_id_appears_exactly_once(page):
    ids = [component.id for component in walk(page) if getattr(component, "id", None)]
    assert len(ids) == len(set(ids))
    setting_ids = (set(SETTING_CONTROLS.values()) | {row_id(setting) for setting in SETTINGS}
                   | {message_id(setting) for setting in SETTINGS}
                   | {hint_id(setting) for setting in SETTINGS if not setting.engine})
    label_ids = {label_id(c.htmlFor) for c in walk(page) if isinstance(c, html.Label)}
    assert set(ids) == {str(member) for member in Ids} | setting_ids | label_ids


def test_every_control_is_named_by_a_label_its_holder_points_to(page):
    """The label's ``for`` names a dcc.Input; assets/zsom.js gives the holder's label to
    the parts of the other controls (a slider's handle, a dropdown's button)."""
    controls = (dcc.Input, dcc.Slider, dcc.Dropdown, dcc.RadioItems, dcc.Upload)
    named = {}
    for holder in walk(page):
        if getattr(holder, "data-control-label", None) is None:
            continue
        label, control = holder.children[:2]
        assert isinstance(label, html.Label) and label.id == getattr(holder, "data-control-label")
        assert label.htmlFor == control.id and label.id == label_id(control.id) and label.children
        named[control.id] = label.children
    every = {c.id for c in walk(page) if isinstance(c, controls)}
    assert every == set(named), every ^ set(named)
    # A switch is named by its one option's text.
    for checklist in (c for c in walk(page) if isinstance(c, dcc.Checklist)):
        assert len(checklist.options) == 1 and checklist.options[0]["label"]


def test_the_sidebar_folds_into_one_section_per_part_of_the_settings_table(page):
    sections = [c for c in walk(page) if isinstance(c, html.Details) and "section" in c.className.split()]
    assert [section.children[0].children for section in sections] == [DATA_TITLE, *(title for _, title in SECTIONS)]
    assert all(section.open and isinstance(section.children[0], html.Summary) for section in sections)
    for (name, _), section in zip(SECTIONS, sections[1:]):
        ids = {getattr(c, "id", None) for c in walk(section)}
        assert {s.control_id for s in SETTINGS if s.section == name} <= ids


def test_an_id_is_its_string_everywhere_a_string_goes():
    # Dash, the store and the tests use members and plain strings interchangeably.
    member = Ids.SESSION
    assert member == "session-id" and {"session-id": 1}[member] == 1
    assert str(member) == f"{member}" == format(member, "") == "session-id"
    assert "%s" % member == "session-id"  # noqa: UP031 - the old format is one way code makes strings
    assert f"#{member}.data" == "#session-id.data"
    assert json.dumps({member: member}) == '{"session-id": "session-id"}'
    assert str(Input(member, "data")) == "session-id.data"


def test_the_session_id_is_in_a_store(page):
    store = next(c for c in walk(page) if getattr(c, "id", None) == Ids.SESSION)
    assert isinstance(store, dcc.Store)
    uuid.UUID(store.data)


def test_panels_download_png_at_twice_the_resolution(page):
    for panel in PANELS:
        graph = next(c for c in walk(page) if getattr(c, "id", None) == panel)
        config = graph.config
        assert config == graph_config(panel)
        assert config["displaylogo"] is False and config["showSendToCloud"] is False
        assert config["toImageButtonOptions"]["scale"] == 2
        assert config["toImageButtonOptions"]["filename"].startswith("zsom-")


def test_every_setting_has_a_control(page):
    ids = {getattr(c, "id", None) for c in walk(page)}
    assert set(SETTING_CONTROLS.values()) <= ids


def test_sliders_offer_exactly_the_range_the_server_accepts_and_update_on_release(page):
    sliders = [setting for setting in SETTINGS if setting.control == "slider"]
    assert {setting.name for setting in sliders} >= {"width", "height", "sigma", "learning_rate", "epochs"}
    for setting in sliders:
        slider = next(c for c in walk(page) if getattr(c, "id", None) == setting.control_id)
        assert isinstance(slider, dcc.Slider) and slider.updatemode == "mouseup"
        assert slider.value == setting.default and slider.max == setting.high
        assert slider.min == (setting.low + setting.step if setting.low_open else setting.low)


def test_the_sidebar_offers_exactly_the_choices_the_server_accepts(page):
    from components.settings import parse_settings

    for setting in SETTINGS:
        control = next(c for c in walk(page) if getattr(c, "id", None) == setting.control_id)
        if setting.kind != "choice":
            continue
        offered = [option["value"] for option in control.options]
        assert offered == list(setting.choices) and all(label for label in setting.choices.values())
        for value in offered:
            parse_settings({**{s.name: s.default for s in SETTINGS}, setting.name: value})


def test_the_composed_export_covers_every_panel():
    assert {cell["panel"] for cell in EXPORT_LAYOUT["cells"]} == {str(panel) for panel in PANELS}
    assert export_size() == (3 * 640 * 2, (EXPORT_LAYOUT["header"] + 2 * 480) * 2)


def test_the_status_line_starts_idle(page):
    status = next(c for c in walk(page) if getattr(c, "id", None) == Ids.STATUS)
    assert isinstance(status, html.Div)


def test_create_app_makes_a_session_per_page_load(tmp_path):
    from app import create_app

    app = create_app(cache_dir=tmp_path / "cache", max_jobs=2)
    assert (tmp_path / "cache" / "store").is_dir()
    first, second = app.layout(), app.layout()
    sessions = [next(c for c in walk(layout) if getattr(c, "id", None) == Ids.SESSION).data
                for layout in (first, second)]
    assert sessions[0] != sessions[1]


def test_the_page_names_its_language(tmp_path):
    from app import create_app

    page = create_app(cache_dir=tmp_path / "cache", max_jobs=1).server.test_client().get("/")
    assert page.status_code == 200
    assert re.search(r'<html lang="en">', page.get_data(as_text=True))


def test_each_output_has_one_writer(tmp_path):
    from app import create_app

    app = create_app(cache_dir=tmp_path / "cache", max_jobs=2)
    written = [(str(output.component_id), output.component_property)
               for spec in app.callback_map.values()
               for output in (spec["output"] if isinstance(spec["output"], (list, tuple)) else [spec["output"]])]
    assert len(written) == len(set(written))
    assert not any("@" in key for key in app.callback_map)  # no allow_duplicate output


def test_max_jobs_must_be_positive(tmp_path):
    from app import create_app

    with pytest.raises(ValueError):
        create_app(cache_dir=tmp_path, max_jobs=-1)


def unusable_cache_dir(tmp_path) -> str:
    """A folder the app cannot create, whoever runs the test: one below a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return str(blocker / "cache")


def zsom_command() -> list[str]:
    """The installed ``zsom`` console script of the Python running the tests."""
    script = Path(sysconfig.get_path("scripts")) / "zsom"
    if not script.exists():
        pytest.fail(f"{script} is missing: the package's entry point is not installed (pip install -e .)")
    return [str(script)]


# The two ways to serve: the script in the checkout and the installed command.
SERVE_COMMANDS = {"python app.py": lambda: [sys.executable, str(REPO / "app.py")],
                  "zsom serve": lambda: [*zsom_command(), "serve"]}


def test_zsom_lists_its_commands():
    finished = subprocess.run([*zsom_command(), "--help"], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("usage: zsom ")
    assert re.search(r"^ +serve +serve the dashboard", finished.stdout, re.MULTILINE), finished.stdout


def test_zsom_serve_takes_exactly_the_options_of_app_py():
    helps = [subprocess.run([*SERVE_COMMANDS[name](), "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
             for name in ("python app.py", "zsom serve")]
    assert [finished.returncode for finished in helps] == [0, 0], [finished.stderr for finished in helps]
    assert "--cache-dir" in helps[0].stdout and "--store-limit-mb" in helps[0].stdout
    # The same parser: the help differs only in the program's name (and so in its wrapping).
    app_py, serve = (" ".join(finished.stdout.replace(prog, "PROG").split())
                     for finished, prog in zip(helps, ("app.py", "zsom serve")))
    assert app_py == serve


def test_zsom_without_a_command_says_which_it_takes():
    finished = subprocess.run(zsom_command(), capture_output=True, text=True, timeout=60)
    assert finished.returncode == 2 and "required: command" in finished.stderr, finished.stderr


@pytest.mark.parametrize("entry", SERVE_COMMANDS)
def test_an_unusable_cache_folder_ends_the_server_with_one_clear_line(tmp_path, entry):
    command = [*SERVE_COMMANDS[entry](), "--port", "0", "--cache-dir", unusable_cache_dir(tmp_path)]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert finished.returncode == os.EX_CANTCREAT
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zsom: error: cannot keep the store in"), finished.stderr
    assert "--cache-dir" in lines[0] and "Traceback" not in finished.stderr + finished.stdout


def test_a_starting_server_cleans_the_store_and_forgets_old_jobs(tmp_path):
    from app import create_app
    from zsom_jobs.store import DiskcacheStore

    session = str(uuid.uuid4())
    old = DiskcacheStore(tmp_path / "cache" / "store", ttl=0.1)
    old.put_dataset(session, {"token": "stale"})
    old.take_slot(str(uuid.uuid4()), "old-run", max_jobs=1, ttl=3600)
    old.close()
    time.sleep(0.2)  # past the old entries' 0.1 s ttl: what is awaited is time itself
    create_app(tmp_path / "cache", max_jobs=1)
    store = DiskcacheStore(tmp_path / "cache" / "store")
    assert store.get_dataset(session) is None
    assert store.slots_in_use() == 0
    store.close()



def test_a_cache_folder_removed_while_serving_is_made_again_and_serving_goes_on(tmp_path, caplog):
    import shutil

    from dash_requests import DashRequests, output

    from app import create_app
    from zsom_jobs.store import DiskcacheStore

    requests = DashRequests(create_app(tmp_path / "cache", max_jobs=1))
    shutil.rmtree(tmp_path / "cache")
    session = requests.new_session()
    status, body = requests.call("dataset-choice.value", {"dataset-choice.value": "clusters",
                                                          "sample-count.value": 500, "session-id.data": session})
    assert status == 200 and output(body, "dataset-token.data")
    assert "was removed while serving" in caplog.text
    store = DiskcacheStore(tmp_path / "cache" / "store")
    assert store.get_dataset(session)["token"] == output(body, "dataset-token.data")
    store.close()


def test_a_cache_folder_that_cannot_be_made_again_answers_503_and_logs_once(tmp_path, caplog):
    import shutil

    from app import create_app

    client = create_app(tmp_path / "cache", max_jobs=1).server.test_client()
    shutil.rmtree(tmp_path / "cache")
    (tmp_path / "cache").write_text("a file where the folder was")
    answers = [client.get("/_dash-layout") for _ in range(3)]
    assert {answer.status_code for answer in answers} == {503}
    assert "cannot keep the store in" in answers[0].get_data(as_text=True)
    assert "Traceback" not in answers[0].get_data(as_text=True)
    assert caplog.text.count("cannot keep the store in") == 1


@pytest.mark.parametrize("entry", SERVE_COMMANDS)
def test_a_redis_that_cannot_be_reached_ends_the_server_with_one_line_without_its_password(entry):
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    finished = subprocess.run([*SERVE_COMMANDS[entry](), "--port", "0", "--redis-url", url], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == os.EX_UNAVAILABLE
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and "redis://***@127.0.0.1:" in lines[0] and "cannot be reached" in lines[0], lines
    assert "hunter2" not in finished.stderr + finished.stdout and "Traceback" not in finished.stderr


def test_zsom_worker_needs_a_redis_url_and_says_so():
    environment = {name: value for name, value in os.environ.items() if name != "ZSOM_REDIS_URL"}
    finished = subprocess.run([*zsom_command(), "worker"], capture_output=True, text=True, timeout=60,
                              env=environment)
    assert finished.returncode == 2 and "--redis-url or $ZSOM_REDIS_URL is required" in finished.stderr
    listed = subprocess.run([*zsom_command(), "--help"], capture_output=True, text=True, timeout=60).stdout
    assert re.search(r"^ +worker +train the runs", listed, re.MULTILINE), listed


def test_the_gunicorn_entry_needs_redis(monkeypatch):
    import app

    monkeypatch.delenv("ZSOM_REDIS_URL", raising=False)
    with pytest.raises(RuntimeError, match="share their state through Redis: set ZSOM_REDIS_URL"):
        app.server  # noqa: B018 - the module attribute gunicorn reads
