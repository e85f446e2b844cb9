"""Open LLMs for OCAIS: backends, a local OpenAI-compatible server, grounding, prompts."""
