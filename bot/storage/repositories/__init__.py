"""Queries, one function per question the bot asks its database. Each takes an open session.

One module per table: flows, leases, timers, people (members and audit), outbox, instances,
admission (access requests and invites).
"""

from bot.storage.repositories.admission import (
    answer_request,
    create_invite,
    record_request,
    use_invite,
)
from bot.storage.repositories.flows import (
    delete_registration,
    flows_for,
    get_flow,
    idle_flows,
    insert_flows,
    interrupted_flows,
    update_flow,
)
from bot.storage.repositories.history import filtered_events, flow_events
from bot.storage.repositories.instances import (
    instance_states,
    sandbox_states,
    save_instance_states,
    save_sandbox_states,
)
from bot.storage.repositories.leases import (
    acquire_lease,
    held_leases,
    lease_is_held,
    refresh_lease,
    release_leases,
)
from bot.storage.repositories.outbox import (
    count_outbox,
    delete_outbox,
    insert_outbox,
    live_keyboards,
    outbox_messages,
    set_live_keyboards,
)
from bot.storage.repositories.people import (
    choose_language,
    chosen_languages,
    last_connected,
    last_connected_on,
    member_overrides,
    members,
    people,
    recent_events,
    record_event,
    save_people,
    set_member,
)
from bot.storage.repositories.timers import (
    WaitSet,
    apply_waits,
    claim_due_timers,
    count_pending_timers,
    delete_announced_timers,
    pending_timers,
    timers_for_number,
)

__all__ = [
    "WaitSet",
    "acquire_lease",
    "answer_request",
    "apply_waits",
    "choose_language",
    "chosen_languages",
    "claim_due_timers",
    "count_outbox",
    "count_pending_timers",
    "create_invite",
    "delete_announced_timers",
    "delete_outbox",
    "delete_registration",
    "filtered_events",
    "flow_events",
    "flows_for",
    "get_flow",
    "held_leases",
    "idle_flows",
    "insert_flows",
    "insert_outbox",
    "instance_states",
    "interrupted_flows",
    "last_connected",
    "last_connected_on",
    "lease_is_held",
    "live_keyboards",
    "member_overrides",
    "members",
    "outbox_messages",
    "pending_timers",
    "people",
    "recent_events",
    "record_event",
    "record_request",
    "refresh_lease",
    "release_leases",
    "sandbox_states",
    "save_instance_states",
    "save_people",
    "save_sandbox_states",
    "set_live_keyboards",
    "set_member",
    "timers_for_number",
    "update_flow",
    "use_invite",
]
