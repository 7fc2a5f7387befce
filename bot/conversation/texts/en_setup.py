"""English texts of the set-up of a connected number."""

from bot.conversation.texts.catalog import SetupTexts

ENGLISH_SETUP = SetupTexts(
    command_setup="Set up your last connected number: profile, PIN, e-mail",
    connected_setup_offer=(
        "Next, if you like: its profile name and description, a two-step PIN and a recovery "
        "e-mail. Z-API advises a new name and description for a number used before. "
        "/setup does it later too."
    ),
    button_set_up="⚙ Set up the number",
    button_skip="⏭ Skip",
    button_finish_setup="✔ Finish set-up",
    button_email_again="🔁 Send the code again",
    setup_indicator="Set-up {n}/{total} · {name}",
    ask_profile_name="What name should people see for {number}? Up to 25 characters.",
    profile_name_invalid="A profile name is one line of 1 to 25 characters.",
    ask_profile_about="And the profile's description (its “About”)? Up to 139 characters.",
    profile_about_invalid="The description is one line of 1 to 139 characters.",
    profile_refused="WhatsApp didn't take that. Send another one, or tap “Skip”.",
    ask_two_fa=(
        "🔐 Choose a 6-digit two-step PIN for {number}. WhatsApp asks for it whenever the "
        "number is registered again. I delete your message right away and keep the PIN nowhere."
    ),
    two_fa_unknown=(
        "I couldn't check whether the number already has a PIN: one you send here replaces it."
    ),
    two_fa_replaces="The number already has a PIN: one you send here replaces it.",
    ask_two_fa_again="Send the same 6 digits once more, to be sure.",
    two_fa_invalid="The PIN is 6 digits, like 482913.",
    two_fa_mismatch="The two PINs were different. Send the new PIN again.",
    two_fa_start_over=("I restarted in between and keep no PIN, so please send the new PIN again."),
    two_fa_refused="WhatsApp didn't take that PIN. Send another one, or tap “Skip”.",
    two_fa_already="🔐 {number} already has a two-step PIN: I left it as it is.",
    ask_email=(
        "📧 Last one: an e-mail address for the account. If the PIN is ever forgotten, "
        "WhatsApp sends the reset link there."
    ),
    email_invalid="That doesn't look like an e-mail address (like ana@example.com).",
    email_refused="WhatsApp didn't accept that address. Check it and send it again, or tap “Skip”.",
    ask_email_code="WhatsApp mailed a code to {email}. Send it here (6 digits).",
    email_code_invalid="Send the 6-digit code from the e-mail.",
    email_code_wrong=(
        "That code was not accepted. Check the latest e-mail, or tap “Send the code again”."
    ),
    email_code_resent="📧 I asked WhatsApp to mail a new code to {email}.",
    setup_summary="⚙ Set-up of {number} on {instance}:\n{parts}",
    setup_part_names={
        "name": "Profile name",
        "about": "Description",
        "pin": "Two-step PIN",
        "email": "Recovery e-mail",
    },
    setup_part_states={
        "set": "✅ set",
        "skipped": "⏭ skipped",
        "already": "✅ already had one",
        "unverified": "⚠ given, but its code was not confirmed",
        "": "— not reached",
    },
    setup_again="/setup runs it again whenever you like.",
    setup_nothing="You have no connected number to set up yet. /register connects one.",
    setup_during_registration=(
        "A registration is in progress: finish it (or /cancel it) first, then send /setup."
    ),
    setup_not_connected=(
        "{number} is no longer connected on {instance}, so there is nothing to set up. "
        "/register connects it again."
    ),
    setup_instance_gone=(
        "Instance {instance}, where {number} was connected, is no longer in the bot's settings."
    ),
    setup_busy=(
        "{instance} is busy with another member right now. Try /setup again in a few minutes."
    ),
    setup_check_failed="Try /setup again in a moment.",
    setup_idle_timeout=(
        "⌛ No answer for {duration}, so I closed the set-up. {number} stays connected; "
        "/setup picks it up again."
    ),
    send_again_hint="Send the new PIN again.",
    setup_button_outdated=(
        "That button was for a number connected before your last one. /setup sets up the last "
        "one, {number}."
    ),
    two_fa_maybe_set=(
        "The PIN may have been set, but I keep no PIN: send a new one twice (it replaces "
        "whatever was set), or tap “Skip”."
    ),
    setup_interrupted=(
        "ℹ Your set-up ended: instance {instance} was freed by an admin or taken by another "
        "registration. If {number} still runs there, /setup picks the set-up up again."
    ),
)
