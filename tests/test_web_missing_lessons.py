"""A lesson or quiz page for a lesson the course does not have (an old link, a lesson a
course pack removed) is the small 404 page, whether read or posted to, and keeps no
answers."""

from __future__ import annotations

import pytest

from gateway import create_app
from gateway.store import Store
from tests.conftest import csrf

COURSE = "/courses/start-freelancing"


@pytest.fixture
def web(db_path, carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"})
    return app.test_client()


@pytest.mark.parametrize("path", [f"{COURSE}/a-removed-lesson",
                                  f"{COURSE}/a-removed-lesson/quiz",
                                  "/courses/no-such-course/find-your-skill/quiz"])
def test_a_page_for_a_lesson_the_course_does_not_have_is_the_small_404(web, path):
    page = web.get(path)
    assert page.status_code == 404
    assert "This page does not exist." in page.get_data(as_text=True)


def test_answers_posted_to_a_missing_lesson_are_a_404_and_kept_nowhere(web, db_path):
    token = csrf(web, f"{COURSE}/find-your-skill/quiz")
    answer = web.post(f"{COURSE}/a-removed-lesson/quiz", data={"csrf": token, "q0": "1"})
    assert answer.status_code == 404
    with Store.open(db_path) as store:
        assert store.db.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
