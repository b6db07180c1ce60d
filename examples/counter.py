#!/usr/bin/env python3
"""counter.py TARGET: the counting "simulation" as a Python job following libgat's protocol."""
import os, signal, sys, time

n = int(open(os.environ["GAT_RESTART_FILE"]).read()) if os.environ.get("GAT_RESTART_FILE") else 0  # protocol 1
def checkpoint(*_): open(os.environ["GAT_CHECKPOINT_FILE"], "w").write(str(n)); open(os.environ["GAT_CHECKPOINT_DONE"], "w").close()  # protocol 2
signal.signal(signal.SIGUSR2, checkpoint)  # protocol 3

print("start", n, flush=True)
while n < int(sys.argv[1] if len(sys.argv) > 1 else 1000):
    time.sleep(0.01)
    n += 1
print("done", n, flush=True)
