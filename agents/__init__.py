"""Learning algorithms and reference policies: no I/O, no UI, only reports and state."""

from agents.common.base import Agent, Report
from agents.registry import AGENTS, AgentSpec, get_agent

__all__ = ["AGENTS", "Agent", "AgentSpec", "Report", "get_agent"]
