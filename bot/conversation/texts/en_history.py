"""English texts of /history, /export and /stats."""

from bot.conversation.texts.catalog import HistoryTexts

ENGLISH_HISTORY = HistoryTexts(
    command_history="What became of registrations, filtered: /history [N] [key:value…]",
    command_export="The history as a CSV file (same filters as /history)",
    command_stats="Registrations per instance: /stats [days]",
    usage=(
        "Usage: /history [N] [member:NAME|ID] [instance:NAME] [outcome:OUTCOME] "
        "[number:LAST DIGITS] [days:D]\nN from 1 to 100 (default 10); OUTCOME one of connected, "
        "banned, unavailable, appealed, unbanned, refused, cancelled, timed_out, released, "
        "denied."
    ),
    header="Registrations, newest first (times in {zone}):",
    line="• {when} · {member} · {instance} · {number} · {outcome}",
    none="Nothing in the history matches.",
    as_file="{count} events: too many for messages, so here they are as a file.",
    outcomes={
        "register:connected": "connected",
        "check:available": "checked: available",
        "check:banned": "banned",
        "check:unavailable": "cannot be registered",
        "appeal:in_review": "appealed: in review",
        "appeal:unbanned": "appealed: unbanned",
        "appeal:refused": "appeal refused",
        "cancel:cancelled": "cancelled",
        "timeout:timed_out": "timed out",
        "lease:lost": "instance taken over",
        "admin:released": "released by {admin}",
        "admin:denied": "ended: access removed by {admin}",
    },
    export_caption="History: {count} events ({numbers}). Columns are described in the README.",
    export_masked="numbers masked",
    export_full="full numbers",
    stats_usage=(
        "Usage: /stats [days] [sandbox] with days from 1 to 3660 (default 30); sandbox counts "
        "the sandbox's rehearsals in the total too."
    ),
    stats_header="Registrations begun in the last {days} days:",
    stats_columns=(
        "instance",
        "started",
        "connected",
        "banned",
        "appealed",
        "unbanned",
        "refused",
        "timed out",
        "cancelled",
        "median",
    ),
    stats_total="total",
    stats_median_by_method="Median time from /register to connected, by method: {methods}",
    stats_none="No registration begun in the last {days} days.",
)
