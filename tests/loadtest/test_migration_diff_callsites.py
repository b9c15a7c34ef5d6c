"""Call sites touched by the move, found from the AST: per function, the collaborator calls before and after."""

import textwrap

from loadtest.migration_diff.callsites import collaborator_calls, compare_modules

MONOLITH = textwrap.dedent(
    """
    import json

    from .x import helper


    class Monitor:
        def __init__(self, core, alerting):
            self._core = core
            self._alerting = alerting

        def ingest(self, result):
            self._core.record(result)
            self._alerting.evaluate(result)
            self.ping()                  # its own method: not a collaborator
            json.dumps(result)           # an imported module: not a collaborator
            helper(result)               # a plain function: not a method call
            ", ".join([])                # a literal: not a collaborator
            return result

        def ping(self):
            return self._core.ping()


    def wire(bus, handlers):
        rpc = make_rpc(bus)
        for handler in handlers:
            handler.attach(bus)
        bus.subscribe("x", rpc.request)
        items = []
        items.append(1)                  # a name bound to a literal: not a collaborator
    """
)


def test_collaborator_calls_are_calls_on_injected_objects_parameters_and_call_results():
    calls = collaborator_calls(MONOLITH)
    assert dict(calls["Monitor.ingest"]) == {"self._core.record(result)": 1, "self._alerting.evaluate(result)": 1}
    assert dict(calls["Monitor.ping"]) == {"self._core.ping()": 1}
    assert dict(calls["wire"]) == {"handler.attach(bus)": 1, "bus.subscribe('x', rpc.request)": 1}
    assert not calls["Monitor.__init__"]


def test_a_changed_collaborator_call_is_one_touched_call_site():
    split = MONOLITH.replace("self._alerting.evaluate(result)", "self._alerting.evaluate(result, timeout=5)")
    report = compare_modules([("m.py", MONOLITH, split)], [MONOLITH])
    assert report.touched_count == 1
    (touched,) = report.touched
    assert (touched.function, touched.removed, touched.added) == (
        "Monitor.ingest",
        ["self._alerting.evaluate(result)"],
        ["self._alerting.evaluate(result, timeout=5)"],
    )
    assert report.monolith_sites == 5


def test_a_call_on_a_different_collaborator_is_touched_and_an_added_call_too():
    split = MONOLITH.replace("self._alerting.evaluate(result)", "self._bus.publish(result)")
    split = split.replace("return self._core.ping()", "self._bus.ping()\n        return self._core.ping()")
    report = compare_modules([("m.py", MONOLITH, split)])
    assert {t.function: t.count for t in report.touched} == {"Monitor.ingest": 1, "Monitor.ping": 1}


def test_unchanged_calls_and_reformatting_touch_nothing():
    split = MONOLITH.replace("self._alerting.evaluate(result)", "self._alerting.evaluate( result )")
    report = compare_modules([("m.py", MONOLITH, split)])
    assert report.touched_count == 0 and report.unchanged_sites == 5


def test_a_function_moved_within_its_module_is_not_a_changed_call_site():
    ping = "    def ping(self):\n        return self._core.ping()\n"
    split = MONOLITH.replace(ping, "").replace("    def ingest(self, result):", ping + "\n    def ingest(self, result):")
    assert split != MONOLITH
    report = compare_modules([("m.py", MONOLITH, split)])
    assert report.touched_count == 0 and not report.new_sites and not report.gone_sites


def test_a_function_moved_to_another_module_is_not_a_changed_call_site():
    wire = MONOLITH[MONOLITH.index("def wire") :]
    report = compare_modules([("m.py", MONOLITH, MONOLITH.replace(wire, "")), ("wiring.py", None, wire)])
    assert report.touched_count == 0 and not report.new_sites and not report.gone_sites


def test_functions_only_in_the_split_hold_new_call_sites():
    client = textwrap.dedent(
        """
        class AlertingClient:
            def evaluate(self, result):
                return self._stub.Evaluate(result)
        """
    )
    report = compare_modules([("m.py", MONOLITH, MONOLITH), ("client.py", None, client)])
    assert report.touched_count == 0 and report.new_sites == {"client.py": 1}
