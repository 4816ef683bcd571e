"""``diffbench sim serve BENCH.toml``: serve a simulated bench on loopback VISA sockets until Ctrl-C.

Prints the two VISA resource strings (one per line, ``generator <resource>`` / ``scope <resource>``) and a
hint line, then serves until SIGINT or SIGTERM and exits 0 with both sockets closed. A bench config that is
not simulated, or any config problem, is one line on stderr and exit status 2 (cli.py); so is a host that is not
loopback without ``--allow-remote`` (or the config's ``[sim] allow_remote = true``), and with it one warning line
is printed when serving starts.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``sim serve BENCH.toml [--host H] [--allow-remote] [--gen-port N] [--scope-port N]``."""
    sub = parser.add_subparsers(dest="sim_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="serve a simulated bench's generator and scope until Ctrl-C",
                           description="Serve a simulated bench's generator and scope on TCP until Ctrl-C.")
    serve.add_argument("bench", help="simulated bench config (configs/benches/sim-*.toml)")
    serve.add_argument("--host", default=None,
                       help="address to listen on (default: the config's host, 127.0.0.1); loopback only unless "
                            "--allow-remote or the config's [sim] allow_remote = true")
    serve.add_argument("--allow-remote", action="store_true",
                       help="serve on an address that is not loopback (every machine that reaches this one can "
                            "drive the simulated bench; a warning is printed)")
    serve.add_argument("--gen-port", type=int, default=None, help="generator TCP port (default: config; 0 = any)")
    serve.add_argument("--scope-port", type=int, default=None, help="scope TCP port (default: config; 0 = any)")


def run(args: argparse.Namespace) -> int:
    """Start the bench, print its resources, wait for SIGINT/SIGTERM, close. Returns the exit status."""
    import signal
    import threading

    from instruments.bench_config import load_bench
    from instruments.errors import ConfigError
    from instruments.sim.bench import SimBench

    for name in ("gen_port", "scope_port"):
        port = getattr(args, name)
        if port is not None and not 0 <= port <= 65535:
            raise ConfigError("", f"--{name.replace('_', '-')}", f"{port} is not a TCP port (0..65535)")
    config = load_bench(args.bench, allow_remote=args.allow_remote)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SimBench(config, host=args.host, gen_port=args.gen_port, scope_port=args.scope_port,
                      allow_remote=args.allow_remote) as bench:
            res = bench.resources
            print(f"generator {res['generator']}")
            print(f"scope {res['scope']}")
            print(f"# serving bench {config.name!r} ({config.generator.dialect} + {config.scope.dialect}, "
                  f"board {bench.board.config.name}); open these with pyvisa.ResourceManager('@py'); Ctrl-C stops",
                  flush=True)
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("# stopped", flush=True)
    return 0
