"""The sidebar's own check: each problem under its control, before any run starts."""

from test_run_page import text_of
from ui_testkit import cloud

from callbacks.settings_form import form_answer
from components.ids import Ids
from components.settings import DEFAULTS, SETTING_BY_NAME, auto_sizes, hint_id, message_id, row_id


def message(answer, name):
    return answer[(message_id(SETTING_BY_NAME[name]), "children")]


def test_valid_settings_leave_every_line_empty_and_train_on():
    answer = form_answer(dict(DEFAULTS), None)
    assert all(answer[(message_id(setting), "children")] == "" for setting in SETTING_BY_NAME.values())
    assert answer[(Ids.TRAIN, "disabled")] is False


def test_each_problem_is_said_under_its_own_control_and_train_waits():
    answer = form_answer({**DEFAULTS, "seed": 1.5, "metric": "minkowski", "p": 0.05}, None)
    assert message(answer, "seed") == "seed must be a whole number from 0 to 2,147,483,647, got 1.5"
    assert message(answer, "p") == "minkowski p must be a number from 0.1 to 100, got 0.05"
    assert message(answer, "sigma") == "" and answer[(Ids.TRAIN, "disabled")] is True


def test_rows_that_do_not_apply_are_hidden():
    shown = form_answer({**DEFAULTS, "metric": "minkowski", "auto_size": []}, None)
    hidden = form_answer({**DEFAULTS, "metric": "cosine", "adaptive_lr": ["on"]}, None)
    for name in ("p", "width", "height"):
        assert shown[(row_id(SETTING_BY_NAME[name]), "style")] == {}
        assert hidden[(row_id(SETTING_BY_NAME[name]), "style")] == {"display": "none"}
    assert hidden[(row_id(SETTING_BY_NAME["learning_rate_end"]), "style")] == {"display": "none"}


def test_a_wrapped_hex_map_with_an_odd_height_is_refused_under_the_height():
    answer = form_answer({**DEFAULTS, "auto_size": [], "toroidal": ["on"], "topology": "hex", "height": 31}, None)
    assert "even height" in message(answer, "height") and answer[(Ids.TRAIN, "disabled")] is True


def test_the_size_the_data_suggests_is_shown_under_its_switch():
    points = cloud(1000, 2)
    dataset = {"auto_sizes": auto_sizes(points), "points": points, "display": {"n": 1000}}
    width, height = dataset["auto_sizes"]["hex"]
    answer = form_answer(dict(DEFAULTS), dataset)
    size, sigma = (" ".join(text_of(answer[(hint_id(SETTING_BY_NAME[name]), "children")]).split())
                   for name in ("auto_size", "auto_sigma"))
    assert f"{width} x {height} ({width * height:,} units) for 1,000 samples" == size
    assert f"sigma0 {max(width, height) / 4:g} for the {width} x {height} map" == sigma
    chosen = form_answer({**DEFAULTS, "auto_size": [], "auto_sigma": []}, dataset)
    assert all(chosen[(hint_id(SETTING_BY_NAME[name]), "children")] == "" for name in ("auto_size", "auto_sigma"))


def test_a_sigma0_from_the_map_below_the_end_sigma_is_refused_under_the_end_sigma():
    points = cloud(100, 2)
    dataset = {"auto_sizes": {"hex": [4, 4], "square": [4, 4]}, "points": points, "display": {"n": 100}}
    answer = form_answer({**DEFAULTS, "sigma_end": 2}, dataset)
    assert message(answer, "sigma_end") == "sigma at the end must not exceed sigma0 (1), got 2"
    assert answer[(Ids.TRAIN, "disabled")] is True
