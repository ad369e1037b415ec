"""stable-baselines3 agents for threebody_env: algorithms, hyperparameters, baselines, rollouts."""
