"""A door's access hardware as gpiozero devices: the strike relay, its status switch, the request-to-exit
button, the tamper loop, the fire panel's release contact, the reader's buzzer and LED, and Wiegand readers.

Built on the one pin factory of the board (real pins on a Pi, mock pins wired to the simulated world).
Switch inputs close to ground with the Pi's pull-up, so each is active while its contact is closed.
"""

from __future__ import annotations

from collections.abc import Callable

from gpiozero import LED, Buzzer, DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins import Factory

from hardware.config import Door, Strike, WiegandReader
from hardware.wiegand import OnFrame, WiegandReceiver


class StrikeRelay:
    """The relay of a door's strike or maglock, in the door's terms: `unlocked` or not.

    fail-secure: the relay is energised to unlock, so a dead gateway (its pins released) leaves the door
    locked. fail-safe: the relay is energised to hold the lock, so a dead gateway leaves the door free.
    Either way the gateway starts with the door locked.
    """

    def __init__(self, config: Strike, factory: Factory) -> None:
        self.config = config
        self._energised_when_unlocked = config.fail_mode == "fail-secure"
        self.relay = DigitalOutputDevice(
            config.pin,
            active_high=config.active_high,
            initial_value=not self._energised_when_unlocked,
            pin_factory=factory,
        )
        self.sense = (
            DigitalInputDevice(config.sense_pin, pull_up=True, pin_factory=factory)
            if config.sense_pin is not None
            else None
        )

    @property
    def unlocked(self) -> bool:
        """What the gateway commands now."""
        return bool(self.relay.value) == self._energised_when_unlocked

    def set_unlocked(self, unlocked: bool) -> None:
        self.relay.value = unlocked == self._energised_when_unlocked

    @property
    def sensed_locked(self) -> bool | None:
        """The lock's status switch (closed while the bolt is locked); None without one."""
        return None if self.sense is None else bool(self.sense.is_active)

    def close(self) -> None:
        self.relay.close()
        if self.sense:
            self.sense.close()


class DoorDevices:
    """Everything at one door besides its reed contact (hardware.board.Board has that)."""

    def __init__(self, door: Door, factory: Factory, on_frame: Callable[[WiegandReader], OnFrame]) -> None:
        if door.access is None:
            raise ValueError(f"door {door.id} has no access hardware in the config")
        access = self.access = door.access
        self._devices: list = []
        try:
            self.strike = StrikeRelay(access.strike, factory)
            self._devices.append(self.strike)
            self.exit_button = self._input(access.exit_button_pin, factory)
            self.tamper_loop = self._input(access.tamper_pin, factory)
            self.emergency = self._input(access.emergency_pin, factory)
            self.buzzer = Buzzer(access.buzzer_pin, pin_factory=factory) if access.buzzer_pin is not None else None
            self.led = LED(access.led_pin, pin_factory=factory) if access.led_pin is not None else None
            self._devices += [d for d in (self.buzzer, self.led) if d]
            self.wiegand: dict[str, WiegandReceiver] = {}
            for reader in access.readers:
                if isinstance(reader, WiegandReader):
                    receiver = WiegandReceiver(reader.d0_pin, reader.d1_pin, on_frame(reader), pin_factory=factory)
                    self.wiegand[reader.id] = receiver
                    self._devices.append(receiver)
        except Exception:
            self.close()
            raise

    def _input(self, pin: int | None, factory: Factory) -> DigitalInputDevice | None:
        if pin is None:
            return None
        device = DigitalInputDevice(pin, pull_up=True, pin_factory=factory)
        self._devices.append(device)
        return device

    @property
    def tampered(self) -> bool:
        """The tamper loop is open (False without one)."""
        return self.tamper_loop is not None and not self.tamper_loop.is_active

    @property
    def emergency_active(self) -> bool:
        return self.emergency is not None and bool(self.emergency.is_active)

    def feedback(self, pattern: str, pulse_s: float) -> None:
        """The reader's LED and buzzer: `granted` (LED for the pulse, one beep), `waiting` (two short beeps,
        LED blinking), `denied` (three beeps). Runs on gpiozero's own background threads."""
        if pattern == "granted":
            if self.led:
                self.led.blink(on_time=pulse_s, off_time=0.01, n=1)
            if self.buzzer:
                self.buzzer.beep(on_time=0.2, off_time=0.1, n=1)
        elif pattern == "waiting":
            if self.led:
                self.led.blink(on_time=0.2, off_time=0.2, n=5)
            if self.buzzer:
                self.buzzer.beep(on_time=0.1, off_time=0.1, n=2)
        elif self.buzzer:
            self.buzzer.beep(on_time=0.1, off_time=0.1, n=3)

    def idle(self, timeout: float = 1.0) -> bool:
        """Wait until no Wiegand frame is in flight at any reader of this door."""
        return all(r.idle(timeout) for r in self.wiegand.values())

    def close(self) -> None:
        """Release every pin: a fail-secure strike locks, a fail-safe lock frees the door."""
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()
