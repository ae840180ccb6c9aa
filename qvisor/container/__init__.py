"""The runc-shaped container lifecycle: the sandbox daemon, its control
socket, and the commands (create, start, kill, exec, ...) that drive it."""
