"""After DELETE a target is gone for every operation on it."""
from __future__ import annotations

from tests.support.assertions import assert_error


def test_after_deleting_a_target_its_results_and_checks_answer_404(api, sink):
    target = api.create_target(url=sink.url("/ok"))
    api.post_result(target["id"], ok=True, latency_ms=1)
    api.delete_target(target["id"])
    before = api.target_count()
    assert_error(api.post(f"/targets/{target['id']}/results", json={"ok": False, "latency_ms": 1}), 404, "not_found")
    assert_error(api.get(f"/targets/{target['id']}/results"), 404, "not_found")
    assert_error(api.post(f"/targets/{target['id']}/check"), 404, "not_found")
    assert_error(api.get(f"/targets/{target['id']}"), 404, "not_found")
    assert api.target_count() == before


def test_a_result_with_an_idempotency_key_seen_before_the_delete_answers_404_after_it(api):
    target = api.create_target()
    api.post_result(target["id"], ok=True, latency_ms=1, id="before-delete")
    api.delete_target(target["id"])
    response = api.post(f"/targets/{target['id']}/results", json={"ok": True, "latency_ms": 1, "id": "before-delete"})
    assert_error(response, 404, "not_found")
