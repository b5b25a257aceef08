"""Ctrl-C and SIGTERM stop a containerised run even when the KeyboardInterrupt they raise is swallowed
(by a finalizer or a library's broad `except`): the step loop checks the stop they record.

The Docker API is a strict stand-in here (the calls `StepRunner.run_container` makes, nothing else);
the real engine is exercised by tests/integration/containers/test_containers_run.py."""

from __future__ import annotations

import json
import os
import signal

import pytest

from pipelines.containers.run import interruptible
from pipelines.containers.steps import Placement, StepRunner


def swallowed(signum: int) -> None:
    """A signal that lands while code which eats every exception runs, as a finalizer does."""
    try:
        os.kill(os.getpid(), signum)
    except BaseException:  # noqa: BLE001 - the point: the interrupt does not get through
        pass


class Container:
    def __init__(self, chunks):
        self.chunks, self.waited, self.removed, self.attrs = chunks, False, False, {}

    def logs(self, *, stream, follow):
        assert stream and follow
        for chunk in self.chunks:
            if callable(chunk):
                chunk()
            else:
                yield chunk

    def wait(self):
        self.waited = True
        return {"StatusCode": 0}

    def reload(self):
        self.attrs = {"HostConfig": {"ReadonlyRootfs": True}, "Config": {"User": "10001"}}

    def remove(self, *, force):
        assert force
        self.removed = True


class Client:
    """docker-py's client as far as run_container uses it; unknown images are an error, as in Docker."""

    def __init__(self, container):
        self.container, self.started = container, []
        self.images = self
        self.containers = self

    def get(self, image):
        if image != "rankops:test":
            raise LookupError(f"no such image {image}")
        return type("Image", (), {"id": "sha256:abc"})()

    def run(self, **kwargs):
        self.started.append(kwargs)
        return self.container


def command(tmp_path) -> list[str]:
    executor_input = {"outputs": {"outputFile": str(tmp_path / "etl-op" / "executor_output.json")}}
    return ["python", "-m", "kfp.dsl.executor_main", "--executor_input", json.dumps(executor_input)]


def runner(stop) -> StepRunner:
    return StepRunner(placements={"etl-op": Placement()}, secrets={}, config_maps={}, pvcs={},
                      images={}, run_label={"rankops.run": "t"}, stop=stop, echo=lambda text, end="": None)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_swallowed_interrupt_is_still_recorded_and_the_handlers_are_restored(signum):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with interruptible() as stop:
        assert not stop.is_set()
        swallowed(signum)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signum)  # one that is not swallowed still stops the run at once
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_swallowed_ctrl_c_in_the_middle_of_a_step_stops_it_before_the_next_log_line_is_awaited(tmp_path):
    container = Container([b"spark up\n", lambda: swallowed(signal.SIGINT), b"gold written\n"])
    client = Client(container)
    with interruptible() as stop:
        steps = runner(stop)
        with pytest.raises(KeyboardInterrupt):
            steps.run_container(client, "rankops:test", command(tmp_path), {})
    assert len(client.started) == 1
    assert container.removed and not container.waited  # the step's container goes; no exit code is awaited
    assert steps.records == []


def test_no_step_starts_once_a_stop_was_requested(tmp_path):
    container = Container([b"never\n"])
    client = Client(container)
    with interruptible() as stop:
        steps = runner(stop)
        swallowed(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            steps.run_container(client, "rankops:test", command(tmp_path), {})
    assert client.started == []


def test_without_a_stop_a_step_runs_to_its_exit_code(tmp_path):
    container = Container([b"spark up\n", b"gold written\n"])
    client = Client(container)
    with interruptible() as stop:
        steps = runner(stop)
        assert steps.run_container(client, "rankops:test", command(tmp_path), {}) == 0
    assert container.waited and container.removed
    assert [(r.name, r.exit_code, r.log_tail) for r in steps.records] == [("etl-op", 0, ["spark up", "gold written"])]
