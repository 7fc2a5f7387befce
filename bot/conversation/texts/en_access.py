"""English texts of letting people in: access requests, invite links, the members' list."""

from bot.conversation.texts.catalog import AccessTexts

ENGLISH_ACCESS = AccessTexts(
    not_member=(
        "🔒 This bot is for team members only. Tap “Request access” and the admins will be "
        "asked. (Your Telegram id: {user_id})"
    ),
    button_request="🙋 Request access",
    request_sent="📨 Asked. You'll hear from me here as soon as an admin answers.",
    request_pending="⏳ You already asked; an admin hasn't answered yet.",
    request_answered_no=(
        "An admin already answered your request. Ask them directly if you think it's a mistake."
    ),
    request_alert="🙋 {name} asks for access to the bot.",
    button_allow="✅ Allow",
    button_deny="🚫 Deny",
    request_allowed_by="✅ {name} was let in by {admin}.",
    request_denied_by="🚫 {name} was turned away by {admin}.",
    request_already="Already answered.",
    welcome=(
        "👋 Welcome! You can use the bot now. Send /register to register a number on "
        "WhatsApp; /help shows everything else."
    ),
    request_declined="Sorry: an admin declined your request for access.",
    command_invite="A one-time link that lets someone in (valid 24 h)",
    invite_created=(
        "🔗 One-time invite, valid for 24 hours: whoever opens it first becomes a member.\n{link}"
    ),
    invite_used=("This invite link was already used or has expired. Ask an admin for a new one."),
    invite_member_already="You're a member already: the link is left for someone else.",
    invite_no_username=(
        "I can't make links yet (Telegram hasn't told me my username). Try again in a moment."
    ),
    members_header="Members:",
    members_line="• {name} · {role} · {source}{since} · {seen}",
    roles={"admin": "admin", "member": "member"},
    sources={
        "env": "in ALLOWED_USER_IDS",
        "admin": "in ADMIN_USER_IDS",
        "allow": "added with /allow",
        "request": "asked for access",
        "invite": "came with an invite",
    },
    since=" since {date}",
    by=" by {admin}",
    last_seen="last seen {when}",
    never_seen="never wrote to the bot",
)
