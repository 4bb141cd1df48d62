"""The evaluation protocol: tasks, samplers, config sections, resumable runs, benchmark, study."""
