"""The sidebar's own check: each problem under its control, before any run starts."""

from ui_testkit import cloud

from callbacks.settings_form import form_answer
from components.ids import Ids
from components.settings import DEFAULTS, SETTING_BY_NAME, auto_sizes, message_id, row_id


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
    hint = form_answer(dict(DEFAULTS), dataset)[(Ids.AUTO_SIZE_HINT, "children")]
    text = " ".join(str(part.children if hasattr(part, "children") else part) for part in hint.children)
    assert f"{width} x {height}" in text and f"{width * height:,} units" in text and "1,000 samples" in text
    assert form_answer({**DEFAULTS, "auto_size": []}, dataset)[(Ids.AUTO_SIZE_HINT, "children")] == ""
