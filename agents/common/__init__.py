"""The parts the agents are built from; nothing here is an algorithm.

Each algorithm is one file in ``agents/`` and imports what it needs from here: loop
cadence and seeds, evaluation and checkpointing, networks, rollouts and returns, replay
and n-step folding, the meta-gradient algebra, sequence policies and the meta-RL loop.
"""
