"""The test-facing API: act as Discord users, wait for the bot's effects, inspect them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from . import constants as c
from . import threads as thread_rules
from .interactions import (
    command_data,
    component_data,
    find_component,
    interaction_payload,
)
from .messages import emoji_key
from .records import InteractionRecord, RequestRecord, StoredMessage, StoredThread
from .server import StandInServer
from .world import Overwrite

T = TypeVar("T")
# Where wait_for_message looks, relative to its channel_id: the channel itself, the threads
# started in it, or both.
Where = Literal["channel", "threads", "any"]
DEFAULT_TIMEOUT = 5.0
POLL_INTERVAL = 0.05
MESSAGE_CONTENT_INTENT = 1 << 15


def _command_path(name: str) -> str:
    return " ".join(name.lstrip("/").split())


class StandInTimeout(AssertionError):
    """A wait_* helper ran out of time; the message says what it was waiting for."""


class DiscordStandIn(StandInServer):
    # -- acting as users -------------------------------------------------------------------

    async def send_slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user_id: int = c.OPERATOR1_ID,
        channel_id: int = c.OPS_CHANNEL_ID,
        guild_id: int | None = None,
    ) -> InteractionRecord:
        """Invoke "/name" ("migrate run" for a subcommand) as `user_id`; returns at dispatch."""
        self._not_archived(channel_id, "use application commands")
        data = command_data(self.commands, self.world, self._guild(guild_id), name,
                            dict(options or {}))
        return await self._interact(2, data, user_id, channel_id, name=_command_path(name))

    async def send_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        user_id: int = c.OPERATOR1_ID,
        channel_id: int = c.OPS_CHANNEL_ID,
        guild_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> list[dict[str, Any]]:
        """Type into option `focused`; return the choices the bot answered with (type 8)."""
        self._not_archived(channel_id, "use application commands")
        data = command_data(self.commands, self.world, self._guild(guild_id), name,
                            dict(options), focused=focused)
        rec = await self._interact(4, data, user_id, channel_id, name=_command_path(name))
        await self.wait_for_ack(rec, timeout=timeout)
        return rec.choices or []

    async def click_button(self, message_id: int, custom_id: str, *,
                           user_id: int = c.OPERATOR1_ID) -> InteractionRecord:
        """Click a button on a stored message, as Discord's client would (type 3)."""
        return await self._use_component(message_id, custom_id, None, user_id, want_button=True)

    async def choose(self, message_id: int, custom_id: str, values: list[str], *,
                     user_id: int = c.OPERATOR1_ID) -> InteractionRecord:
        """Pick `values` in a select menu on a stored message."""
        return await self._use_component(message_id, custom_id, values, user_id,
                                         want_button=False)

    async def _use_component(self, message_id: int, custom_id: str, values: list[str] | None,
                             user_id: int, *, want_button: bool) -> InteractionRecord:
        msg = self._stored(message_id)
        comp = find_component(msg, custom_id)
        if (comp["type"] == 2) != want_button:
            raise ValueError(f"{custom_id!r} is a type {comp['type']} component")
        data = component_data(comp, values)
        return await self._interact(3, data, user_id, msg.channel_id, custom_id=custom_id,
                                    message=msg)

    async def _interact(self, kind: int, data: dict[str, Any], user_id: int, channel_id: int, *,
                        name: str | None = None, custom_id: str | None = None,
                        message: StoredMessage | None = None) -> InteractionRecord:
        interaction_id = self.new_id()
        token = "standin." + secrets.token_urlsafe(32)
        rendered = self.messages.render(message) if message is not None else None
        payload = interaction_payload(interaction_id=interaction_id, token=token, kind=kind,
                                      data=data, user_id=user_id, channel_id=channel_id,
                                      world=self.world, message=rendered)
        rec = InteractionRecord(interaction_id, token, kind, user_id, channel_id, payload,
                                dispatched_at=time.monotonic(), name=name, custom_id=custom_id,
                                message_id=message.id if message is not None else None)
        self._register_interaction(rec)
        await self.dispatch("INTERACTION_CREATE", payload)
        return rec

    async def add_reaction(self, message_id: int, emoji: str, *,
                           user_id: int = c.APPROVER1_ID) -> None:
        """React as a member: MESSAGE_REACTION_ADD with `member`, as Discord sends it."""
        msg = self._visible(message_id)
        self._member(user_id)
        self._not_archived(msg.channel_id, "react")
        await self.store_reaction(msg, emoji_key(emoji), user_id, required=True)

    async def add_reaction_offline(self, message_id: int, emoji: str, *, user_id: int = c.APPROVER1_ID) -> None:
        """React while the bot is not connected: Discord stores it; the bot gets no event."""
        msg = self._visible(message_id)
        self._member(user_id)
        self._not_archived(msg.channel_id, "react")
        await self.store_reaction(msg, emoji_key(emoji), user_id, required=False)

    async def remove_reaction(self, message_id: int, emoji: str, *,
                              user_id: int = c.APPROVER1_ID) -> None:
        msg = self._visible(message_id)
        self._not_archived(msg.channel_id, "remove a reaction")
        await self.drop_reaction(msg, emoji_key(emoji), user_id, required=True)

    async def send_user_message(self, content: str, *, user_id: int = c.OPERATOR1_ID,
                                channel_id: int = c.OPS_CHANNEL_ID) -> StoredMessage:
        """Post as a member. Without the message-content intent the bot sees no content.

        In a thread (channel_id=thread id) the member joins it, and the post unarchives it
        unless it is locked (then only MANAGE_THREADS may post, as on Discord).
        """
        self._member(user_id)
        thread = self.world.threads.get(channel_id)
        if thread is not None:
            if thread.locked and not self.world.channel_permissions(
                    user_id, channel_id) & c.MANAGE_THREADS:
                raise ValueError(f"thread {channel_id} is locked: only MANAGE_THREADS posts there")
            if thread.archived:
                await thread_rules.change(self, thread, {"archived": False}, by=user_id,
                                          source="user")
            await thread_rules.join(self, thread, user_id)
        msg = self.messages.create(channel_id, user_id, {"content": content}, [],
                                   source="user")
        event = self.messages.render(msg, gateway=True)
        intents = self.gateway.identify.intents if self.gateway.identify else 0
        mentioned = f"<@{c.BOT_USER_ID}>" in content or f"<@!{c.BOT_USER_ID}>" in content
        if not (intents or 0) & MESSAGE_CONTENT_INTENT and not mentioned:
            event.update(content="", embeds=[], attachments=[], components=[])
        await self.dispatch("MESSAGE_CREATE", event)
        return msg

    def seed_message(self, payload: dict[str, Any], *, author_id: int = c.BOT_USER_ID,
                     channel_id: int = c.OPS_CHANNEL_ID) -> StoredMessage:
        """A message that already existed before the bot started (no gateway event).

        For restart tests: e.g. a progress message with a rollback button from a previous run.
        """
        return self.messages.create(channel_id, author_id, payload, [], source="seed")

    def seed_thread(self, message_id: int, name: str, *, archived: bool = False,
                    locked: bool = False, owner_id: int = c.BOT_USER_ID,
                    auto_archive_duration: int = 1440) -> StoredThread:
        """A thread that already existed before the bot started (no gateway event), started
        from stored message `message_id`: for restart tests. GUILD_CREATE lists it if active."""
        starter = self._stored(message_id)
        if message_id in self.world.threads:
            raise ValueError(f"message {message_id} already has a thread")
        thread = thread_rules.new_thread(self, starter, name, user_id=owner_id,
                                         auto_archive_duration=auto_archive_duration,
                                         rate_limit_per_user=0, source="seed")
        thread.archived, thread.locked = archived, locked
        return thread

    def expire_interaction(self, interaction: InteractionRecord) -> None:
        """Make the token act 15 minutes old: webhook calls then fail with 401."""
        interaction.expired = True

    async def request_reconnect(self) -> None:
        await self.gateway.request_reconnect()

    async def deny_threads(self, *, channel_id: int | None = None) -> None:
        """Take CREATE_PUBLIC_THREADS and SEND_MESSAGES_IN_THREADS away from the bot.

        Server-wide (default): from every role the bot holds, as an admin editing its role
        would; Discord then sends GUILD_ROLE_UPDATE. With `channel_id`: a deny overwrite for
        the bot's role on that channel (CHANNEL_UPDATE). Either way what `bot check` reads
        (roles, overwrites) and what interactions carry (app_permissions) show it, and
        starting a thread or posting in one is answered 403 50013 Missing Permissions.
        """
        bits = c.THREAD_PERMISSIONS
        if channel_id is None:
            for role_id in [c.EVERYONE_ROLE_ID, *self.world.users[c.BOT_USER_ID].roles]:
                role = self.world.roles[role_id]
                if role.permissions & bits:
                    role.permissions &= ~bits
                    await self.dispatch("GUILD_ROLE_UPDATE", {
                        "guild_id": str(self.world.guild_id), "role": self.world.role(role_id)},
                        required=False)
            return
        info = self.world.channels[channel_id]
        overwrite = next((o for o in info.overwrites if (o.type, o.id) == (0, c.BOT_ROLE_ID)),
                         None)
        if overwrite is None:
            overwrite = Overwrite(c.BOT_ROLE_ID, 0)
            info.overwrites.append(overwrite)
        overwrite.deny |= bits
        overwrite.allow &= ~bits
        await self.dispatch("CHANNEL_UPDATE", self.world.channel(channel_id), required=False)

    async def archive_thread(self, thread_id: int, *, locked: bool = False,
                             user_id: int | None = None) -> StoredThread:
        """Archive a thread as Discord does after `auto_archive_duration` without activity
        (user_id None), or as a moderator closing it (`locked=True`: and locking it)."""
        thread = self.thread(thread_id)
        changes: dict[str, Any] = {"archived": True}
        if locked:
            changes["locked"] = True
        await thread_rules.change(self, thread, changes, by=user_id, source="standin")
        return thread

    async def lock_thread(self, thread_id: int, *, locked: bool = True,
                          user_id: int = c.OWNER_ID) -> StoredThread:
        """Lock (or unlock) an active thread as a moderator: then only MANAGE_THREADS posts."""
        thread = self.thread(thread_id)
        self._not_archived(thread_id, "lock it without unarchiving")
        await thread_rules.change(self, thread, {"locked": locked}, by=user_id,
                                  source="standin")
        return thread

    def _guild(self, guild_id: int | None) -> int:
        if guild_id not in (None, self.world.guild_id):
            raise LookupError(f"the stand-in has one guild, {self.world.guild_id}")
        return self.world.guild_id

    def _not_archived(self, channel_id: int, action: str) -> None:
        thread = self.world.threads.get(channel_id)
        if thread is not None and thread.archived:
            raise ValueError(f"thread {channel_id} is archived: Discord lets nobody {action} there")

    def _member(self, user_id: int) -> None:
        if user_id not in self.world.users:
            raise LookupError(f"user {user_id} is not a member of the stand-in's guild")

    def _stored(self, message_id: int) -> StoredMessage:
        msg = self.messages.by_id.get(message_id)
        if msg is None or msg.deleted:
            raise LookupError(f"no message {message_id} (or it was deleted)")
        return msg

    def _visible(self, message_id: int) -> StoredMessage:
        msg = self._stored(message_id)
        if msg.ephemeral:
            raise ValueError("only the invoking user sees an ephemeral message; nobody can react")
        return msg

    # -- waiting ---------------------------------------------------------------------------

    async def wait_until(self, check: Callable[[], T | None], *,
                         timeout: float = DEFAULT_TIMEOUT, what: str = "condition") -> T:
        """Re-evaluate `check` after every request/event until it returns something truthy.

        Raises StandInTimeout (an AssertionError) naming `what` after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StandInTimeout(f"timed out after {timeout} s waiting for {what}; "
                                     f"last requests: {self._recent_requests()}")
            event = self._changed_event
            assert event is not None, "the stand-in is not started"
            try:
                # Also re-check now and then: `check` may look at the bot's own state, which
                # changes after the stand-in's last event (e.g. when a response is parsed).
                await asyncio.wait_for(event.wait(), min(remaining, POLL_INTERVAL))
            except TimeoutError:
                pass

    async def wait_until_connected(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """The bot has IDENTIFYed and been sent READY and GUILD_CREATE."""
        await self.wait_until(lambda: self.gateway.connected, timeout=timeout,
                              what="the bot to connect to the gateway")

    async def wait_for_message(
        self,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        channel_id: int = c.OPS_CHANNEL_ID,
        where: Where = "channel",
        after_id: int = 0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> StoredMessage:
        """The first visible message newer than `after_id` matching predicate, oldest first.

        `where`: in `channel_id` itself ("channel"), in the threads started there ("threads"),
        or in either ("any"). Discord's own notices (a thread's starter message, a rename,
        "started a thread") never match. Pass a thread's id as `channel_id` for one thread.
        """
        def check() -> StoredMessage | None:
            return next((m for m in self._messages_where(channel_id, where)
                         if m.id > after_id and m.type in thread_rules.AUTHORED_TYPES
                         and (predicate is None or predicate(m))), None)
        place = "" if where == "channel" else f"{where} of "
        return await self.wait_until(check, timeout=timeout,
                                     what=f"a message in {place}channel {channel_id}")

    def _messages_where(self, channel_id: int, where: Where) -> list[StoredMessage]:
        if where not in ("channel", "threads", "any"):
            raise ValueError(f"where={where!r}: use 'channel', 'threads' or 'any'")
        found: list[StoredMessage] = []
        if where in ("channel", "any"):
            found += self.messages.in_channel(channel_id)
        if where in ("threads", "any"):
            for thread in self.threads(channel_id):
                found += self.messages.in_channel(thread.id)
        return sorted(found, key=lambda m: m.id)

    async def wait_for_edit(
        self,
        message_id: int,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        min_edits: int = 1,
        where: Where | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> StoredMessage:
        """Until message `message_id` has been edited `min_edits` times and matches predicate.

        The message is found by id wherever it is. `where` also asserts where that is:
        "channel" (not in a thread), "threads" (in one), "any"; a message elsewhere fails at once.
        """
        def check() -> StoredMessage | None:
            msg = self.messages.by_id.get(message_id)
            if msg is None:
                return None
            in_thread = msg.channel_id in self.world.threads
            if (where == "channel" and in_thread) or (where == "threads" and not in_thread):
                place = f"thread {msg.channel_id}" if in_thread else f"channel {msg.channel_id}"
                raise AssertionError(f"message {message_id} is in {place}, not where={where!r}")
            if len(msg.edits) < min_edits:
                return None
            return msg if predicate is None or predicate(msg) else None
        return await self.wait_until(check, timeout=timeout,
                                     what=f"edit #{min_edits} of message {message_id}")

    async def wait_for_ack(self, interaction: InteractionRecord, *,
                           timeout: float = DEFAULT_TIMEOUT) -> InteractionRecord:
        """Until the bot's initial callback for `interaction` has been accepted.

        Fails at once if the stand-in refused the callback (late, twice, wrong type).
        """
        def check() -> InteractionRecord | None:
            if interaction.acked:
                return interaction
            if interaction.callbacks:
                refused = [(cb.type, cb.status) for cb in interaction.callbacks]
                raise AssertionError(f"interaction {interaction.id}: callbacks refused {refused}")
            return None
        return await self.wait_until(check, timeout=timeout,
                                     what=f"the callback of interaction {interaction.id}")

    async def wait_for_response(
        self,
        interaction: InteractionRecord,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> StoredMessage:
        """The interaction's original response once it is no longer "thinking" and matches."""
        def check() -> StoredMessage | None:
            msg = self.original_response(interaction)
            if msg is None or msg.loading:
                return None
            return msg if predicate is None or predicate(msg) else None
        return await self.wait_until(check, timeout=timeout,
                                     what=f"the response to interaction {interaction.id}")

    async def wait_for_followup(
        self,
        interaction: InteractionRecord,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> StoredMessage:
        """A followup (POST /webhooks/{app}/{token}) matching predicate."""
        def check() -> StoredMessage | None:
            return next((m for m in self.followups(interaction)
                         if predicate is None or predicate(m)), None)
        return await self.wait_until(check, timeout=timeout,
                                     what=f"a followup to interaction {interaction.id}")

    async def wait_for_reaction(self, message_id: int, emoji: str, *,
                                user_id: int = c.BOT_USER_ID,
                                timeout: float = DEFAULT_TIMEOUT) -> None:
        key = emoji_key(emoji)

        def check() -> bool:
            msg = self.messages.by_id.get(message_id)
            return msg is not None and user_id in msg.reactions.get(key, [])
        await self.wait_until(check, timeout=timeout,
                              what=f"reaction {emoji} by {user_id} on {message_id}")

    async def wait_for_request(self, route: str,
                               predicate: Callable[[RequestRecord], bool] | None = None, *,
                               timeout: float = DEFAULT_TIMEOUT) -> RequestRecord:
        """A logged request whose route template is `route`, e.g. "PUT /applications/...". """
        def check() -> RequestRecord | None:
            return next((r for r in self.requests_for(route)
                         if predicate is None or predicate(r)), None)
        return await self.wait_until(check, timeout=timeout, what=f"a request {route}")

    def _recent_requests(self) -> list[str]:
        return [f"{r.method} {r.path} {r.status}" for r in self.requests[-5:]]

    # -- inspection ------------------------------------------------------------------------

    def message(self, message_id: int) -> StoredMessage:
        return self.messages.by_id[message_id]

    def channel_messages(self, channel_id: int = c.OPS_CHANNEL_ID) -> list[StoredMessage]:
        """Visible (non-ephemeral, not deleted) messages in the channel itself, oldest first;
        messages in its threads are not among them (see thread_messages)."""
        return self.messages.in_channel(channel_id)

    def threads(self, channel_id: int = c.OPS_CHANNEL_ID) -> list[StoredThread]:
        """The threads started in `channel_id`, oldest first, archived ones included."""
        return sorted((t for t in self.world.threads.values() if t.parent_id == channel_id),
                      key=lambda t: t.id)

    def thread(self, thread_id: int) -> StoredThread:
        thread = self.world.threads.get(thread_id)
        if thread is None:
            raise LookupError(f"no thread {thread_id}")
        return thread

    def thread_of(self, message_id: int) -> StoredThread | None:
        """The thread started from message `message_id` (same id), if there is one."""
        return self.world.threads.get(message_id)

    def thread_messages(self, thread_id: int, *, notices: bool = False) -> list[StoredMessage]:
        """Visible messages in a thread, oldest first. Discord's own notices there (the
        THREAD_STARTER_MESSAGE, a rename) only with notices=True."""
        self.thread(thread_id)
        return [m for m in self.messages.in_channel(thread_id)
                if notices or m.type in thread_rules.AUTHORED_TYPES]

    async def wait_for_thread(self, predicate: Callable[[StoredThread], bool] | None = None, *,
                              channel_id: int = c.OPS_CHANNEL_ID,
                              timeout: float = DEFAULT_TIMEOUT) -> StoredThread:
        """The first thread started in `channel_id` that matches predicate."""
        def check() -> StoredThread | None:
            return next((t for t in self.threads(channel_id)
                         if predicate is None or predicate(t)), None)
        return await self.wait_until(check, timeout=timeout,
                                     what=f"a thread in channel {channel_id}")

    def original_response(self, interaction: InteractionRecord) -> StoredMessage | None:
        if interaction.original_id is None:
            return None
        return self.messages.by_id.get(interaction.original_id)

    def followups(self, interaction: InteractionRecord) -> list[StoredMessage]:
        return [self.messages.by_id[i] for i in interaction.followup_ids]

    def requests_for(self, route: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.route == route]

    def registered_commands(self, guild_id: int | None = c.GUILD_ID) -> dict[str, dict[str, Any]]:
        """Synced commands by name; guild_id=None for global ones."""
        return dict(self.commands.get(guild_id, {}))

    def dump(self) -> str:
        """Everything recorded, as text: for "the token never leaks" style assertions."""
        state = {
            "requests": [dataclasses.asdict(r) for r in self.requests],
            "gateway": [dataclasses.asdict(f) for f in self.gateway.log],
            "identify": repr(self.gateway.identify),
            # Every message: the channels', the threads' and ephemeral ones.
            "messages": [dataclasses.asdict(m) for m in self.messages.by_id.values()],
            "threads": [dataclasses.asdict(t) for t in self.world.threads.values()],
            "interactions": [dataclasses.asdict(i) for i in self.interactions.values()],
            "commands": self.commands,
            "problems": self.problems() + self.not_found,
        }
        return json.dumps(state, default=repr)
