"""``inceptionism plugins``: what every plugin provides, and who provides it.

Lists each registered objective, regularizer, prior and model with its spec
usage and the plugin (built-in module or entry-point name) that gives it,
then every loaded plugin with the hooks it implements (observer-only
plugins show up there).
"""

from __future__ import annotations

import argparse
import json

from inceptionism.plugins.manager import get_plugin_manager, registry
from inceptionism.plugins.spec import usage

KINDS = ("objectives", "regularizers", "priors", "params", "transforms", "models")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plugins",
        help="list objectives, regularizers, priors and models, by plugin",
        description="List each registered objective, regularizer, prior and "
        "model with its spec usage and the plugin that gives it, then every "
        "loaded plugin with the hooks it implements.",
        epilog="examples:\n  inceptionism plugins\n  inceptionism plugins --json",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _summary(obj) -> str:
    text = getattr(obj, "description", None)
    if not isinstance(text, str):
        text = (obj.__doc__ or "").strip()
    # first docstring line, without reST literal markup
    return text.splitlines()[0].replace("``", "") if text else ""


def collect(pm) -> dict:
    """``{kind: [{name, usage, plugin, summary}]}`` plus ``plugins``."""
    out: dict[str, list] = {}
    for kind in KINDS:
        rows = []
        for name, (factory, plugin) in sorted(registry(pm, kind).items()):
            rows.append(
                {
                    "name": name,
                    "usage": name if kind == "models" else usage(name, factory),
                    "plugin": plugin,
                    "summary": _summary(factory),
                }
            )
        out[kind] = rows
    dists = {
        id(plugin): f"{dist.project_name} {dist.version}"
        for plugin, dist in pm.list_plugin_distinfo()
    }
    out["plugins"] = [
        {
            "name": pm.get_name(plugin),
            "distribution": dists.get(id(plugin)),
            "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or ()),
        }
        for plugin in pm.get_plugins()
    ]
    out["plugins"].sort(key=lambda row: row["name"])
    return out


def run(args: argparse.Namespace) -> int:
    info = collect(get_plugin_manager())
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for kind in KINDS:
        rows = info[kind]
        print(f"{kind}:")
        if not rows:
            print("  (none)")
        w_usage = max((len(r["usage"]) for r in rows), default=0)
        w_plugin = max((len(r["plugin"]) for r in rows), default=0)
        for r in rows:
            cols = f"{r['usage']:<{w_usage}}  {r['plugin']:<{w_plugin}}"
            print(f"  {cols}  {r['summary']}".rstrip())
        print()
    print("plugins:")
    for row in info["plugins"]:
        dist = f" ({row['distribution']})" if row["distribution"] else ""
        hooks = ", ".join(row["hooks"]) or "(no hooks)"
        print(f"  {row['name']}{dist}: {hooks}")
    return 0
