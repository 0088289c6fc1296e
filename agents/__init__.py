"""Learning algorithms and reference policies: no I/O, no UI, only reports and state.

One algorithm per file here (dqn, meta_dqn, a2c, mg_a2c, ppo, rl2, l2rl, snail), each
with its own update; the parts they share in ``agents.common``; policies that do not learn
in ``agents.reference``; names to (Config, class) in ``agents.registry``; the protocol a
plug-in agent follows, checked, in ``agents.plugin``.
"""

from agents.common.base import Agent, Report
from agents.registry import AGENTS, AgentSpec, get_agent

__all__ = ["AGENTS", "Agent", "AgentSpec", "Report", "get_agent"]
