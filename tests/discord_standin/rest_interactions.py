"""Interaction callbacks and the interaction webhook (followups, @original), with ack timing.

Discord's rules reproduced here because bots get them wrong:
- the initial callback must arrive within 3 s, once;
- after a type 5 defer the *first* followup replaces the "thinking" message and keeps the
  defer's ephemerality, whatever flags it sends; later followups are new messages;
- with `?with_response=true` the callback answers 200 with an InteractionCallbackResponse.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from . import constants as c
from .http_util import (
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    DiscordError,
    body_of,
    json_object,
    json_response,
    no_content,
    snowflake,
    standin_of,
    unknown,
)
from .limits import check_choices
from .records import CallbackRecord, InteractionRecord, StoredMessage
from .rest_messages import check_message_payload

Handler = Any
# Which callback types each interaction type accepts (2 command, 3 component, 4 autocomplete,
# 5 modal submit).
ALLOWED_CALLBACKS = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}
MESSAGE_FLAGS_ALLOWED = (1 << 2) | (1 << 6) | (1 << 12) | (1 << 15)


def _truthy(value: str | None) -> bool:
    # Discord's boolean query strings accept true/True/1.
    return (value or "").lower() in ("1", "true")


async def interaction_callback(request: web.Request) -> web.Response:
    standin = standin_of(request)
    arrived = time.monotonic()
    rec = standin.interactions.get(snowflake(request, "interaction_id"))
    if rec is None or rec.token != request.match_info["interaction_token"]:
        raise unknown("interaction", UNKNOWN_INTERACTION)
    body = json_object(request)
    cb_type, data = body.get("type"), body.get("data") or {}
    try:
        message = await _apply_callback(request, rec, cb_type, data, arrived)
    except DiscordError as exc:
        rec.callbacks.append(CallbackRecord(int(cb_type or 0), data, arrived, exc.status))
        raise
    rec.callbacks.append(CallbackRecord(cb_type, data, arrived, 200))
    if not _truthy(request.query.get("with_response")):
        return no_content()
    return json_response(_callback_response(request, rec, cb_type, message))


async def _apply_callback(request: web.Request, rec: InteractionRecord, cb_type: Any,
                          data: dict[str, Any], arrived: float) -> StoredMessage | None:
    standin = standin_of(request)
    if rec.acked:
        raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
    late = arrived - rec.dispatched_at
    if late > standin.ack_deadline:
        standin.record_issue(f"interaction {rec.id} ({rec.name or rec.custom_id}) acknowledged "
                             f"after {late:.2f} s; Discord allows {standin.ack_deadline:.0f} s")
        raise unknown("interaction", UNKNOWN_INTERACTION)
    if cb_type not in ALLOWED_CALLBACKS.get(rec.type, set()):
        raise DiscordError(400, 50035, "Invalid Form Body", {"type": {"_errors": [{
            "code": "INTERACTION_CALLBACK_TYPE_INVALID",
            "message": f"Callback type {cb_type} is not valid for interaction type {rec.type}"}]}})
    files = body_of(request).files
    if cb_type == 4:
        check_message_payload(data, len(files), creating=True)
        return await _new_response_message(request, rec, data, int(data.get("flags") or 0))
    if cb_type == 5:
        flags = c.LOADING_FLAG | (int(data.get("flags") or 0) & c.EPHEMERAL_FLAG)
        return await _new_response_message(request, rec, {}, flags)
    if cb_type in (6, 7):
        rec.original_id = rec.message_id  # a component's "original" is the message it sits on
        if cb_type == 7:
            check_message_payload(data, len(files), creating=False)
            msg = standin.messages.get(rec.message_id or 0)
            return await _edit(request, msg, data)
    if cb_type == 8:
        problem = check_choices(data)
        if problem is not None:
            raise DiscordError.form(problem)
    return None


async def _new_response_message(request: web.Request, rec: InteractionRecord,
                                data: dict[str, Any], flags: int) -> StoredMessage:
    standin = standin_of(request)
    msg = standin.messages.create(
        rec.channel_id, c.BOT_USER_ID, data, body_of(request).files,
        source=request["standin_route"], type=20 if rec.type == 2 else 0,
        flags=flags & (MESSAGE_FLAGS_ALLOWED | c.LOADING_FLAG), interaction_id=rec.id)
    msg.extra["interaction_metadata"] = _metadata(request, rec)
    rec.original_id = msg.id
    if not msg.ephemeral:
        await standin.dispatch("MESSAGE_CREATE", standin.messages.render(msg, gateway=True),
                               required=False)
    return msg


def _metadata(request: web.Request, rec: InteractionRecord) -> dict[str, Any]:
    world = standin_of(request).world
    meta: dict[str, Any] = {
        "id": str(rec.id),
        "type": rec.type,
        "user": world.user(rec.user_id),
        "authorizing_integration_owners": {"0": str(world.guild_id)},
    }
    if rec.type == 2 and rec.name:
        meta["name"] = rec.name
    if rec.message_id is not None:
        meta["interacted_message_id"] = str(rec.message_id)
    if rec.original_id is not None:
        meta["original_response_message_id"] = str(rec.original_id)
    return meta


def _callback_response(request: web.Request, rec: InteractionRecord, cb_type: int,
                       msg: StoredMessage | None) -> dict[str, Any]:
    """An InteractionCallbackResponse; only types 4 and 7 carry the message as a resource."""
    world = standin_of(request).world
    info: dict[str, Any] = {"id": str(rec.id), "type": rec.type,
                            "channel_id": str(rec.channel_id), "guild_id": str(world.guild_id)}
    body: dict[str, Any] = {"interaction": info}
    if msg is not None:
        info.update(response_message_id=str(msg.id), response_message_loading=msg.loading,
                    response_message_ephemeral=msg.ephemeral)
    if msg is not None and cb_type in (4, 7):
        body["resource"] = {"type": cb_type,
                            "message": standin_of(request).messages.render(msg)}
    return body


async def _edit(request: web.Request, msg: StoredMessage, data: dict[str, Any]) -> StoredMessage:
    standin = standin_of(request)
    standin.messages.edit(msg, data, body_of(request).files, source=request["standin_route"])
    if not msg.ephemeral:
        await standin.dispatch("MESSAGE_UPDATE", standin.messages.render(msg, gateway=True),
                               required=False)
    return msg


def _interaction_for_webhook(request: web.Request) -> InteractionRecord:
    standin = standin_of(request)
    rec = standin.interaction_by_token(request.match_info["webhook_token"])
    if snowflake(request, "webhook_id") != c.APPLICATION_ID or rec is None or not rec.acked:
        raise unknown("Webhook", UNKNOWN_WEBHOOK)
    if rec.expired:
        raise DiscordError(401, 50027, "Invalid Webhook Token")
    return rec


def _webhook_message(request: web.Request, rec: InteractionRecord) -> StoredMessage:
    raw = request.match_info["message_id"]
    if raw == "@original":
        message_id = rec.original_id
    else:
        message_id = snowflake(request, "message_id")
        if message_id != rec.original_id and message_id not in rec.followup_ids:
            message_id = None
    if message_id is None:
        raise unknown("Message", UNKNOWN_MESSAGE)
    return standin_of(request).messages.get(message_id)


async def create_followup(request: web.Request) -> web.Response:
    standin = standin_of(request)
    rec = _interaction_for_webhook(request)
    payload, files = json_object(request), body_of(request).files
    check_message_payload(payload, len(files), creating=True)
    original = standin.messages.by_id.get(rec.original_id or 0)
    if rec.callback_type == 5 and original is not None and original.loading:
        msg = await _edit(request, original, {**payload, "flags": None})
    else:
        flags = int(payload.get("flags") or 0) & MESSAGE_FLAGS_ALLOWED
        msg = standin.messages.create(rec.channel_id, c.BOT_USER_ID, payload, files,
                                      source=request["standin_route"],
                                      type=20 if rec.type == 2 else 0, flags=flags,
                                      interaction_id=rec.id)
        msg.extra["interaction_metadata"] = _metadata(request, rec)
        if not msg.ephemeral:
            await standin.dispatch("MESSAGE_CREATE", standin.messages.render(msg, gateway=True),
                                   required=False)
    rec.followup_ids.append(msg.id)
    if not _truthy(request.query.get("wait")):
        return no_content()
    return json_response(standin.messages.render(msg))


async def get_webhook_message(request: web.Request) -> web.Response:
    rec = _interaction_for_webhook(request)
    return json_response(standin_of(request).messages.render(_webhook_message(request, rec)))


async def edit_webhook_message(request: web.Request) -> web.Response:
    rec = _interaction_for_webhook(request)
    msg = _webhook_message(request, rec)
    payload = json_object(request)
    check_message_payload(payload, len(body_of(request).files), creating=False)
    await _edit(request, msg, payload)
    return json_response(standin_of(request).messages.render(msg))


async def delete_webhook_message(request: web.Request) -> web.Response:
    rec = _interaction_for_webhook(request)
    await standin_of(request).delete_message(_webhook_message(request, rec))
    return no_content()


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback",
     interaction_callback),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}", create_followup),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
     get_webhook_message),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
     edit_webhook_message),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
     delete_webhook_message),
]
