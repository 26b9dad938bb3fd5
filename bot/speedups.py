"""Three costs of Rasa Open Source 3.6 taken out of the Rasa server, same results.

Found by profiling one reply and one start (README "Speed"; scripts/bench_load.py):

1. Every answer of the action server is checked against Rasa's JSON schema with
   `jsonschema.validate`, which first checks the schema itself against the JSON
   Schema meta-schema: about 60 ms of CPU per custom action call on this
   machine, about twice everything else in a reply. Here the validator is
   built and the schema checked once; each answer is validated against the same
   schema, and a bad one raises the same `ValidationError` (the best match, as
   `jsonschema.validate` picks it, with Rasa's message added).

2. Loading a DIET model builds its weights by training one step on one example
   (`RasaModel.load` calls `fit`), which traces the whole training graph,
   gradients and CRF included, into a TensorFlow function that is then thrown
   away: 56 of the 60 seconds it took to load our model on this machine. Here
   that one step runs eagerly (nothing to trace, about 6 s), which creates the
   same variables; the trained weights are then loaded over them as before, and
   prediction runs as compiled as before (`run_eagerly` is restored before the
   first prediction).
   The predictions are identical (tests/unit/test_speedups.py).

3. Reading a conversation from the tracker store turns each stored event into
   an `Event` by its type name (`Event.resolve_by_type`), which walks every
   subclass of `Event`, checking each for abstract methods, for every single
   event: about 40 µs per event, so 4 ms on every message of a conversation
   100 events long. Here the class found for a type name is remembered (an
   unknown name is looked up, and fails, as before).

`install()` is called by `jikimi serve rasa` before Rasa starts; training
(`rasa train`) is not touched.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from typing import Any, Dict, Text

logger = logging.getLogger(__name__)

_loading = contextvars.ContextVar("jikimi_rasa_model_loading", default=False)
_installed = False


@functools.cache
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """RemoteAction._validate_action_result with the validator built once."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error: ValidationError = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def _eager_build_step(fit: Any) -> Any:
    """RasaModel.fit: while a model loads, the one build step runs eagerly."""

    @functools.wraps(fit)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loading.get():
            return fit(self, *args, **kwargs)
        wanted = self.run_eagerly
        self.run_eagerly = True
        try:
            return fit(self, *args, **kwargs)
        finally:
            self.run_eagerly = wanted

    return wrapper


def _marking_load(load: Any) -> Any:
    """RasaModel.load (a classmethod): marks the time a model is loading."""

    @functools.wraps(load)
    def wrapper(cls: Any, *args: Any, **kwargs: Any) -> Any:
        token = _loading.set(True)
        try:
            return load.__func__(cls, *args, **kwargs)
        finally:
            _loading.reset(token)

    return classmethod(wrapper)


def remembering_resolve_by_type(resolve: Any) -> Any:
    """Event.resolve_by_type (a staticmethod) remembering what it found."""
    found: Dict[Text, Any] = {}

    @functools.wraps(resolve)
    def wrapper(type_name: Text, default: Any = None) -> Any:
        cls = found.get(type_name)
        if cls is None:
            try:
                cls = resolve(type_name)
            except ValueError:  # unknown: answered below, exactly as before
                cls = None
            if cls is None:
                return resolve(type_name, default)
            found[type_name] = cls
        return cls

    return staticmethod(wrapper)


def install() -> None:
    """Puts all three in place (once per process)."""
    global _installed
    if _installed:
        return
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event
    from rasa.utils.tensorflow.models import RasaModel

    # Each replacement keeps Rasa's own as `__wrapped__` (inspect.unwrap finds it).
    validate_action_result.__wrapped__ = RemoteAction._validate_action_result
    RemoteAction._validate_action_result = validate_action_result
    RasaModel.fit = _eager_build_step(RasaModel.fit)
    RasaModel.load = _marking_load(RasaModel.__dict__["load"])
    Event.resolve_by_type = remembering_resolve_by_type(Event.resolve_by_type)
    _installed = True
    logger.debug("Rasa speed-ups installed.")
