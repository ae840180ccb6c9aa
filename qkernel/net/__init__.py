"""In-kernel networking: AF_UNIX sockets (unix.py). Other families come later."""
