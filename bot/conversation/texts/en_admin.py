"""English texts of the admins' board, alerts and team feed."""

from bot.conversation.texts.catalog import AdminTexts

ENGLISH_ADMIN = AdminTexts(
    command_instances="Every instance at a glance: state, number, who holds it",
    board_header="Instances · {time}",
    board_connected="🟢 {instance}: connected · {number}",
    board_disconnected="🔴 {instance}: not connected · {reason}",
    board_no_answer="⚪ {instance}: no answer from Z-API",
    board_refused="🔑 {instance}: Z-API refused the bot's credentials",
    board_held="    👤 {member} · {step} · since {since}, held until {until}",
    board_waits="    ⏳ waits: {waits}",
    board_free="    free",
    board_reasons={
        "connected": "connected",
        "restore_session": "the session must be restored (Z-API panel)",
        "not_connected": "no number connected",
    },
    button_refresh="🔄 Refresh",
    button_release="🔓 Release {instance}",
    board_releasing="Releasing {instance}…",
    board_released="🔓 Released {instance}: the registration there was ended and its member told.",
    board_release_free="ℹ {instance} was already free.",
    board_refreshed="Up to date.",
    alert_dropped="🔴 Instance {instance} lost its connection: {reason}.",
    alert_dropped_number="Last number registered there: {number} ({member}).",
    alert_reconnected="🟢 Instance {instance} is connected again.",
    button_register_again="📲 Register again on {instance}",
    member_unknown="member {user_id}",
    feed_connected="🟢 {member} connected {number} on {instance}",
    feed_banned="⛔ {member}: {number} is banned by WhatsApp (on {instance})",
    feed_appeal="📨 {member} appealed the ban of {number}: {outcome}",
    appeal_outcomes={
        "in_review": "in review",
        "refused": "refused",
        "unbanned": "unbanned",
    },
    feed_timed_out="⌛ {member}'s registration on {instance} timed out (at: {step})",
)
