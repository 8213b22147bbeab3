"""One gateway's simulated storeroom, ready to wire: its mock pins and the world behind them."""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from hardware.clock import Clock
from hardware.config import SiteConfig
from hardware.world import World


def simulated_site(site: SiteConfig, gateway_id: str, clock: Clock) -> tuple[MockFactory, World]:
    """gpiozero's mock pins for one gateway, with that gateway's rooms simulated behind them.

    The world is made before any device, so it wires the door contacts itself and a Button built on
    `factory` afterwards reads the doors right from the start. The weather follows the site's time zone.
    Only the gateway's own rooms are simulated: each gateway stands for one Pi with its own pins.
    """
    site.gateway(gateway_id)  # a clear error for an unknown gateway
    factory = MockFactory()
    world = World(site.rooms_of(gateway_id), site.hardware.sim, clock, factory, timezone=site.site.timezone)
    return factory, world
