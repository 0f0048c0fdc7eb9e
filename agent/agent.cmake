# agent/agent.cmake: the two-stage agent (agent, prompt). Filled in by its module.
