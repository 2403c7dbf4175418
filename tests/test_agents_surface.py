"""Every module path and name the reference SDK's examples import, in the areas tether.agents
covers, is importable from tether.agents at the same path.

The list says where each comes from (openai-agents-python's examples/ directory, as of
openai-agents 0.24); a program using any of them fails at import on tether if one is missing.
"""

from __future__ import annotations

import importlib
import json
import subprocess
from pathlib import Path

import pytest

from reference_env import reference_python as reference_python  # a fixture

# (module under ``agents``, name, an example of the reference SDK that imports it)
SURFACE: list[tuple[str, str, str]] = [
    ("agents", "Agent", "agent_patterns/agents_as_tools.py"),
    ("agents", "AgentBase", "agent_patterns/agents_as_tools_conditional.py"),
    ("agents", "AgentHookContext", "basic/agent_lifecycle_example.py"),
    ("agents", "AgentHooks", "basic/agent_lifecycle_example.py"),
    ("agents", "AgentOutputSchema", "basic/non_strict_output_type.py"),
    ("agents", "AgentOutputSchemaBase", "basic/non_strict_output_type.py"),
    ("agents", "AgentToolStreamEvent", "agent_patterns/agents_as_tools_streaming.py"),
    ("agents", "GenerateDynamicPromptData", "basic/prompt_template.py"),
    ("agents", "GuardrailFunctionOutput", "agent_patterns/input_guardrails.py"),
    ("agents", "HostedMCPTool", "hosted_mcp/human_in_the_loop.py"),
    ("agents", "InputGuardrailTripwireTriggered", "agent_patterns/input_guardrails.py"),
    ("agents", "ItemHelpers", "agent_patterns/agents_as_tools.py"),
    ("agents", "MCPToolApprovalFunctionResult", "hosted_mcp/on_approval.py"),
    ("agents", "MCPToolApprovalRequest", "hosted_mcp/on_approval.py"),
    ("agents", "MessageOutputItem", "agent_patterns/agents_as_tools.py"),
    ("agents", "Model", "memory/hitl_session_scenario.py"),
    ("agents", "ModelBehaviorError", "basic/non_strict_output_type.py"),
    ("agents", "ModelRetrySettings", "basic/retry.py"),
    ("agents", "ModelSettings", "agent_patterns/human_in_the_loop_custom_rejection.py"),
    ("agents", "OpenAIConversationsSession", "memory/openai_session_hitl_example.py"),
    ("agents", "RawResponsesStreamEvent", "agent_patterns/routing.py"),
    ("agents", "RetryDecision", "basic/retry.py"),
    ("agents", "RunConfig", "agent_patterns/human_in_the_loop_custom_rejection.py"),
    ("agents", "RunContextWrapper", "basic/lifecycle_example.py"),
    ("agents", "RunHooks", "basic/lifecycle_example.py"),
    ("agents", "RunResult", "hosted_mcp/on_approval.py"),
    ("agents", "RunResultStreaming", "hosted_mcp/on_approval.py"),
    ("agents", "Model", "model_providers/custom_example_provider.py"),
    ("agents", "ModelProvider", "model_providers/custom_example_provider.py"),
    ("agents", "OpenAIChatCompletionsModel", "model_providers/custom_example_agent.py"),
    ("agents", "OpenAIProvider", "model_providers/custom_example_agent.py"),
    ("agents", "RunState", "agent_patterns/human_in_the_loop.py"),
    ("agents", "Runner", "agent_patterns/agents_as_tools.py"),
    ("agents", "SQLiteSession", "memory/memory_session_hitl_example.py"),
    ("agents", "TResponseInputItem", "agent_patterns/input_guardrails.py"),
    ("agents", "Tool", "basic/lifecycle_example.py"),
    ("agents", "ToolErrorFormatterArgs", "agent_patterns/human_in_the_loop_custom_rejection.py"),
    ("agents", "ToolGuardrailFunctionOutput", "basic/tool_guardrails.py"),
    ("agents", "ToolInputGuardrailData", "basic/tool_guardrails.py"),
    ("agents", "ToolOutputGuardrailData", "basic/tool_guardrails.py"),
    ("agents", "ToolOutputGuardrailTripwireTriggered", "basic/tool_guardrails.py"),
    ("agents", "Usage", "basic/lifecycle_example.py"),
    ("agents", "UserError", "basic/non_strict_output_type.py"),
    ("agents", "WebSearchTool", "tools/web_search.py"),
    ("agents", "CodeInterpreterTool", "tools/code_interpreter.py"),
    ("agents", "FunctionToolResult", "agent_patterns/forcing_tool_use.py"),
    ("agents", "ToolsToFinalOutputFunction", "agent_patterns/forcing_tool_use.py"),
    ("agents", "ToolsToFinalOutputResult", "agent_patterns/forcing_tool_use.py"),
    ("agents", "gen_trace_id", "mcp/filesystem_example/main.py"),
    ("agents", "custom_span", "research_bot/manager.py"),
    ("agents", "RunResult", "financial_research_agent/manager.py"),
    ("agents", "RunResultStreaming", "financial_research_agent/manager.py"),
    ("agents", "set_default_openai_api", "model_providers/custom_example_global.py"),
    ("agents", "set_default_openai_client", "model_providers/custom_example_global.py"),
    ("agents", "set_tracing_disabled", "model_providers/custom_example_global.py"),
    ("agents", "retry_policies", "basic/retry.py"),
    ("agents", "trace", "agent_patterns/agents_as_tools.py"),
    ("agents.decorators", "input_guardrail", "agent_patterns/input_guardrails.py"),
    ("agents.decorators", "tool", "agent_patterns/human_in_the_loop.py"),
    ("agents.decorators", "tool_input_guardrail", "basic/tool_guardrails.py"),
    ("agents.decorators", "tool_output_guardrail", "basic/tool_guardrails.py"),
    ("agents.extensions.handoff_filters", "remove_all_tools", "handoffs/message_filter.py"),
    ("agents.extensions.handoff_prompt", "RECOMMENDED_PROMPT_PREFIX", "customer_service/main.py"),
    (
        "agents.extensions.memory",
        "AdvancedSQLiteSession",
        "memory/advanced_sqlite_session_example.py",
    ),
    ("agents.extensions.memory", "EncryptedSession", "memory/encrypted_session_example.py"),
    ("agents.extensions.memory", "RedisSession", "memory/redis_session_example.py"),
    (
        "agents.extensions.memory.encrypt_session",
        "EncryptedEnvelope",
        "memory/encrypted_session_example.py",
    ),
    (
        "agents.extensions.memory.sqlalchemy_session",
        "SQLAlchemySession",
        "memory/sqlalchemy_session_example.py",
    ),
    ("agents.items", "ModelResponse", "basic/lifecycle_example.py"),
    ("agents.items", "TResponseInputItem", "basic/lifecycle_example.py"),
    ("agents.mcp", "MCPServer", "mcp/filesystem_example/main.py"),
    ("agents.mcp", "MCPServerStdio", "mcp/filesystem_example/main.py"),
    ("agents.mcp.util", "MCPUtil", "mcp/get_all_mcp_tools_example/main.py"),
    ("agents.mcp.util", "create_static_tool_filter", "mcp/get_all_mcp_tools_example/main.py"),
    ("agents.memory.session", "Session", "memory/file_session.py"),
    ("agents.memory.session_settings", "SessionSettings", "memory/file_session.py"),
    ("agents.model_settings", "MCPToolChoice", "hosted_mcp/human_in_the_loop.py"),
    ("agents.models", "is_gpt_5_default", "handoffs/message_filter.py"),
    ("agents.run_context", "RunContextWrapper", "memory/file_hitl_example.py"),
    ("agents.run_state", "RunState", "memory/file_hitl_example.py"),
    ("agents.tool_context", "ToolContext", "basic/lifecycle_example.py"),
    ("agents.tool_guardrails", "ToolGuardrailFunctionOutput", "decisions/tool_risk_gate.py"),
    ("agents.tool_guardrails", "ToolInputGuardrailData", "decisions/tool_risk_gate.py"),
]


@pytest.mark.parametrize(("module", "name", "example"), SURFACE)
def test_name_is_importable_at_the_reference_path(module: str, name: str, example: str) -> None:
    tether_module = importlib.import_module("tether." + module)
    assert hasattr(tether_module, name), f"tether.{module} lacks {name} (used by {example})"


def test_every_module_of_the_list_exists() -> None:
    modules = sorted({module for module, _, _ in SURFACE})
    assert modules == [
        "agents",
        "agents.decorators",
        "agents.extensions.handoff_filters",
        "agents.extensions.handoff_prompt",
        "agents.extensions.memory",
        "agents.extensions.memory.encrypt_session",
        "agents.extensions.memory.sqlalchemy_session",
        "agents.items",
        "agents.mcp",
        "agents.mcp.util",
        "agents.memory.session",
        "agents.memory.session_settings",
        "agents.model_settings",
        "agents.models",
        "agents.run_context",
        "agents.run_state",
        "agents.tool_context",
        "agents.tool_guardrails",
    ]
    for module in [*modules, "agents.memory"]:
        importlib.import_module("tether." + module)


def test_the_list_matches_the_reference(reference_python: Path) -> None:
    """Every listed name is one the reference SDK really has at that path (checked in the
    side environment, created if missing)."""
    pairs = json.dumps([[m, n] for m, n, _ in SURFACE])
    code = (
        "import importlib, json, sys\n"
        "found = []\n"
        "for m, n in json.loads(sys.argv[1]):\n"
        "    if hasattr(importlib.import_module(m), n): found.append([m, n])\n"
        "print(json.dumps(found))\n"
    )
    done = subprocess.run(
        [reference_python, "-c", code, pairs], capture_output=True, text=True, check=True
    )
    found = {(m, n) for m, n in json.loads(done.stdout)}
    assert [(m, n) for m, n, _ in SURFACE if (m, n) not in found] == []
