"""MQTT topic names: one subtree per site, `floorsync/v1/<site>/...` (pure)."""
from __future__ import annotations

ROOT = "floorsync/v1"


def up_events(site: str) -> str:
    return f"{ROOT}/{site}/up/events"


def up_hello(site: str) -> str:
    return f"{ROOT}/{site}/up/hello"


def up_heartbeat(site: str) -> str:
    return f"{ROOT}/{site}/up/heartbeat"


def down_commands(site: str) -> str:
    return f"{ROOT}/{site}/down/commands"


def ack_up(site: str) -> str:
    """Central -> edge: central's applied cursor of the up stream (plus resend requests)."""
    return f"{ROOT}/{site}/ack/up"


def ack_down(site: str) -> str:
    """Edge -> central: the edge's applied cursor of the down stream (plus resend requests)."""
    return f"{ROOT}/{site}/ack/down"


def state(site: str) -> str:
    return f"{ROOT}/{site}/state"


# central subscribes to every site with single-level wildcards
CENTRAL_SUBSCRIPTIONS = (f"{ROOT}/+/up/#", f"{ROOT}/+/ack/down", f"{ROOT}/+/state")


def edge_subscriptions(site: str) -> tuple[str, ...]:
    return (f"{ROOT}/{site}/down/#", ack_up(site))


def parse(topic: str) -> tuple[str, str] | None:
    """`floorsync/v1/EWR1/up/events` -> ("EWR1", "up/events"); None for foreign topics."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != "floorsync" or parts[1] != "v1" or not parts[2]:
        return None
    return parts[2], "/".join(parts[3:])
