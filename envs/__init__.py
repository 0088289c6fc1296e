"""Task families: gymnasium environments, their task distributions and batched versions."""

from envs.config import Config, ConfigError, bounded
from envs.family import Task, TaskFamily
from envs.registry import TASKS, get_task

__all__ = ["TASKS", "Config", "ConfigError", "Task", "TaskFamily", "bounded", "get_task"]
