"""Task families: gymnasium environments, their parameter distributions and batched versions."""

from envs.config import Config, ConfigError, bounded
from envs.registry import TASKS, TaskFamily, get_task

__all__ = ["TASKS", "Config", "ConfigError", "TaskFamily", "bounded", "get_task"]
