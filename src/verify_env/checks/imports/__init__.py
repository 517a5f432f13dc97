"""The imports check (`check`) and its parts: which names to import (`names`), the worker that
imports them inside the target (`worker`), the pool of workers with deadlines (`run`), and what
a failure means (`verdict`)."""
